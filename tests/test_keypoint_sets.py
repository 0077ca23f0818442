"""Keypoint sets: the registry's skeletons, files that name theirs, whole-body converters on real
samples, and pickled data read without running code."""

import json
import pickle

import h5py
import numpy as np
import pytest

from c2f.data import H5Source
from c2f.data.schema import DatasetError, DatasetWriter, open_dataset
from c2f.geometry import Camera, apply_affine, crop_matrix, project, world_to_camera
from c2f.model.config import ModelConfig
from c2f.skeleton import (
    COCO_WHOLEBODY133,
    H36M17,
    HAND21,
    INTERHAND42,
    SKELETONS,
    Skeleton,
    get,
)
from data_prep import coco_wholebody, h3wb, safe_pickle


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()), ids=list(SKELETONS))
def test_registered_skeletons_are_consistent(skeleton):
    j = skeleton.num_joints
    perm = skeleton.flip_permutation
    assert sorted(perm) == list(range(j)) and all(perm[perm[i]] == i for i in range(j))
    sides = skeleton.joint_sides
    mirror = {"L": "R", "R": "L", "M": "M"}  # face points carry no side in their names
    assert all(sides[a] == mirror[sides[b]] for a, b in skeleton.flip_pairs)
    assert sum(len(p) for p in skeleton.parts) == j == len(skeleton.root_of)
    assert Skeleton.from_json(skeleton.to_json()) is skeleton  # a registered name reads back as it
    assert get(skeleton.name) is skeleton


def test_the_registry_holds_the_published_layouts():
    assert H36M17.num_joints == 17 and H36M17.roots == (0,) and len(H36M17.bone_lengths_mm) == 16
    assert HAND21.roots == (20,) and HAND21.joint_names[0] == "thumb4"
    assert INTERHAND42.roots == (20, 41) and INTERHAND42.joint_names[21] == "l_thumb4"
    wb = COCO_WHOLEBODY133
    assert [len(wb.subset(n)) for n in ("body", "feet", "face", "left_hand", "right_hand")] == [
        17, 6, 68, 21, 21,
    ]  # fmt: skip
    assert wb.joint_names[91] == "left_hand_root" and wb.joint_names[112] == "right_hand_root"
    assert wb.alignment == ((11, 12),)  # H3WB's pelvis: the hips' mid-point
    with pytest.raises(ValueError, match="one of"):
        get("hand22")
    with pytest.raises(ValueError, match="cycle"):
        Skeleton("loop", ("a", "b"), (1, 0))


def test_model_joints_follow_the_skeleton():
    assert ModelConfig(skeleton="interhand42").joints == 42
    with pytest.raises(ValueError, match="joints follows the skeleton"):
        ModelConfig(joints=21, skeleton="h36m17")
    # The silent case: 21 joints and no skeleton cannot be read out as 17.
    with pytest.raises(ValueError, match="21 joints but no skeleton names them"):
        _ = ModelConfig(joints=21).keypoints


def _write(path, skeleton, n=2):
    j = skeleton.num_joints
    joints = np.tile(np.linspace(-100, 100, 3 * j).reshape(j, 3), (n, 1, 1)) + [0, 0, 3000.0]
    with DatasetWriter(path, source="test", args={}, crop_res=32, skeleton=skeleton) as w:
        w.append({
            "image": [bytes([1, 2])] * n, "joints_cam": joints, "joints_2d": np.zeros((n, j, 2)),
            "center": np.zeros((n, 2)), "scale": np.ones(n), "crop_center": np.zeros((n, 2)),
            "crop_scale": np.ones(n), "intrinsics": np.tile([1000.0, 1000, 500, 500], (n, 1)),
            "distortion": np.zeros((n, 5)), "image_size": np.tile([1000, 1000], (n, 1)),
            "subject": np.ones(n), "action": np.zeros(n), "subaction": np.ones(n),
            "camera": np.zeros(n), "frame": np.arange(n),
        })  # fmt: skip


def test_files_name_their_skeleton(tmp_path):
    _write(tmp_path / "hand.h5", HAND21)
    with open_dataset(tmp_path / "hand.h5") as f:
        assert f["joints_cam"].shape == (2, 21, 3) and f.attrs["schema_version"] == 3
    assert H5Source(tmp_path / "hand.h5", validate=False).skeleton is HAND21
    # joint_names that contradict the skeleton are refused, naming the file.
    with h5py.File(tmp_path / "hand.h5", "a") as f:
        f.attrs["joint_names"] = json.dumps(list(H36M17.joint_names))
    with pytest.raises(DatasetError, match="hand.h5: attribute 'joint_names'.*hand21"):
        open_dataset(tmp_path / "hand.h5")
    # A per-joint field of another length is refused too.
    _write(tmp_path / "body.h5", H36M17)
    with h5py.File(tmp_path / "body.h5", "a") as f:
        f.attrs["skeleton"] = HAND21.to_json()
        f.attrs["joint_names"] = json.dumps(list(HAND21.joint_names))
    with pytest.raises(DatasetError, match="'joints_cam' has shape"):
        open_dataset(tmp_path / "body.h5")


