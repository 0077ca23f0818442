"""``c2f train-temporal``: learn a temporal model over a trained run's per-frame predictions.

    c2f train-temporal --workdir runs/demo [--design dilated|attention] [--causal]
                       [--data FILE] [--name NAME] [--set steps=3000 model.width=256 ...]

The image run's last checkpoint poses every frame of ``--data`` (default: the run's
``data.root/train_seq.h5``, the training subjects' consecutive frames that ``c2f data synthetic
--train-seq-poses N`` writes); the temporal model learns the ground truth from windows of those
predictions (c2f/temporal). It is saved in ``WORKDIR/temporal/NAME`` (default: the design,
``-causal`` for the causal form) with its config, checkpoints and logs, and resumes when run
again. ``c2f eval --temporal NAME`` and ``c2f video --temporal NAME`` use it.
"""

import argparse
import sys

from c2f.checkpoint import CheckpointUnreadable
from c2f.config import override
from c2f.data import DatasetError
from c2f.temporal import DESIGNS
from c2f.temporal.run import TemporalRun
from c2f.train.lock import WorkdirError
from c2f.train.temporal import TemporalConfigChanged, train_temporal


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True, help="a trained c2f run")
    p.add_argument("--design", choices=tuple(DESIGNS), help="sets model.design")
    p.add_argument("--causal", action="store_true", help="sets model.causal (streaming video)")
    p.add_argument("--data", help="a dataset of consecutive frames (default: the run's "
                   "data.root/train_seq.h5)")  # fmt: skip
    p.add_argument(
        "--predictions",
        help="learn from these per-frame predictions (.npz, "
        "c2f.train.temporal.read_predictions) instead of the run's on --data",
    )
    p.add_argument("--name", help="the folder under WORKDIR/temporal (default: the design)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="overrides of c2f.temporal.run.TemporalRun")  # fmt: skip
    args = p.parse_args(argv)
    sets = list(args.set)
    if args.design:
        sets.append(f"model.design={args.design}")
    if args.causal:
        sets.append("model.causal=True")
    try:
        cfg = override(TemporalRun(), sets) if sets else TemporalRun()
    except ValueError as e:
        p.error(str(e))
    if args.name is not None and (not args.name or "/" in args.name or args.name.startswith(".")):
        p.error(f"--name: a plain folder name, got {args.name!r}")
    try:
        summary = train_temporal(args.workdir, cfg, name=args.name, data=args.data,
                                 predictions=args.predictions)  # fmt: skip
    except (FileNotFoundError, ValueError, DatasetError, WorkdirError, CheckpointUnreadable,
            TemporalConfigChanged) as e:  # fmt: skip
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{summary['folder']}: step {summary['step']}; on the training sequences (no "
          f"perturbation) MPJPE {summary['raw_mm']:.1f} mm of the image model, "
          f"{summary['refined_mm']:.1f} mm refined")  # fmt: skip
    if summary["interrupted"]:
        print(f"interrupted at step {summary['step']}; re-run the same command to resume",
              file=sys.stderr)  # fmt: skip
        return 128 + summary["interrupted"]
    return 0
