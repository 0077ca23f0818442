"""A run's temporal model over a predictor's per-frame outputs: whole clips or a live stream.

    from c2f import Predictor
    from c2f.serving.temporal import TemporalPredictor
    p = Predictor.from_checkpoint("runs/demo")
    t = TemporalPredictor.from_run("runs/demo", "dilated")       # c2f train-temporal's NAME
    out = p(frames, boxes=boxes)                                  # the clip's frames, in order
    joints = t.refine(out)                                        # [T, J, 3] root-relative mm
    live = TemporalPredictor.from_run("runs/demo", "dilated-causal").stream()
    for frame_out in per_frame_outputs:                           # one p(frame) at a time
        now = live.push(frame_out)                                # [J, 3]: this frame, refined

A causal model's :meth:`TemporalPredictor.refine` equals its stream frame by frame (its windows
end at their frame), so a clip refined offline shows what a live run would have shown.
"""

import collections

import numpy as np

from c2f.checkpoint import run_config
from c2f.temporal.apply import Refiner
from c2f.temporal.run import load
from c2f.temporal.windows import frame_features


class TemporalPredictor:
    """A trained temporal model (:mod:`c2f.temporal`) with the read-out of the predictor.

    Args:
      model: a :class:`c2f.temporal.designs.TemporalModel` in evaluation mode.
      heatmap_px: the image model's heatmap side (its ``model.output_res``).
      batch: windows per call.
    """

    def __init__(self, model, heatmap_px: int, batch: int = 256):
        self.model, self.refiner = model, Refiner(model, batch)
        self.cfg, self.heatmap_px = model.cfg, heatmap_px

    @classmethod
    def from_run(cls, workdir, name: str, **kwargs):
        """The temporal model ``WORKDIR/temporal/NAME`` of a run (c2f train-temporal)."""
        cfg = run_config(workdir, {})
        tcfg, model, _ = load(workdir, name)
        if tcfg.model.joints != cfg.model.keypoints.num_joints:
            raise ValueError(f"{name}: {tcfg.model.joints} joints; the run predicts "
                             f"{cfg.model.keypoints.num_joints}")  # fmt: skip
        return cls(model, cfg.model.output_res, **kwargs)

    def features(self, out: dict) -> np.ndarray:
        """[..., J, FEATURES]: the temporal model's inputs from a predictor's outputs.

        ``out`` holds ``joints_3d``, ``joints_2d_heatmap`` and ``confidence`` (the jax
        :class:`c2f.serving.Predictor`'s).
        """
        missing = [k for k in ("joints_3d", "joints_2d_heatmap", "confidence") if k not in out]
        if missing:
            raise ValueError(f"out: the temporal model reads {missing}, which the jax Predictor "
                             "gives (not the exported runtimes)")  # fmt: skip
        return np.asarray(frame_features(out["joints_3d"], out["joints_2d_heatmap"],
                                         out["confidence"], self.heatmap_px))  # fmt: skip

    def refine(self, out: dict, runs=None) -> np.ndarray:
        """A clip's frames refined: [T, J, 3] root-relative mm.

        Args:
          out: the predictor's outputs of T frames in order (arrays with a leading T).
          runs: index arrays of consecutive frames (default: all T frames are one run).
        """
        features = self.features(out)
        runs = [np.arange(len(features))] if runs is None else runs
        return self.refiner.refine(features, runs)

    def stream(self) -> "Stream":
        """A live stream of this (causal) model: :meth:`Stream.push` one frame at a time."""
        if not self.cfg.causal:
            raise ValueError("stream: a centred model needs frames after the one it refines; "
                             "train a causal one (c2f train-temporal --causal)")  # fmt: skip
        return Stream(self)


class Stream:
    """The last ``window`` frames of a live clip; each :meth:`push` refines the newest one."""

    def __init__(self, predictor: TemporalPredictor):
        self.predictor = predictor
        self.refiner = Refiner(predictor.model, batch=1)  # one window a call
        self.frames = collections.deque(maxlen=predictor.cfg.window)

    def push(self, out: dict) -> np.ndarray:
        """One frame's predictor outputs (no leading T) -> its refined joints [J, 3] mm."""
        self.frames.append(self.predictor.features(out))
        window = list(self.frames)
        window = [window[0]] * (self.frames.maxlen - len(window)) + window  # the start repeated
        return self.refiner.windows(np.stack(window)[None])[0]
