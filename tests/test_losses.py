import jax
import jax.numpy as jnp
import numpy as np
import pytest

from c2f import grid
from c2f.losses import LossConfig, integral_l1, stage_losses, voxel_mse
from c2f.volume import TargetConfig, gaussian_target, target_sigmas

DEPTHS = (4, 16)  # the tiny config's stages
RES = 16


def _batch(rng, b=2, j=17):
    coords = np.concatenate(
        [rng.uniform(3, RES - 4, (b, j, 2)), rng.uniform(4, DEPTHS[-1] - 5, (b, j, 1))], -1
    ).astype(np.float32)
    mask = np.ones((b, j), bool)
    return coords, mask


def _perfect_volumes(coords, cfg=TargetConfig()):
    """Each stage's volume equal to its own Gaussian target."""
    out = []
    for depth in DEPTHS:
        stage = coords.copy()
        stage[..., 2] = grid.rescale(stage[..., 2], DEPTHS[-1], depth)
        sigma = target_sigmas(depth, DEPTHS[-1], cfg)
        out.append(jnp.stack([gaussian_target(c, (depth, RES, RES), sigma) for c in stage]))
    return out


def test_mse_is_zero_at_the_target_and_positive_elsewhere():
    rng = np.random.default_rng(0)
    coords, mask = _batch(rng)
    volumes = _perfect_volumes(coords)
    total, parts = stage_losses(volumes, coords, mask, LossConfig(), TargetConfig())
    assert float(total) < 1e-10 and set(parts) == {"stage0/mse", "stage1/mse"}
    shifted = coords + np.array([2.0, 0.0, 0.0], np.float32)
    total, _ = stage_losses(volumes, shifted, mask, LossConfig(), TargetConfig())
    assert float(total) > 1e-4


def test_masks_and_joints_outside_the_volume_are_ignored():
    rng = np.random.default_rng(1)
    coords, mask = _batch(rng)
    volumes = _perfect_volumes(coords)
    wrong = coords.copy()
    wrong[:, 3] += 5.0  # joint 3 is now wrong...
    cfg = LossConfig(mse_weight=1.0, l1_weight=1.0)
    mask_out = mask.copy()
    mask_out[:, 3] = False  # ...but masked
    total, _ = stage_losses(volumes, wrong, mask_out, LossConfig(), TargetConfig())
    assert float(total) < 1e-10
    outside = coords.copy()
    outside[:, 5, 2] = DEPTHS[-1] + 10.0  # beyond the depth range: no voxel to put it in
    ref, _ = stage_losses(volumes, coords, mask, cfg, TargetConfig())
    out, _ = stage_losses(volumes, outside, mask, cfg, TargetConfig())
    # Only the out-of-range joint's contribution disappears; nothing blows up.
    assert np.isfinite(float(out)) and abs(float(out) - float(ref)) < 0.5


def test_integral_l1_on_sharp_volumes_is_the_coordinate_error():
    rng = np.random.default_rng(2)
    coords, mask = _batch(rng, b=1)
    # Sharp log-Gaussian logits decode to their centres; shift the truth by 1 voxel in x.
    narrow = TargetConfig(sigma_xy=1.0, sigma_z_finest=1.0)  # no truncation at the borders
    logits = [jnp.log(jnp.maximum(v, 1e-30)) for v in _perfect_volumes(coords, narrow)]
    cfg = LossConfig(mse_weight=0.0, l1_weight=1.0)
    total, parts = stage_losses(logits, coords, mask, cfg, TargetConfig())
    assert float(parts["stage1/l1"]) < 0.01
    shifted = coords + np.array([1.5, 0.0, 0.0], np.float32)
    _, parts = stage_losses(logits, shifted, mask, cfg, TargetConfig())
    assert float(parts["stage1/l1"]) == pytest.approx(0.5, abs=0.01)  # 1.5 voxels / 3 axes


def test_gradients_are_finite_and_jit_equals_eager():
    rng = np.random.default_rng(3)
    coords, mask = _batch(rng)
    volumes = [jnp.asarray(rng.normal(size=(2, 17, d, RES, RES)), jnp.float32) for d in DEPTHS]
    cfg = LossConfig(mse_weight=1.0, l1_weight=0.5, stage_weights=(0.5, 1.0))

    def loss(vols):
        return stage_losses(vols, coords, mask, cfg, TargetConfig())[0]

    grads = jax.grad(loss)(volumes)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)
    assert all(float(jnp.abs(g).max()) > 0 for g in grads)
    np.testing.assert_allclose(jax.jit(loss)(volumes), loss(volumes), rtol=1e-5)
    # bf16 volumes (the GPU compute dtype) give a close loss.
    bf = [v.astype(jnp.bfloat16) for v in volumes]
    np.testing.assert_allclose(loss(bf), loss(volumes), rtol=0.02)


