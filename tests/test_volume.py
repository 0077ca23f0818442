import jax
import jax.numpy as jnp
import numpy as np
import pytest

from c2f.volume import TargetConfig, gaussian_target, hard_argmax_3d, soft_argmax_3d, target_sigmas

DEPTHS = (1, 2, 4, 8, 16, 32, 64)


def _random_interior(rng, depth, sigma, n=17, size=64):
    """Joint coordinates at least 3 sigma inside the volume (bin centres for one-slice z)."""
    sx, _, sz = sigma
    xy = rng.uniform(3 * sx, size - 1 - 3 * sx, (n, 2))
    if sz is None:
        z = rng.integers(0, depth, n).astype(np.float64)
    else:
        z = rng.uniform(3 * sz, depth - 1 - 3 * sz, n)
    return np.concatenate([xy, z[:, None]], axis=1)


def test_target_is_separable_gaussian_with_peak_one():
    coords = np.array([[10.0, 20.0, 30.0], [5.3, 40.2, 7.9]])
    t = gaussian_target(coords, (64, 64, 64), (2.0, 2.0, 3.0))
    assert t.shape == (2, 64, 64, 64)
    assert float(t[0, 30, 20, 10]) == pytest.approx(1.0)
    assert float(t.max()) <= 1.0
    d, h, w = np.meshgrid(np.arange(64), np.arange(64), np.arange(64), indexing="ij")
    x, y, z = coords[1]
    dense = np.exp(-((w - x) ** 2) / 8 - (h - y) ** 2 / 8 - (d - z) ** 2 / 18)
    np.testing.assert_allclose(t[1], dense, atol=1e-6)


def test_single_slice_targets_for_coarse_depths():
    for depth in (1, 2, 4):
        sigma = target_sigmas(depth, 64)
        assert sigma[2] is None
        t = gaussian_target(np.array([[30.0, 30.0, depth - 1.4]]), (depth, 64, 64), sigma)
        nonzero = np.flatnonzero(np.asarray(t[0]).sum((1, 2)))
        assert list(nonzero) == [round(depth - 1.4)]
    assert target_sigmas(64, 64) == (2.0, 2.0, 2.0)
    assert target_sigmas(32, 64)[2] == 1.0 and target_sigmas(8, 64)[2] == 1.0
    cfg = TargetConfig(sigma_xy=1.5, single_slice_max_depth=0)
    assert target_sigmas(2, 64, cfg) == (1.5, 1.5, 1.0)


@pytest.mark.parametrize("depth", DEPTHS)
def test_decoding_a_target_returns_its_centre(depth):
    rng = np.random.default_rng(depth)
    sigma = target_sigmas(depth, 64)
    coords = _random_interior(rng, depth, sigma)
    target = gaussian_target(coords, (depth, 64, 64), sigma)
    soft = soft_argmax_3d(jnp.log(jnp.maximum(target, 1e-30)))
    hard = hard_argmax_3d(target, refine=True)
    assert np.abs(np.asarray(soft) - coords).max() < 0.05
    assert np.abs(np.asarray(hard) - coords).max() < 0.05
    # Without refinement the hard argmax is the nearest voxel centre.
    np.testing.assert_array_equal(hard_argmax_3d(target), np.floor(coords + 0.5))


def test_soft_argmax_stability_dtype_and_batching():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 17, 4, 8, 8)).astype(np.float32)
    out = soft_argmax_3d(logits)
    assert out.shape == (2, 3, 17, 3) and out.dtype == jnp.float32
    # Shifting logits by a huge constant changes nothing (log-sum-exp stabilised).
    np.testing.assert_allclose(soft_argmax_3d(logits + 1e4), out, atol=1e-3)
    # bf16 input, float32 accumulation: close to the float32 answer.
    bf = soft_argmax_3d(jnp.asarray(logits, jnp.bfloat16))
    assert bf.dtype == jnp.float32
    np.testing.assert_allclose(bf, out, atol=0.05)
    # A sharp peak decodes to its voxel.
    v = np.full((1, 4, 8, 8), -1e4, np.float32)
    v[0, 2, 5, 1] = 0
    np.testing.assert_allclose(soft_argmax_3d(v)[0], [1, 5, 2])


def test_soft_argmax_gradients_and_jit():
    logits = jnp.asarray(np.random.default_rng(1).normal(size=(17, 4, 16, 16)), jnp.float32)
    g = jax.grad(lambda v: soft_argmax_3d(v).sum())(logits)
    assert bool(jnp.all(jnp.isfinite(g)))
    np.testing.assert_allclose(jax.jit(soft_argmax_3d)(logits), soft_argmax_3d(logits), atol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="logits"):
        soft_argmax_3d(np.zeros((8, 8, 8), np.float32))
    with pytest.raises(ValueError, match="logits.*float"):
        soft_argmax_3d(np.zeros((1, 2, 8, 8), np.int32))
    with pytest.raises(ValueError, match="logits.*NaN"):
        soft_argmax_3d(np.full((1, 2, 8, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match="volume"):
        hard_argmax_3d(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="coords"):
        gaussian_target(np.zeros((17, 2)), (4, 8, 8), (2.0, 2.0, None))
    with pytest.raises(ValueError, match="shape"):
        gaussian_target(np.zeros((17, 3)), (8, 8), (2.0, 2.0, None))
    with pytest.raises(ValueError, match="sigma_xy"):
        TargetConfig(sigma_xy=0.0)
