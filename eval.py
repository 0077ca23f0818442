"""Evaluate a trained run under a named protocol: MPJPE and PA-MPJPE per action.

    python eval.py --workdir runs/demo [--checkpoint STEP | --best] [--data PATH]
                   [--protocol paper|p1-gt-root|p2-s11] [--flip] [--root gt|bones]
                   [--decode soft|hard|argmax] [--every N] [--vis N]

The protocol (c2f/protocols.py; default: the run's ``train.protocol``) fixes the samples,
decoding, flip test, root depth and average, and is printed above the table. ``--decode``,
``--root`` and ``--flip`` override it (the header then says so and the paper's published
numbers are not shown). Writes the table as JSON and Markdown to WORKDIR/eval/.
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
    p.add_argument("--protocol", help="paper, p1-gt-root or p2-s11 (default: the run's)")
    p.add_argument(
        "--flip", action="store_true", help="average with the mirrored image's prediction"
    )
    p.add_argument("--root", choices=("gt", "bones"), help="root depth: ground truth or bones")
    p.add_argument("--decode", choices=("soft", "hard", "argmax"), help="override the protocol")
    p.add_argument("--every", type=int, default=1, help="evaluate every N-th sample")
    p.add_argument("--vis", type=int, default=0, help="also draw N samples to a PNG")
    args = p.parse_args(argv)
    if args.every < 1:
        p.error("--every must be >= 1")

    from PIL import Image

    from c2f import protocols, report
    from c2f.data import DatasetError, H5Source
    from c2f.train.checkpoint import load_run
    from c2f.train.evaluate import evaluate, protocol_eval_step, test_loader
    from c2f.train.sharding import make_mesh
    from c2f.visualize import figure

    try:
        cfg, graphdef, state, meta = load_run(
            args.workdir, step=args.checkpoint, which="best" if args.best else "last"
        )
        protocol = protocols.get(args.protocol or cfg.train.protocol)
        data = pathlib.Path(args.data or pathlib.Path(cfg.data.root) / cfg.data.test_file)
        source = H5Source(data)
        loader, indices = test_loader(cfg, source, every=args.every, protocol=protocol)
    except (FileNotFoundError, DatasetError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    flip = "coords" if args.flip and protocol.flip == "none" else None
    step_fn, options = protocol_eval_step(
        cfg, graphdef, protocol, decode=args.decode, flip=flip, root=args.root
    )
    overridden = [k for k, v in (("decode", args.decode), ("root", args.root), ("flip", flip)) if v]
    result = evaluate(step_fn, state, loader, indices, make_mesh())

    rows = {"Protocol 1 (MPJPE)": result["p1"], "Protocol 2 (PA-MPJPE)": result["p2"]}
    if protocol.published and not overridden and source.source == "h36m":
        rows["Pavlakos et al. 2017 (published)"] = protocol.published
    table = report.markdown(rows)
    name = (f"step{meta['step']}_{protocol.name}_{options['decode']}_flip-{options['flip']}"
            f"_root-{options['root']}_{data.stem}")  # fmt: skip
    out = pathlib.Path(args.workdir) / "eval"
    out.mkdir(parents=True, exist_ok=True)
    headline = report.headline_line(result, protocol)
    header = (f"{protocol.definition}\n"
              + (f"Modified here: {', '.join(f'{k}={options[k]}' for k in overridden)}.\n"
                 if overridden else "")
              + f"{len(result['mpjpe'])} samples of {data} at step {meta['step']}; "
              f"{report.LEGEND}\n{headline}")  # fmt: skip
    (out / f"{name}.md").write_text(f"{header}\n\n{table}\n")
    record = {"data": str(data), "step": meta["step"], "samples": len(result["mpjpe"]),
              "protocol": protocol.name, "definition": protocol.definition,
              "modified": overridden, **options, "tables": report.to_json(rows)}  # fmt: skip
    (out / f"{name}.json").write_text(json.dumps(record, indent=1))
    print(header)
    print(table)
    print(f"wrote {out / name}.md and .json")
    if args.vis:
        import numpy as np

        picks = indices[np.linspace(0, len(indices) - 1, args.vis).astype(int)]
        png = out / f"{name}.png"
        Image.fromarray(figure(cfg, graphdef, state, source, picks, make_mesh())).save(png)
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
