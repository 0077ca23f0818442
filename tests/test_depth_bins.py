import numpy as np
import pytest

from c2f.geometry import DepthBins


def test_paper_range_matches_the_authors_limits(shared_data):
    from scipy.io import loadmat

    limits = loadmat(shared_data / "c2f_vol_demo/matlab/utils/data/voxel_limits.mat")["limits"][0]
    bins = DepthBins()
    np.testing.assert_allclose(bins.edges_mm(64), limits, atol=1e-6)
    assert abs(bins.bin_width_mm() - 31.03) < 0.01
    # Coarser resolutions merge bins: their edges are every (64 / D)-th fine edge.
    for depth in (1, 2, 4, 8, 16, 32):
        np.testing.assert_allclose(bins.edges_mm(depth), limits[:: 64 // depth], atol=1e-6)


def test_bin_centres_and_round_trip():
    bins = DepthBins()
    edges = bins.edges_mm(64)
    centres = (edges[:-1] + edges[1:]) / 2
    np.testing.assert_allclose(bins.to_bins(centres, 64), np.arange(64), atol=1e-9)
    np.testing.assert_allclose(bins.to_bins(edges[[0, -1]], 4), [-0.5, 3.5], atol=1e-12)
    z = np.random.default_rng(0).uniform(-1500, 1500, 100)
    for depth in (1, 2, 4, 64):
        np.testing.assert_allclose(bins.to_mm(bins.to_bins(z, depth), depth), z, atol=1e-9)
    # The root (0 mm) sits at the same physical place at every resolution.
    assert abs(bins.to_mm(bins.to_bins(0.0, 2), 2)) < 1e-9


def test_bad_input():
    bins = DepthBins()
    with pytest.raises(ValueError, match="depth"):
        bins.to_bins(np.zeros(3), 3)
    with pytest.raises(ValueError, match="z_mm.*NaN"):
        bins.to_bins(np.array([np.nan]))
    with pytest.raises(ValueError, match="max_mm"):
        DepthBins(min_mm=10.0, max_mm=-10.0)
