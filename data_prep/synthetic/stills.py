"""Test images as files: ``python -m data_prep.synthetic.stills --data TEST.h5 --out DIR``.

Writes ``--count`` evenly spaced samples' stored images (the rendered crops, as JPEG files
``frame_0000.jpg``, ...) so that ``c2f predict`` has photographs to pose; ``make demo`` uses it.
"""

import argparse
import io
import pathlib
import sys

import numpy as np
from PIL import Image

from c2f.data.schema import DatasetError, open_dataset


def write_stills(data, out, count: int) -> list[pathlib.Path]:
    """The images of ``count`` samples spread over ``data``, written under ``out``."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with open_dataset(data) as f:
        images = f["image"]
        for k, i in enumerate(np.linspace(0, len(images) - 1, count).astype(int)):
            image = Image.open(io.BytesIO(images[i].tobytes())).convert("RGB")
            path = out / f"frame_{k:04d}.jpg"
            image.save(path, quality=95)
            written.append(path)
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=pathlib.Path, help="a c2f dataset file")
    p.add_argument("--out", required=True, type=pathlib.Path, help="output folder")
    p.add_argument("--count", type=int, default=4, help="images to write")
    args = p.parse_args(argv)
    if args.count < 1:
        p.error("--count must be >= 1")
    try:
        written = write_stills(args.data, args.out, args.count)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {args.out}: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
