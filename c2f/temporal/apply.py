"""A trained temporal model over whole sequences: every frame refined, in fixed-size batches.

One jitted function per (batch, window) shape: the windows of all runs are cut on the host
(:func:`c2f.temporal.windows.window_index`) and fed ``batch`` at a time, the last batch padded.
"""

import jax
import numpy as np
from flax import nnx

from c2f.temporal.windows import FEATURES, window_index


class Refiner:
    """``refine(features, runs) -> [N, J, 3]`` mm with a model in evaluation mode.

    Args:
      model: a :class:`c2f.temporal.designs.TemporalModel` (its ``cfg`` gives window and form).
      batch: windows per call.
    """

    def __init__(self, model, batch: int = 256):
        self.cfg, self.batch = model.cfg, batch
        self.graphdef, self.state = nnx.split(model)

        def run(state, windows):
            return nnx.merge(self.graphdef, state)(windows)

        self._fn = jax.jit(run)

    def windows(self, windows) -> np.ndarray:
        """[B, W, J, FEATURES] windows -> [B, J, 3] refined target-frame joints, mm."""
        windows = np.asarray(windows, np.float32)
        n = len(windows)
        out = []
        for start in range(0, n, self.batch):
            part = windows[start : start + self.batch]
            pad = self.batch - len(part)
            if pad:
                part = np.concatenate([part, np.repeat(part[-1:], pad, axis=0)])
            out.append(np.asarray(self._fn(self.state, part))[: self.batch - pad])
        return np.concatenate(out) if out else np.zeros((0, self.cfg.joints, 3), np.float32)

    def refine(self, features, runs: list) -> np.ndarray:
        """Every frame of ``runs`` refined: features [N, J, FEATURES] -> [N, J, 3] mm.

        Samples outside every run keep NaN (each frame belongs to a run in practice:
        :func:`c2f.evaluation.temporal.sequences` covers all samples).
        """
        features = np.asarray(features, np.float32)
        if features.shape[-2:] != (self.cfg.joints, FEATURES):
            raise ValueError(f"features: [N, {self.cfg.joints}, {FEATURES}] for this temporal "
                             f"model, got {features.shape}")  # fmt: skip
        targets, index = window_index(runs, self.cfg.window, self.cfg.causal)
        out = np.full((len(features), self.cfg.joints, 3), np.nan, np.float32)
        out[targets] = self.windows(features[index])
        return out
