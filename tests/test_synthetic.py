import io

import numpy as np
import pytest
from PIL import Image

from c2f.data.schema import open_dataset
from c2f.geometry import project, world_to_camera
from c2f.h36m import ACTIONS
from c2f.skeleton import H36M17, bone_lengths
from data_prep.synthetic import poses as P
from data_prep.synthetic.generate import preview, render_sample
from data_prep.synthetic.scene import subject_cameras


def test_poses_keep_the_subjects_bones_and_stand_on_the_floor():
    rng = np.random.default_rng(0)
    for subject in (1, 9):
        lengths = P.subject_bone_lengths(subject)
        for action in ACTIONS:
            pose = P.sample_pose(action, subject, rng)
            np.testing.assert_allclose(bone_lengths(pose, skeleton=H36M17), lengths, atol=1e-6)
            assert pose[:, 2].min() >= 0.0 and min(pose[3, 2], pose[6, 2]) == pytest.approx(80.0)
            assert pose[10, 2] > max(pose[2, 2], pose[5, 2])  # head above the knees, always
    # Subjects differ in size; left and right limbs match within a subject.
    a, b = P.subject_bone_lengths(1), P.subject_bone_lengths(5)
    assert np.abs(a - b).max() > 5.0
    assert a[1] == a[4] and a[11] == a[14]


def test_knees_and_elbows_bend_the_human_way():
    rng = np.random.default_rng(1)
    for _ in range(50):
        angles = P.sample_angles("SittingDown", rng)
        body = P.forward_kinematics(angles, P.subject_bone_lengths(1))
        # Knees flex backwards: the ankle lies behind the thigh's line (y is forward).
        thigh = body[5] - body[4]
        shank = body[6] - body[5]
        assert np.cross(thigh, shank)[0] <= 1e-6  # a backwards turn is negative about +x (left)
    with pytest.raises(ValueError, match="action"):
        P.sample_angles("Dancing", rng)


def test_spread_widens_each_family_towards_the_joint_limits():
    for action in ("Sitting", "Greeting"):
        assert P.angle_ranges(action, 0.0) == P.FAMILIES[action]
        assert P.angle_ranges(action, 1.0) == {k: P.JOINT_LIMITS[k] for k in P.FAMILIES[action]}
    lo, hi = P.FAMILIES["Sitting"]["knee_l"]
    low, high = P.angle_ranges("Sitting", 0.5)["knee_l"]
    assert (low, high) == (lo - 0.5 * (lo - 0), hi + 0.5 * (145 - hi))
    # Sampled poses stay within the limits and reach beyond the family.
    rng = np.random.default_rng(2)
    knees = np.rad2deg([P.sample_angles("Sitting", rng, 0.5)["knee_l"] for _ in range(400)])
    assert knees.min() >= low and knees.max() <= high and knees.min() < lo and knees.max() > hi
    with pytest.raises(ValueError, match="spread"):
        P.angle_ranges("Sitting", 1.5)


def test_cameras_surround_the_subject_at_realistic_distances():
    cams = subject_cameras(9)
    for cam in cams.values():
        assert 3400 < np.linalg.norm(cam.t[:2]) < 6600 and 1200 <= cam.t[2] <= 1900
        centre = world_to_camera(cam, np.array([0.0, 0.0, 900.0]))
        assert centre[2] > 3000 and np.all(np.abs(project(cam, centre) - cam.c) < 150)
    assert subject_cameras(7)["55011271"].res_h == 1002


def test_rendered_joints_are_on_the_body_and_deterministic():
    cam = subject_cameras(1)["54138969"]
    pose = P.sample_pose("Walking", 1, np.random.default_rng(3))
    a = render_sample(pose, cam, 128, np.random.default_rng(4))
    b = render_sample(pose, cam, 128, np.random.default_rng(4))
    assert a["image"] == b["image"]
    image = np.asarray(Image.open(io.BytesIO(a["image"])).convert("HSV"))
    uv = np.round(a["joints_2d"]).astype(int)
    assert np.all((uv >= 0) & (uv < 128))
    # Body parts are saturated colours, the background is greyish.
    sat_joints = image[uv[:, 1], uv[:, 0], 1]
    assert np.mean(sat_joints > 70) >= 0.9
    assert np.median(image[:8, :, 1]) < 50


def test_split_file_and_preview(synthetic_split, tmp_path):
    with open_dataset(synthetic_split) as f:
        assert f.attrs["source"] == "synthetic" and len(f["image"]) == 15 * 2 * 4
        assert sorted(set(f["action"][:])) == list(range(15))
        assert set(f["camera"][:]) == {0, 1, 2, 3} and set(f["subject"][:]) == {1}
    preview(synthetic_split, tmp_path / "p.png", n=4)
    assert Image.open(tmp_path / "p.png").size == (256, 256)


