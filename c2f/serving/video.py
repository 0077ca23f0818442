"""Pose a video: ``c2f video IN.mp4 --workdir RUN --out OUT.mp4``.

Decodes IN with PyAV, predicts every ``--every``-th frame through the :class:`c2f.Predictor`
in batches, optionally filters the joints over time (``--smooth``, :mod:`c2f.evaluation.filters`),
and writes OUT: each frame with the 2D skeleton beside a front and side view of the 3D one; the
joints of every frame go to ``OUT.npz`` (``frame``, ``joints_2d`` px, ``joints_3d``
root-relative mm, raw and filtered). With ``--truth CLIP.npz`` (ground truth per video frame,
as ``python -m data_prep.synthetic.clip`` writes it) the errors before and after the filter
are printed and written to ``OUT.json``. The person is the whole frame unless ``--box`` (one box
for all frames) or ``--boxes`` (a JSON list of one ``[x0, y0, x1, y1]`` or null per frame).
``--mesh`` fits the body model to every kept frame's (filtered) joints, one shape for the clip
(the median of the frames' fits), draws it over the frames and stores its parameters in OUT.npz
(``mesh_phenotype``, ``mesh_pose``, ``mesh_root``, camera frame, mm; ``mesh_faces``).

A frame that cannot be decoded ends the input there: the frames before it are predicted and
written, and the message says where it stopped (exit code 3). An unreadable file is an error
naming it (exit code 2).
"""

import argparse
import json
import pathlib
import sys

import av
import numpy as np
from tqdm import tqdm

from c2f.body.build import body_data, check_available
from c2f.body.model import BodyModel
from c2f.checkpoint import run_config
from c2f.data.schema import BODY_REQUIRED
from c2f.evaluation import mesh as mesh_metrics
from c2f.evaluation import metrics, temporal
from c2f.evaluation.filters import FILTERS, smooth_runs
from c2f.outputs import add_overwrite, check_outputs, replacing_all
from c2f.serving.inputs import (
    IMAGE_SUFFIXES,
    check_truth_joints,
    listed_box,
    parse_box,
    parse_K,
    read_truth,
)
from c2f.serving.mesh import overlay
from c2f.serving.mp4 import FrameError, Mp4Writer, prefetch, read_frames
from c2f.serving.person_crop import nominal_K
from c2f.serving.predictor import Predictor
from c2f.serving.temporal import TemporalPredictor
from c2f.serving.visualize import draw_2d, draw_3d


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("input", type=pathlib.Path)
    p.add_argument("--workdir", required=True)
    p.add_argument("--out", required=True, type=pathlib.Path, help="the output .mp4")
    p.add_argument("--best", action="store_true", help="the best checkpoint by test MPJPE")
    p.add_argument("--box", help="x0,y0,x1,y1 px: the person in every frame")
    p.add_argument("--boxes", type=pathlib.Path, help="JSON list: a box (or null) per frame")
    p.add_argument("--K", help="fx,fy,cx,cy px of the camera (default: a nominal one)")
    p.add_argument("--smooth", choices=FILTERS, default="none")
    p.add_argument("--causal", action="store_true", help="the filter's causal (live) form")
    p.add_argument("--temporal", metavar="NAME",
                   help="refine the 3D joints with the run's temporal model WORKDIR/temporal/NAME "
                   "(c2f train-temporal; a causal one, e.g. dilated-causal, as a live stream "
                   "would)")  # fmt: skip
    p.add_argument("--every", type=int, default=1, help="predict every N-th frame")
    p.add_argument("--batch", type=int, default=8, help="frames per prediction call")
    p.add_argument("--mesh", action="store_true",
                   help="fit the body model to every frame: drawn over the video, its "
                   "parameters in OUT.npz (one shape per clip)")  # fmt: skip
    p.add_argument(
        "--truth",
        type=pathlib.Path,
        help="ground truth .npz (data_prep.synthetic.clip's): errors before/after",
    )
    add_overwrite(p)
    return p.parse_args(argv)  # fmt: skip


def compose(frame: np.ndarray, uv, joints_3d, skeleton) -> np.ndarray:
    """The frame with its 2D skeleton, beside the 3D views; even sides (for yuv420p)."""
    left = draw_2d(frame, uv, skeleton, width=max(2, frame.shape[0] // 150))
    size = frame.shape[0]
    right = draw_3d(joints_3d, skeleton, size=size)
    image = np.concatenate([left, right], axis=1)
    h, w = image.shape[:2]
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)))


