"""MPI-INF-3DHP: the converter on the real samples, the official test-set layout, the metrics."""

import shutil

import h5py
import numpy as np
import pytest

from c2f.data import H5Source
from c2f.evaluation.mpi_inf_3dhp import EVAL_JOINTS, evaluation_rows
from c2f.geometry import apply_affine, crop_matrix
from c2f.skeleton import H36M17, JOINT_NAMES
from data_prep import mpi_inf_3dhp as M
from tests.crop_check import crop_pixels_follow_the_original


@pytest.fixture(scope="module")
def samples(shared_data):
    return shared_data / "mmpose_3dhp_samples"


def test_preprocessed_samples_convert_with_their_cameras(samples, tmp_path):
    for split in ("train", "test"):
        people = M.read_npz(samples / f"test_3dhp_{split}.npz",
                            M.load_cameras(samples / f"cameras_{split}.pkl"))  # fmt: skip
        for s in people:  # the camera projects the 3D joints onto the 2D ones
            cam, X = s["camera"], s["joints_cam"]
            assert np.abs(cam.f * X[:, :2] / X[:, 2:] + cam.c - s["uv"]).max() < 3.0
        out = tmp_path / f"{split}.h5"
        assert M.main(["--npz", str(samples / f"test_3dhp_{split}.npz"), "--cameras",
                       str(samples / f"cameras_{split}.pkl"), "--images", str(samples),
                       "--out", str(out), "--crop-res", "96"]) == 0  # fmt: skip
        source = H5Source(out)
        assert source.args["sequences"] == ("S" if split == "train" else "TS")
        raw = np.load(samples / f"test_3dhp_{split}.npz")
        for i, s in enumerate(people):
            stored = source[i]
            # 3DHP's root (14) is our pelvis, its head top (0) our head; metres -> mm.
            np.testing.assert_allclose(stored["joints_cam"][0], 1000 * raw["S"][i, 14, :3],
                                       rtol=1e-6)  # fmt: skip
            np.testing.assert_allclose(stored["joints_cam"][JOINT_NAMES.index("Head")],
                                       1000 * raw["S"][i, 0, :3], rtol=1e-6)  # fmt: skip
            A = crop_matrix(stored["crop_center"], float(stored["crop_scale"]), 96)
            np.testing.assert_allclose(stored["joints_2d"], apply_affine(A, s["uv"]), atol=1e-3)
            assert stored["valid_3d"].all() and tuple(stored["image_size"]) == (2048, 2048)
        assert sorted(source.column("subject")) == sorted(s["subject"] for s in people)
        crop_pixels_follow_the_original(source, samples, [s["image"] for s in people])


def test_the_official_test_set_layout(samples, tmp_path):
    # TS1 as the release lays it out (annot_data.mat is MATLAB 7.3 = HDF5), three frames of
    # which the middle one is not valid; the annotation of the real TS1 frame for each.
    real = M.read_npz(samples / "test_3dhp_test.npz", M.load_cameras(samples / "cameras_test.pkl"))
    raw = np.load(samples / "test_3dhp_test.npz")
    ts1 = tmp_path / "TS1"
    (ts1 / "imageSequence").mkdir(parents=True)
    for i in (1, 2, 3):
        shutil.copy(samples / "TS1_002001.jpg", ts1 / "imageSequence" / f"img_{i:06d}.jpg")
    with h5py.File(ts1 / "annot_data.mat", "w") as f:
        f["annot2"] = np.repeat(raw["part"][:1, None, :, :2], 3, 0)
        f["univ_annot3"] = np.repeat(1000 * raw["S"][:1, None, :, :3], 3, 0)
        f["valid_frame"] = np.array([[1], [0], [1]])
        f["activity_annotation"] = np.array([[3], [3], [6]])
    got = M.read_test_set(tmp_path, M.load_cameras(samples / "cameras_test.pkl"), (1,))
    assert [g["frame"] for g in got] == [0, 2] and [g["subject"] for g in got] == [1, 1]
    assert [M.ACTIVITIES[g["activity"]] for g in got] == ["Sitting", "Sports"]
    np.testing.assert_allclose(got[0]["joints_cam"], real[0]["joints_cam"], rtol=1e-6)
    out = tmp_path / "ts.h5"
    assert (
        M.main(
            [
                "--test-set",
                str(tmp_path),
                "--cameras",
                str(samples / "cameras_test.pkl"),
                "--out",
                str(out),
                "--crop-res",
                "64",
            ]
        )
        == 2
    )  # TS2..TS6 are missing
    n = M.convert(got, tmp_path, out, 64, {})
    assert n == 2 and H5Source(out).action_names[2] == "Sitting"


def test_pck_and_auc_known_answers():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 300, (4, 17, 3))
    pred = gt.copy()
    off = np.zeros((4, 17, 3))
    off[:, list(EVAL_JOINTS[:7]), 0] = 99.0  # 7 joints 99 mm off, 7 joints 199 mm off
    off[:, list(EVAL_JOINTS[7:]), 0] = 199.0
    pred += off
    rows = evaluation_rows(pred, gt, [1, 1, 5, 3], skeleton=H36M17)
    assert rows["PCK3D@150mm (%)"] == pytest.approx(
        {"TS1": 50.0, "TS3": 50.0, "TS5": 50.0, "GS": 50.0, "noGS": 50.0, "Outdoor": 50.0,
         "All": 50.0})  # fmt: skip
    # Thresholds 0, 5, ..., 150: the 99 mm joints pass at 11 of the 31 (100 and up).
    assert rows["AUC (%)"]["All"] == pytest.approx(100 * 0.5 * 11 / 31)
    assert rows["MPJPE, 14 joints (mm)"]["TS5"] == pytest.approx(149.0)
    assert list(evaluation_rows(pred[:2], gt[:2], [4, 8], "S", skeleton=H36M17)["AUC (%)"]) == [
        "S4",
        "S8",
        "All",
    ]


