"""Importing the paper authors' annotation files (c2f-vol-demo), with stand-in images."""

import json
import shutil

import h5py
import numpy as np
import pytest
from PIL import Image

from c2f.data.schema import open_dataset
from c2f.geometry import Camera, DepthBins, apply_affine, crop_matrix, project
from c2f.h36m import ACTIONS, CAMERAS
from data_prep import c2f_annot
from data_prep.sample import CROP_MARGIN

N = 6


@pytest.fixture(scope="module")
def demo(shared_data, tmp_path_factory):
    annot = shared_data / "c2f_vol_demo/data/h36m-sample/annot"
    images = tmp_path_factory.mktemp("images")
    names = (annot / "valid_images.txt").read_text().split()[:N]
    rng = np.random.default_rng(0)
    for name in names:  # the real frames are not public: same-size stand-ins
        Image.fromarray(rng.integers(0, 255, (1000, 1000, 3), np.uint8)).save(images / name)
    return annot, images, names


def test_parse_name():
    ids = c2f_annot.parse_name("S9_Posing_1.55011271_000006.jpg")
    assert ids == {"subject": 9, "action": ACTIONS.index("Posing"), "subaction": 1,
                   "camera": CAMERAS.index("55011271"), "frame": 5}  # fmt: skip
    assert c2f_annot.parse_name("S1_TakingPhoto.54138969_000001")["action"] == ACTIONS.index(
        "Photo"
    )
    with pytest.raises(ValueError, match="image name"):
        c2f_annot.parse_name("frame_0001.jpg")


def test_valid_split_with_real_cameras(demo, shared_data, tmp_path):
    from scipy.io import loadmat

    annot, images, names = demo
    out = tmp_path / "valid.h5"
    meta = str(shared_data / "h36m_release/metadata.xml")
    argv = ["--annot", str(annot), "--images", str(images), "--out", str(out), "--limit", str(N),
            "--metadata", meta, "--crop-res", "256"]  # fmt: skip
    assert c2f_annot.main(argv) == 0
    mat = loadmat(annot / "valid.mat", squeeze_me=True)["annot"]
    cams = json.loads((shared_data / "h36m_release/h36m_cameras.json").read_text())
    cam = Camera.from_dict(cams["S9"]["55011271"])
    with open_dataset(out) as f:
        assert len(f["image"]) == N and f.attrs["source"] == "c2f_annot"
        for i in range(N):
            S = mat["S"].item()[i].T
            np.testing.assert_allclose(f["joints_cam"][i], S, atol=1e-3)
            np.testing.assert_allclose(f["center"][i], mat["center"].item()[i], atol=1e-4)
            np.testing.assert_allclose(f["scale"][i], mat["scale"].item()[i], atol=1e-6)
            A = crop_matrix(mat["center"].item()[i], mat["scale"].item()[i] * CROP_MARGIN, 256)
            np.testing.assert_allclose(
                f["joints_2d"][i], apply_affine(A, project(cam, S)), atol=1e-3
            )
            np.testing.assert_allclose(f["intrinsics"][i], [*cam.f, *cam.c], atol=1e-4)
            assert f["frame"][i] == 5 * i and f["subject"][i] == 9
        # The stored crop is the stand-in frame's box, resampled.
        assert f["image_size"][0].tolist() == [1000, 1000]


def test_training_format_with_part_and_zind(demo, tmp_path):
    from scipy.io import loadmat

    annot, images, names = demo
    mat = loadmat(annot / "valid.mat", squeeze_me=True)["annot"]
    S = mat["S"].item()[:N].transpose(0, 2, 1)
    K = mat["K"].item()[0]
    cam = Camera.from_intrinsics(K)
    part = np.stack([project(cam, s, distortion=False) for s in S])
    bins = DepthBins()
    zind = np.floor(bins.to_bins(S[:, :, 2] - S[:, :1, 2]) + 0.5) + 1  # 1-based, as the authors
    train_dir = tmp_path / "annot"
    train_dir.mkdir()
    with h5py.File(train_dir / "train.h5", "w") as f:
        f["part"], f["zind"] = part, zind
        f["center"], f["scale"] = mat["center"].item()[:N], mat["scale"].item()[:N]
    (train_dir / "train_images.txt").write_text("\n".join(names))
    out = tmp_path / "train.h5"
    n = c2f_annot.convert(train_dir, images, out, "train", 128)
    assert n == N
    with open_dataset(out) as f:
        assert json.loads(f.attrs["args"])["joints_cam"] == "from zind"
        joints = f["joints_cam"][...]
        rel = joints[:, :, 2] - joints[:, :1, 2]
        true_rel = S[:, :, 2] - S[:, :1, 2]
        # Both the joint and the root are quantised to a bin: at most one bin apart.
        assert np.abs(rel - true_rel).max() <= bins.bin_width_mm() + 1e-3
        # 2D is exact: re-projecting the rebuilt joints gives the authors' part.
        for i in range(N):
            A = crop_matrix(mat["center"].item()[i], mat["scale"].item()[i] * CROP_MARGIN, 128)
            np.testing.assert_allclose(f["joints_2d"][i], apply_affine(A, part[i]), atol=1e-3)
            nominal = Camera.from_intrinsics(c2f_annot.NOMINAL_K)  # no K in training h5 files
            np.testing.assert_allclose(project(nominal, joints[i]), part[i], atol=1e-3)


def test_missing_inputs_are_named(demo, tmp_path):
    annot, images, names = demo
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="names the images"):
        c2f_annot.load_annotations(empty, "valid")
    partial = tmp_path / "partial"
    shutil.copytree(images, partial)
    (partial / names[2]).unlink()
    out = tmp_path / "x.h5"
    with pytest.raises(ValueError, match=f"{names[2]}.*missing"):
        c2f_annot.convert(annot, partial, out, "valid", 64, limit=N)
    assert not out.exists()
