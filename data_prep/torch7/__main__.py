"""Import the authors' trained network: ``python -m data_prep.torch7 FILE.t7 --out RUN``.

Reads a ``torch.save`` of an ``hg-stacked-N.lua`` gModule (the authors' Human3.6M model is
``c2f-volumetric-h36m.t7``, downloaded by geopavlakos/c2f-vol-demo's ``init.sh``) without Lua,
maps every convolution and BatchNorm onto :class:`c2f.model.C2FPose` by the graph's data flow
and writes RUN, a run directory that ``eval.py``, :class:`c2f.Predictor` and ``train.py`` (to
fine-tune) load like any other: its checkpoint at step 0 holds the weights, its config is
``--config`` (default the paper's recipe) with the file's architecture, in float32 (the
authors' arithmetic). ``--check`` then predicts the four real Human3.6M frames of
``../shared/data/mmpose_h36m_samples`` and prints their MPJPE.
"""

import argparse
import dataclasses
import pathlib
import sys
import time

import numpy as np
from PIL import Image

from c2f.archives import check_members
from c2f.config import load_config
from c2f.model import abstract_model, count_params
from c2f.outputs import check_output_folder
from c2f.serving.predictor import Predictor
from data_prep import safe_pickle
from data_prep.torch7.convert import (
    PAPER_CONFIG,
    assign,
    check_arrays_finite,
    file_digest,
    read,
    write_run,
)
from data_prep.torch7.t7file import Torch7Error

DEFAULT_CHECK_DATA = pathlib.Path(__file__).resolve().parents[3] / "shared/data/mmpose_h36m_samples"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file", type=pathlib.Path, help="the .t7 file (torch.save of the gModule)")
    p.add_argument("--out", type=pathlib.Path, required=True, help="the run directory to write")
    p.add_argument(
        "--config",
        type=pathlib.Path,
        default=None,
        help="recipe whose data/train settings the run gets (default: paper)",
    )
    p.add_argument("--joints", type=int, default=17, help="joints per volume (default 17)")
    p.add_argument(
        "--input-res",
        type=int,
        default=256,
        help="input side in px, not stored in the file (the authors': 256)",
    )
    p.add_argument(
        "--long-size",
        type=int,
        choices=(4, 8),
        default=8,
        help="bytes of a C long where the file was saved (8; 4 for Windows)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="predict the four real Human3.6M frames and print their MPJPE",
    )
    p.add_argument(
        "--check-data",
        type=pathlib.Path,
        default=DEFAULT_CHECK_DATA,
        help="mmpose's Human3.6M test samples (default ../shared/data/...)",
    )
    return p.parse_args(argv)


def run_config(args, model_config):
    """The run's Config: the recipe's, with the imported architecture."""
    cfg = load_config(args.config or PAPER_CONFIG)
    return dataclasses.replace(cfg, model=model_config)


def import_file(args) -> dict:
    """Read, map, and write the run; returns what the summary prints."""
    if (args.out / "checkpoints").exists():  # before the (long) read
        raise FileExistsError(f"--out: {args.out} already holds checkpoints; choose a new folder")
    size_mb = args.file.stat().st_size / 2**20 if args.file.is_file() else 0
    print(f"reading {args.file} ({size_mb:.1f} MB) ...", flush=True)
    tick = time.perf_counter()
    imported = read(
        args.file, joints=args.joints, input_res=args.input_res, long_size=args.long_size
    )
    mc = imported.config
    print(
        f"  hg-stacked-{len(mc.depths)}: depths {'-'.join(map(str, mc.depths))}, features "
        f"{mc.features}/{mc.wide_features}, {mc.hourglass_levels} pooling levels, "
        f"{imported.modules} convolutions and BatchNorms mapped "
        f"({time.perf_counter() - tick:.1f} s)",
        flush=True,
    )
    cfg = run_config(args, mc)
    model = abstract_model(mc)  # no initialisation: every array comes from the file
    assign(model, imported)
    check_arrays_finite(model)
    print(f"writing {args.out} ...", flush=True)
    source = {
        "file": str(args.file.resolve()),
        "sha256": file_digest(args.file),
        "bytes": args.file.stat().st_size,
        "modules_mapped": imported.modules,
    }
    write_run(args.out, cfg, model, source)
    return {"parameters": count_params(mc), "config": mc, "source": source}


def read_check_data(data_dir: pathlib.Path):
    """(mmpose's samples, their cameras): read before the import, so a bad file writes nothing.

    Raises:
      FileNotFoundError: the samples are missing.
      ValueError: a file is not what it should be (a pickle that would run code included).
    """
    npz = data_dir / "test_h36m_body3d.npz"
    if not npz.is_file():
        raise FileNotFoundError(f"--check-data: {npz} not found (mmpose's tests/data/h36m)")
    try:
        check_members(npz)
        with np.load(npz, allow_pickle=False) as z:
            samples = {k: z[k] for k in ("imgname", "part", "S")}
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"--check-data: {npz}: not mmpose's samples ({e})") from e
    cameras = safe_pickle.load(data_dir / "cameras.pkl")  # data only: never runs code
    return samples, cameras


def check(workdir, data_dir: pathlib.Path, inputs=None) -> dict:
    """MPJPE (mm, root-relative, flip test of volumes) of the run on mmpose's four H36M frames.

    The person boxes are the ground truth 2D joints' bounding boxes (the Predictor adds the
    authors' 40 px margin, as their annotations do); K is each frame's camera.

    Returns:
      {image name: MPJPE mm} and "mean".
    """
    d, cameras = inputs or read_check_data(data_dir)
    predictor = Predictor.from_checkpoint(workdir, flip="volumes")
    out = {}
    for name, part, S in zip(d["imgname"], d["part"], d["S"]):
        image = np.asarray(Image.open(data_dir / name).convert("RGB"))
        subject, camera = name.split("/")[0], name.split(".")[-2].split("_")[0]
        cam = cameras[(subject, camera)]
        (fx, fy), (cx, cy) = np.ravel(cam["f"]), np.ravel(cam["c"])
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
        box = np.r_[part[:, :2].min(0), part[:, :2].max(0)]
        pred = predictor(image, boxes=box, K=K)["joints_3d"]
        truth = S[:, :3] * 1000.0
        truth = truth - truth[:1]
        out[str(name)] = float(np.linalg.norm(pred - truth, axis=-1).mean())
    out["mean"] = float(np.mean(list(out.values())))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
            # before the file is read, not after
            what = ("already holds checkpoints" if (args.out / "checkpoints").exists()
                    else "exists and is not an empty folder")  # fmt: skip
            raise FileExistsError(f"--out: {args.out} {what}; give a new run folder")
        check_output_folder("--out", args.out, {"FILE": args.file})
        inputs = read_check_data(args.check_data) if args.check else None
        summary = import_file(args)
    except (Torch7Error, FileExistsError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"imported {summary['parameters']:,} parameters into {args.out} (checkpoint step 0)")
    print(f"  evaluate: c2f eval --workdir {args.out} --protocol paper")
    if args.check:
        try:
            errors = check(args.out, args.check_data, inputs)
        except FileNotFoundError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print("check on four real Human3.6M frames (training subjects of the authors' model):")
        for name, mpjpe in errors.items():
            print(f"  {name}: MPJPE {mpjpe:.1f} mm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