def test_single_example_functions():
    coords = np.array([[7.5, 8.0, 7.2]], np.float32)
    vol = gaussian_target(coords, (16, 16, 16), (2.0, 2.0, 2.0))
    assert float(voxel_mse(vol, vol, np.ones(1))) < 1e-12
    logits = jnp.log(jnp.maximum(vol, 1e-30))
    assert float(integral_l1(logits, coords, np.ones(1))) < 1e-3


def test_bad_input():
    vols = [jnp.zeros((2, 17, 4, RES, RES))]
    with pytest.raises(ValueError, match="coords"):
        stage_losses(vols, np.zeros((2, 17, 2)), np.ones((2, 17)), LossConfig(), TargetConfig())
    with pytest.raises(ValueError, match="coords.*NaN"):
        stage_losses(
            vols, np.full((2, 17, 3), np.nan), np.ones((2, 17)), LossConfig(), TargetConfig()
        )
    with pytest.raises(ValueError, match="mask"):
        stage_losses(vols, np.zeros((2, 17, 3)), np.ones((2, 16)), LossConfig(), TargetConfig())
    with pytest.raises(ValueError, match="stage_weights"):
        stage_losses(
            vols,
            np.zeros((2, 17, 3)),
            np.ones((2, 17)),
            LossConfig(stage_weights=(1.0, 1.0)),
            TargetConfig(),
        )
    with pytest.raises(ValueError, match="mse_weight"):
        LossConfig(mse_weight=0.0, l1_weight=0.0)


@pytest.mark.parametrize("mse, l1", [(1.0, 0.0), (0.0, 1.0)])
def test_two_d_only_joints_get_no_gradient_through_depth(mse, l1):
    rng = np.random.default_rng(5)
    coords, mask = _batch(rng, b=2, j=5)
    coords[..., 2] = (DEPTHS[-1] - 1) / 2  # a 2D sample's placeholder depth: the middle bin
    volumes = [jnp.asarray(rng.normal(0, 1, (2, 5, d, RES, RES)), jnp.float32) for d in DEPTHS]
    cfg = LossConfig(mse_weight=mse, l1_weight=l1)
    none, xy = np.zeros_like(mask), np.ones_like(mask)

    def loss(vols, mask_xy):
        return stage_losses(vols, coords, none, cfg, TargetConfig(), mask_xy=mask_xy)[0]

    grads = jax.grad(loss)(volumes, xy)
    for volume, g in zip(volumes, grads):
        g = np.asarray(g)
        assert np.all(np.isfinite(g)) and np.abs(g).max() > 0
        if mse:  # the same gradient at every depth of a pixel column
            np.testing.assert_allclose(g, np.broadcast_to(g[:, :, :1], g.shape), atol=1e-9)
        else:  # proportional to the soft-argmax weights within a column: no pull along depth
            p = np.asarray(jax.nn.softmax(volume.reshape(2, 5, -1), -1)).reshape(g.shape)
            ratio = g / p
            np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :, :1], g.shape),
                                       rtol=1e-3, atol=1e-3 * np.abs(ratio).max())  # fmt: skip
    # Nothing is supervised without mask_xy; with 3D joints, all-zero mask_xy changes nothing.
    assert float(loss(volumes, None)) == 0.0
    full = stage_losses(volumes, coords, mask, cfg, TargetConfig())[0]
    mixed = stage_losses(volumes, coords, mask, cfg, TargetConfig(), mask_xy=xy)[0]
    zeros = stage_losses(volumes, coords, mask, cfg, TargetConfig(), mask_xy=none)[0]
    assert float(full) == float(mixed) == float(zeros)


def test_two_d_terms_known_answers():
    # L1: a sharp volume at (x, y, z) = (3, 4, 1): the 2D term is the mean x, y error only.
    volume = jnp.full((1, 4, 8, 8), -1e4).at[0, 1, 4, 3].set(0.0)
    target = jnp.array([[5.0, 1.0, 3.0]])
    no, yes = jnp.array([False]), jnp.array([True])
    assert float(integral_l1(volume, target, no, mask_xy=yes)) == pytest.approx((2 + 3) / 2)
    assert float(integral_l1(volume, target, yes, mask_xy=yes)) == pytest.approx((2 + 3 + 2) / 3)
    # MSE: a volume off its target by a constant e at every voxel of one pixel column.
    target = jnp.zeros((1, 4, 8, 8))
    volume = target.at[0, :, 2, 5].set(0.5)
    assert float(voxel_mse(volume, target, no, mask_xy=yes)) == pytest.approx(0.25 / 64)
    assert float(voxel_mse(volume, target, yes)) == pytest.approx(0.25 / 64)
