"""Velocity/acceleration errors and temporal filters against hand-computed cases."""

import numpy as np
import pytest

from c2f.evaluation import filters, temporal
from c2f.skeleton import H36M17


def _track(positions):
    """[T, 3] root trajectory -> [T, 17, 3] skeleton whose joints move with it plus a pose."""
    pose = np.arange(17 * 3, dtype=np.float64).reshape(17, 3) * 10
    pose[0] = 0
    return positions[:, None, :] + pose[None]


def test_constant_velocity_and_a_known_polynomial():
    t = np.arange(12, dtype=np.float64)
    still = _track(np.zeros((12, 3)))
    # Root-aligned: a skeleton translating at constant velocity has no motion at all.
    moving = _track(np.stack([3 * t, -2 * t, t], -1))
    assert np.allclose(temporal.acceleration(moving, skeleton=H36M17), 0)
    assert np.allclose(temporal.velocity_error(moving, still, skeleton=H36M17), 0)
    # A joint on x(t) = c t^2 (root still): velocity 2ct + c per step, acceleration 2c.
    c = 1.5
    pred = still.copy()
    pred[:, 5, 0] += c * t**2
    vel = temporal.velocity_error(pred, still, skeleton=H36M17)
    np.testing.assert_allclose(vel, (c * (2 * t[:-1] + 1)) / 17)  # one joint of 17
    np.testing.assert_allclose(
        temporal.acceleration_error(pred, still, skeleton=H36M17), 2 * c / 17
    )
    np.testing.assert_allclose(temporal.acceleration(pred, skeleton=H36M17), 2 * c / 17)
    # A constant offset of the prediction changes position, not velocity or acceleration.
    assert np.allclose(temporal.acceleration_error(still + [[[0, 0, 0]] + [[5, 1, 2]] * 16],
                                                   still, skeleton=H36M17), 0)  # fmt: skip


def test_sequences_are_split_at_videos_and_gaps_and_never_crossed():
    # Two videos interleaved and shuffled; the second has a gap between frames 8 and 20.
    frames = [0, 2, 4, 6, 8, 20, 22, 24, 0, 2, 4]
    cams = [1] * 8 + [2] * 3
    order = np.random.default_rng(0).permutation(len(frames))
    cols = {"subject": ["S9"] * 11, "action": [2] * 11, "subaction": [1] * 11,
            "camera": np.asarray(cams)[order], "frame": np.asarray(frames)[order]}  # fmt: skip
    runs = temporal.sequences(cols)
    got = sorted(tuple(np.asarray(frames)[order][r]) for r in runs)
    assert got == [(0, 2, 4), (0, 2, 4, 6, 8), (20, 22, 24)]
    # A jump between runs is no acceleration: each run moves uniformly.
    x = np.zeros((11, 3))
    for k, r in enumerate(runs):
        x[r] = np.arange(len(r))[:, None] * [1.0, 0, 0] + 1000 * k
    pred = _track(np.zeros((11, 3)))
    pred[:, 3] += x
    out = temporal.temporal_errors(pred, _track(np.zeros((11, 3))), runs, skeleton=H36M17)
    assert out["accel_error"] == pytest.approx(0) and out["acceleration_terms"] == 1 + 3 + 1
    assert out["mpjve"] == pytest.approx(1 / 17) and out["velocity_terms"] == 2 + 4 + 2
    with pytest.raises(ValueError, match="same frame id twice"):
        temporal.sequences({**cols, "frame": np.zeros(11, int)})


