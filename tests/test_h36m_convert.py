"""The Human3.6M converter on a fake release tree with the REAL metadata.xml."""

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from c2f.data.schema import open_dataset
from c2f.geometry import Camera, apply_affine, box_from_joints, crop_matrix, project
from c2f.geometry.camera import world_to_camera
from c2f.skeleton import H36M32_INDICES
from data_prep.h36m.convert import crop_frame
from data_prep.h36m.metadata import MetadataError, parse_metadata, protocol_frame_count
from data_prep.sample import CROP_MARGIN
from data_prep.synthetic.poses import sample_pose
from data_prep.synthetic.render import render


def test_metadata_parser_matches_the_decoded_json(shared_data):
    release = shared_data / "h36m_release"
    meta = parse_metadata(release / "metadata.xml")
    cams = json.loads((release / "h36m_cameras.json").read_text())
    seqs = json.loads((release / "h36m_sequences.json").read_text())
    for subject, per_cam in cams.items():
        if subject == "_meta":
            continue
        for cam_id, expected in per_cam.items():
            ours = meta["cameras"][subject][cam_id]
            for key, value in expected.items():
                if key != "t_w2c":
                    np.testing.assert_allclose(ours[key], value, rtol=0, atol=1e-9)
    assert meta["camera_ids"] == seqs["cameras"]
    for subject, expected in seqs.items():
        if subject not in ("_meta", "cameras"):
            assert meta["sequences"][subject] == expected, subject
    with pytest.raises(MetadataError, match="no such file"):
        parse_metadata(release / "nope.xml")
    # The authors' test list (c2f-vol-train README: -validIters 109867) is every 5th frame of
    # each sequence's pose data (mocap frames / 4); by video frames it would be 114,872.
    assert protocol_frame_count(meta["sequences"]) == 109_867


def _write_cdf(path, joints17):
    from cdflib.cdfwrite import CDF

    n = len(joints17)
    pose = np.zeros((n, 32, 3), np.float32)
    pose[:, H36M32_INDICES] = joints17
    path.parent.mkdir(parents=True, exist_ok=True)
    cdf = CDF(str(path), delete=True)
    spec = {"Variable": "Pose", "Data_Type": CDF.CDF_FLOAT, "Num_Elements": 1,
            "Rec_Vary": True, "Dim_Sizes": [n, 96]}  # fmt: skip
    cdf.write_var(spec, var_data=pose.reshape(1, n, 96))
    cdf.close()


def _write_video(path, frames):
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=50)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "2"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _sequence(root, meta, subject, prefix, cam_id, n_video, n_cdf, rng, nan=False, corrupt=False):
    cam = Camera.from_dict(meta["cameras"][subject][cam_id])
    world = [sample_pose("Walking", 1, rng) for _ in range(n_cdf)]
    joints = np.stack([world_to_camera(cam, w) for w in world])
    if nan:
        joints[3, 5, 1] = np.nan
    _write_cdf(
        root / subject / "MyPoseFeatures/D3_Positions_mono" / f"{prefix}.{cam_id}.cdf", joints
    )
    video = root / subject / "Videos" / f"{prefix}.{cam_id}.mp4"
    if corrupt:
        video.parent.mkdir(parents=True, exist_ok=True)
        video.write_bytes(rng.bytes(5000))
        return joints
    side = max(cam.res_w, cam.res_h)
    frames = []
    for j in joints[:n_video]:
        img = render(np.nan_to_num(j), cam.K, cam.R, cam.t, np.eye(3)[:2], side, rng)
        frames.append(np.ascontiguousarray(img[: cam.res_h, : cam.res_w]))
    _write_video(video, frames)
    return joints


@pytest.fixture(scope="module")
def converted(shared_data, tmp_path_factory):
    from data_prep.h36m.__main__ import main

    root = tmp_path_factory.mktemp("release")
    out = tmp_path_factory.mktemp("converted")
    shutil.copy(shared_data / "h36m_release/metadata.xml", root / "metadata.xml")
    meta = parse_metadata(root / "metadata.xml")
    rng = np.random.default_rng(0)
    truth = {
        ("S1", "54138969"): _sequence(root, meta, "S1", "Directions 1", "54138969", 12, 14, rng),
        ("S1", "55011271"): _sequence(root, meta, "S1", "Directions 1", "55011271", 11, 11, rng),
        ("S11", "58860488"): _sequence(root, meta, "S11", "Walking 1", "58860488", 6, 6, rng),
    }
    _sequence(root, meta, "S11", "Directions", "54138969", 6, 6, rng, corrupt=True)
    _sequence(root, meta, "S11", "Walking 1", "60457274", 6, 6, rng, nan=True)
    argv = ["--root", str(root), "--out", str(out), "--subjects", "S1", "S11", "--workers", "2",
            "--crop-res", "192"]  # fmt: skip
    assert main(argv) == 0
    return root, out, meta, truth, argv