def predict(predictor, path, every: int, batch: int, boxes, K) -> tuple[dict, str]:
    """Joints of every kept frame of ``path``: ({frame, joints_2d, joints_3d, K}, stop message).

    Also ``joints_3d_camera`` (camera mm) with ``K`` ("nominal": the nominal camera of the
    frames' size, as :func:`c2f.serving.person_crop.nominal_K`).
    """
    frames, uv, rel, cam, extra = [], [], [], [], {"confidence": [], "joints_2d_heatmap": []}
    pending, stopped = [], ""

    def flush():
        if not pending:
            return
        images = [f for _, f in pending]
        shapes = {f.shape for f in images}
        if len(shapes) > 1:
            raise ValueError(f"{path}: frame sizes change within the video ({sorted(shapes)})")
        picked = [None if boxes is None else boxes(i) for i, _ in pending]
        if any(b is not None for b in picked):
            h, w = images[0].shape[:2]
            picked = [b if b is not None else (-0.5, -0.5, w - 0.5, h - 0.5) for b in picked]
        else:
            picked = None
        h, w = images[0].shape[:2]
        used_K = nominal_K(w, h) if isinstance(K, str) else K
        out = predictor(np.stack(images), boxes=picked, K=used_K)
        frames.extend(i for i, _ in pending)
        uv.append(out["joints_2d"])
        rel.append(out["joints_3d"])
        for key, parts in extra.items():  # the temporal model's inputs (jax Predictor)
            if key in out:
                parts.append(out[key])
        if used_K is not None:
            cam.append(out["joints_3d_camera"])
            found["K"] = np.asarray(used_K, np.float32)
        pending.clear()

    found = {}

    bar = tqdm(desc="predict", unit="frame")
    try:
        for item in prefetch(read_frames(path, every)):
            pending.append(item)
            bar.update(1)
            if len(pending) == batch:
                flush()
    except FrameError as e:
        stopped = str(e)
    flush()
    bar.close()
    if not frames:
        raise ValueError(stopped or f"{path}: no frame decoded")
    result = {"frame": np.asarray(frames), "joints_2d": np.concatenate(uv),
              "joints_3d": np.concatenate(rel)}  # fmt: skip
    if cam:
        result.update(joints_3d_camera=np.concatenate(cam), K=found["K"])
    result.update({k: np.concatenate(v) for k, v in extra.items() if v})
    return result, stopped


def refine_clip(temporal, joints: dict) -> dict:
    """The clip's joints with the 3D refined by a temporal model (the 2D as predicted).

    The camera-frame joints move with the root-relative ones (each frame's root kept).
    """
    refined = temporal.refine(joints)
    out = {**joints, "joints_3d": refined}
    if "joints_3d_camera" in joints:
        out["joints_3d_camera"] = joints["joints_3d_camera"] - joints["joints_3d"] + refined
    return out


def fit_meshes(predictor, joints: dict) -> dict:
    """Body meshes of every kept frame, one body.

    Returns ``{vertices [T, V, 3], faces, phenotype, pose, root}``. Each frame's (filtered)
    camera-frame and 2D joints are fitted (the Predictor's ``fit_mesh``); the clip's median
    phenotype then shapes every frame (one person, one shape), posed by each frame's fitted
    pose and root.
    """
    T = len(joints["frame"])
    K = np.broadcast_to(joints["K"], (T, 3, 3))
    fit = predictor.fit_mesh(joints["joints_3d_camera"], joints["joints_2d"], K)
    shape = np.median(fit.phenotype, axis=0)
    verts = predictor.body_fitter.vertices(np.broadcast_to(shape, (T, 6)), fit.pose, fit.root)
    return {"vertices": verts, "faces": fit.faces, "phenotype": shape, "pose": fit.pose,
            "root": fit.root}  # fmt: skip


def write_video(path, out, joints: dict, fps: float, skeleton, meshes=None) -> None:
    """Draw the kept frames of ``path`` with their joints into ``out`` (:class:`Mp4Writer`).

    ``meshes`` (:func:`fit_meshes`): each frame's body is drawn over it too.
    """
    index = {int(f): k for k, f in enumerate(joints["frame"])}
    last = int(joints["frame"][-1])
    with Mp4Writer(out, fps) as writer:
        bar = tqdm(desc="draw", unit="frame", total=len(index))
        try:
            for i, frame in prefetch(read_frames(path)):
                if i > last:
                    break
                if i in index:
                    k = index[i]
                    if meshes is not None:
                        frame = overlay(frame, meshes["vertices"][k], meshes["faces"], joints["K"])
                    writer.write(
                        compose(frame, joints["joints_2d"][k], joints["joints_3d"][k], skeleton)
                    )
                    bar.update(1)
        except FrameError:
            pass  # the corrupt frame that ended the predictions: everything before is drawn
        bar.close()