def test_filters_keep_what_they_should_and_smooth_noise():
    t = np.arange(40, dtype=np.float64)
    quadratic = np.stack([0.05 * t**2, 3 * t, np.full_like(t, 7.0)], -1)
    # Savitzky-Golay of order 2 reproduces a quadratic, offline and causal.
    np.testing.assert_allclose(filters.savgol(quadratic, window=9, order=2), quadratic,
                               atol=1e-9)  # fmt: skip
    np.testing.assert_allclose(filters.savgol(quadratic, window=9, order=2, causal=True),
                               quadratic, atol=1e-8)  # fmt: skip
    # One-Euro keeps a constant; with beta 0 it is exponential smoothing of known alpha.
    assert np.allclose(filters.one_euro(np.full((10, 2), 3.0)), 3.0)
    step = np.r_[np.zeros(1), np.ones(4)]
    a = 2 * np.pi * 0.5 / (2 * np.pi * 0.5 + 1)
    expected = [0, a, a + (1 - a) * a]
    np.testing.assert_allclose(filters.one_euro(step, min_cutoff=0.5, beta=0.0)[:3], expected)
    # Causal filters do not look ahead: the output before a step is unchanged by it.
    late = np.r_[np.zeros(20), np.ones(20)]
    for how in ("one-euro", "savgol"):
        assert np.all(filters.smooth(late, how, causal=True)[:20] == 0), how
    # On a noisy line both lower the acceleration, and runs are filtered separately.
    rng = np.random.default_rng(0)
    noisy = _track(np.stack([t, 0 * t, 0 * t], -1)) + rng.normal(0, 5, (40, 17, 3))
    clean = _track(np.stack([t, 0 * t, 0 * t], -1))
    runs = [np.arange(20), np.arange(20, 40)]
    before = temporal.temporal_errors(noisy, clean, runs, skeleton=H36M17)["accel_error"]
    for how in ("one-euro", "savgol"):
        smoothed = filters.smooth_runs(noisy, runs, how)
        after = temporal.temporal_errors(smoothed, clean, runs, skeleton=H36M17)["accel_error"]
        assert after < 0.5 * before, (how, before, after)
        assert np.array_equal(filters.smooth_runs(noisy, [runs[1]], how)[:20], noisy[:20])
    with pytest.raises(ValueError, match="smooth: one of"):
        filters.smooth(noisy, "kalman")
    with pytest.raises(ValueError, match="window must be odd"):
        filters.savgol(noisy, window=8)


def test_evaluation_rows_per_action_before_and_after_a_filter():
    # Two videos of 10 consecutive frames (step 1), actions 0 and 1; the prediction is the
    # truth plus noise, so the filter must lower its acceleration error.
    rng = np.random.default_rng(1)
    t = np.arange(10, dtype=np.float64)
    gt = np.concatenate([_track(np.stack([t, t, t], -1)), _track(np.stack([-t, t, 0 * t], -1))])
    gt[:, 4, 0] += np.r_[3 * t, 2 * t**1.5]  # a joint that moves relative to the root
    pred = gt + rng.normal(0, 4, gt.shape)
    columns = {"subject": ["S9"] * 20, "action": [0] * 10 + [1] * 10, "subaction": [1] * 20,
               "camera": [0] * 20, "frame": np.r_[t, t].astype(int)}  # fmt: skip
    rows, info = temporal.evaluation_rows(pred, gt, columns, ("Directions", "Eating"),
                                          smooth="savgol", skeleton=H36M17)  # fmt: skip
    assert info == {"runs": 2, "frame_step": 1}
    accel = rows["Accel error (mm/frame^2)"]
    assert set(accel.per_action) == {"Directions", "Eating"} and accel.frames == {
        "Directions": 8, "Eating": 8}  # fmt: skip
    expected = temporal.acceleration_error(pred[:10], gt[:10], skeleton=H36M17).mean()
    assert accel.per_action["Directions"] == pytest.approx(expected)
    after = rows["Accel error (mm/frame^2), savgol"]
    assert after.weighted < 0.5 * accel.weighted
    assert "Protocol 1 (MPJPE), savgol" in rows and "MPJVE (mm/frame), savgol" in rows
    # No consecutive frames: no temporal rows at all.
    lonely = {**columns, "frame": np.arange(20) * 7 + rng.permutation(20) % 3}
    lonely["subaction"] = list(range(20))
    assert (
        temporal.evaluation_rows(pred, gt, lonely, ("Directions", "Eating"), skeleton=H36M17)[0]
        == {}
    )