def test_motion_is_continuous_keeps_the_bones_and_is_stored_as_runs(tmp_path):
    from c2f.data.schema import open_dataset
    from c2f.evaluation.temporal import sequences
    from data_prep.synthetic import motion
    from data_prep.synthetic.generate import write_split

    rng = np.random.default_rng(0)
    lengths = P.subject_bone_lengths(9)
    for action in ("Walking", "Sitting"):
        track = motion.sequence(action, 9, np.arange(120), rng)
        for frame in track[::17]:
            np.testing.assert_allclose(bone_lengths(frame, skeleton=H36M17), lengths, atol=1e-6)
        step = np.linalg.norm(np.diff(track, axis=0), axis=-1)
        accel = np.linalg.norm(track[:-2] - 2 * track[1:-1] + track[2:], axis=-1)
        # Smooth at 50 fps: joints move < 100 mm (5 m/s) and accelerate < 20 mm/frame^2.
        assert step.max() < 100 and accel.max() < 20, (action, step.max(), accel.max())
        assert track[:, [3, 6], 2].min() == pytest.approx(80.0, abs=1.0)
    walk = motion.sequence("Walking", 9, np.arange(0, 250, 5), rng)
    assert np.linalg.norm(walk[-1, 0, :2] - walk[0, 0, :2]) > 500  # walking goes somewhere
    # The same frames, drawn at another step, follow the same motion (same rng state).
    a = motion.sequence("Sitting", 1, np.arange(0, 50, 5), np.random.default_rng(7))
    b = motion.sequence("Sitting", 1, np.arange(0, 50), np.random.default_rng(7))[::5]
    np.testing.assert_allclose(a, b, atol=1e-9)
    # Stored: each (subject, action, subaction, camera) is one run of consecutive frames.
    path = tmp_path / "test.h5"
    write_split(path, ["S9"], poses=3, crop_res=32, seed=0, workers=1, args={}, frame_step=1)
    with open_dataset(path) as f:
        columns = {k: f[k][:] for k in ("subject", "action", "subaction", "camera", "frame")}
    runs = sequences(columns)
    assert len(runs) == 15 * 2 * 4 and all(list(columns["frame"][r]) == [0, 1, 2] for r in runs)
    # Evaluation computes temporal errors on such files, never on independent poses.
    from c2f.data import H5Source

    assert not H5Source(path).independent_frames
    write_split(tmp_path / "still.h5", ["S9"], poses=1, crop_res=32, seed=0, workers=1, args={})
    assert H5Source(tmp_path / "still.h5").independent_frames


def test_a_rendered_clip_and_its_ground_truth(tmp_path):
    import json

    import av

    from data_prep.synthetic.clip import main

    out = tmp_path / "clip.mp4"
    argv = ["--out", str(out), "--seconds", "0.2", "--step", "2", "--size", "48"]
    assert main([*argv, "--body", "capsules"]) == 0  # bodies: tests/test_body_e2e.py
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    truth = np.load(out.with_suffix(".npz"))
    assert len(frames) == 5 and frames[0].shape == (48, 48, 3) and float(truth["fps"]) == 25
    assert list(truth["frame"]) == [0, 2, 4, 6, 8]
    # K maps the camera-frame joints onto the clip's pixels (no distortion in the synthetic
    # cameras), and every box holds its frame's joints, inside the frame.
    uvw = truth["joints_cam"] @ truth["K"].T
    np.testing.assert_allclose(uvw[..., :2] / uvw[..., 2:], truth["joints_2d"], atol=1e-6)
    boxes = np.array(json.loads(out.with_suffix(".boxes.json").read_text()))
    assert boxes.shape == (5, 4)
    assert np.all(boxes[:, :2] <= truth["joints_2d"].min(1) + 0.1)
    assert np.all(boxes[:, 2:] >= truth["joints_2d"].max(1) - 0.1)
    assert boxes.min() >= 0 and boxes.max() <= 48


def test_train_seq_split_added_to_a_dataset_folder(tmp_path, capsys):
    """``--splits train_seq --train-seq-poses N``: the training subjects' consecutive frames
    from 2 cameras, beside the other splits, which are left as they are."""
    from c2f.cli import main as c2f_main
    from c2f.h36m import TRAIN_SUBJECTS

    out = tmp_path / "d"
    out.mkdir()
    (out / "test.h5").write_bytes(b"an older split: untouched")
    base = ["data", "synthetic", "--out", str(out), "--body", "capsules", "--crop-res", "32",
            "--workers", "1", "--splits", "train_seq"]  # fmt: skip
    with pytest.raises(SystemExit):
        c2f_main(base)  # no length given
    assert "give its length with --train-seq-poses" in capsys.readouterr().err
    assert c2f_main([*base, "--train-seq-poses", "3"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["test.h5", "train_seq.h5"]
    assert (out / "test.h5").read_bytes() == b"an older split: untouched"
    with open_dataset(out / "train_seq.h5") as f:
        subjects = {f"S{s}" for s in f["subject"][:]}
        assert subjects == set(TRAIN_SUBJECTS)
        assert set(f["camera"][:].tolist()) == {0, 1}
        assert sorted(set(f["frame"][:].tolist())) == [0, 1, 2]  # consecutive 50 fps frames
        assert len(f["image"]) == len(TRAIN_SUBJECTS) * len(ACTIONS) * 2 * 2 * 3
