import json
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from c2f.geometry import camera as cm


@pytest.fixture(scope="module")
def cameras(shared_data):
    return json.loads((shared_data / "h36m_release/h36m_cameras.json").read_text())


@pytest.fixture(scope="module")
def frames(shared_data):
    """The four real frames: (subject, camera id, camera-frame joints mm [17, 3], 2D px [17, 2])."""
    d = np.load(shared_data / "mmpose_h36m_samples/test_h36m_body3d.npz")
    out = []
    for i, name in enumerate(d["imgname"]):
        subject = name.split("/")[0]
        cam_id = name.split(".")[-2].split("_")[0]
        out.append((subject, cam_id, d["S"][i, :, :3] * 1000.0, d["part"][i, :, :2]))
    return out


def test_projection_reproduces_real_2d_ground_truth(cameras, frames):
    for subject, cam_id, joints_cam, uv_gt in frames:
        cam = cm.Camera.from_dict(cameras[subject][cam_id])
        uv = cm.project(cam, joints_cam)
        assert np.abs(uv - uv_gt).max() < 0.01, (subject, cam_id)
        # Without the lens model the error is several pixels: the model is doing real work.
        assert np.abs(cm.project(cam, joints_cam, distortion=False) - uv_gt).max() > 0.5


def test_projection_in_float32_jax_matches(cameras, frames):
    subject, cam_id, joints_cam, uv_gt = frames[2]
    cam = jax.tree.map(jnp.float32, cm.Camera.from_dict(cameras[subject][cam_id]))
    uv = jax.jit(cm.project)(cam, jnp.asarray(joints_cam, jnp.float32))
    assert np.abs(np.asarray(uv) - uv_gt).max() < 0.01


def test_world_to_camera_reproduces_camera_frame_joints(cameras, frames, shared_data):
    coco = json.loads((shared_data / "mmpose_h36m_samples/h36m_coco.json").read_text())
    for ann, (subject, cam_id, joints_cam, _) in zip(coco["annotations"], frames):
        world = np.array(ann["keypoints_3d"]).reshape(17, 4)[:, :3] * 1000.0
        cam = cm.Camera.from_dict(cameras[subject][cam_id])
        np.testing.assert_allclose(cm.world_to_camera(cam, world), joints_cam, atol=0.01)
        np.testing.assert_allclose(cm.camera_to_world(cam, joints_cam), world, atol=0.01)


def test_json_cameras_agree_with_mmpose_pickle(cameras, shared_data):
    with open(shared_data / "mmpose_h36m_samples/cameras.pkl", "rb") as fh:
        mm = pickle.load(fh)
    for (subject, cam_id), c in mm.items():
        if subject not in cameras:
            continue
        ours = cm.Camera.from_dict(cameras[subject][cam_id])
        np.testing.assert_allclose(ours.R, c["R"].T, atol=1e-9)  # mmpose stores camera-to-world
        np.testing.assert_allclose(ours.t, c["T"].ravel() * 1000.0, atol=1e-6)
        if subject != "S7":  # mmpose hard-codes 1000 x 1000 where S7 is 1000 x 1002
            assert (ours.res_w, ours.res_h) == (c["w"], c["h"])


def test_resolution_matches_the_real_s7_frame(cameras, shared_data):
    from PIL import Image

    path = "mmpose_h36m_samples/S7/S7_Greeting.55011271/S7_Greeting.55011271_000396.jpg"
    cam = cm.Camera.from_dict(cameras["S7"]["55011271"])
    assert Image.open(shared_data / path).size == (cam.res_w, cam.res_h) == (1000, 1002)


def test_back_projection_inverts_projection_across_the_image(cameras):
    cam = cm.Camera.from_dict(cameras["S7"]["55011271"])
    u, v = np.meshgrid(np.linspace(0, cam.res_w - 1, 9), np.linspace(0, cam.res_h - 1, 9))
    uv = np.stack([u, v], -1).reshape(-1, 2)
    depth = np.linspace(2000.0, 8000.0, len(uv))
    points = cm.back_project(cam, uv, depth)
    np.testing.assert_allclose(points[:, 2], depth)
    np.testing.assert_allclose(cm.project(cam, points), uv, atol=1e-6)


def test_intrinsics_camera():
    K = np.array([[1100.0, 0, 500.0], [0, 1090.0, 510.0], [0, 0, 1]])
    cam = cm.Camera.from_intrinsics(K)
    np.testing.assert_allclose(cam.K, K)
    np.testing.assert_allclose(
        cm.project(cam, np.array([[100.0, -50.0, 5000.0]])), [[522.0, 499.1]]
    )


def test_bad_input_names_the_argument():
    cam = cm.Camera.from_intrinsics(np.eye(3))
    with pytest.raises(ValueError, match="x_cam"):
        cm.project(cam, np.zeros((17, 2)))
    with pytest.raises(ValueError, match="x_cam.*NaN"):
        cm.project(cam, np.full((17, 3), np.nan))
    with pytest.raises(ValueError, match="x_world.*float"):
        cm.world_to_camera(cam, np.zeros((17, 3), np.int32))
    with pytest.raises(ValueError, match="depth"):
        cm.back_project(cam, np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="Camera.R"):
        cm.Camera.from_dict({"R": np.eye(2).tolist(), "t": [0, 0, 0], "f": [1, 1], "c": [0, 0]})
    with pytest.raises(ValueError, match="missing field"):
        cm.Camera.from_dict({"R": np.eye(3).tolist()})
