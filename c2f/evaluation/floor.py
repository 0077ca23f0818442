"""A protocol's error floor: the error of PERFECT predictions pushed through it.

``c2f floor --protocol paper --data data/h36m/test.h5`` (a c2f dataset file) or
``--annot-mat valid.mat`` (the authors' annotation struct: ``S``, ``K``, ``center``,
``scale``, ``imgname``; no images needed either way).

Each joint's true position is taken into the protocol's output: (x, y) in heatmap pixels of the
person box (``center``, ``scale``) at ``--heatmap`` px, z in depth bins of the paper's +-1 m
range. With ``argmax`` decoding the prediction is the voxel a perfect network would peak in
(the authors' target peak, :mod:`c2f.volume.authors_target`) read at its centre; otherwise the
continuous coordinates. Then the protocol's own reconstruction runs (root depth from bone
lengths or the ground truth, :func:`c2f.reconstruct.reconstruct`), and the table is the error
left. On the 394 real S9 frames of the authors' demo (``valid.mat``) the paper protocol's floor
is about 29 mm, and 22 mm with continuous coordinates: S9's bones are ~5 % longer than the
training mean the root depth is recovered from.
"""

import argparse
import json
import pathlib
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
from scipy.io import loadmat

from c2f.data.schema import open_dataset, skeleton_of
from c2f.evaluation import metrics, protocols, report
from c2f.geometry import Camera, DepthBins, crop_matrix, invert_affine, project
from c2f.geometry.crop import apply_affine
from c2f.h36m import ACTIONS, canonical_action
from c2f.reconstruct import reconstruct
from c2f.skeleton import H36M17, Skeleton
from c2f.volume import DECODES


def perfect_coords(joints_cam, intrinsics, distortion, center, scale, res: int, bins: DepthBins,
                   skeleton: Skeleton):  # fmt: skip
    """(coords [J, 3] heatmap px and finest bins, hm_to_img [2, 3]) of one true pose (numpy)."""
    f, c = intrinsics[:2], intrinsics[2:]
    cam = Camera(R=np.eye(3), t=np.zeros(3), f=f, c=c, k=distortion[:3], p=distortion[3:])
    uv = np.asarray(project(cam, np.asarray(joints_cam, np.float64)))
    A = crop_matrix(center, float(scale), res)
    xy = apply_affine(A, uv)
    z = np.asarray(bins.to_bins(joints_cam[:, 2] - joints_cam[list(skeleton.root_of), 2]))
    return np.concatenate([xy, z[:, None]], axis=1), invert_affine(A)


def quantise(coords, res: int, depth: int):
    """The voxel a perfect network peaks in, at its centre: [J, 3] -> [J, 3]."""
    xy = np.clip(np.trunc(coords[:, :2] + 0.5 + 1e-4), 0, res - 1)
    z = np.clip(np.floor(coords[:, 2:] + 0.5), 0, depth - 1)
    return np.concatenate([xy, z], axis=1)


def floor_errors(samples: dict, decode: str, root: str, res: int = 64, bins=DepthBins(), *,
                 skeleton: Skeleton):  # fmt: skip
    """Per-sample (MPJPE, PA-MPJPE) in mm of perfect predictions.

    Args:
      samples: ``joints_cam`` [N, J, 3] mm, ``intrinsics`` [N, 4], ``distortion`` [N, 5],
        ``center`` [N, 2], ``scale`` [N].
      decode: "argmax" quantises to voxel centres; "soft" / "hard" keep the true coordinates.
      root: "bones" or "gt".
      res: heatmap side, px.
      bins: depth range and finest bins.
      skeleton: the samples' keypoint set.
    """
    protocols.check_decode(decode)
    if root not in ("gt", "bones"):
        raise ValueError(f"root: 'gt' or 'bones', got {root!r}")
    coords, affines = [], []
    fields = ("joints_cam", "intrinsics", "distortion", "center", "scale")
    for j, k, d, c, s in zip(*(samples[f] for f in fields)):
        xyz, A = perfect_coords(j, k, d, c, s, res, bins, skeleton)
        coords.append(quantise(xyz, res, bins.num_bins) if decode == "argmax" else xyz)
        affines.append(A)
    gt = np.asarray(samples["joints_cam"], np.float32)

    def one(xyz, A, k, d, r):
        return reconstruct(xyz, A, k, d, bins, skeleton, r)[0]

    run = jax.jit(jax.vmap(one, (0, 0, 0, 0, 0 if root == "gt" else None)))
    roots = list(skeleton.roots)
    depths = gt[:, roots, 2] if len(roots) > 1 else gt[:, roots[0], 2]
    root_depth = jnp.asarray(depths) if root == "gt" else None
    f32 = lambda x: jnp.asarray(np.asarray(x), jnp.float32)  # noqa: E731
    pred = run(f32(np.stack(coords)), f32(np.stack(affines)), f32(samples["intrinsics"]),
               f32(samples["distortion"]), root_depth)  # fmt: skip
    errors = metrics.mpjpe(pred, gt, skeleton=skeleton), metrics.pa_mpjpe(pred, gt)
    return tuple(np.asarray(e) for e in errors)


