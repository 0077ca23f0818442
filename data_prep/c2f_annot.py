"""Import the original coarse-to-fine code's annotations: ``python -m data_prep.c2f_annot``.

Reads ``ANNOT/{split}.h5`` (``center``, ``scale``, and in the training code's files ``part``
(0-based px) and ``zind`` (1..64 depth bins)), ``ANNOT/{split}_images.txt`` (one image name a
line) and, when present, ``ANNOT/{split}.mat`` (struct ``annot`` with ``imgname``, ``center``,
``scale``, ``S`` [3, 17] camera-frame mm, ``K`` [3, 3]), plus the full frames in ``--images``
named like ``S9_Posing_1.55011271_000001.jpg``. Writes one c2f dataset file.

Without ``S`` (the training code's h5 files) the metric 3D pose is not in the annotation: the
importer rebuilds it from ``part`` and ``zind`` (depth = bin centre) at an assumed root depth of
5 m; 2D and depth bins, all that training uses, are exact, and the file's ``args`` record
``joints_cam: "from zind"`` so that nobody evaluates metric errors on it.
"""

import argparse
import pathlib
import re
import sys

import h5py
import numpy as np
from PIL import Image
from scipy.io import loadmat
from tqdm import tqdm

from c2f.data.schema import DatasetWriter
from c2f.geometry import Camera, DepthBins, project
from c2f.h36m import ACTIONS, CAMERAS, canonical_action
from c2f.skeleton import ROOT
from data_prep.cli import run
from data_prep.h36m.metadata import parse_metadata
from data_prep.sample import make_sample

_NAME = re.compile(r"^S(\d+)_(.+?)\.(\d+)_(\d+)(\.\w+)?$")
ASSUMED_ROOT_DEPTH_MM = 5000.0
# Human3.6M-like intrinsics, used when an annotation carries no K (the training h5 files).
NOMINAL_K = np.array([[1145.0, 0.0, 512.0], [0.0, 1144.0, 512.0], [0.0, 0.0, 1.0]])


def parse_name(name: str) -> dict:
    """Ids from an image name ``S9_Posing_1.55011271_000001[.jpg]``.

    ``frame`` is the name's number minus one (0-based); ``subaction`` is the number after the
    action (0 when there is none).
    """
    m = _NAME.match(name.strip())
    if m is None:
        raise ValueError(f"image name {name!r} is not like 'S9_Posing_1.55011271_000001.jpg'")
    subject, seq, cam, frame = m.group(1), m.group(2), m.group(3), m.group(4)
    if cam not in CAMERAS:
        raise ValueError(f"image name {name!r}: unknown camera {cam}")
    sub = re.search(r"[ _](\d+)$", seq)
    return {
        "subject": int(subject),
        "action": ACTIONS.index(canonical_action(seq)),
        "subaction": int(sub.group(1)) if sub else 0,
        "camera": CAMERAS.index(cam),
        "frame": int(frame) - 1,
    }


def load_annotations(annot_dir: pathlib.Path, split: str) -> dict:
    """Per-sample arrays of a split: names, center, scale and whatever else the files hold."""
    h5_path = annot_dir / f"{split}.h5"
    names_path = annot_dir / f"{split}_images.txt"
    mat_path = annot_dir / f"{split}.mat"
    out: dict = {}
    if h5_path.is_file():
        with h5py.File(h5_path, "r") as f:
            for key in ("center", "scale", "part", "zind"):
                if key in f:
                    out[key] = f[key][...]
    if mat_path.is_file():
        annot = loadmat(mat_path, squeeze_me=True)["annot"]
        out["imgname"] = [str(n) for n in annot["imgname"].item()]
        out["S"] = annot["S"].item().transpose(0, 2, 1)  # [N, 17, 3]
        out["K"] = annot["K"].item()
        if out["K"].dtype == object:
            out["K"] = np.stack(list(out["K"]))
        out.setdefault("center", annot["center"].item())
        out.setdefault("scale", annot["scale"].item())
    if names_path.is_file():
        out["imgname"] = [n.strip() for n in names_path.read_text().splitlines() if n.strip()]
    if "imgname" not in out:
        raise ValueError(
            f"{annot_dir}: neither {names_path.name} nor {mat_path.name} names the images"
        )
    if "center" not in out or "scale" not in out:
        raise ValueError(f"{annot_dir}: no center/scale for split {split!r} ({h5_path.name})")
    n = len(out["imgname"])
    for key, value in out.items():
        if len(value) != n:
            raise ValueError(f"{annot_dir}: field {key!r} has {len(value)} entries, images {n}")
    if "S" not in out and not ("part" in out and "zind" in out):
        raise ValueError(f"{h5_path}: neither 3D poses (S in {mat_path.name}) nor part + zind")
    return out