def mesh_errors(meshes: dict, truth: dict, frames, joints_cam_pred, skeleton) -> dict:
    """MPVPE and PA-MPVPE (mm) of the fitted meshes against a clip's true bodies.

    On the decimated topology's vertices, aligned as ``c2f eval``'s rows align them
    (:mod:`c2f.evaluation.mesh`).
    """
    coarse = BodyModel.load("coarse")
    face = np.asarray(truth["body_expression"])[frames] if "body_expression" in truth else None
    gt = mesh_metrics.meshes(coarse, *(np.asarray(truth[k])[frames] for k in BODY_REQUIRED),
                             face)  # fmt: skip
    pred = meshes["vertices"][:, body_data().coarse_vertices]
    gt_joints = np.asarray(truth["joints_cam"])[frames]
    valid = np.ones(gt_joints.shape[:2])
    parts = mesh_metrics.mesh_parts(coarse, skeleton)
    e, pa = mesh_metrics.part_errors(pred, gt, joints_cam_pred, gt_joints, valid, parts)
    return {"mpvpe_mm": float(e.mean()), "pa_mpvpe_mm": float(pa.mean())}


def truth_errors(joints: dict, raw: dict, truth: dict, skeleton) -> dict:
    """Errors of the raw and the filtered joints against a clip's ground truth.

    Args:
      joints: the (filtered) joints of :func:`predict`: ``frame`` [T] video frame indices,
        ``joints_2d`` [T, J, 2] px, ``joints_3d`` [T, J, 3] root-relative mm.
      raw: the same before the filter.
      truth: ``joints_2d`` [N, J, 2] px and ``joints_cam`` [N, J, 3] mm of every video frame
        (``c2f data clip``'s ``.npz``).
      skeleton: the run's keypoint set.

    Returns:
      ``{"raw": e, "filtered": e}``, each with ``mpjpe_mm``, ``pa_mpjpe_mm``, ``error_2d_px``,
      ``mpjve_mm_per_frame`` and ``accel_error_mm_per_frame2`` (frames as predicted: with
      ``--every N``, per N video frames).
    """
    frames = np.asarray(joints["frame"])
    if frames.max() >= len(truth["joints_cam"]):
        raise ValueError(
            f"--truth: holds {len(truth['joints_cam'])} frames, the video has {frames.max() + 1}"
        )
    gt = np.asarray(truth["joints_cam"], np.float64)[frames]
    gt = gt - gt[:, list(skeleton.root_of)]  # root-relative, as the predictions
    gt_2d = np.asarray(truth["joints_2d"], np.float64)[frames]
    runs = [np.arange(len(frames))]
    out = {}
    for name, j in (("raw", raw), ("filtered", joints)):
        pred = np.asarray(j["joints_3d"], np.float64)
        t = temporal.temporal_errors(pred, gt, runs, skeleton=skeleton)
        out[name] = {
            "mpjpe_mm": float(np.mean(metrics.mpjpe(pred, gt, skeleton=skeleton))),
            "pa_mpjpe_mm": float(np.mean(metrics.pa_mpjpe(pred, gt))),
            "error_2d_px": float(np.linalg.norm(j["joints_2d"] - gt_2d, axis=-1).mean()),
            "mpjve_mm_per_frame": t["mpjve"],
            "accel_error_mm_per_frame2": t["accel_error"],
        }
    return out


def _fps(path) -> float:
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
    return float(rate) if rate else 25.0


