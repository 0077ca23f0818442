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
from c2f.outputs import OutputError, add_overwrite, check_outputs, replacing_all


def still_paths(out, count: int) -> list[pathlib.Path]:
    """The files :func:`write_stills` writes."""
    return [pathlib.Path(out) / f"frame_{k:04d}.jpg" for k in range(count)]


def check_count(f, data, count: int) -> None:
    """At most one image per sample of the open file ``f``."""
    if count > len(f["image"]):
        raise DatasetError(f"--count: {data} holds {len(f['image'])} samples, not {count}")


def write_stills(data, out, count: int) -> list[pathlib.Path]:
    """The images of ``count`` samples spread over ``data``, written under ``out``."""
    out = pathlib.Path(out)
    with open_dataset(data) as f:
        check_count(f, data, count)
        out.mkdir(parents=True, exist_ok=True)
        images = f["image"]
        picks = np.linspace(0, len(images) - 1, count).astype(int)
        paths = still_paths(out, count)
        with replacing_all(paths) as tmps:  # the whole set or none (a full disk part way)
            for tmp, i in zip(tmps, picks):
                image = Image.open(io.BytesIO(images[i].tobytes())).convert("RGB")
                image.save(tmp, format="JPEG", quality=95)
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=pathlib.Path, help="a c2f dataset file")
    p.add_argument("--out", required=True, type=pathlib.Path, help="output folder")
    p.add_argument("--count", type=int, default=4, help="images to write")
    add_overwrite(p)
    args = p.parse_args(argv)
    if args.count < 1:
        p.error("--count must be >= 1")
    try:
        with open_dataset(args.data) as f:  # the count against the file, before any image
            check_count(f, args.data, args.count)
        files = {f"--out ({path.name})": path for path in still_paths(args.out, args.count)}
        check_outputs(files, {"--data": args.data}, overwrite=args.overwrite)
    except (DatasetError, OutputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        written = write_stills(args.data, args.out, args.count)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
