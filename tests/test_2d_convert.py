"""MPII and COCO into the c2f format, on the real samples in ../shared/data."""

import json

import numpy as np
import pytest

from c2f.data import H5Source
from c2f.geometry import apply_affine, crop_matrix
from c2f.skeleton import JOINT_NAMES
from data_prep import coco, mpii
from tests.crop_check import crop_pixels_follow_the_original


def test_mpii_json_and_mat_give_the_same_people_on_the_person(shared_data, tmp_path):
    from scipy.io import savemat

    folder = shared_data / "mmpose_2d_samples" / "mpii"
    people = mpii.read_json(folder / "test_mpii.json")
    assert len(people) == 5
    out = tmp_path / "mpii.h5"
    assert mpii.main(["--annot", str(folder / "test_mpii.json"), "--images", str(folder),
                      "--out", str(out), "--crop-res", "96"]) == 0  # fmt: skip
    source = H5Source(out)
    assert source.source == "mpii" and len(source) == 5
    cols = {k: source.column(k) for k in ("valid_2d", "valid_3d", "joints_2d")}
    assert not cols["valid_3d"].any()
    sources = json.loads(source._handle().attrs["joint_sources"])
    assert sources[JOINT_NAMES.index("LWrist")] == "left_wrist"
    assert sources[JOINT_NAMES.index("Spine")] == sources[JOINT_NAMES.index("Neck/Nose")] == ""
    for i, person in enumerate(people):
        s = source[i]
        A = crop_matrix(s["crop_center"], float(s["crop_scale"]), 96)
        for j, rule in enumerate(sources):
            if not rule:
                assert not s["valid_2d"][j]
                continue
            k = mpii.NAMES.index(rule)
            assert s["valid_2d"][j] == person["vis"][k]
            if person["vis"][k]:  # MATLAB's 1-based pixels, moved to 0-based
                expected = apply_affine(A, person["joints"][k] - 1.0)
                np.testing.assert_allclose(s["joints_2d"][j], expected, atol=1e-3)
        # Newell et al.'s box: centre 15 x scale px lower, 1.25 x scale.
        np.testing.assert_allclose(s["center"], person["center"] - 1 + [0, 15 * person["scale"]],
                                   atol=1e-3)  # fmt: skip
        assert s["scale"] == pytest.approx(1.25 * person["scale"], rel=1e-6)
    crop_pixels_follow_the_original(source, folder, [p["image"] for p in people])
    # The official release's struct, written from the same people (plus a test image without
    # joints), reads back as the same people.
    point = [("id", "O"), ("x", "O"), ("y", "O"), ("is_visible", "O")]
    annolist = np.zeros((1, 6), dtype=[("image", "O"), ("annorect", "O")])
    for i, p in enumerate(people):
        pts = np.zeros((1, int(p["vis"].sum())), dtype=point)
        for n, k in enumerate(np.flatnonzero(p["vis"])):
            pts[0, n] = (k, p["joints"][k, 0], p["joints"][k, 1], 1)
        rect = np.zeros((1, 1), dtype=[("objpos", "O"), ("scale", "O"), ("annopoints", "O")])
        rect[0, 0] = ({"x": p["center"][0], "y": p["center"][1]}, p["scale"], {"point": pts})
        annolist[0, i] = ({"name": p["image"]}, rect)
    annolist[0, 5] = ({"name": "test_only.jpg"}, np.zeros((1, 1), dtype=[("scale", "O")]))
    mat = tmp_path / "release.mat"
    savemat(mat, {"RELEASE": {"annolist": annolist, "img_train": np.array([[1, 1, 1, 1, 1, 0]])}})
    from_mat = mpii.read_mat(mat, "train")
    assert len(from_mat) == 5 and mpii.read_mat(mat, "test") == []
    for a, b in zip(from_mat, people):
        assert a["image"] == b["image"] and a["scale"] == pytest.approx(b["scale"])
        np.testing.assert_allclose(a["center"], b["center"])
        np.testing.assert_array_equal(a["vis"], b["vis"])
        np.testing.assert_allclose(a["joints"][a["vis"]], b["joints"][b["vis"]])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image": "x.jpg", "center": [1, 2], "scale": 1.0}]))
    with pytest.raises(ValueError, match="bad.json: person 0: missing or malformed"):
        mpii.read_json(bad)


def test_coco_skips_what_it_says_and_derives_the_pelvis(shared_data, tmp_path, capsys,
                                                        micro_run):  # fmt: skip
    folder = shared_data / "mmpose_2d_samples" / "coco"
    annot = folder / "test_coco.json"
    people, skipped = coco.read_annotations(annot)
    data = json.loads(annot.read_text())
    no_keypoints = sum(a["num_keypoints"] == 0 for a in data["annotations"])
    assert skipped == {"crowd": 0, "too few keypoints": no_keypoints, "box too small": 0}
    assert len(people) == len(data["annotations"]) - no_keypoints == 12
    _, strict = coco.read_annotations(annot, min_keypoints=1, min_box=100)
    assert strict["box too small"] > 0
    out = tmp_path / "coco.h5"
    assert coco.main(["--annot", str(annot), "--images", str(folder), "--out", str(out),
                      "--crop-res", "96"]) == 0  # fmt: skip
    assert "12 people kept; skipped: 0 crowd, 2 too few keypoints" in capsys.readouterr().out
    source = H5Source(out)
    pelvis, lhip, rhip = (JOINT_NAMES.index(n) for n in ("Pelvis", "LHip", "RHip"))
    for i, person in enumerate(people):
        s = source[i]
        kp = person["keypoints"]
        A = crop_matrix(s["crop_center"], float(s["crop_scale"]), 96)
        both = kp[11, 2] > 0 and kp[12, 2] > 0
        assert s["valid_2d"][pelvis] == both
        if both:
            mid = (kp[11, :2] + kp[12, :2]) / 2
            np.testing.assert_allclose(s["joints_2d"][pelvis], apply_affine(A, mid), atol=1e-3)
        if kp[11, 2] > 0:
            np.testing.assert_allclose(s["joints_2d"][lhip], apply_affine(A, kp[11, :2]),
                                       atol=1e-3)  # fmt: skip
        assert s["valid_2d"][rhip] == (kp[12, 2] > 0)
        assert not s["valid_2d"][JOINT_NAMES.index("Head")]
    crop_pixels_follow_the_original(source, folder, [p["image"] for p in people])
    # Evaluating a 2D-only file is refused, naming it.
    import eval as eval_cli

    assert eval_cli.main(["--workdir", str(micro_run), "--data", str(out)]) == 2
    assert "coco.h5: a 2D-only file" in capsys.readouterr().err


def test_bad_annotations_are_named(tmp_path):
    from data_prep.two_d import joint_map

    with pytest.raises(ValueError, match=r"joint map: \['Tail'\] are not joints of 'h36m17'"):
        joint_map({"Tail": "tail"})
    bad = tmp_path / "keypoints.json"
    bad.write_text(json.dumps({"images": [], "annotations": [{"keypoints": [1, 2]}]}))
    with pytest.raises(ValueError, match="keypoints.json: annotation 0: missing or malformed"):
        coco.read_annotations(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match="keypoints.json: not a COCO keypoints file"):
        coco.read_annotations(bad)
