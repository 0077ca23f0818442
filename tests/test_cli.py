"""The ``c2f`` command: verbs, named recipes, and ``c2f predict`` on real photographs."""

import importlib
import json
import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from c2f.cli import VERBS
from c2f.cli import main as c2f_main
from c2f.cli.data import SOURCES
from c2f.config import load_config, recipe_names
from c2f.skeleton import JOINT_NAMES

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_help_lists_every_verb_and_unknown_verbs_are_refused(capsys):
    assert c2f_main(["--help"]) == 0
    text = capsys.readouterr().out
    for verb, (_, line) in VERBS.items():
        assert f"  {verb}" in text and line in text
    assert "130 interrupted" in text
    assert c2f_main(["trian"]) == 2
    assert "unknown verb 'trian'" in capsys.readouterr().err
    assert c2f_main(["data", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(f"  {name}" in text for name in SOURCES)
    assert c2f_main(["data", "nope"]) == 2


def test_every_verb_and_source_names_a_module_with_main():
    for module, _ in [*VERBS.values(), *SOURCES.values()]:
        if module.startswith("bench"):
            continue
        assert callable(importlib.import_module(module).main), module


def test_verbs_parse_as_c2f_verb(capsys):
    with pytest.raises(SystemExit) as exit_:
        c2f_main(["eval", "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: c2f eval")


def test_named_recipes_and_recipe_files(tmp_path):
    assert {"paper", "uniform", "demo", "tiny", "integral", "integral_mpii"} <= set(recipe_names())
    assert load_config("paper").model.depths == (1, 2, 4, 64)
    path = tmp_path / "mine.py"  # a recipe file of one's own still works
    path.write_text((ROOT / "c2f/configs/tiny.py").read_text())
    assert load_config(path) == load_config("tiny")
    with pytest.raises(ValueError, match="neither a named recipe"):
        load_config("configs/demo.py")  # the old path form names the recipes instead
    with pytest.raises(ValueError, match="'README.md' is not a recipe"):
        load_config("README.md")
    broken = tmp_path / "broken.py"
    broken.write_text("def get_config(:\n")
    with pytest.raises(ValueError, match="broken.py' failed to load \\(SyntaxError"):
        load_config(broken)


def _photos(shared_data) -> list:
    """Real photographs: two MPII, two COCO and two MPI-INF-3DHP frames."""
    return (
        sorted((shared_data / "mmpose_2d_samples/mpii").glob("*.jpg"))[:2]
        + sorted((shared_data / "mmpose_2d_samples/coco").glob("*.jpg"))[:2]
        + sorted((shared_data / "mmpose_3dhp_samples").glob("*.jpg"))[:2]
    )


def test_predict_on_real_photos(shared_data, micro_run, tmp_path):
    photos = _photos(shared_data)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for p in photos[1:]:  # a folder of five, and one file named directly
        shutil.copy(p, inputs / p.name)
    out = tmp_path / "out"
    first = Image.open(photos[0])
    box = (10, 20, first.width - 30, first.height - 5)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({photos[0].name: list(box)}))
    argv = [str(photos[0]), str(inputs), "--workdir", str(micro_run), "--out", str(out),
            "--boxes", str(boxes), "--batch", "4"]  # fmt: skip
    assert c2f_main(["predict", *argv]) == 0
    with np.load(out / "predictions.npz") as z:
        names, uv, rel = z["names"], z["joints_2d"], z["joints_3d"]
    assert len(names) == 6 and uv.shape == (6, 17, 2) and rel.shape == (6, 17, 3)
    assert np.abs(rel[:, 0]).max() < 1e-3  # root-relative, mm
    for k, photo in enumerate([photos[0], *sorted(inputs.iterdir())]):
        record = json.loads((out / f"{photo.stem}.json").read_text())
        assert record["joint_names"] == list(JOINT_NAMES)
        assert record["size"] == list(Image.open(photo).size)
        assert np.allclose(record["joints_2d_px"], uv[k], atol=1e-3)
        picture = Image.open(out / f"{photo.stem}_pose.jpg")
        assert picture.height >= record["size"][1]  # the image beside its 3D view
    # The named box is used: the joints lie inside it (the network maps its crop onto the box).
    assert json.loads((out / f"{photos[0].stem}.json").read_text())["box"] == list(box)
    x, y = uv[0, :, 0], uv[0, :, 1]
    assert box[0] - 1 <= x.min() and x.max() <= box[2] + 1
    assert box[1] - 1 <= y.min() and y.max() <= box[3] + 1
    # The same image through the Predictor gives the same joints (one code path).
    from c2f import Predictor

    direct = Predictor.from_checkpoint(micro_run)(np.asarray(first.convert("RGB")), boxes=[box])
    assert np.allclose(direct["joints_2d"], uv[0], atol=1e-3)


def test_predict_names_and_skips_bad_files(shared_data, micro_run, tmp_path, capsys):
    photos = _photos(shared_data)[:2]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(photos[0].read_bytes()[:200])  # a truncated JPEG
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    out = tmp_path / "out"
    argv = ["predict", str(photos[0]), str(bad), str(text), str(photos[1]),
            "--workdir", str(micro_run), "--out", str(out), "--K", "1500,1500,400,300"]  # fmt: skip
    assert c2f_main(argv) == 3  # partial: the others are written
    err = capsys.readouterr().err
    assert str(bad) in err and str(text) in err
    with np.load(out / "predictions.npz") as z:
        assert list(z["names"]) == [str(photos[0]), str(photos[1])]
        assert z["joints_3d_camera"].shape == (2, 17, 3)
    assert not (out / "broken.json").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--box", "1,2,3"], "--box: expected 4"),
        (["--boxes", "README.md"], "--boxes: README.md: not a JSON object"),
        (["--K", "a,b,c,d"], "--K: expected 4"),
        (["--batch", "0"], "--batch must be >= 1"),
    ],
)
def test_predict_refuses_bad_arguments_before_work(tmp_path, capsys, extra, message):
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 48)).save(image)
    argv = ["predict", str(image), "--workdir", str(tmp_path / "no_run"), "--out",
            str(tmp_path / "out"), *extra]  # fmt: skip
    assert c2f_main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_predict_refuses_missing_inputs_and_colliding_outputs(tmp_path, capsys):
    a, b = tmp_path / "x" / "a.png", tmp_path / "y" / "a.jpg"
    for p in (a, b):
        p.parent.mkdir()
        Image.new("RGB", (64, 48)).save(p)
    run = ["--workdir", str(tmp_path), "--out", str(tmp_path / "out")]
    assert c2f_main(["predict", str(a), str(b), *run]) == 2
    assert "one stem" in capsys.readouterr().err
    assert c2f_main(["predict", str(tmp_path / "nope.jpg"), *run]) == 2
    assert "nope.jpg: no such file or folder" in capsys.readouterr().err
    # An output that would replace an input: a picture called a_pose.jpg in the output folder.
    clash = tmp_path / "x" / "a_pose.jpg"
    Image.new("RGB", (64, 48)).save(clash)
    argv = ["predict", str(a), str(clash), "--workdir", str(tmp_path), "--out", str(a.parent)]
    assert c2f_main(argv) == 2
    assert "would replace an input" in capsys.readouterr().err


def test_reports_of_two_files_with_one_name_do_not_collide(micro_run, micro_cfg, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(micro_run, run)
    test_file = pathlib.Path(micro_cfg.data.root) / micro_cfg.data.test_file
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(test_file, tmp_path / folder / "test.h5")
        argv = ["eval", "--workdir", str(run), "--data", str(tmp_path / folder / "test.h5"),
                "--every", "8"]  # fmt: skip
        assert c2f_main(argv) == 0
    reports = sorted(p.name for p in (run / "eval").glob("*_test-*.md"))  # others' may be there
    assert len(reports) == 2, reports
