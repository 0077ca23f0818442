"""Nothing lost: outputs never replace inputs, and where results go is checked before the work."""

import pathlib
import shutil

import h5py
import pytest

from c2f.cli import main as c2f_main
from c2f.outputs import check_outputs, writable_folder


def test_check_outputs_refuses_inputs_duplicates_folders_and_unwritable(tmp_path):
    data = tmp_path / "data.h5"
    data.write_bytes(b"x")
    link = tmp_path / "link.h5"
    link.symlink_to(data)
    with pytest.raises(ValueError, match="--out: .*link.h5 is the input --data"):
        check_outputs({"--out": link}, {"--data": data})  # the same file through a link
    with pytest.raises(ValueError, match="is also --out"):
        check_outputs({"--out": tmp_path / "a.mp4", "joints": tmp_path / "x" / ".." / "a.mp4"})
    with pytest.raises(ValueError, match="is a folder; a file path is expected"):
        check_outputs({"--out": tmp_path})
    with pytest.raises(ValueError, match="/proc is not writable"):
        check_outputs({"--out": "/proc/new/o.mp4"})
    assert writable_folder(tmp_path / "new" / "deeper") is None
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_strip_3d_never_overwrites_its_source(synthetic_split, tmp_path, capsys):
    from data_prep.strip_3d import main

    data = tmp_path / "train.h5"
    shutil.copy(synthetic_split, data)
    with h5py.File(data) as f:
        before = len(f["image"])
    assert main(["--data", str(data), "--actions", "Posing", "--out", str(data)]) == 2
    assert "--out: " in (err := capsys.readouterr().err) and "is the input --data" in err
    with h5py.File(data) as f:
        assert len(f["image"]) == before


def test_video_outputs_cannot_collide(tmp_path, capsys):
    clip = tmp_path / "in.mp4"
    clip.write_bytes(b"not decoded: refused before")
    run = ["--workdir", str(tmp_path / "no_run")]
    assert c2f_main(["video", str(clip), *run, "--out", str(clip)]) == 2
    assert "is the input INPUT (the video)" in capsys.readouterr().err
    assert c2f_main(["video", str(clip), *run, "--out", str(tmp_path / "x.npz")]) == 2
    assert "must end in .mp4" in capsys.readouterr().err
    truth = tmp_path / "out.npz"
    truth.write_bytes(b"x")
    argv = ["video", str(clip), *run, "--out", str(tmp_path / "out.mp4"), "--truth", str(truth)]
    assert c2f_main(argv) == 2  # the joints file would replace the ground truth
    assert "is the input --truth" in capsys.readouterr().err
    assert clip.read_bytes() == b"not decoded: refused before"
    bad = tmp_path / "boxes.json"
    bad.write_text("README")
    argv = ["video", str(clip), *run, "--out", str(tmp_path / "o.mp4"), "--boxes", str(bad)]
    assert c2f_main(argv) == 2
    assert f"--boxes: {bad}: not a JSON list" in capsys.readouterr().err


def test_export_to_a_folder_is_refused_before_the_work(tmp_path, capsys):
    folder = tmp_path / "artifacts"
    folder.mkdir()
    argv = ["export", "--workdir", str(tmp_path / "no_run"), "--format", "stablehlo",
            "--out", str(folder)]  # fmt: skip
    assert c2f_main(argv) == 2
    assert "is a folder; a file path is expected" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts"]  # no stray temp file


def test_eval_checks_its_report_folder_before_the_work(micro_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(micro_run, run)
    shutil.rmtree(run / "eval", ignore_errors=True)
    (run / "eval").write_text("a file where the reports' folder goes")
    assert c2f_main(["eval", "--workdir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "the reports' folder" in err and "eval is a file" in err


def test_a_report_that_cannot_be_written_still_gives_its_table(tmp_path):
    import numpy as np

    from c2f.evaluation import metrics, protocols, report

    actions = ["Directions", "Eating"]
    result = {"mpjpe": np.array([10.0, 20.0]), "pa_mpjpe": np.array([5.0, 6.0]),
              "p1": metrics.per_action([10.0, 20.0], actions),
              "p2": metrics.per_action([5.0, 6.0], actions)}  # fmt: skip
    blocker = tmp_path / "eval"
    blocker.write_text("x")
    with pytest.raises(report.ReportNotWritten) as err:
        report.write_evaluation(blocker, result, protocol=protocols.get("p1-gt-root"),
                                options={"decode": "soft", "flip": "none", "root": "gt"},
                                overridden=[], data=tmp_path / "test.h5", step=1,
                                source_kind="synthetic")  # fmt: skip
    assert "| Protocol 1 (MPJPE) |" in err.value.text and "15.0" in err.value.text


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_during_start_up_exits_cleanly(tiny_data, tmp_path, sig, code):
    import json
    import os
    import signal
    import subprocess
    import sys

    workdir = tmp_path / "run"
    argv = [sys.executable, "-m", "c2f", "train", "--config", "tiny", "--workdir", str(workdir),
            "--set", f"data.root={str(tiny_data)!r}"]  # fmt: skip
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=pathlib.Path(__file__).resolve().parents[1])  # fmt: skip
    seen = ""
    while "starting" not in seen:  # start-up: data checks, model, compilation, before step 1
        char = proc.stderr.read(1)
        assert char, f"the run ended early: {seen}"
        seen += char
    proc.send_signal(getattr(signal, sig))
    rest = proc.stderr.read()
    assert proc.wait(60) == code, seen + rest
    assert "before training started" in rest.strip().splitlines()[-1]
    assert "Traceback" not in rest
    if (workdir / "config.json").exists():  # written whole or not at all
        json.loads((workdir / "config.json").read_text())
    assert not list(workdir.glob(".config.json.tmp-*"))


def test_silent_bad_inputs_are_now_loud(synthetic_split, tmp_path):
    import numpy as np

    from c2f.data.schema import DatasetError, open_dataset
    from c2f.serving.person_crop import check_K

    # A camera whose principal point is far off the image, or whose last row is not [0, 0, 1].
    K = np.array([[1000.0, 0, 1e6], [0, 1000.0, 300.0], [0, 0, 1]])
    with pytest.raises(ValueError, match="principal point .* not plausible"):
        check_K(K, 1, 640, 480)
    with pytest.raises(ValueError, match="last row must be"):
        check_K(np.array([[1000.0, 0, 320], [0, 1000.0, 240], [0, 0, 0]]), 1, 640, 480)
    assert check_K(np.array([[1000.0, 0, 320], [0, 1000.0, 240], [0, 0, 1]]), 1, 640, 480).shape
    # A field stored with another dtype, and a num_samples that contradicts the fields.
    for name, change in (("int64", "dtype"), ("count", "num_samples")):
        path = tmp_path / f"{name}.h5"
        shutil.copy(synthetic_split, path)
        with h5py.File(path, "a") as f:
            if change == "dtype":
                data = f["joints_cam"][...]
                del f["joints_cam"]
                f["joints_cam"] = data.astype(np.int64)
            else:
                f.attrs["num_samples"] = 7
        with pytest.raises(DatasetError, match="stored as int64|says 7, the fields hold"):
            open_dataset(path)
