"""Generation of the synthetic dataset: render poses through cameras into c2f dataset files."""

import io
import multiprocessing as mp
import pathlib
import typing

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from c2f.body.keypoints import BODY_KEYPOINTS
from c2f.data.schema import DatasetWriter, open_dataset, read, skeleton_of
from c2f.geometry import box_from_joints, project, world_to_camera
from c2f.geometry.crop import BOX_MARGIN_PX
from c2f.h36m import ACTIONS, CAMERAS
from c2f.skeleton import SKELETONS
from data_prep.sample import stored_crop_matrix, stored_sample
from data_prep.synthetic import motion
from data_prep.synthetic.body_render import BodyScene, camera_frame_params
from data_prep.synthetic.poses import sample_angles, sample_pose
from data_prep.synthetic.render import render
from data_prep.synthetic.scene import subject_cameras

# What people are drawn as: the anny body model (the command's default) or shaded capsules
# (the default before bodies, and of write_split: the pinned Human3.6M numbers use it).
BODIES = ("anny", "capsules")
HAND_SETS = ("hand21", "interhand42")  # crops around each hand, not the whole body
_SCENES: dict = {}  # one BodyScene per process and keypoint set, made on first use


def body_scene(skeleton: str = "h36m17") -> BodyScene:
    """This process's :class:`BodyScene` for a keypoint set (made on first use)."""
    if skeleton not in _SCENES:
        _SCENES[skeleton] = BodyScene(skeleton)
    return _SCENES[skeleton]


def render_sample(joints_world, cam, crop_res: int, rng, quality: int = 90, draw=None) -> dict:
    """Render one pose through one camera into a stored crop; returns one sample's fields.

    ``draw(cam, A)``, if given, draws the image (a body); else the capsules of the joints.
    """
    joints_cam = world_to_camera(cam, joints_world)
    uv = project(cam, joints_cam)
    center, scale = box_from_joints(uv)
    A = stored_crop_matrix(center, scale, crop_res)
    if draw is None:
        image = render(joints_cam, cam.K, cam.R, cam.t, A, crop_res, rng)
    else:
        image = draw(cam, A)
    size = (cam.res_w, cam.res_h)
    return stored_sample(image, A, joints_cam, uv, center, scale, cam, size, quality)


def _independent_params(action: str, n: int, rng, spread: float):
    """Independent poses as :func:`motion.sequence_params` returns a motion's."""
    angles = [sample_angles(action, rng, spread) for _ in range(n)]
    return angles, rng.uniform(0, 2 * np.pi, n), rng.uniform(-600, 600, (n, 2))


def _views(skeleton) -> list:
    """The joints each crop of one camera is made around.

    One crop around the whole body; for a hand set, one per hand (its joints valid, the other
    hand's not), at the hand's scale.
    """
    if skeleton.name in HAND_SETS:
        return [np.array(part) for part in skeleton.parts]
    return [np.arange(skeleton.num_joints)]


def _body_samples(subject, frames, params, cams, crop_res, rng, seed, skeleton) -> list[dict]:
    scene = body_scene(skeleton.name)
    person = scene.person(subject, seed)
    track = scene.track(person, frames, params, rng)
    samples = []
    for k in range(len(frames)):
        for c, cam in enumerate(cams):
            for part in _views(skeleton):
                joints_cam = world_to_camera(cam, track.keypoints[k])
                uv = project(cam, joints_cam)
                spread = np.ptp(uv[part], axis=0).max()
                margin = 0.3 * spread if skeleton.name in HAND_SETS else BOX_MARGIN_PX
                center, scale = box_from_joints(uv[part], margin)
                A = stored_crop_matrix(center, scale, crop_res)
                image = scene.draw(person, track.vertices[k], cam, A, crop_res, rng)
                s = stored_sample(image, A, joints_cam, uv, center, scale, cam,
                                  (cam.res_w, cam.res_h), 90)  # fmt: skip
                valid = np.zeros(skeleton.num_joints, np.uint8)
                valid[part] = 1
                s.update(body_shape=person.phenotype, valid_2d=valid, valid_3d=valid, camera=c,
                         frame=int(frames[k]), **camera_frame_params(track, k, cam))  # fmt: skip
                samples.append(s)
    return samples


class _Job(typing.NamedTuple):
    """One (subject, action, subaction) sequence to render (a worker's task)."""

    subject: int
    action: str
    subaction: int
    poses: int
    crop_res: int
    seed: int
    frame_step: int
    spread: float
    body: str
    skeleton: str
    cameras: int


