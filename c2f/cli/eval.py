"""``c2f eval``: evaluate a trained run under a named protocol, MPJPE and PA-MPJPE per action.

    c2f eval --workdir runs/demo [--checkpoint STEP | --best] [--data PATH]
                   [--protocol paper|p1-gt-root|p2-s11] [--flip] [--root gt|bones]
                   [--decode soft|hard|argmax] [--every N] [--vis N] [--workers N]

``eval.py`` is the same command. The checkpoint is read with the config it was trained with.
The protocol (c2f/evaluation/protocols.py; default: the run's ``train.protocol``) fixes the
samples, decoding, flip test, root depth and average, and is printed above the table. ``--decode``,
``--root`` and ``--flip`` override it (the header then says so and the paper's published numbers
are not shown). Writes the table as JSON and Markdown to WORKDIR/eval/; ``--vis N`` draws N of the
evaluated samples. On a file that stores body parameters (the synthetic default's bodies), the
table also has MPVPE and PA-MPVPE rows of the body fitted to the predictions, and the fit's
floor (c2f/evaluation/mesh.py); ``--no-mesh`` skips them.
"""

import argparse
import dataclasses
import pathlib
import sys

import numpy as np
from PIL import Image

from c2f.checkpoint import load_model
from c2f.data import DatasetError, H5Source
from c2f.data.augment import ImageDecodeError
from c2f.evaluation import benchmarks, filters, mesh, protocols, report, temporal
from c2f.evaluation.evaluate import evaluate, make_inference, protocol_options, test_loader
from c2f.outputs import writable_folder
from c2f.serving.visualize import figure
from c2f.sharding import make_mesh
from c2f.temporal.apply import Refiner
from c2f.temporal.run import load as load_temporal
from c2f.temporal.windows import result_features
from c2f.volume import DECODES


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--checkpoint", type=int, help="step to evaluate (default: the latest)")
    p.add_argument("--best", action="store_true", help="the best checkpoint by test MPJPE")
    p.add_argument("--data", help="dataset file (default: the run's test split)")
    p.add_argument("--protocol", choices=tuple(protocols.PROTOCOLS), help="default: the run's")
    p.add_argument("--flip", action="store_true", help="average with the mirrored image's")
    p.add_argument("--root", choices=("gt", "bones"), help="root depth: ground truth or bones")
    p.add_argument("--decode", choices=DECODES, help="override the protocol")
    p.add_argument("--every", type=int, default=1, help="evaluate every N-th sample")
    p.add_argument("--vis", type=int, default=0, help="also draw N samples to a PNG")
    p.add_argument("--workers", type=int, help="processes building examples (default: the run's)")
    p.add_argument(
        "--smooth",
        choices=filters.FILTERS,
        default="none",
        help="filter each sequence's predictions; tables show before and after",
    )
    p.add_argument("--causal", action="store_true", help="the filter's causal (live) form")
    p.add_argument("--temporal", nargs="+", metavar="NAME",
                   help="also the rows of these temporal models (WORKDIR/temporal/NAME, from "
                   "c2f train-temporal) on the same frames")  # fmt: skip
    p.add_argument(
        "--all-frames",
        action="store_true",
        help="every stored frame of the protocol's subjects, not every 5th/64th",
    )
    p.add_argument(
        "--no-mesh",
        action="store_true",
        help="skip the MPVPE rows of a file with bodies (a body fit per sample, twice)",
    )
    args = p.parse_args(argv)
    if args.every < 1:
        p.error("--every must be >= 1")
    if args.vis < 0 or (args.workers is not None and args.workers < 0):
        p.error("--vis and --workers must be >= 0")
    return args


def temporal_model(workdir, name: str, cfg) -> Refiner:
    """The run's temporal model ``name`` (c2f train-temporal), checked against the run."""
    tcfg, model, _ = load_temporal(workdir, name)
    if tcfg.model.joints != cfg.model.keypoints.num_joints:
        raise ValueError(f"--temporal {name}: {tcfg.model.joints} joints; the run predicts "
                         f"{cfg.model.keypoints.num_joints}")  # fmt: skip
    return Refiner(model)


def refine(refiners: dict, result: dict, columns: dict, heatmap_px: int) -> dict:
    """{"temporal NAME": [N, J, 3] mm}: each temporal model over the evaluated runs."""
    if not refiners:
        return {}
    features = result_features(result, heatmap_px)
    runs = temporal.sequences(columns)
    return {f"temporal {name}": r.refine(features, runs) for name, r in refiners.items()}


