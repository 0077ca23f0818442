"""bfloat16 against float32 predictions of one trained run: ``python -m bench.numerics``.

Runs the same checkpoint's Predictor in both compute dtypes on the first ``--n`` images of a
split (the stored crops, decoded from JPEG) and prints the distribution of the differences in
2D joints (px of the input image) and root-relative 3D joints (mm). Default: the ``make demo``
run and the synthetic test split.
"""

import argparse
import json

import numpy as np

from c2f import Predictor
from c2f.data import H5Source
from c2f.data.augment import decode_jpeg


def compare(workdir, split, n: int) -> dict:
    source = H5Source(split)
    images = np.stack([decode_jpeg(source[i]["image"]) for i in range(min(n, len(source)))])
    f32 = Predictor.from_checkpoint(workdir, compute_dtype="float32")
    bf16 = Predictor.from_checkpoint(workdir, compute_dtype="bfloat16")
    a, b = f32(images), bf16(images)
    d2 = np.linalg.norm(a["joints_2d"] - b["joints_2d"], axis=-1)
    d3 = np.linalg.norm(a["joints_3d"] - b["joints_3d"], axis=-1)
    return {
        "images": len(images), "image_px": int(images.shape[1]),
        "joints_2d_px": {"median": float(np.median(d2)), "p99": float(np.percentile(d2, 99)),
                         "max": float(d2.max())},
        "joints_3d_mm": {"median": float(np.median(d3)), "p99": float(np.percentile(d3, 99)),
                         "max": float(d3.max())},
    }  # fmt: skip


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", default="runs/demo")
    p.add_argument("--split", default="data/synthetic/test.h5")
    p.add_argument("--n", type=int, default=256)
    args = p.parse_args(argv)
    print(json.dumps(compare(args.workdir, args.split, args.n), indent=1))


if __name__ == "__main__":
    main()