def _joints_from_zind(part, zind, K, bins: DepthBins):
    """Camera-frame joints rebuilt from 2D px and 1-based depth bins at an assumed root depth."""
    z_rel = bins.to_mm(np.asarray(zind, np.float64) - 1.0, 64)
    z_rel = z_rel - z_rel[ROOT]
    depth = ASSUMED_ROOT_DEPTH_MM + z_rel
    xy = (np.asarray(part, np.float64) - K[:2, 2]) / K[[0, 1], [0, 1]]
    return np.concatenate([xy * depth[:, None], depth[:, None]], axis=1)


def convert(annot_dir, images_dir, out_path, split: str, crop_res: int, limit=None, cameras=None):
    """Write one c2f dataset file from the authors' annotations; returns the sample count."""
    a = load_annotations(pathlib.Path(annot_dir), split)
    n = len(a["imgname"]) if limit is None else min(limit, len(a["imgname"]))
    has_3d = "S" in a
    args = {"annot": str(annot_dir), "images": str(images_dir), "split": split,
            "joints_cam": "annotation" if has_3d else "from zind"}  # fmt: skip
    bins = DepthBins()
    with DatasetWriter(out_path, source="c2f_annot", args=args, crop_res=crop_res) as w:
        for i in tqdm(range(n), desc=f"{split}", unit="img"):
            name = a["imgname"][i]
            name = name if name.endswith(".jpg") else name + ".jpg"
            ids = parse_name(name)
            path = pathlib.Path(images_dir) / name
            if not path.is_file():
                raise ValueError(f"{path}: image named in the annotations is missing")
            try:
                frame = np.asarray(Image.open(path).convert("RGB"))
            except Exception as e:
                raise ValueError(f"{path}: unreadable image ({e})") from e
            K = np.asarray(a["K"][i] if "K" in a else NOMINAL_K, np.float64)
            subject, cam_id = f"S{ids['subject']}", CAMERAS[ids["camera"]]
            if cameras is not None and subject in cameras:
                cam = Camera.from_dict(cameras[subject][cam_id])
            else:
                cam = Camera.from_intrinsics(K, frame.shape[1], frame.shape[0])
            if has_3d:
                joints = np.asarray(a["S"][i], np.float64)
            else:
                joints = _joints_from_zind(a["part"][i], a["zind"][i], cam.K, bins)
            # The authors' own box and 2D joints, where given, win over recomputed ones.
            uv = np.asarray(a["part"][i], np.float64) if "part" in a else project(cam, joints)
            center, scale = np.asarray(a["center"][i], np.float64), float(a["scale"][i])
            s = make_sample(frame, joints, uv, center, scale, cam, crop_res, 90)
            s.update(ids)
            w.append({k: [v] for k, v in s.items()})
        return w.count


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--annot", required=True, type=pathlib.Path, help="folder with {split}.h5 ...")
    p.add_argument("--images", required=True, type=pathlib.Path, help="folder of full frames")
    p.add_argument("--out", required=True, type=pathlib.Path, help="output .h5 file")
    p.add_argument("--split", default="valid", help="annotation split name (train, valid)")
    p.add_argument("--crop-res", type=int, default=384)
    p.add_argument(
        "--metadata", type=pathlib.Path, help="the release's metadata.xml: exact cameras"
    )
    p.add_argument("--limit", type=int, help="convert only the first N samples")

    def work(args):
        cameras = None
        if args.metadata:
            cameras = parse_metadata(args.metadata)["cameras"]
        n = convert(
            args.annot, args.images, args.out, args.split, args.crop_res, args.limit, cameras
        )
        return f"wrote {n} samples to {args.out}"

    return run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