def main(argv=None) -> int:
    args = parse_args(argv)

    try:
        if args.every < 1 or args.batch < 1:
            raise ValueError("--every and --batch must be >= 1")
        if args.box and args.boxes:
            raise ValueError("--box and --boxes: give one of them")
        if args.temporal and args.smooth != "none":
            raise ValueError("--temporal and --smooth: give one of them")
        boxes = None
        if args.box:
            box = parse_box(args.box)
            boxes = lambda i: box  # noqa: E731
        elif args.boxes:
            try:
                listed = json.loads(args.boxes.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ValueError(f"--boxes: {args.boxes}: not a JSON list of boxes ({e})") from e
            if not isinstance(listed, list):
                raise ValueError(f"--boxes: {args.boxes} must hold a JSON list, one entry a frame")
            listed = [listed_box(b, i, args.boxes) for i, b in enumerate(listed)]
            boxes = lambda i: listed[i] if i < len(listed) else None  # noqa: E731
        K = parse_K(args.K) if args.K else None
        if not args.input.is_file():
            raise ValueError(f"{args.input}: no such file")
        if args.input.suffix.lower() in IMAGE_SUFFIXES:
            raise ValueError(f"INPUT: {args.input} is a still image; c2f predict poses images")
        if args.out.suffix.lower() != ".mp4":
            raise ValueError(f"--out: {args.out} must end in .mp4 (the joints go beside it, "
                             ".npz, and the errors .json)")  # fmt: skip
        # Before any frame is predicted: no output replaces an input or another output.
        outputs = {"--out": args.out, "the joints (--out .npz)": args.out.with_suffix(".npz")}
        if args.truth:
            outputs["the errors (--out .json)"] = args.out.with_suffix(".json")
        check_outputs(outputs, {"INPUT (the video)": args.input, "--truth": args.truth,
                                "--boxes": args.boxes}, overwrite=args.overwrite)  # fmt: skip
        truth = read_truth(args.truth) if args.truth else None
        if truth is not None:  # against the run's keypoints, before its weights are read
            check_truth_joints(truth, args.truth, run_config(args.workdir, {}).model.keypoints)
        if args.mesh:
            check_available()  # the body model's files, before any frame is predicted
        predictor = Predictor.from_checkpoint(args.workdir, which="best" if args.best else "last")
        temporal = args.temporal and TemporalPredictor.from_run(args.workdir, args.temporal)
        want = K if K is not None or not args.mesh else "nominal"
        joints, stopped = predict(predictor, args.input, args.every, args.batch, boxes, want)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    runs = [np.arange(len(joints["frame"]))]
    raw = dict(joints)
    if args.smooth != "none":
        for key in ("joints_2d", "joints_3d", "joints_3d_camera"):
            if key in joints:
                joints[key] = smooth_runs(joints[key], runs, args.smooth, causal=args.causal)
    if temporal:
        joints = refine_clip(temporal, joints)
    meshes = fit_meshes(predictor, joints) if args.mesh else None
    fps = _fps(args.input) / args.every
    args.out.parent.mkdir(parents=True, exist_ok=True)
    body = {} if meshes is None else {f"mesh_{k}": meshes[k] for k in
                                      ("phenotype", "pose", "root", "faces")}  # fmt: skip
    errors = None
    if truth is not None:
        try:
            errors = truth_errors(joints, raw, truth, predictor.skeleton)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if meshes is not None and all(k in truth for k in BODY_REQUIRED):
            errors["filtered"].update(
                mesh_errors(
                    meshes, truth, joints["frame"], joints["joints_3d_camera"], predictor.skeleton
                )
            )
    # The joints, the errors and the video: all three, or none (a full disk at the last flush).
    siblings = [args.out.with_suffix(".npz")] + ([args.out.with_suffix(".json")] if errors else [])
    with replacing_all(siblings) as tmps:
        np.savez(tmps[0], frame=joints["frame"], joints_2d=joints["joints_2d"],
                 joints_3d=joints["joints_3d"], joints_2d_raw=raw["joints_2d"],
                 joints_3d_raw=raw["joints_3d"], fps=fps, smooth=args.smooth,
                 temporal=args.temporal or "none", **body)  # fmt: skip
        if errors:
            tmps[1].write_text(json.dumps(errors, indent=1))
        write_video(args.input, args.out, joints, fps, predictor.skeleton, meshes)
    for name, e in (errors or {}).items():
        print(f"{name:>8}: MPJPE {e['mpjpe_mm']:.1f} mm, PA-MPJPE {e['pa_mpjpe_mm']:.1f} mm, "
              f"2D {e['error_2d_px']:.2f} px, MPJVE {e['mpjve_mm_per_frame']:.2f} mm/frame, "
              f"accel error {e['accel_error_mm_per_frame2']:.2f} mm/frame^2")  # fmt: skip
        if "mpvpe_mm" in e:
            print(f"    mesh: MPVPE {e['mpvpe_mm']:.1f} mm, PA-MPVPE {e['pa_mpvpe_mm']:.1f} mm "
                  "(the fit of the filtered joints)")  # fmt: skip
    print(f"wrote {args.out} and {args.out.with_suffix('.npz')}: {len(joints['frame'])} frames"
          f"{', filtered by ' + args.smooth if args.smooth != 'none' else ''}"
          f"{', refined by temporal model ' + args.temporal if args.temporal else ''}")  # fmt: skip
    if stopped:
        print(f"stopped early: {stopped}; the {len(joints['frame'])} frames before it are kept",
              file=sys.stderr)  # fmt: skip
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