def load_dataset(path, protocol) -> dict:
    """The protocol's samples of a c2f dataset file (numeric fields only)."""
    with open_dataset(path) as f:
        idx = protocols.select(protocol, f["subject"][...], f["frame"][...], str(path))
        names = json.loads(f.attrs["action_names"])
        out = {k: f[k][...][idx] for k in
               ("joints_cam", "intrinsics", "distortion", "center", "scale")}  # fmt: skip
        out["action"] = [names[a] for a in f["action"][...][idx]]
        out["skeleton"] = skeleton_of(f, path)
    for key in ("joints_cam", "intrinsics", "center", "scale"):
        bad = ~np.isfinite(out[key]).reshape(len(idx), -1).all(axis=1)
        if bad.any():
            raise ValueError(f"{path}: field {key!r} is NaN or infinite in sample "
                             f"{int(idx[np.flatnonzero(bad)[0]])}")  # fmt: skip
    return out


def load_annot_mat(path) -> dict:
    """The authors' ``annot`` struct (c2f-vol-demo ``data/h36m*/annot/valid.mat``)."""
    try:
        annot = loadmat(path, squeeze_me=True)["annot"]
        S = np.asarray(annot["S"].item(), np.float64).transpose(0, 2, 1)  # [N, 17, 3] mm
        K = annot["K"].item()
        K = np.stack(list(K)) if K.dtype == object else np.asarray(K)
        names = [str(n) for n in annot["imgname"].item()]
        center, scale = annot["center"].item(), annot["scale"].item()
    except (KeyError, ValueError, OSError) as e:
        raise ValueError(f"{path}: not the authors' annot struct (S, K, center, scale, imgname): "
                         f"{e}") from e  # fmt: skip
    actions = []
    for n in names:  # S9_Posing_1.55011271_000001: the action after the subject
        m = re.match(r"^S\d+_([A-Za-z]+)", n)
        actions.append(canonical_action(m.group(1)) if m else ACTIONS[0])
    return {"joints_cam": S, "intrinsics": np.stack([K[:, 0, 0], K[:, 1, 1], K[:, 0, 2],
            K[:, 1, 2]], axis=1), "distortion": np.zeros((len(S), 5)), "center": center,
            "scale": scale, "action": actions, "skeleton": H36M17}  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--protocol", default="paper", help="paper, p1-gt-root or p2-s11")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=pathlib.Path, help="a c2f dataset file (test split)")
    src.add_argument("--annot-mat", type=pathlib.Path, help="the authors' valid.mat")
    p.add_argument("--decode", choices=DECODES, help="default: the protocol's (soft)")
    p.add_argument("--heatmap", type=int, default=64, help="heatmap side, px (64)")
    args = p.parse_args(argv)
    if args.heatmap < 4:
        p.error(f"--heatmap: a heatmap side of at least 4 px, got {args.heatmap}")
    try:
        protocol = protocols.get(args.protocol)
        path = args.data or args.annot_mat
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        samples = load_dataset(path, protocol) if args.data else load_annot_mat(path)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    decode = args.decode or protocol.decoding("soft")
    p1, p2 = floor_errors(samples, decode, protocol.root, args.heatmap,
                          skeleton=samples["skeleton"])  # fmt: skip
    rows = {"Protocol 1 (MPJPE)": metrics.per_action(p1, samples["action"]),
            "Protocol 2 (PA-MPJPE)": metrics.per_action(p2, samples["action"])}  # fmt: skip
    result = {"p1": rows["Protocol 1 (MPJPE)"], "p2": rows["Protocol 2 (PA-MPJPE)"]}
    print(f"Error floor: perfect predictions of {len(p1)} samples of {path} through protocol "
          f"{protocol.name!r} (decode {decode}, root {protocol.root}, {args.heatmap} px); mm. "
          f"{report.LEGEND}")  # fmt: skip
    print(report.headline_line(result, protocol))
    print(report.markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