def test_coco_wholebody_on_real_annotations(shared_data, tmp_path):
    annot = shared_data / "mmpose_wholebody_samples/coco_wholebody/test_coco_wholebody.json"
    images = shared_data / "mmpose_2d_samples/coco"
    out = tmp_path / "wb.h5"
    assert coco_wholebody.main(["--annot", str(annot), "--images", str(images), "--out",
                                str(out), "--crop-res", "96"]) == 0  # fmt: skip
    data = json.loads(annot.read_text())
    people, _ = coco_wholebody.read_annotations(annot)
    source = H5Source(out)
    assert source.skeleton is COCO_WHOLEBODY133 and len(source) == len(people)
    kept = [a for a in data["annotations"] if not a["iscrowd"]]
    first = next(a for a in kept if a["image_id"] == people[0]["image_id"])
    s = source[0]
    assert not s["valid_3d"].any()
    # The annotation's keypoints through the crop (1e-3 px); an unannotated part is invalid.
    face = np.asarray(first["face_kpts"]).reshape(68, 3)
    A = crop_matrix(s["crop_center"], float(s["crop_scale"]), 96)
    ok = face[:, 2] > 0
    np.testing.assert_allclose(s["joints_2d"][23:91][ok], apply_affine(A, face[ok, :2]), atol=1e-3)
    assert s["valid_2d"][91:112].any() == bool(first["lefthand_valid"])


def test_h3wb_layout_and_camera(shared_data, tmp_path):
    npz = shared_data / "mmpose_wholebody_samples/h3wb/h3wb_train_bbox_subset.npz"
    data = h3wb.read_npz(npz)
    cams = json.loads((shared_data / "h36m_release/h36m_cameras.json").read_text())
    ours = Camera.from_dict(cams["S5"]["60457274"])
    theirs = h3wb.camera(data["metadata"], "S5", "60457274", ours.res_w, ours.res_h, npz)
    np.testing.assert_allclose(theirs.R, ours.R, atol=1e-6)
    np.testing.assert_allclose(theirs.t, ours.t, atol=0.01)  # mm
    np.testing.assert_allclose(theirs.f, ours.f, atol=1e-3)
    np.testing.assert_allclose(theirs.k, ours.k, atol=1e-6)  # its OpenCV-ordered distortion
    np.testing.assert_allclose(theirs.p, ours.p, atol=1e-6)
    # The converter on the real layout; the fixture's poses are placeholders, so they are
    # replaced by a pose seen through the real camera (a known answer), and the frame by a
    # blank image at the pattern's path.
    ((subject, actions),) = data["train_data"].items()
    ((action, entry),) = actions.items()
    rng = np.random.default_rng(0)
    world = rng.normal(0, 300, (133, 3)) + [0.0, 0.0, 900.0]
    joints = world_to_camera(ours, world)
    entry["60457274"]["camera_3d"] = (joints / 1000.0)[None]
    entry["60457274"]["pose_2d"] = np.asarray(project(theirs, joints))[None]
    frame = int(entry["frame_id"][0])
    path = tmp_path / "frames" / h3wb.PATTERN.format(subject=subject, action=action,
                                                      camera="60457274", frame=frame)  # fmt: skip
    path.parent.mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (ours.res_w, ours.res_h)).save(path)
    out = tmp_path / "h3wb.h5"
    assert h3wb.convert(data, npz, tmp_path / "frames", out, 64, {}) == 1
    source = H5Source(out)
    assert source.skeleton is COCO_WHOLEBODY133 and source.benchmark == "h3wb"
    np.testing.assert_allclose(source[0]["joints_cam"], joints, atol=1e-2)
    with pytest.raises(ValueError, match="unreadable"):
        h3wb.convert(data, npz, tmp_path / "nowhere", tmp_path / "x.h5", 64, {})


class _Payload:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(_Payload.target),))


def test_a_hostile_pickle_runs_nothing(tmp_path):
    _Payload.target = str(tmp_path / "pwned")
    evil = tmp_path / "cameras.pkl"
    evil.write_bytes(pickle.dumps({"S1": _Payload()}))
    with pytest.raises(safe_pickle.UnsafePickle, match="cameras.pkl: refused to unpickle pathlib"):
        safe_pickle.load(evil)
    assert not (tmp_path / "pwned").exists()
    # The 3DHP converter's camera reader uses it: the hostile file is refused, nothing runs.
    from data_prep import mpi_inf_3dhp

    with pytest.raises(ValueError, match="refused to unpickle"):
        mpi_inf_3dhp.load_cameras(evil)
    assert not (tmp_path / "pwned").exists()
    # Plain data and numpy arrays read as pickle.load would.
    good = {"R": np.eye(3), "f": np.float64(2.0), "names": ["a", 1, None], "t": (1, 2.5)}
    (tmp_path / "good.pkl").write_bytes(pickle.dumps(good))
    back = safe_pickle.load(tmp_path / "good.pkl")
    np.testing.assert_array_equal(back["R"], np.eye(3))
    assert back["names"] == ["a", 1, None] and back["t"] == (1, 2.5) and back["f"] == 2.0
