"""``c2f draw --workdir RUN [--n 4] [--out FILE.png]``: a run's predictions on test samples.

Each row: the input crop with the predicted (coloured) and ground-truth (white) 2D skeletons,
then the 3D skeletons (prediction coloured, ground truth grey) from the front and the side.
"""

import argparse
import pathlib
import sys

import numpy as np
from PIL import Image

from c2f.checkpoint import load_model
from c2f.data import DatasetError, H5Source
from c2f.evaluation.evaluate import evaluate, make_inference, protocol_options, test_loader
from c2f.evaluation.protocols import get
from c2f.outputs import add_overwrite, check_outputs, replacing
from c2f.serving.visualize import figure
from c2f.sharding import make_mesh

MAX_SAMPLES = 64  # rows of one picture; more is not a picture anyone reads


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--checkpoint", type=int, help="step (default: the latest)")
    p.add_argument("--data", help="dataset file (default: the run's test split)")
    p.add_argument("--n", type=int, default=4, help=f"samples to draw (1 to {MAX_SAMPLES})")
    p.add_argument("--out", help="PNG path (default: WORKDIR/predictions.png)")
    add_overwrite(p)
    args = p.parse_args(argv)
    if not 1 <= args.n <= MAX_SAMPLES:
        p.error(f"--n: 1 to {MAX_SAMPLES} samples, got {args.n}")
    out = pathlib.Path(args.out or pathlib.Path(args.workdir) / "predictions.png")
    try:
        if out.suffix.lower() != ".png":
            raise ValueError(f"--out: {out} must end in .png")
        # Before the run is loaded: the picture replaces nothing (the data file included).
        check_outputs({"--out": out}, {"--data": args.data}, overwrite=args.overwrite)
        cfg, graphdef, state, _ = load_model(args.workdir, step=args.checkpoint)
        data = args.data or str(pathlib.Path(cfg.data.root) / cfg.data.test_file)
        source = H5Source(data)
        if source.skeleton.name != cfg.model.keypoints.name:
            raise ValueError(f"--data: {data} holds {source.skeleton.name} keypoints; the run "
                             f"predicts {cfg.model.keypoints.name}")  # fmt: skip
        if not np.any(source.column("valid_3d")):
            raise ValueError(f"--data: {data} has no 3D joints to draw (a 2D-only file)")
    except (FileNotFoundError, DatasetError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    options = protocol_options(cfg, get(cfg.train.protocol))
    loader, _ = test_loader(cfg, source, workers=0)
    indices = np.linspace(0, len(source) - 1, min(args.n, len(source))).astype(int)
    result = evaluate(make_inference(cfg, graphdef, state, options), loader, indices,
                      make_mesh(), root=options["root"], pictures=indices)  # fmt: skip
    with replacing(out) as tmp:
        Image.fromarray(figure(result["pictures"], cfg)).save(tmp)
    print(f"wrote {out}")
    return 0
