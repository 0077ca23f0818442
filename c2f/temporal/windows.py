"""Per-frame windows of a sequence: what the temporal model reads.

A frame's features are its root-relative 3D joints (mm, scaled to metres), its 2D joints
(heatmap px, scaled to [-1, 1] over the heatmap) and a per-joint confidence (the volume's peak
mass, in [0, 1]: :mod:`c2f.volume.confidence`): ``FEATURES`` = 6 numbers per joint. A window of
frame t is the frames ``t - W//2 .. t + W//2`` (centred) or ``t - W + 1 .. t`` (causal: nothing
after t), the run's end frames repeated beyond its ends, as VideoPose3D pads.
"""

import jax.numpy as jnp
import numpy as np

FEATURES = 6  # x, y, z (m), u, v (in [-1, 1]), confidence


def frame_features(joints_mm, uv_px, confidence, heatmap_px: int):
    """[..., J, 3] mm, [..., J, 2] px, [..., J] -> [..., J, FEATURES] (see the module)."""
    joints = jnp.asarray(joints_mm, jnp.float32) / 1000.0
    uv = jnp.asarray(uv_px, jnp.float32) / (0.5 * heatmap_px) - 1.0
    conf = jnp.asarray(confidence, jnp.float32)[..., None]
    return jnp.concatenate([joints, uv, conf], axis=-1)


def result_features(result: dict, heatmap_px: int) -> np.ndarray:
    """:func:`frame_features` of an evaluation's per-sample results.

    ``result`` holds ``pred_mm`` [N, J, 3], ``coords`` [N, J, 3] (heatmap px) and
    ``confidence`` [N, J] (:func:`c2f.evaluation.evaluate.evaluate`'s, or a predictions file's).
    """
    return np.asarray(frame_features(result["pred_mm"], result["coords"][..., :2],
                                     result["confidence"], heatmap_px))  # fmt: skip


def offsets(window: int, causal: bool) -> np.ndarray:
    """A window's frames relative to its target frame: [window] ints."""
    if causal:
        return np.arange(-window + 1, 1)
    if window % 2 == 0:
        raise ValueError(f"window: a centred window has an odd length, got {window}")
    return np.arange(-(window // 2), window // 2 + 1)


def window_index(runs: list, window: int, causal: bool) -> tuple[np.ndarray, np.ndarray]:
    """The windows of every frame of every run, as indices into the samples.

    Args:
      runs: index arrays of consecutive frames in order
        (:func:`c2f.evaluation.temporal.sequences`).
      window: frames per window.
      causal: windows that end at their frame (else centred on it).

    Returns:
      (targets [N], index [N, window]): each run's frames in order, and their windows' samples
      (the run's ends repeated).
    """
    steps = offsets(window, causal)
    targets, index = [], []
    for run in runs:
        run = np.asarray(run)
        at = np.clip(np.arange(len(run))[:, None] + steps[None, :], 0, len(run) - 1)
        targets.append(run)
        index.append(run[at])
    if not targets:
        return np.zeros(0, np.int64), np.zeros((0, window), np.int64)
    return np.concatenate(targets), np.concatenate(index)


def triplet_index(runs: list, window: int, causal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Three consecutive target frames per example, and one window covering their three.

    Args:
      runs: as :func:`window_index`'s; runs of fewer than 3 frames give nothing.
      window: the model's frames per window.
      causal: the model's form.

    Returns:
      (targets [M, 3], index [M, window + 2]): frames t-1, t, t+1 of every inner frame t, and
      the samples of a window whose slices ``[0:W]``, ``[1:W+1]``, ``[2:W+2]`` are the three
      frames' own windows (the run's ends repeated).
    """
    steps = offsets(window, causal)
    steps = np.r_[steps[0] - 1, steps, steps[-1] + 1]
    targets, index = [], []
    for run in runs:
        run = np.asarray(run)
        inner = np.arange(1, len(run) - 1)
        if not len(inner):
            continue
        at = np.clip(inner[:, None] + steps[None, :], 0, len(run) - 1)
        targets.append(run[inner[:, None] + np.arange(-1, 2)[None, :]])
        index.append(run[at])
    if not targets:
        return np.zeros((0, 3), np.int64), np.zeros((0, window + 2), np.int64)
    return np.concatenate(targets), np.concatenate(index)


def sequence_windows(features, window: int, causal: bool) -> np.ndarray:
    """[T, J, F] of one run -> [T, window, J, F]: every frame's window, ends repeated."""
    features = np.asarray(features)
    _, index = window_index([np.arange(len(features))], window, causal)
    return features[index]
