"""Temporal errors of per-frame predictions over the runs of consecutive frames of each video.

The formulas are :mod:`c2f.evaluation.metrics`' (imported here); this module splits the samples
into runs and builds the evaluation's rows. Computed per sequence, never across a sequence
boundary, on root-aligned joints (each frame's root subtracted), frames ordered by their stored
frame ids; host-side numpy, since sequences have different lengths.

* ``velocity_error`` (MPJVE, Pavllo et al. 2019, VideoPose3D): the mean over frames and
  joints of ``|| (X_pred(t+1) - X_pred(t)) - (X_gt(t+1) - X_gt(t)) ||``.
* ``acceleration_error`` (Kanazawa et al. 2019; VIBE, TCMR): with ``a(t) = X(t-1) -
  2 X(t) + X(t+1)``, the mean of ``|| a_pred(t) - a_gt(t) ||``; ``acceleration``, the
  mean ``|| a_pred(t) ||`` of the prediction alone (its jitter).

Units: mm per frame (velocity) and mm per frame^2 (acceleration) at the sequence's frame
step: the frames the sequence holds, not the camera's 50 fps unless every frame is kept.
(The video peers print these numbers as mm/s^2; they are per frame^2.)
"""

import numpy as np

from c2f.evaluation import filters, metrics
from c2f.evaluation.metrics import acceleration, acceleration_error, velocity_error

GROUP_FIELDS = ("subject", "action", "subaction", "camera")


def sequences(columns: dict, step: int | None = None) -> list:
    """The consecutive runs of frames of each video: a list of index arrays in frame order.

    Args:
      columns: per-sample ``subject``, ``action``, ``subaction``, ``camera`` (any comparable
        values) and ``frame`` (int frame ids), each [N].
      step: the frame step between consecutive samples; default, per video, the smallest
        positive difference of its frame ids. A larger difference (a gap) starts a new run,
        so no velocity or acceleration spans it.

    Returns:
      index arrays into the N samples, each sorted by frame, in order of first appearance.
    """
    frame = np.asarray(columns["frame"]).astype(np.int64)
    keys = list(zip(*(np.asarray(columns[f]).tolist() for f in GROUP_FIELDS)))
    groups: dict = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    out = []
    for members in groups.values():
        members = np.asarray(members)
        members = members[np.argsort(frame[members], kind="stable")]
        diffs = np.diff(frame[members])
        if np.any(diffs == 0):
            raise ValueError("frame: a video holds the same frame id twice")
        gap = step if step is not None else (int(diffs.min()) if diffs.size else 1)
        cuts = np.flatnonzero(diffs != gap) + 1
        out.extend(np.split(members, cuts))
    return out


def temporal_errors(pred, gt, runs: list, *, skeleton) -> dict:
    """Each metric over all runs (frame-weighted means), and how many terms entered it.

    Args:
      pred: [N, J, 3] predicted joints of all samples, mm.
      gt: [N, J, 3] their ground truth, mm.
      runs: :func:`sequences` of those samples.
      skeleton: the keypoint set (each part aligned at its own point).

    Returns:
      ``mpjve`` (mm/frame), ``accel_error`` and ``accel`` (mm/frame^2) as floats (NaN when no
      run is long enough), and ``velocity_terms``/``acceleration_terms``: the counts.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    vel = [velocity_error(pred[r], gt[r], skeleton=skeleton) for r in runs if len(r) >= 2]
    acc = [acceleration_error(pred[r], gt[r], skeleton=skeleton) for r in runs if len(r) >= 3]
    jit = [acceleration(pred[r], skeleton=skeleton) for r in runs if len(r) >= 3]

    def mean(parts):
        return float(np.concatenate(parts).mean()) if parts else float("nan")

    return {
        "mpjve": mean(vel),
        "accel_error": mean(acc),
        "accel": mean(jit),
        "velocity_terms": int(sum(len(v) for v in vel)),
        "acceleration_terms": int(sum(len(a) for a in acc)),
    }


def evaluation_rows(pred, gt, columns: dict, action_names, *, skeleton, smooth: str = "none",
                    causal: bool = False, refined=None) -> tuple[dict, dict]:  # fmt: skip
    """The temporal rows of an evaluation's per-action tables, before and after a filter.

    Args:
      pred: [N, J, 3] predicted root-relative joints of the evaluated samples, mm.
      gt: [N, J, 3] their ground truth, mm.
      columns: the samples' ``subject``, ``action``, ``subaction``, ``camera``, ``frame``.
      action_names: the dataset's action names, indexed by ``columns["action"]``.
      skeleton: the run's keypoint set (each part aligned at its own point).
      smooth: a filter of :data:`c2f.evaluation.filters.FILTERS`, applied to each run of ``pred``.
      causal: the filter's causal form.
      refined: {label: [N, J, 3] mm}: predictions refined otherwise (a temporal model:
        :mod:`c2f.temporal`), each given the filter's rows under ", LABEL".

    Returns:
      (rows, info): ``rows`` maps a row name to a :class:`c2f.evaluation.metrics.ActionTable`
      (MPJVE, acceleration error and acceleration; with a filter also Protocol 1 and 2 and the same
      after it; empty when no run has two frames); ``info`` the runs' count and frame step.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    runs = sequences(columns)
    names = [action_names[int(a)] for a in np.asarray(columns["action"])]
    frames = np.asarray(columns["frame"])
    steps = [int(np.diff(frames[r]).min()) for r in runs if len(r) >= 2]
    info = {"runs": len(runs), "frame_step": int(np.median(steps)) if steps else None}
    rows: dict = {}

    def temporal(p, suffix):
        for label, fn, size in (("MPJVE (mm/frame)", velocity_error, 2),
                                ("Accel error (mm/frame^2)", acceleration_error, 3),
                                ("Accel of prediction (mm/frame^2)", None, 3)):  # fmt: skip
            values, acts = [], []
            for r in runs:
                if len(r) >= size:
                    v = (fn(p[r], gt[r], skeleton=skeleton) if fn
                         else acceleration(p[r], skeleton=skeleton))  # fmt: skip
                    values.append(v)
                    acts += [names[r[0]]] * len(v)
            if values:
                rows[label + suffix] = metrics.per_action(np.concatenate(values), acts)

    temporal(pred, "")
    if not rows:
        return rows, info
    variants = {}
    if smooth != "none":
        label = f", {smooth}{' (causal)' if causal else ''}"
        variants[label] = filters.smooth_runs(pred, runs, smooth, causal=causal)
    variants.update({f", {name}": np.asarray(p, np.float64) for name, p in (refined or {}).items()})
    for label, changed in variants.items():
        rows["Protocol 1 (MPJPE)" + label] = metrics.per_action(
            np.asarray(metrics.mpjpe(changed, gt, skeleton=skeleton)), names
        )
        rows["Protocol 2 (PA-MPJPE)" + label] = metrics.per_action(
            np.asarray(metrics.pa_mpjpe(changed, gt)), names
        )
        temporal(changed, label)
    return rows, info
