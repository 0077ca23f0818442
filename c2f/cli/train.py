"""``c2f train``: train the coarse-to-fine network (``train.py`` is the same command).

    c2f train --config demo --workdir runs/demo [--set train.steps=500 ...]

--config takes a named recipe (the files of c2f/configs, listed by
``c2f.config.recipe_names()``: paper, demo, hand, ...) or the path of a recipe file.

Resumes from the latest checkpoint in --workdir, with the same config (a config that changes
the experiment is refused, naming the fields, unless --allow-config-change). SIGINT/SIGTERM
save a checkpoint and exit with status 130 or 143 ("interrupted at step N"); a diverged run exits
with 1; a refused resume or a bad dataset with 2. Multi-host: pass
--coordinator, --num-processes and --process-id (or set JAX's cluster environment) to call
``jax.distributed.initialize``.
"""

import argparse
import pathlib
import sys

import jax

from c2f import signals
from c2f.checkpoint import CheckpointUnreadable
from c2f.config import apply_overrides, load_config, recipe_names
from c2f.data import DatasetError
from c2f.train.lock import WorkdirError
from c2f.train.loop import TrainingDiverged, train
from c2f.train.resume import ConfigChanged


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True,
                   help=f"a recipe ({', '.join(recipe_names())}) or a recipe file")  # fmt: skip
    p.add_argument("--workdir", required=True, help="checkpoints, logs and config")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    p.add_argument("--coordinator", help="host:port of process 0 (multi-host)")
    p.add_argument("--num-processes", type=int)
    p.add_argument("--process-id", type=int)
    p.add_argument("--distributed", action="store_true", help="initialise from the environment")
    p.add_argument(
        "--allow-config-change",
        action="store_true",
        help="resume although the config differs from the checkpoint's (recorded in the log)",
    )
    args = p.parse_args(argv)
    # Until the loop takes SIGINT/SIGTERM over (saving a checkpoint), either ends start-up
    # with one line: nothing is half-written (config.json and checkpoints are written whole).
    try:
        return _main(p, args)
    except KeyboardInterrupt as e:
        signum = signals.signum_of(e)
        print(f"{signals.word(signum)} before training started; re-run the same command",
              file=sys.stderr)  # fmt: skip
        return 128 + signum


def _main(p, args) -> int:
    if args.coordinator or args.distributed:
        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)

    try:
        cfg = apply_overrides(load_config(args.config), args.set)
    except ValueError as e:
        p.error(str(e))
    workdir = pathlib.Path(args.workdir)
    if workdir.exists() and not workdir.is_dir():
        p.error(f"--workdir: {workdir} is a file, not a folder")
    print(f"c2f train: {args.config} in {workdir}: starting (data checks, model, compilation)",
          file=sys.stderr, flush=True)  # fmt: skip
    try:
        summary = train(cfg, args.workdir, allow_config_change=args.allow_config_change)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (ConfigChanged, DatasetError, WorkdirError, CheckpointUnreadable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if summary.get("interrupted"):
        # Not "done": scripts and schedulers must see that the run has steps left.
        signum = summary.get("signal") or signals.signum_of()
        print(f"{signals.word(signum)} at step {summary['step']}; re-run the same command to "
              "resume", file=sys.stderr)  # fmt: skip
        return 128 + signum
    print(f"done at step {summary['step']}")
    return 0
