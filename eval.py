"""Evaluate a trained run: Protocol 1 (MPJPE) and 2 (PA-MPJPE) per action.

    python eval.py --workdir runs/demo [--checkpoint STEP | --best] [--data PATH] [--flip]
                   [--root gt|bones] [--decode soft|hard] [--every N] [--vis N]

Prints the table and writes it as JSON and Markdown to WORKDIR/eval/. On Human3.6M the paper's
published Protocol 1 numbers are shown beside ours.
"""

import argparse
import json
import pathlib
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--checkpoint", type=int, help="step to evaluate (default: the latest)")
    p.add_argument("--best", action="store_true", help="the best checkpoint by test MPJPE")
    p.add_argument("--data", help="dataset file (default: the run's test split)")
    p.add_argument(
        "--flip", action="store_true", help="average with the mirrored image's prediction"
    )
    p.add_argument(
        "--root", choices=("gt", "bones"), default="gt", help="root depth: ground truth or bones"
    )
    p.add_argument("--decode", choices=("soft", "hard"), help="default: the run's config")
    p.add_argument("--every", type=int, default=1, help="evaluate every N-th sample")
    p.add_argument("--vis", type=int, default=0, help="also draw N samples to a PNG")
    args = p.parse_args(argv)
    if args.every < 1:
        p.error("--every must be >= 1")

    from PIL import Image

    from c2f import report
    from c2f.data import DatasetError, H5Source
    from c2f.train.checkpoint import load_run
    from c2f.train.evaluate import evaluate, test_loader
    from c2f.train.sharding import make_mesh
    from c2f.train.steps import make_eval_step
    from c2f.visualize import figure

    try:
        cfg, graphdef, state, meta = load_run(
            args.workdir, step=args.checkpoint, which="best" if args.best else "last"
        )
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    data = pathlib.Path(args.data or pathlib.Path(cfg.data.root) / cfg.data.test_file)
    try:
        source = H5Source(data)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    how = args.decode or cfg.train.decode
    mesh = make_mesh()
    step_fn = make_eval_step(cfg, graphdef, how=how, flip=args.flip, root=args.root)
    loader, indices = test_loader(cfg, source, every=args.every)
    result = evaluate(step_fn, state, loader, indices, mesh)

    rows = {"Protocol 1 (MPJPE)": result["p1"], "Protocol 2 (PA-MPJPE)": result["p2"]}
    import h5py

    with h5py.File(data, "r") as f:
        is_h36m = f.attrs["source"] == "h36m"
    if is_h36m:
        rows["Pavlakos et al. 2017, P1"] = report.PAPER_P1_MM
    table = report.markdown(rows)
    name = f"step{meta['step']}_{how}{'_flip' if args.flip else ''}_root-{args.root}_{data.stem}"
    out = pathlib.Path(args.workdir) / "eval"
    out.mkdir(parents=True, exist_ok=True)
    header = (f"{len(result['mpjpe'])} samples of {data} at step {meta['step']}, decode {how}, "
              f"flip {args.flip}, root {args.root}; mm")  # fmt: skip
    (out / f"{name}.md").write_text(f"{header}\n\n{table}\n")
    record = {"data": str(data), "step": meta["step"], "samples": len(result["mpjpe"]),
              "decode": how, "flip": args.flip, "root": args.root,
              "tables": report.to_json(rows)}  # fmt: skip
    (out / f"{name}.json").write_text(json.dumps(record, indent=1))
    print(header)
    print(table)
    print(f"wrote {out / name}.md and .json")
    if args.vis:
        import numpy as np

        picks = np.linspace(0, len(source) - 1, args.vis).astype(int)
        png = out / f"{name}.png"
        Image.fromarray(figure(cfg, graphdef, state, source, picks, mesh)).save(png)
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
