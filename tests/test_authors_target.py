"""The authors' targets against a literal numpy transcription of their Lua (1-based indices)."""

import math

import jax
import numpy as np
import pytest

from c2f.losses import LossConfig, stage_losses
from c2f.volume import TargetConfig
from c2f.volume.authors_target import authors_target, z_kernel_size


def lua_image_gaussian(size):
    """torch image.gaussian(size): sigma 0.25, amplitude 1, mean 0.5 (image/generic/image.c)."""
    g = np.zeros((size, size), np.float32)
    mean, over = 0.5 * size + 0.5, 1.0 / (0.25 * size)
    for v in range(size):
        for u in range(size):
            du, dv = (u + 1 - mean) * over, (v + 1 - mean) * over
            g[v, u] = math.exp(-(du * du * 0.5 + dv * dv * 0.5))
    return g


def lua_draw_gaussian(img, pt, sigma):
    """img.lua drawGaussian, with Lua's 1-based inclusive ranges."""
    h, w = img.shape
    ul = [math.floor(pt[0] - 3 * sigma), math.floor(pt[1] - 3 * sigma)]
    br = [math.floor(pt[0] + 3 * sigma), math.floor(pt[1] + 3 * sigma)]
    if ul[0] > w or ul[1] > h or br[0] < 1 or br[1] < 1:
        return img
    g = lua_image_gaussian(6 * sigma + 1)
    g_x = [max(1, -ul[0]), min(br[0], w) - max(1, ul[0]) + max(1, -ul[0])]
    g_y = [max(1, -ul[1]), min(br[1], h) - max(1, ul[1]) + max(1, -ul[1])]
    img_x = [max(1, ul[0]), min(br[0], w)]
    img_y = [max(1, ul[1]), min(br[1], h)]
    img[img_y[0] - 1 : img_y[1], img_x[0] - 1 : img_x[1]] += g[
        g_y[0] - 1 : g_y[1], g_x[0] - 1 : g_x[1]
    ]
    img[img > 1] = 1
    return img


def lua_draw_gaussian_3d(vol, pt, z, sigma, size_z):
    """img.lua drawGaussian3D."""
    temp = lua_draw_gaussian(np.zeros(vol.shape[1:], np.float32), pt, sigma)
    zun = lua_image_gaussian(size_z)[math.ceil(size_z / 2) - 1]
    count = 0
    for i in range(z - size_z // 2, z + size_z // 2 + 1):
        count += 1
        if 0 < i < vol.shape[0] + 1:
            vol[i - 1] = zun[count - 1] * temp
    return vol


def lua_generate_sample(hm_lua, zind, depth, res=64, sigma=2):
    """pose-c2f.lua generateSample for one joint: hm_lua = t * part (Lua heatmap coordinates)."""
    size_z = 2 * math.floor((6 * sigma * depth / res + 1) / 2) + 1
    pt = [int(c + 1e-4) + 1 for c in hm_lua]  # transform(): (t * pt):add(1e-4):int():add(1)
    z = math.ceil(zind * depth / res)
    return lua_draw_gaussian_3d(np.zeros((depth, res, res), np.float32), pt, z, sigma, size_z)


def test_kernel_sizes_are_the_lua_ones():
    assert [z_kernel_size(d, 64) for d in (1, 2, 4, 8, 16, 64)] == [1, 1, 1, 3, 5, 13]
    g = lua_image_gaussian(13)
    assert g[6, 6] == 1.0 and np.isclose(g[6, 6 + 3], math.exp(-0.5 * (3 / 3.25) ** 2))


@pytest.mark.parametrize("depth", [1, 2, 4, 64])
def test_authors_target_equals_the_lua(depth):
    rng = np.random.default_rng(depth)
    n = 24
    # Ours: pixel centres at integers; the Lua's heatmap coordinate is ours + 0.5. Points
    # everywhere, borders and beyond included (ul <= 0 exercises the Lua's index shift).
    xy = rng.uniform(-9.0, 73.0, (n, 2))
    xy[:6] = [[-0.7, 30.2], [0.2, 5.4], [2.6, 63.4], [63.6, -3.2], [-6.4, -6.6], [70.1, 69.9]]
    zind = rng.integers(1, 65, n)
    zind[:4] = [1, 64, 2, 63]
    z_ours = zind - 1 + rng.uniform(-0.49, 0.49, n)
    coords = np.concatenate([xy, z_ours[:, None]], axis=1).astype(np.float32)
    ours = np.asarray(jax.jit(lambda c: authors_target(c, (depth, 64, 64), 64))(coords))
    for j in range(n):
        ref = lua_generate_sample(xy[j] + 0.5, int(zind[j]), depth)
        np.testing.assert_allclose(ours[j], ref, atol=2e-6, err_msg=f"joint {j}: {coords[j]}")
    assert ours.max() == pytest.approx(1.0)  # some joint lies inside


def test_paper_loss_uses_the_authors_targets_and_all_annotated_joints():
    rng = np.random.default_rng(0)
    coords = np.concatenate([rng.uniform(5, 58, (2, 17, 2)), rng.uniform(3, 60, (2, 17, 1))], -1)
    coords[0, 3, 2] = 80.0  # depth beyond the range: the Lua clips it into the last bins
    cfg = TargetConfig(mode="authors")
    vols = [
        np.stack([np.asarray(authors_target(c, (d, 64, 64), 64)) for c in coords])
        for d in (1, 2, 4, 64)
    ]
    mask = np.ones((2, 17))
    total, parts = stage_losses(vols, coords, mask, LossConfig(), cfg)
    assert float(total) < 1e-12 and set(parts) == {f"stage{k}/mse" for k in range(4)}
    vols[-1][0, 3] = 0.0  # the clipped joint still counts in the authors' loss
    assert float(stage_losses(vols, coords, mask, LossConfig(), cfg)[0]) > 0
    with pytest.raises(ValueError, match="TargetConfig.mode"):
        TargetConfig(mode="lua")
    with pytest.raises(ValueError, match="integer"):
        TargetConfig(mode="authors", sigma_xy=1.5)
