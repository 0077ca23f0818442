"""Temporal filters of per-frame joints: One-Euro and Savitzky-Golay, offline or causal.

Every filter takes ``[T, ...]`` values of ONE sequence (frames in order, equally spaced) and
returns the same shape; :func:`smooth_runs` applies one to every run of a split
(:func:`c2f.evaluation.temporal.sequences`) without crossing a boundary.

* One-Euro (Casiez et al. 2012), causal by construction, as VIBE applies it: time in frames
  (``rate`` 1), ``min_cutoff`` 0.004 and derivative cutoff 1 (VIBE's), and VIBE's ``beta``
  0.7 for metres, i.e. 0.7e-3 for c2f's millimetres (the cutoff grows with ``beta x speed``:
  with 0.7 a 5 mm/frame jitter would open the filter completely).
* Savitzky-Golay: :func:`scipy.signal.savgol_filter` offline (a centred window); causal, the
  value at the newest frame of the polynomial fitted to the last ``window`` frames
  (:func:`scipy.signal.savgol_coeffs` with ``pos = window - 1``), for live use.
"""

import numpy as np
from scipy.signal import savgol_coeffs, savgol_filter

FILTERS = ("none", "one-euro", "savgol")


def _alpha(cutoff, dt):
    r = 2 * np.pi * cutoff * dt
    return r / (r + 1)


def one_euro(x, *, min_cutoff: float = 0.004, beta: float = 0.7e-3, d_cutoff: float = 1.0,
             rate: float = 1.0) -> np.ndarray:  # fmt: skip
    """The One-Euro filter along axis 0 of ``x`` [T, ...]; each element filtered on its own.

    Args:
      x: values per frame.
      min_cutoff: cutoff frequency at rest (per unit of time); lower smooths more.
      beta: how fast the cutoff grows with speed (per unit of ``x`` per unit of time); higher
        lags less. The default is VIBE's 0.7 for metres, scaled to millimetres.
      d_cutoff: cutoff of the speed estimate.
      rate: samples per unit of time (1: time in frames, as VIBE's).
    """
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    dt = 1.0 / rate
    out[0], speed = x[0], np.zeros_like(x[0])
    a_d = _alpha(d_cutoff, dt)
    for t in range(1, len(x)):
        speed = a_d * (x[t] - out[t - 1]) / dt + (1 - a_d) * speed
        a = _alpha(min_cutoff + beta * np.abs(speed), dt)
        out[t] = a * x[t] + (1 - a) * out[t - 1]
    return out


def savgol(x, *, window: int = 9, order: int = 2, causal: bool = False) -> np.ndarray:
    """Savitzky-Golay smoothing along axis 0 of ``x`` [T, ...].

    A sequence shorter than ``window`` uses the longest odd window it holds (returned as is
    when that cannot exceed ``order``). Causal: the first frames, before a full window, use
    the frames so far.
    """
    if window % 2 == 0 or window <= order:
        raise ValueError(f"savgol: window must be odd and exceed order, got {window}, {order}")
    x = np.asarray(x, np.float64)
    if not causal:
        w = min(window, len(x) if len(x) % 2 else len(x) - 1)
        if w <= order:
            return x.copy()
        return savgol_filter(x, w, order, axis=0, mode="interp")
    out = x.copy()
    coeffs = {}  # by window length: only the first frames use shorter windows
    for t in range(len(x)):
        w = min(window, t + 1)
        if w <= order:
            continue  # too few frames for the polynomial: keep the measurement
        if w not in coeffs:
            coeffs[w] = savgol_coeffs(w, order, pos=w - 1, use="dot")
        out[t] = np.tensordot(coeffs[w], x[t - w + 1 : t + 1], axes=(0, 0))
    return out


def smooth(x, how: str, *, causal: bool = False, **options) -> np.ndarray:
    """``x`` [T, ...] filtered by ``how`` (one of :data:`FILTERS`)."""
    if how not in FILTERS:
        raise ValueError(f"smooth: one of {FILTERS}, got {how!r}")
    if how == "none":
        return np.asarray(x, np.float64).copy()
    if how == "one-euro":
        return one_euro(x, **options)  # causal by construction
    return savgol(x, causal=causal, **options)


def smooth_runs(values, runs: list, how: str, *, causal: bool = False, **options) -> np.ndarray:
    """``values`` [N, ...] with each run (index array in frame order) filtered on its own."""
    values = np.asarray(values, np.float64)
    out = values.copy()
    for run in runs:
        out[run] = smooth(values[run], how, causal=causal, **options)
    return out
