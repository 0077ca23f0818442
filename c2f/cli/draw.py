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
from c2f.serving.visualize import figure
from c2f.sharding import make_mesh


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--checkpoint", type=int, help="step (default: the latest)")
    p.add_argument("--data", help="dataset file (default: the run's test split)")
    p.add_argument("--n", type=int, default=4, help="samples to draw")
    p.add_argument("--out", help="PNG path (default: WORKDIR/predictions.png)")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be >= 1")
    try:
        cfg, graphdef, state, _ = load_model(args.workdir, step=args.checkpoint)
        data = args.data or str(pathlib.Path(cfg.data.root) / cfg.data.test_file)
        source = H5Source(data)
    except (FileNotFoundError, DatasetError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    options = protocol_options(cfg, get(cfg.train.protocol))
    loader, _ = test_loader(cfg, source, workers=0)
    indices = np.linspace(0, len(source) - 1, args.n).astype(int)
    result = evaluate(make_inference(cfg, graphdef, state, options), loader, indices,
                      make_mesh(), root=options["root"], pictures=indices)  # fmt: skip
    out = pathlib.Path(args.out or pathlib.Path(args.workdir) / "predictions.png")
    Image.fromarray(figure(result["pictures"], cfg)).save(out)
    print(f"wrote {out}")
    return 0