def test_eval_on_a_3dhp_file_prints_the_benchmark(samples, micro_run, tmp_path, capsys):
    import eval as eval_cli

    out = tmp_path / "ts.h5"
    assert M.main(["--npz", str(samples / "test_3dhp_test.npz"), "--cameras",
                   str(samples / "cameras_test.pkl"), "--images", str(samples), "--out",
                   str(out), "--crop-res", "64"]) == 0  # fmt: skip
    assert eval_cli.main(["--workdir", str(micro_run), "--data", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Protocol 'mpi-inf-3dhp'" in text and "| PCK3D@150mm (%) |" in text
    header = next(line for line in text.splitlines() if line.startswith("| |"))
    assert "TS1 | TS2 | GS" in header and "Unknown" in header


def test_a_training_sequence_from_annot_mat_calibration_and_video(samples, tmp_path):
    import pickle

    import av
    from scipy.io import savemat

    from c2f.geometry import world_to_camera

    with open(samples / "cameras_train.pkl", "rb") as f:
        real = pickle.load(f)["S1_Seq1_Cam0"]
    R, T = np.asarray(real["R"]), 1000 * np.asarray(real["T"]).reshape(3)
    seq = tmp_path / "S1" / "Seq1"
    (seq / "imageSequence").mkdir(parents=True)
    lines = []
    for c in (0, 1):
        K = np.array([[300.0 + c, 0, 128, 0], [0, 300, 127, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
        E = np.eye(4)
        E[:3, :3], E[:3, 3] = R, T
        lines += [f"name          {c}", "  sensor      10 10", "  size        256 256",
                  "  animated    0", "  intrinsic   " + " ".join(map(str, K.ravel())),
                  "  extrinsic   " + " ".join(map(str, E.ravel())), "  radial      0"]  # fmt: skip
    (seq / "camera.calibration").write_text("Fitting camera parameters...\n" + "\n".join(lines))
    cams = M.read_calibration(seq / "camera.calibration")
    point = np.array([100.0, -200.0, 300.0])
    # (R is orthonormal to the file's 7 digits: a centre and back costs ~1e-3 mm)
    np.testing.assert_allclose(world_to_camera(cams[1], point[None])[0], R @ point + T, atol=1e-2)
    assert cams[1].f[0] == 301.0 and tuple(cams[0].c) == (128.0, 127.0)
    # 5 frames per camera; joint k of the 28 sits at x = k mm, so the mapping is visible.
    rng = np.random.default_rng(0)
    xyz = np.concatenate([rng.normal(0, 300, (5, 28, 2)), rng.uniform(3000, 4000, (5, 28, 1))], -1)
    xyz[..., 0] = np.arange(28)
    uv = 300 * xyz[..., :2] / xyz[..., 2:] + [128, 127]
    cell = np.empty((2, 1), object)
    cell[0, 0] = cell[1, 0] = xyz.reshape(5, -1)
    cell2 = np.empty((2, 1), object)
    cell2[0, 0] = cell2[1, 0] = uv.reshape(5, -1)
    savemat(seq / "annot.mat", {"annot3": cell, "annot2": cell2})
    for c in (0, 1):
        with av.open(str(seq / "imageSequence" / f"video_{c}.avi"), "w") as container:
            stream = container.add_stream("mpeg4", rate=25)
            stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
            for t in range(5):
                image = np.full((256, 256, 3), 40 * t, np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    got = list(M.read_sequence(seq, 1, [0, 1], step=2))
    assert [(g["camera_index"], g["frame"]) for g in got] == [(0, 0), (0, 2), (0, 4), (1, 0),
                                                               (1, 2), (1, 4)]  # fmt: skip
    # Our pelvis is 3DHP's root, the 28's pelvis (4); our head top the 28's head_top (7).
    head = JOINT_NAMES.index("Head")
    assert got[1]["joints_cam"][0, 0] == 4 and got[1]["joints_cam"][head, 0] == 7
    converted = tmp_path.parent / f"{tmp_path.name}-train.h5"
    argv = ["--train", str(tmp_path), "--subjects", "1", "--cameras-used", "1", "--step", "2",
            "--out", str(converted), "--crop-res", "64"]  # fmt: skip
    assert M.main(argv) == 2  # Seq2 is missing
    (tmp_path / "S1" / "Seq2").symlink_to(seq)  # the converter reads Seq1 and Seq2
    assert M.main(argv) == 0
    # (the output lies outside the folder the converter reads: the output rule)
    source = H5Source(converted)
    assert len(source) == 6 and source.args["sequences"] == "S"
    assert set(source.column("camera")) == {1} and list(source.column("frame")[:3]) == [0, 2, 4]


def test_bad_3dhp_inputs_are_named(samples, tmp_path):
    bad = tmp_path / "cams.pkl"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="cams.pkl: not a 3DHP camera file"):
        M.load_cameras(bad)
    z = dict(np.load(samples / "test_3dhp_test.npz"))
    z["imgname"] = np.array(["frame_1.jpg", "TS1_000002.jpg"])
    np.savez(tmp_path / "renamed.npz", **z)
    cams = M.load_cameras(samples / "cameras_test.pkl")
    with pytest.raises(ValueError, match="renamed.npz: image 'frame_1.jpg' is not like"):
        M.read_npz(tmp_path / "renamed.npz", cams)
    (tmp_path / "camera.calibration").write_text("nothing here\n")
    with pytest.raises(ValueError, match="camera.calibration: no camera found"):
        M.read_calibration(tmp_path / "camera.calibration")
