"""Zip archives (``.npz``) read within bounds: members checked by their declared sizes first.

A 1 MB file can declare a 1 GiB member (a "zip bomb"), which ``np.load`` would inflate. Before
a byte of a member is decompressed, :func:`check_members` refuses one whose declared size is
over ``max_bytes``, or over ``max_ratio`` times its compressed size (numeric arrays and pickles
compress a few times, never a thousand).
"""

import pathlib
import zipfile

MAX_MEMBER_BYTES = 8 * 2**30
MAX_RATIO = 200


def check_members(path, max_bytes: int = MAX_MEMBER_BYTES, max_ratio: int = MAX_RATIO) -> None:
    """Refuse an archive with a member over the bounds above (or one that is not a zip).

    Raises:
      ValueError: naming the file and the member.
    """
    path = pathlib.Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not an .npz (zip) archive ({e})") from e
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > max_bytes or (info.file_size > 2**20 and ratio > max_ratio):
            raise ValueError(
                f"{path}: member {info.filename} declares {info.file_size:,} bytes from "
                f"{info.compress_size:,} compressed (bounds: {max_bytes:,} bytes, "
                f"{max_ratio}x); refused before reading"
            )