def _sequence(job: _Job) -> dict:
    """All samples of one (subject, action, subaction): every pose through all 4 cameras.

    Independent poses at frame ids 0, 5, 10, ...; with ``frame_step`` (motion), the frames
    0, step, 2 step, ... of one continuous 50 fps motion (:mod:`data_prep.synthetic.motion`).
    """
    subject, action, subaction, poses, crop_res, seed, frame_step, spread, body, skeleton, _ = job
    camera_ids = CAMERAS[: job.cameras]
    a = ACTIONS.index(action)
    rng = np.random.default_rng([seed, subject, a, subaction])
    cams = subject_cameras(subject, seed)
    frames = np.arange(poses) * (frame_step or 5)
    if body == "anny":
        if frame_step:
            params = motion.sequence_params(action, subject, frames, rng, spread)
        else:
            params = _independent_params(action, len(frames), rng, spread)
        cam_list = [cams[c] for c in camera_ids]
        samples = _body_samples(subject, frames, params, cam_list, crop_res, rng, seed,
                                SKELETONS[skeleton])  # fmt: skip
    else:
        samples = []
        if frame_step:
            track = motion.sequence(action, subject, frames, rng, spread)
        for k in range(len(frames)):
            joints_world = track[k] if frame_step else sample_pose(action, subject, rng, spread)
            for c, cam_id in enumerate(camera_ids):
                s = render_sample(joints_world, cams[cam_id], crop_res, rng)
                samples.append({**s, "camera": c, "frame": int(frames[k])})
    for s in samples:
        s.update(subject=subject, action=a, subaction=subaction)
    return {key: [s[key] for s in samples] for key in samples[0]}


def write_split(path, subjects, poses: int, crop_res: int, seed: int, workers: int, args,
                frame_step: int = 0, spread: float = 0.0, body: str = "capsules",
                skeleton: str = "h36m17", cameras: int = len(CAMERAS)) -> int:  # fmt: skip
    """Render ``poses`` frames of each (subject, action, subaction) into ``path``.

    ``frame_step`` 0: independent poses; N > 0: continuous motion stored every N-th 50 fps
    frame (the default dataset: 5 for training, 1 for testing). ``spread``: how far poses reach
    beyond their family (:func:`data_prep.synthetic.poses.angle_ranges`). ``body``: one of
    :data:`BODIES`; "anny" also stores each sample's body parameters (schema BODY_FIELDS).
    ``skeleton``: the keypoints written (bodies only: one of :data:`c2f.body.BODY_KEYPOINTS`);
    a hand set's crops are one per hand, at the hand's scale. ``cameras``: the first N of each
    subject's cameras (fewer views of more frames: the temporal model's training sequences).
    Returns the number of images.
    """
    if body not in BODIES:
        raise ValueError(f"body: one of {BODIES}, got {body!r}")
    if skeleton not in BODY_KEYPOINTS or (body == "capsules" and skeleton != "h36m17"):
        known = tuple(BODY_KEYPOINTS) if body == "anny" else ("h36m17",)
        raise ValueError(f"skeleton: with body {body!r}, one of {known}, got {skeleton!r}")
    jobs = [
        _Job(
            int(s[1:]),
            action,
            sub,
            poses,
            crop_res,
            seed,
            frame_step,
            spread,
            body,
            skeleton,
            cameras,
        )  # fmt: skip
        for s in subjects
        for action in ACTIONS
        for sub in (1, 2)
    ]
    ctx = mp.get_context("spawn")
    # frame_step 0: independent poses (c2f.data.H5Source.independent_frames)
    args = {**args, "frame_step": frame_step, "spread": spread, "body": body,
            "skeleton": skeleton}  # fmt: skip
    body_model = body_scene(skeleton).body_model_info() if body == "anny" else None
    with DatasetWriter(path, source="synthetic", args=args, crop_res=crop_res,
                       body_model=body_model, skeleton=SKELETONS[skeleton]) as writer:  # fmt: skip
        with ctx.Pool(workers) if workers > 1 else _Serial() as pool:
            views = len(_views(SKELETONS[skeleton])) if body == "anny" else 1
            bar = tqdm(total=len(jobs) * poses * cameras * views, desc=pathlib.Path(path).name,
                       unit="img")  # fmt: skip
            for batch in pool.imap(_sequence, jobs):
                writer.append(batch)
                bar.update(len(batch["image"]))
            bar.close()
        return writer.count


class _Serial:
    def imap(self, fn, jobs):
        return map(fn, jobs)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False


def preview(path, out_png, n: int = 16) -> None:
    """A grid of the first samples of a split with their ground-truth 2D skeletons."""
    with open_dataset(path) as f:
        bones = skeleton_of(f, path).bones
        idx = np.linspace(0, len(f["image"]) - 1, n).astype(int)
        tiles = []
        for i in idx:
            img = Image.open(io.BytesIO(f["image"][i].tobytes())).convert("RGB")
            draw = ImageDraw.Draw(img)
            pts, valid = f["joints_2d"][i], read(f, "valid_2d", i)
            for a, b in bones:
                if valid[a] and valid[b]:
                    draw.line([tuple(pts[a]), tuple(pts[b])], fill=(255, 255, 255), width=2)
            for p in pts[valid > 0]:
                draw.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=(0, 0, 0))
            tiles.append(img)
    side = tiles[0].size[0]
    cols = int(np.ceil(np.sqrt(n)))
    grid = Image.new("RGB", (cols * side, int(np.ceil(n / cols)) * side))
    for k, tile in enumerate(tiles):
        grid.paste(tile, ((k % cols) * side, (k // cols) * side))
    grid.save(out_png)
