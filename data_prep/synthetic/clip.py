"""A synthetic video: ``python -m data_prep.synthetic.clip --out CLIP.mp4``.

One continuous motion (:mod:`data_prep.synthetic.motion`) of a test subject seen by one of its
cameras, rendered at 50 fps (or every ``--step``-th frame) through ONE fixed framing box that
holds the whole motion, so the person moves within the frame as in a real video. Writes
CLIP.mp4, CLIP.npz (``frame``, ``joints_2d`` px in the clip, ``joints_cam`` mm, ``K`` of the
clip's pixels: the ground truth to compare ``c2f video`` against) and
CLIP.boxes.json (the person's box in every frame, the authors' convention, for ``--boxes``:
what a person detector would give). People are drawn as ``c2f data synthetic`` draws them
(``--body``); with bodies, CLIP.npz also holds each frame's body parameters (camera frame), so
that ``c2f video --mesh --truth`` measures the mesh.
"""

import argparse
import json
import pathlib
import sys

import numpy as np
from tqdm import tqdm

from c2f.body import AssetError, check_available
from c2f.geometry import box_from_joints, project, world_to_camera
from c2f.geometry.crop import crop_matrix
from c2f.h36m import ACTIONS, CAMERAS, TEST_SUBJECTS, TRAIN_SUBJECTS
from c2f.outputs import OutputError, add_overwrite, check_outputs, replacing
from c2f.serving.mp4 import Mp4Writer
from data_prep.synthetic import motion
from data_prep.synthetic.body_render import camera_frame_params, random_look
from data_prep.synthetic.generate import BODIES, body_scene
from data_prep.synthetic.render import random_style, render
from data_prep.synthetic.scene import subject_cameras


def render_clip(action: str, subject: int, camera: int, frames, size: int, seed: int,
                body: str = "anny"):  # fmt: skip
    """(images [T, size, size, 3] uint8, ground truth dict) of one motion through one camera.

    ``body``: "anny" (the body model; the truth also holds each frame's body: ``body_shape``,
    ``body_pose``, ``body_root``, camera frame) or "capsules".
    """
    rng = np.random.default_rng([seed, subject, ACTIONS.index(action)])
    cam = subject_cameras(subject, seed)[CAMERAS[camera]]
    bodies = {}
    if body == "anny":
        scene = body_scene()
        person = scene.person(subject, seed)
        track = scene.track(person, frames, motion.sequence_params(action, subject, frames, rng),
                            rng)  # fmt: skip
        world = track.keypoints
        params = [camera_frame_params(track, k, cam) for k in range(len(frames))]
        bodies = {k: np.stack([p[k] for p in params]) for k in params[0]}
        bodies["body_shape"] = np.tile(person.phenotype, (len(frames), 1))
    else:
        world = motion.sequence(action, subject, frames, rng)
    joints_cam = np.stack([world_to_camera(cam, w) for w in world])
    uv = np.stack([project(cam, j) for j in joints_cam])
    center, scale = box_from_joints(uv.reshape(-1, 2), margin_px=120)
    A = crop_matrix(center, scale, size)
    if body == "anny":
        look = random_look(rng)  # one look for the whole clip
        images = [scene.draw(person, v, cam, A, size, rng, look)
                  for v in tqdm(track.vertices, desc="render", unit="frame")]  # fmt: skip
    else:
        style = random_style(rng)
        images = [render(j, cam.K, cam.R, cam.t, A, size, rng, style)
                  for j in tqdm(joints_cam, desc="render", unit="frame")]  # fmt: skip
    K = np.vstack([A, [0, 0, 1]]) @ cam.K  # the clip's pixels as a camera's
    uv_clip = uv @ A[:, :2].T + A[:, 2]
    return np.stack(images), {"frame": np.asarray(frames), "joints_2d": uv_clip,
                              "joints_cam": joints_cam, "K": K, **bodies}  # fmt: skip


SUBJECT_IDS = tuple(sorted(int(s[1:]) for s in TRAIN_SUBJECTS + TEST_SUBJECTS))


def person_boxes(joints_2d) -> list:
    """``[x0, y0, x1, y1]`` per frame: the joints' bounding box (what ``--boxes`` reads)."""
    return [[round(float(v), 1) for v in (*uv.min(0), *uv.max(0))] for uv in joints_2d]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=pathlib.Path, help="the .mp4 to write")
    p.add_argument("--action", default="Walking", choices=ACTIONS)
    p.add_argument("--subject", type=int, default=9)
    p.add_argument("--camera", type=int, default=0, choices=range(4))
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--step", type=int, default=2, help="keep every N-th 50 fps frame")
    p.add_argument("--size", type=int, default=256, help="frame side, px (even)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--body", choices=BODIES, default=BODIES[0], help="as c2f data synthetic's")
    add_overwrite(p)
    args = p.parse_args(argv)
    if args.step < 1 or args.seconds <= 0 or args.size < 32 or args.size % 2:
        p.error("--step >= 1, --seconds > 0, --size even and >= 32")
    if args.subject not in SUBJECT_IDS:
        p.error(f"--subject: one of {SUBJECT_IDS} (Human3.6M's), got {args.subject}")
    if args.out.suffix.lower() != ".mp4":
        p.error(f"--out: {args.out} must end in .mp4 (the ground truth goes beside it)")
    outputs = {"--out": args.out, "the ground truth (--out .npz)": args.out.with_suffix(".npz"),
               "the boxes (--out .boxes.json)": args.out.with_suffix(".boxes.json")}  # fmt: skip
    try:
        check_outputs(outputs, overwrite=args.overwrite)
    except OutputError as e:
        p.error(str(e))
    if args.body == "anny":
        try:
            check_available()
        except AssetError as e:
            p.error(f"--body anny: {e} (or --body capsules)")
    frames = np.arange(0, int(args.seconds * motion.FPS), args.step)
    images, truth = render_clip(args.action, args.subject, args.camera, frames, args.size,
                                args.seed, args.body)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fps = motion.FPS / args.step
    with Mp4Writer(args.out, fps) as writer:  # written under a temporary name, then renamed
        for image in images:
            writer.write(image)
    with replacing(args.out.with_suffix(".npz")) as tmp:
        np.savez(tmp, fps=fps, **truth)
    with replacing(args.out.with_suffix(".boxes.json")) as tmp:
        tmp.write_text(json.dumps(person_boxes(truth["joints_2d"])))
    K = truth["K"]
    print(f"wrote {args.out}: {len(frames)} frames at {fps:g} fps, {args.action} of "
          f"S{args.subject}; ground truth {args.out.with_suffix('.npz')}, boxes "
          f"{args.out.with_suffix('.boxes.json')}; camera --K {K[0, 0]:.1f},{K[1, 1]:.1f},"
          f"{K[0, 2]:.1f},{K[1, 2]:.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
