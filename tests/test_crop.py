import json

import numpy as np
import pytest

from c2f import grid
from c2f.geometry import Camera, crop, project


def test_authors_center_and_scale_recomputed_from_3d(shared_data):
    from scipy.io import loadmat

    annot = loadmat(shared_data / "c2f_vol_demo/data/h36m-sample/annot/valid.mat", squeeze_me=True)
    annot = annot["annot"]
    names, joints = annot["imgname"].item(), annot["S"].item()  # [N, 3, 17] camera mm
    centers, scales = annot["center"].item(), annot["scale"].item()
    cameras = json.loads((shared_data / "h36m_release/h36m_cameras.json").read_text())
    assert all(str(n).startswith("S9_Posing_1.55011271") for n in names)
    cam = Camera.from_dict(cameras["S9"]["55011271"])
    for s, c, sc in zip(joints, centers, scales):
        center, scale = crop.box_from_joints(project(cam, s.T))
        assert np.abs(center - c).max() < 0.01
        assert abs(scale - sc) * crop.BOX_SIZE_PX < 0.01


def test_crop_maps_box_onto_the_crop():
    center, scale, res = np.array([400.0, 300.0]), 1.5, 256
    A = crop.crop_matrix(center, scale, res)
    half = crop.BOX_SIZE_PX * scale / 2
    corners = center + np.array([[-half, -half], [half, half]])
    np.testing.assert_allclose(
        crop.apply_affine(A, corners), [[-0.5, -0.5], [res - 0.5, res - 0.5]]
    )
    np.testing.assert_allclose(crop.apply_affine(A, center), [res / 2 - 0.5] * 2)


def test_heatmap_matrix_is_rescaled_crop_matrix():
    center, scale = np.array([512.0, 480.0]), 1.9
    pts = np.random.default_rng(0).uniform(300, 700, (17, 2))
    for rot, flip in ((0.0, False), (25.0, True)):
        in_crop = crop.apply_affine(crop.crop_matrix(center, scale, 256, rot, flip), pts)
        in_heatmap = crop.apply_affine(crop.crop_matrix(center, scale, 64, rot, flip), pts)
        np.testing.assert_allclose(grid.rescale(in_crop, 256, 64), in_heatmap, atol=1e-9)


def test_rotation_flip_and_inverse():
    center, scale, res = np.array([300.0, 320.0]), 1.0, 200
    right = center + [50.0, 0.0]  # a point right of the centre
    A = crop.crop_matrix(center, scale, res, rot_deg=90)
    mid = res / 2 - 0.5
    # Counter-clockwise on screen by 90 degrees: right of centre goes straight up (smaller v).
    np.testing.assert_allclose(crop.apply_affine(A, right), [mid, mid - 50.0], atol=1e-9)
    F = crop.crop_matrix(center, scale, res, flip=True)
    np.testing.assert_allclose(crop.apply_affine(F, right), [mid - 50.0, mid], atol=1e-9)
    B = crop.crop_matrix(center, scale, res, rot_deg=-33.0, flip=True)
    pts = np.random.default_rng(1).uniform(0, 600, (10, 2))
    back = crop.apply_affine(crop.invert_affine(B), crop.apply_affine(B, pts))
    np.testing.assert_allclose(back, pts, atol=1e-9)
    np.testing.assert_allclose(
        crop.compose_affine(crop.invert_affine(B), B), [[1, 0, 0], [0, 1, 0]], atol=1e-12
    )


def test_bad_input():
    with pytest.raises(ValueError, match="scale"):
        crop.crop_matrix([0, 0], -1.0, 64)
    with pytest.raises(ValueError, match="center"):
        crop.crop_matrix([0, 0, 0], 1.0, 64)
    with pytest.raises(ValueError, match="uv"):
        crop.box_from_joints(np.zeros((17, 3)))
    with pytest.raises(ValueError, match="uv.*NaN"):
        crop.box_from_joints(np.full((17, 2), np.nan))
