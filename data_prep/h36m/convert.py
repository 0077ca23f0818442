"""Conversion of one Human3.6M sequence (subject, action, sub-action, camera) to a part file.

Each sequence becomes ``OUT/parts/S<n>/<prefix>.<camera>.h5``, written atomically; a finished
part is skipped by the next run, so an interrupted conversion resumes where it stopped. A
sequence that cannot be read (missing or corrupt CDF or video, NaN joints) is reported and
skipped, and leaves no file.
"""

import dataclasses
import pathlib

import av
import cdflib
import numpy as np

from c2f.data.schema import DatasetWriter
from c2f.geometry import Camera, box_from_joints, project
from c2f.h36m import ACTIONS, CAMERAS, canonical_action
from c2f.skeleton import H36M32_INDICES
from data_prep.sample import make_sample


@dataclasses.dataclass(frozen=True)
class Job:
    """One sequence to convert."""

    root: str
    out: str
    subject: str
    action_id: int
    action: str
    subaction: int
    prefix: str
    camera: str
    camera_params: dict
    step: int
    crop_res: int
    quality: int
    also_every: int = 0  # also keep frames that are multiples of this (0: none)

    @property
    def cdf_path(self) -> pathlib.Path:
        return pathlib.Path(self.root, self.subject, "MyPoseFeatures", "D3_Positions_mono",
                            f"{self.prefix}.{self.camera}.cdf")  # fmt: skip

    @property
    def video_path(self) -> pathlib.Path:
        return pathlib.Path(self.root, self.subject, "Videos", f"{self.prefix}.{self.camera}.mp4")

    @property
    def part_path(self) -> pathlib.Path:
        return pathlib.Path(self.out, "parts", self.subject, f"{self.prefix}.{self.camera}.h5")


@dataclasses.dataclass
class Result:
    """What happened to one sequence."""

    job: Job
    status: str  # "done", "skipped" (already converted), "bad"
    frames: int = 0
    reason: str = ""
    length_mismatch: int = 0  # CDF frames minus video frames


def read_poses(path: pathlib.Path) -> np.ndarray:
    """[N, 17, 3] camera-frame joints (mm) from a ``D3_Positions_mono`` CDF file.

    Raises:
      ValueError: naming the file when it is missing, unreadable, of the wrong layout or NaN.
    """
    if not path.is_file():
        raise ValueError(f"{path}: missing CDF file")
    try:
        pose = np.asarray(cdflib.CDF(str(path)).varget("Pose"))
    except Exception as e:
        raise ValueError(f"{path}: unreadable CDF ({type(e).__name__}: {e})") from e
    pose = pose.reshape(-1, pose.shape[-1]) if pose.ndim == 3 else pose
    if pose.ndim != 2 or pose.shape[1] != 96:
        raise ValueError(f"{path}: variable 'Pose' has shape {pose.shape}, expected (1, N, 96)")
    joints = pose.reshape(-1, 32, 3)[:, H36M32_INDICES].astype(np.float64)
    bad = ~np.isfinite(joints).all(axis=(1, 2))
    if bad.any():
        raise ValueError(
            f"{path}: NaN/Inf joints in {int(bad.sum())} frames (first {int(np.argmax(bad))})"
        )
    return joints


def crop_frame(frame: np.ndarray, joints_cam: np.ndarray, cam: Camera, crop_res: int, quality: int):
    """Crop one frame around the person (the authors' box); the sample's fields without ids."""
    uv = project(cam, joints_cam)
    center, scale = box_from_joints(uv)
    return make_sample(frame, joints_cam, uv, center, scale, cam, crop_res, quality)


def convert(job: Job) -> Result:
    """Convert one sequence into its part file (see the module docstring)."""
    if job.part_path.is_file():
        return Result(job, "skipped")
    try:
        return _convert(job)
    except Exception as e:  # a bad sequence is reported, never fatal to the whole run
        return Result(job, "bad", reason=str(e) if isinstance(e, ValueError) else repr(e))


def _convert(job: Job) -> Result:
    joints = read_poses(job.cdf_path)
    if not job.video_path.is_file():
        raise ValueError(f"{job.video_path}: missing video")
    cam = Camera.from_dict(job.camera_params)
    ids = {
        "subject": int(job.subject[1:]),
        "action": ACTIONS.index(canonical_action(job.action)),
        "subaction": job.subaction,
        "camera": CAMERAS.index(job.camera),
    }
    args = dataclasses.asdict(job) | {"camera_params": None}
    decoded = 0
    buffer: list[dict] = []
    with DatasetWriter(job.part_path, source="h36m", args=args, crop_res=job.crop_res) as w:

        def flush():
            if buffer:
                w.append({k: [b[k] for b in buffer] for k in buffer[0]})
                buffer.clear()

        try:
            with av.open(str(job.video_path)) as container:
                stream = container.streams.video[0]
                video_frames = stream.frames  # from the container's metadata; 0 if unknown
                for index, frame in enumerate(container.decode(stream)):
                    if index >= len(joints):
                        break
                    decoded = index + 1
                    also = job.also_every and index % job.also_every == 0
                    if index % job.step and not also:
                        continue
                    s = crop_frame(frame.to_ndarray(format="rgb24"), joints[index], cam,
                                   job.crop_res, job.quality)  # fmt: skip
                    s.update(ids, frame=index)
                    buffer.append(s)
                    if len(buffer) >= 64:
                        flush()
        except av.error.FFmpegError as e:
            raise ValueError(f"{job.video_path}: corrupt video at frame {decoded} ({e})") from e
        flush()
        if w.count == 0:
            raise ValueError(f"{job.video_path}: no frames decoded")
        frames = w.count
    video_frames = video_frames or decoded
    return Result(job, "done", frames=frames, length_mismatch=len(joints) - video_frames)
