"""The video command's speed beside the Predictor's throughput (``--sections video``).

A synthetic walking clip (``data_prep.synthetic.clip``, 256 px, ``--video-frames`` frames at
25 fps) is posed by a random-weight network of ``--video-config`` (speed does not depend on
the weights):

* the Predictor alone on the decoded frames held in memory, batches of 8, with boxes;
* the video command's two passes: decode + predict, then decode + draw + encode;
* the whole command (both passes and the Savitzky-Golay filter), as ``c2f video``.
"""

import pathlib

import numpy as np
from flax import nnx

from bench.harness import Contender
from bench.models import load
from c2f.evaluation.filters import smooth_runs
from c2f.model import C2FPose
from c2f.serving import video
from c2f.serving.mp4 import Mp4Writer
from c2f.serving.predictor import Predictor
from data_prep.synthetic.clip import person_boxes, render_clip


def contenders(config: str, out: pathlib.Path, frames: int = 100) -> list:
    out.mkdir(parents=True, exist_ok=True)
    clip = out / "clip.mp4"
    images, truth = render_clip("Walking", 9, 0, np.arange(0, 2 * frames, 2), 256, 0)
    with Mp4Writer(clip, 25.0) as writer:
        for image in images:
            writer.write(image)
    boxes = person_boxes(truth["joints_2d"])
    decoded = [f for _, f in video.read_frames(clip)]  # decoded once, for the Predictor row

    cfg = load(config, "float32")
    model = C2FPose(cfg.model, rngs=nnx.Rngs(0))
    model.eval()
    predictor = Predictor(cfg, *nnx.split(model))
    group = f"video, {pathlib.Path(config).stem}, {frames} frames of 256 px"

    def predictor_only():
        for s in range(0, frames, 8):
            predictor(np.stack(decoded[s : s + 8]), boxes=boxes[s : s + 8])

    def predict_pass():
        return video.predict(predictor, clip, 1, 8, lambda i: boxes[i], None)[0]

    joints = predict_pass()

    def draw_pass():
        video.write_video(clip, out / "posed.mp4", joints, 25.0)

    def command():
        j = predict_pass()
        runs = [np.arange(len(j["frame"]))]
        for key in ("joints_2d", "joints_3d"):
            j[key] = smooth_runs(j[key], runs, "savgol")
        video.write_video(clip, out / "posed.mp4", j, 25.0)

    return [
        Contender("Predictor, batch 8 (frames in memory)", predictor_only, frames, group=group),
        Contender("video: decode + predict", predict_pass, frames, group=group),
        Contender("video: decode + draw + encode", draw_pass, frames, group=group),
        Contender("video command (all, savgol)", command, frames, group=group),
    ]