def main(argv=None) -> int:
    args = parse_args(argv)

    try:
        which = "best" if args.best else "last"
        cfg, graphdef, state, meta = load_model(args.workdir, step=args.checkpoint, which=which)
        data = pathlib.Path(args.data or pathlib.Path(cfg.data.root) / cfg.data.test_file)
        source = H5Source(data)
        if not source.column("valid_3d").any():
            raise ValueError(f"{data}: a 2D-only file (no joint has 3D): nothing to evaluate")
        if source.skeleton != cfg.model.keypoints:
            raise ValueError(f"{data}: skeleton {source.skeleton.name!r}, but the run predicts "
                             f"{cfg.model.keypoints.name!r}")  # fmt: skip
        benchmark = benchmarks.get(source.benchmark)  # the file names it
        protocol = protocols.get(args.protocol or benchmark.protocol or cfg.train.protocol)
        if args.all_frames:  # e.g. a test split converted with --test-frame-step 1
            protocol = dataclasses.replace(protocol, frame_every=1)
        loader, indices = test_loader(cfg, source, every=args.every, protocol=protocol,
                                      workers=args.workers)  # fmt: skip
        flip = "coords" if args.flip and protocol.flip == "none" else None
        options = protocol_options(cfg, protocol, decode=args.decode, flip=flip, root=args.root)
        if options["root"] == "bones" and cfg.model.keypoints.bone_lengths_mm is None:
            raise ValueError(f"--root bones: skeleton {cfg.model.keypoints.name!r} has no mean "
                             "bone lengths; evaluate with the ground-truth root")  # fmt: skip
        if args.temporal and source.independent_frames:
            raise ValueError(f"--temporal: {data}'s frames are independent poses, not videos")
        refiners = {name: temporal_model(args.workdir, name, cfg) for name in args.temporal or ()}
    except (FileNotFoundError, DatasetError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out_dir = pathlib.Path(args.workdir) / "eval"
    problem = writable_folder(out_dir)
    if problem:  # before evaluating everything, not after
        print(f"error: the reports' folder: {problem}", file=sys.stderr)
        return 2
    overridden = [k for k, v in (("decode", args.decode), ("root", args.root), ("flip", flip)) if v]
    if args.all_frames:
        options = {**options, "frames": "all"}
        overridden.append("frames")
    if args.every > 1:
        options = {**options, "every": args.every}
    picks = indices[np.linspace(0, len(indices) - 1, args.vis).astype(int)] if args.vis else ()
    try:
        result = evaluate(make_inference(cfg, graphdef, state, options), loader, indices,
                          make_mesh(), root=options["root"], pictures=picks)  # fmt: skip
    except ImageDecodeError as e:  # evaluation never replaces a sample: the file is named
        print(f"error: {data}: {e}", file=sys.stderr)
        return 2
    columns = {k: source.column(k)[result["index"]]
               for k in ("subject", "action", "subaction", "camera", "frame")}  # fmt: skip
    timed, info = {}, {}
    if not source.independent_frames:
        refined = refine(refiners, result, columns, cfg.model.output_res)
        timed, info = temporal.evaluation_rows(result["pred_mm"], result["joints_rel_mm"],
                                               columns, source.action_names, smooth=args.smooth,
                                               causal=args.causal, refined=refined,
                                               skeleton=cfg.model.keypoints)  # fmt: skip
    extra = dict(timed)
    if benchmark.rows is not None:
        extra = {**benchmark.rows(result, columns, source, cfg.model.keypoints), **extra}
    if not args.no_mesh:  # files with bodies: MPVPE rows (c2f/evaluation/mesh.py)
        extra = {**mesh.evaluation_rows(result, data, cfg.model.keypoints, source.action_names),
                 **extra}  # fmt: skip
    if source.independent_frames:
        note = ("The frame ids do not order a video (independent synthetic poses or still "
                "images): no velocity or acceleration rows.")  # fmt: skip
    elif timed:
        note = (
            f"Temporal rows: {info['runs']} runs of consecutive evaluated frames (step "
            f"{info['frame_step']} frames of the video), never across a run's ends."
        )
    else:
        note = "No two consecutive frames were evaluated: no velocity or acceleration rows."
    if args.smooth != "none":
        options = {**options, "smooth": args.smooth + ("-causal" if args.causal else "")}
    if args.temporal:
        options = {**options, "temporal": "+".join(args.temporal)}
    try:
        text, name = report.write_evaluation(
            pathlib.Path(args.workdir) / "eval", result, protocol=protocol, options=options,
            overridden=overridden, data=data, step=meta["step"], source_kind=source.source,
            extra_rows=extra, note=note,
            groups=report.action_groups(result, source.action_names, cfg.data.hold_out_actions)
            if cfg.data.hold_out_actions else None,
        )  # fmt: skip
    except report.ReportNotWritten as e:
        print(e.text)
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(text)
    print(f"wrote {name}.md and .json ({result['examples_per_s']:.1f} examples/s)")
    if args.vis:
        Image.fromarray(figure(result["pictures"], cfg)).save(f"{name}.png")
        print(f"wrote {name}.png")
    return 0
