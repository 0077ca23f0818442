import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from c2f.geometry import Camera, project, recover_root_depth, skeleton_from_root_depth, undistort
from c2f.skeleton import H36M17, HAND21, INTERHAND42, bone_lengths


@pytest.fixture(scope="module")
def real_pose(shared_data):
    d = np.load(shared_data / "mmpose_h36m_samples/test_h36m_body3d.npz")
    return d["S"][:, :, :3] * 1000.0  # [4, 17, 3] camera mm


def _observe(joints, f, c):
    uv = joints[:, :2] / joints[:, 2:] * f + c
    return uv, joints[:, 2] - joints[0, 2]


def test_noiseless_recovery_returns_true_depth(real_pose):
    f, c = np.array([1145.0, 1144.0]), np.array([512.0, 515.0])
    for joints in real_pose:
        for shift in (0.0, 2500.0):  # also much further from the camera
            j = joints + [0.0, 0.0, shift]
            uv, dz = _observe(j, f, c)
            z = recover_root_depth(uv, dz, f, c, H36M17, bone_lengths(j, H36M17))
            assert abs(float(z) - j[0, 2]) < 0.05
            np.testing.assert_allclose(skeleton_from_root_depth(uv, dz, f, c, z), j, atol=0.1)


def test_mean_bones_give_a_close_depth(real_pose):
    # With the paper's mean bones instead of the true ones, real skeletons land within 5%.
    f, c = np.array([1145.0, 1144.0]), np.array([512.0, 515.0])
    for joints in real_pose:
        uv, dz = _observe(joints, f, c)
        assert abs(float(recover_root_depth(uv, dz, f, c, H36M17)) / joints[0, 2] - 1) < 0.05


def test_real_distorted_pixels_after_undistortion(shared_data, real_pose):
    cams = json.loads((shared_data / "h36m_release/h36m_cameras.json").read_text())
    cam = Camera.from_dict(cams["S1"]["54138969"])
    joints = real_pose[0]
    uv_distorted = project(cam, joints)
    uv = undistort(cam, (uv_distorted - cam.c) / cam.f) * cam.f + cam.c
    z = recover_root_depth(
        uv, joints[:, 2] - joints[0, 2], cam.f, cam.c, H36M17, bone_lengths(joints, H36M17)
    )
    assert abs(float(z) - joints[0, 2]) < 0.5


def test_vmap_jit_equals_eager(real_pose):
    f, c = np.array([1145.0, 1144.0]), np.array([512.0, 515.0])
    obs = [_observe(j, f, c) for j in real_pose]
    uv = jnp.asarray(np.stack([o[0] for o in obs]), jnp.float32)
    dz = jnp.asarray(np.stack([o[1] for o in obs]), jnp.float32)
    batched = jax.jit(jax.vmap(lambda u, d: recover_root_depth(u, d, f, c, H36M17)))(uv, dz)
    eager = [float(recover_root_depth(u, d, f, c, H36M17)) for u, d in zip(uv, dz)]
    np.testing.assert_allclose(batched, eager, rtol=1e-5)


def test_bad_input():
    f, c = np.ones(2), np.zeros(2)
    with pytest.raises(ValueError, match="uv"):
        recover_root_depth(np.zeros((16, 2)), np.zeros(16), f, c, H36M17)
    with pytest.raises(ValueError, match="dz_mm.*NaN"):
        recover_root_depth(np.zeros((17, 2)), np.full(17, np.nan), f, c, H36M17)
    with pytest.raises(ValueError, match="bone_lengths_mm"):
        recover_root_depth(np.zeros((17, 2)), np.zeros(17), f, c, H36M17, np.ones(17))
    # A skeleton without mean bones (a hand) or of two parts cannot recover its root depth.
    with pytest.raises(ValueError, match="no mean bone lengths"):
        recover_root_depth(np.zeros((21, 2)), np.zeros(21), f, c, HAND21)
    with pytest.raises(ValueError, match="one part expected"):
        recover_root_depth(np.zeros((42, 2)), np.zeros(42), f, c, INTERHAND42)
