"""InterHand2.6M: the converter on the 4 real frames, the benchmark's rows, and a whole run on a
non-17 skeleton (train, evaluate with the benchmark's rows, predict, draw, export)."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from c2f.data import H5Source
from c2f.evaluation import benchmarks
from c2f.geometry import apply_affine, crop_matrix
from c2f.skeleton import INTERHAND42
from data_prep import interhand

FOLDER = "mmpose_hand_samples/interhand2.6m"


def _argv(folder, out):
    return ["--data", str(folder / "test_interhand2.6m_data.json"),
            "--joints", str(folder / "test_interhand2.6m_joint_3d.json"),
            "--cameras", str(folder / "test_interhand2.6m_camera.json"),
            "--images", str(folder), "--out", str(out), "--crop-res", "96"]  # fmt: skip


@pytest.fixture(scope="module")
def converted(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("interhand") / "test.h5"
    assert interhand.main(_argv(shared_data / FOLDER, out)) == 0
    return out


def test_converter_known_answers(shared_data, converted):
    folder = shared_data / FOLDER
    data = json.loads((folder / "test_interhand2.6m_data.json").read_text())
    joints = json.loads((folder / "test_interhand2.6m_joint_3d.json").read_text())
    cameras = json.loads((folder / "test_interhand2.6m_camera.json").read_text())
    source = H5Source(converted)
    assert source.skeleton is INTERHAND42 and source.benchmark == "interhand2.6m"
    assert len(source) == len(data["annotations"]) == 4
    images = {im["id"]: im for im in data["images"]}
    for i, ann in enumerate(data["annotations"]):
        image = images[ann["image_id"]]
        cap, cam = str(image["capture"]), str(image["camera"])
        world = np.asarray(joints[cap][str(image["frame_idx"])]["world_coord"])
        R = np.asarray(cameras[cap]["camrot"][cam])
        expected = (R @ (world - np.asarray(cameras[cap]["campos"][cam])).T).T
        valid = np.asarray(ann["joint_valid"]).reshape(-1) > 0
        s = source[i]
        np.testing.assert_array_equal(s["valid_3d"], valid.astype(np.uint8))
        np.testing.assert_allclose(s["joints_cam"][valid], expected[valid], atol=1e-3)
        # Stored 2D = the pinhole projection through the stored crop; inside the annotation box.
        f, c = np.asarray(cameras[cap]["focal"][cam]), np.asarray(cameras[cap]["princpt"][cam])
        uv = expected[:, :2] / expected[:, 2:] * f + c
        A = crop_matrix(s["crop_center"], float(s["crop_scale"]), 96)
        np.testing.assert_allclose(s["joints_2d"][valid], apply_affine(A, uv)[valid], atol=1e-3)
        x, y, w, h = ann["bbox"]
        assert np.all((uv[valid] >= [x - 1, y - 1]) & (uv[valid] <= [x + w + 1, y + h + 1]))
        assert source.action_names[s["action"]] == ann["hand_type"]
        if ann["hand_type"] == "right":  # an absent hand has validity 0
            assert not valid[21:].any() and valid[:21].any()


def test_converter_names_bad_files(shared_data, tmp_path, capsys):
    folder = shared_data / FOLDER
    bad = tmp_path / "data.json"
    bad.write_text("{not json")
    argv = _argv(folder, tmp_path / "o.h5")
    argv[1] = str(bad)
    assert interhand.main(argv) == 2
    assert f"{bad}: not the release's data JSON" in capsys.readouterr().err
    cameras = json.loads((folder / "test_interhand2.6m_camera.json").read_text())
    cameras = {k: {**v, "campos": {}} for k, v in cameras.items()}
    (tmp_path / "cams.json").write_text(json.dumps(cameras))
    argv = _argv(folder, tmp_path / "o.h5")
    argv[5] = str(tmp_path / "cams.json")
    assert interhand.main(argv) == 2
    assert "no camera" in capsys.readouterr().err
    assert not (tmp_path / "o.h5").exists()


def _result(gt_cam, pred_cam, valid):
    roots = np.asarray(INTERHAND42.root_of)
    return {"pred_mm": pred_cam - pred_cam[:, roots], "joints_rel_mm": gt_cam - gt_cam[:, roots],
            "joints_mm": pred_cam, "joints_cam": gt_cam, "valid_3d": valid}  # fmt: skip


class _Source:
    action_names = ("right", "left", "interacting")


def test_interhand_rows_known_answers():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 50, (3, 42, 3)) + [0, 0, 1000]
    pred = gt.copy()
    pred[:, :21] += [5.0, 0.0, 0.0]  # the right hand moved 5 mm: no error after its alignment
    pred[:, 3] += [0.0, 12.0, 0.0]  # one right-hand joint 12 mm off
    valid = np.ones((3, 42), bool)
    valid[0, 21:] = False  # frame 0: a right hand alone (its left joints are not scored)
    pred[0, 30] += 1000.0  # ... whatever the prediction says there
    result = _result(gt, pred, valid)
    rows = benchmarks.interhand_rows(result, {"action": np.array([0, 2, 2])}, _Source(),
                                     INTERHAND42)  # fmt: skip
    mpjpe = rows["MPJPE (mm), each hand at its wrist"]
    assert mpjpe["single"] == pytest.approx(12.0 / 21)
    assert mpjpe["interacting"] == pytest.approx(12.0 / 42)
    # MRRPE: the right wrist moved 5 mm in x, the left not: the vector is 5 mm off.
    assert rows["MRRPE (mm), right-to-left wrist"]["interacting"] == pytest.approx(5.0)


def test_wholebody_rows_known_answers():
    from c2f.skeleton import COCO_WHOLEBODY133 as WB

    rng = np.random.default_rng(1)
    gt = rng.normal(0, 300, (2, 133, 3))
    pred = gt.copy()
    face = [0, *range(23, 91)]  # the nose (body keypoint 1) and the 68 face points
    pred[:, face] += [0.0, 30.0, 0.0]  # 30 mm off at the pelvis, 0 aligned at the nose
    pred[:, 91:112] += [8.0, 0.0, 0.0]  # the left hand shifted: 0 aligned at its wrist
    result = {"pred_mm": pred, "joints_rel_mm": gt, "valid_3d": np.ones((2, 133), bool)}
    rows = benchmarks.wholebody_rows(result, {}, None, WB)
    pelvis = rows["MPJPE (mm), pelvis-aligned"]
    assert pelvis["face"] == pytest.approx(30.0)
    assert pelvis["body"] == pytest.approx(30.0 / 23)  # the nose, one of 23 body and feet
    assert pelvis["hands"] == pytest.approx(4.0)  # 21 of 42 hand joints 8 mm off
    assert pelvis["All"] == pytest.approx((69 * 30.0 + 21 * 8.0) / 133)
    part = rows["MPJPE (mm), part-aligned"]
    assert part["face"] == pytest.approx(0.0, abs=1e-9)
    assert part["hands"] == pytest.approx(0.0, abs=1e-9)


@pytest.fixture(scope="module")
def hand_run(converted, micro_cfg, tmp_path_factory):
    """A micro run on the 4 real InterHand2.6M frames (train = test): a 42-joint model."""
    from c2f.config import apply_overrides
    from c2f.train.loop import train

    root = tmp_path_factory.mktemp("hand_data")
    shutil.copy(converted, root / "train.h5")
    shutil.copy(converted, root / "test.h5")
    # No protocol override: the in-training evaluation follows the file's benchmark
    # (InterHand2.6M: all frames, each hand at its wrist), whatever the recipe says.
    overrides = [f"data.root={str(root)!r}", "train.steps=2", "train.batch_size=2",
                 "train.checkpoint_every=2"]  # fmt: skip
    cfg = apply_overrides(micro_cfg, overrides)
    assert cfg.train.protocol == "p1-gt-root"
    workdir = tmp_path_factory.mktemp("hand_run")
    train(cfg, workdir, progress=False)
    return workdir


def test_a_hand_run_end_to_end(hand_run, converted, shared_data, tmp_path, capsys):
    from c2f.checkpoint import load_model
    from c2f.cli import main as c2f_main

    cfg, *_ = load_model(hand_run)
    assert cfg.model.skeleton is INTERHAND42 and cfg.model.joints == 42
    assert (cfg.depth_bins.min_mm, cfg.depth_bins.max_mm) == INTERHAND42.depth_range_mm
    # Evaluate: the benchmark's rows, and MPJPE over the annotated joints only.
    assert c2f_main(["eval", "--workdir", str(hand_run), "--vis", "2"]) == 0
    text = capsys.readouterr().out
    assert "Protocol 'all-frames'" in text and "MPJPE (mm), each hand at its wrist" in text
    assert "MRRPE (mm), right-to-left wrist" in text
    # Predict: hands have no mean bones, so the root depth is asked for, then used.
    photos = [shared_data / FOLDER / "image2017.jpg"]
    out = tmp_path / "poses"
    run = ["predict", *map(str, photos), "--workdir", str(hand_run), "--out", str(out)]
    assert c2f_main(run) == 2
    assert "no mean bone lengths" in capsys.readouterr().err
    assert c2f_main([*run, "--root-depth", "1000,1000", "--K", "1200,1200,167,256"]) == 0
    record = json.loads((out / "image2017.json").read_text())
    assert record["skeleton"] == "interhand42" and len(record["joints_2d_px"]) == 42
    cam = np.asarray(record["joints_3d_camera_mm"])
    np.testing.assert_allclose(cam[[20, 41], 2], 1000.0, atol=1e-3)  # each wrist at its depth
    assert Image.open(out / "image2017_pose.jpg").size[0] > Image.open(photos[0]).size[0]
    # Export: the artifact takes the root depth and records the skeleton.
    artifact = tmp_path / "hands.zip"
    assert c2f_main(["export", "--workdir", str(hand_run), "--format", "stablehlo",
                     "--platforms", "cpu", "--out", str(artifact)]) == 0  # fmt: skip
    from c2f.serving.deploy import load

    runtime = load(artifact, root_depth_mm=[1000.0, 1000.0])
    assert runtime.skeleton is INTERHAND42
    assert "root_depth_mm" in runtime.meta["inputs"]
    assert runtime.meta["joints"] == 42  # (the export command itself ran it beside the Predictor)
    with pytest.raises(ValueError, match="no mean bone lengths"):
        load(artifact)
    # Edited metadata is caught when the artifact loads, not at its first call.
    import zipfile

    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(artifact) as src, zipfile.ZipFile(edited, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "meta.json":
                data = json.dumps({**json.loads(data), "joints": 17}).encode()
            dst.writestr(name, data)
    with pytest.raises(ValueError, match="meta.json does not describe its program"):
        load(edited, root_depth_mm=[1000.0, 1000.0])