def test_converted_samples_match_the_sources(converted):
    _, out, meta, truth, _ = converted
    with open_dataset(out / "train.h5") as f:
        assert f.attrs["source"] == "h36m"
        assert sorted(f["frame"][f["camera"][:] == 0]) == [0, 5, 10]  # step 5 of min(12, 14)
        assert sorted(f["frame"][f["camera"][:] == 1]) == [0, 5, 10]
        for i in range(len(f["image"])):
            cam_id = ("54138969", "55011271")[f["camera"][i]]
            cam = Camera.from_dict(meta["cameras"]["S1"][cam_id])
            joints = truth[("S1", cam_id)][f["frame"][i]]
            np.testing.assert_allclose(f["joints_cam"][i], joints, atol=1e-3)
            uv = project(cam, joints)
            center, scale = box_from_joints(uv)
            np.testing.assert_allclose(f["center"][i], center, atol=1e-3)
            A = crop_matrix(center, scale * CROP_MARGIN, 192)
            np.testing.assert_allclose(f["joints_2d"][i], apply_affine(A, uv), atol=1e-3)
            assert f["subject"][i] == 1 and f["action"][i] == 0 and f["subaction"][i] == 1
            # The joints sit on the rendered body: saturated colours, not the grey background.
            hsv = np.asarray(Image.open(io.BytesIO(f["image"][i].tobytes())).convert("HSV"))
            px = np.round(f["joints_2d"][i]).astype(int)
            assert np.mean(hsv[px[:, 1], px[:, 0], 1] > 60) > 0.8
    with open_dataset(out / "test.h5") as f:
        assert len(f["image"]) == 2 and set(f["subject"][:]) == {11}


def test_summary_reports_bad_and_mismatched_sequences(converted):
    _, out, *_ = converted
    summary = json.loads((out / "summary.json").read_text())
    bad = {b["sequence"]: b for b in summary["bad_sequences"]}
    corrupt = bad["S11/Directions.54138969"]
    assert "corrupt video" in corrupt["reason"] or "no frames" in corrupt["reason"]
    assert corrupt["known"]
    assert "NaN" in bad["S11/Walking 1.60457274"]["reason"]
    assert "missing CDF" in bad["S1/Eating 2.54138969"]["reason"]
    assert {"sequence": "S1/Directions 1.54138969", "cdf_minus_video_frames": 2} in summary[
        "length_mismatches"
    ]
    assert summary["frames_per_subject_action"] == {"S1": {"Directions": 6}, "S11": {"Walking": 2}}
    assert not list(out.rglob("*.tmp-*"))  # no partial files anywhere


def test_a_second_run_resumes(converted):
    from data_prep.h36m.__main__ import main

    _, out, _, _, argv = converted
    before = (out / "parts/S1/Directions 1.54138969.h5").stat().st_mtime_ns
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sequences"]["skipped"] == 3 and summary["frames_converted_this_run"] == 0
    assert (out / "parts/S1/Directions 1.54138969.h5").stat().st_mtime_ns == before
    with open_dataset(out / "train.h5") as f:
        assert len(f["image"]) == 6


def test_crop_of_a_real_frame_puts_joints_where_stored(shared_data):
    cams = json.loads((shared_data / "h36m_release/h36m_cameras.json").read_text())
    d = np.load(shared_data / "mmpose_h36m_samples/test_h36m_body3d.npz")
    for name, S in zip(d["imgname"], d["S"]):
        subject, cam_id = name.split("/")[0], name.split(".")[-2].split("_")[0]
        cam = Camera.from_dict(cams[subject][cam_id])
        frame = np.asarray(Image.open(shared_data / "mmpose_h36m_samples" / name).convert("RGB"))
        s = crop_frame(frame, S[:, :3] * 1000.0, cam, 384, 95)
        crop = np.asarray(Image.open(io.BytesIO(s["image"])).convert("RGB")).astype(float)
        uv = project(cam, S[:, :3] * 1000.0)
        px, cx = np.round(uv).astype(int), np.round(s["joints_2d"]).astype(int)
        # The crop magnifies; compare 3x3 neighbourhood means at the joint in both images.
        orig = np.array([frame[v - 1 : v + 2, u - 1 : u + 2].mean((0, 1)) for u, v in px])
        zoom = np.array([crop[v - 1 : v + 2, u - 1 : u + 2].mean((0, 1)) for u, v in cx])
        assert np.median(np.abs(orig - zoom)) < 15, name


def test_test_subjects_can_keep_consecutive_frames(converted, tmp_path):
    from c2f.evaluation.temporal import sequences
    from data_prep.h36m.__main__ import main

    root, _, _, _, argv = converted
    out = tmp_path / "consecutive"
    args = [*argv[:2], "--out", str(out), "--subjects", "S1", "S11", "--workers", "1",
            "--crop-res", "64", "--test-frame-step", "1"]  # fmt: skip
    assert main(args) == 0
    with open_dataset(out / "train.h5") as f:  # training subjects keep --step (5)
        assert sorted(set(f["frame"][:])) == [0, 5, 10]
    with open_dataset(out / "test.h5") as f:
        columns = {k: f[k][:] for k in ("subject", "action", "subaction", "camera", "frame")}
    assert sorted(columns["frame"]) == [0, 1, 2, 3, 4, 5]
    (run,) = sequences(columns)  # one run of consecutive frames: velocity and acceleration
    assert list(columns["frame"][run]) == [0, 1, 2, 3, 4, 5]
