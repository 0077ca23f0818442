"""A check shared by the converter tests: stored crops are the original image's pixels."""

import io

import numpy as np
from PIL import Image

from c2f.geometry import crop_matrix


def crop_pixels_follow_the_original(source, images_dir, names_of_frames):
    """Every stored crop is PIL's bilinear affine warp of its original image, and a warp
    shifted by one crop pixel fits worse (the geometry, not only the content, is right)."""
    for i in range(len(source)):
        s = source[i]
        res = source.crop_res
        A = crop_matrix(s["crop_center"], float(s["crop_scale"]), res)
        original = Image.open(images_dir / names_of_frames[i]).convert("RGB")
        stored = np.asarray(Image.open(io.BytesIO(s["image"].tobytes())), np.float64)

        def error(dx, dy, A=A, original=original, stored=stored, res=res):
            # PIL samples pixel centres at +0.5, ours at integers.
            to_crop = np.array([[1, 0, 0.5 + dx], [0, 1, 0.5 + dy], [0, 0, 1]]) @ np.vstack(
                [A, [0, 0, 1]]) @ np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])  # fmt: skip
            M = tuple(np.linalg.inv(to_crop)[:2].ravel())
            warped = original.transform((res, res), Image.AFFINE, M, Image.BILINEAR)
            return np.abs(stored - np.asarray(warped, np.float64))[8:-8, 8:-8].mean()

        here = error(0, 0)
        shifted = min(error(dx, dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)))
        assert here < 8.0 and here < 0.6 * shifted, (i, here, shifted)  # JPEG at quality 90
