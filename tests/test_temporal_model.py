"""The temporal designs (issue 28, first part): identity at start, any keypoint set, causal
windows, and learning: a model trained on planted noise removes part of it."""

import numpy as np
import optax
import pytest
from flax import nnx

from c2f.temporal import DESIGNS, TemporalConfig, TemporalModel, frame_features, sequence_windows
from c2f.temporal.train import create, make_step
from c2f.temporal.windows import triplet_index


def _config(design, joints=17, causal=False, width=32):
    return TemporalConfig(design=design, joints=joints, window=9, causal=causal, width=width,
                          depth=1, heads=2, dropout=0.0)  # fmt: skip


def test_the_table_and_the_config_checks():
    assert set(DESIGNS) == {"dilated", "attention"}
    with pytest.raises(ValueError, match="one of"):
        TemporalConfig(design="lstm")
    with pytest.raises(ValueError, match="sees 3\\^2 = 9 frames"):
        TemporalConfig(design="dilated", depth=1, window=7)


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("joints, causal", [(17, False), (42, True)])
def test_an_untrained_model_is_the_savgol_filter_for_any_keypoint_set(design, joints, causal):
    """Its base starts as c2f eval --smooth savgol's filter, its correction at zero."""
    from c2f.evaluation.filters import savgol

    rng = np.random.default_rng(0)
    joints_mm = rng.normal(0, 300, (20, joints, 3))
    feats = frame_features(joints_mm, rng.uniform(0, 64, (20, joints, 2)),
                           rng.uniform(size=(20, joints)), heatmap_px=64)  # fmt: skip
    windows = sequence_windows(feats, 9, causal)
    model = TemporalModel(_config(design, joints, causal), rngs=nnx.Rngs(0))
    model.eval()
    out = np.asarray(model(windows))
    assert out.shape == (20, joints, 3)
    # Away from the ends, which the windows pad by repetition and the filter otherwise.
    inner = slice(8, 20) if causal else slice(4, 16)
    want = savgol(1000.0 * np.asarray(feats)[:, :, :3], causal=causal)
    np.testing.assert_allclose(out[inner], want[inner], atol=2e-2)


def test_causal_windows_hold_no_later_frame():
    feats = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((10, 1, 6), np.float32)
    causal, centred = sequence_windows(feats, 5, True), sequence_windows(feats, 5, False)
    assert causal[:, :, 0, 0].max(axis=1).tolist() == list(range(10))  # ends at its frame
    assert centred[3, :, 0, 0].tolist() == [1, 2, 3, 4, 5]
    assert centred[0, :, 0, 0].tolist() == [0, 0, 0, 1, 2]  # the first frame repeated


@pytest.mark.parametrize("design", ["attention"])  # dilated: tests/test_temporal_run.py
def test_training_on_planted_noise_removes_part_of_it(design):
    """Smooth motion + 20 mm of per-frame noise: the refined error falls below the input's."""
    rng = np.random.default_rng(1)
    t = np.arange(400)[:, None, None]
    phase, speed = rng.uniform(0, 6, (1, 17, 3)), rng.uniform(0.02, 0.06, (1, 17, 3))
    truth = 300.0 * np.sin(speed * t + phase)  # [T, J, 3] mm
    noisy = truth + rng.normal(0, 20.0, truth.shape)
    feats = frame_features(noisy, np.zeros((400, 17, 2)), np.ones((400, 17)), heatmap_px=64)
    triplets, index = triplet_index([np.arange(300)], 9, False)  # frames 300-399 held out
    # 128 channels: the 51 coordinates' corrections pass through them
    graphdef, state = create(_config(design, width=128), optax.adam(1e-3))
    step = make_step(graphdef)
    feats, truth32 = np.asarray(feats), truth.astype(np.float32)
    for _ in range(200):
        batch = rng.integers(0, len(triplets), 32)
        state, loss = step(state, feats[index[batch]], truth32[triplets[batch]])
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    refined = np.asarray(model(sequence_windows(feats, 9, False)[300:]))
    before = np.linalg.norm(noisy[300:] - truth[300:], axis=-1).mean()
    after = np.linalg.norm(refined - truth[300:], axis=-1).mean()
    assert after < 0.8 * before, (before, after)
