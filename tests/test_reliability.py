"""The output rule, signals, full disks and bad inputs: every case of issue 27 that is mended.

Each case runs the command as a user would (``c2f.cli.main``, or a subprocess for signals) and
asserts the exit code, the wording of the error and that no input or earlier output changed.
docs/reliability.md counts them.
"""

import errno
import hashlib
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from c2f.cli import main as c2f_main
from c2f.outputs import OutputError, check_outputs, replacing

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _digest(*paths) -> dict:
    """{file: sha256} of every file under ``paths``: what "nothing changed" compares."""
    out = {}
    for path in map(pathlib.Path, paths):
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def _refused(argv, wording, capsys, *watched):
    """Run ``c2f ARGV``: exit 2, the wording in the error, the watched paths unchanged."""
    before = _digest(*watched)
    try:
        code = c2f_main(argv)
    except SystemExit as e:  # argparse's refusals (usage line, exit 2)
        code = e.code
    assert code == 2, argv
    err = capsys.readouterr().err
    assert wording in err, err
    assert "Traceback" not in err
    assert _digest(*watched) == before


@pytest.fixture
def data_dir(tiny_data, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(tiny_data, folder)
    return folder


# Data lost (1-8 of the issue): each now refused before any work.


def test_draw_refuses_its_input_a_bad_name_and_an_unbounded_count(micro_run, data_dir, capsys):
    run = ["draw", "--workdir", str(micro_run)]
    test = data_dir / "test.h5"
    _refused([*run, "--data", str(test), "--out", str(test)], "must end in .png", capsys, data_dir)
    _refused([*run, "--n", "100000"], "--n: 1 to 64", capsys, micro_run)
    (data_dir / "old.png").write_bytes(b"mine")
    _refused([*run, "--out", str(data_dir / "old.png")], "exists; pass --overwrite", capsys,
             data_dir)  # fmt: skip


def test_converters_never_write_inside_the_folders_they_read(tmp_path, capsys):
    images = tmp_path / "coco"
    images.mkdir()
    (images / "000000000785.jpg").write_bytes(b"a photograph")
    annot = images / "test_coco.json"
    annot.write_text("{}")
    argv = ["data", "coco", "--annot", str(annot), "--images", str(images)]
    _refused([*argv, "--out", str(images / "000000000785.jpg")], "inside the input folder",
             capsys, images)  # fmt: skip
    _refused([*argv, "--out", str(images / "new.h5")], "inside the input folder --images",
             capsys, images)  # fmt: skip
    _refused([*argv, "--out", str(tmp_path / "c.h5"), "--limit", "0"], "--limit: at least 1",
             capsys, images)  # fmt: skip
    _refused([*argv, "--out", str(tmp_path / "c.h5"), "--crop-res", "0"], "--crop-res: at least",
             capsys, images)  # fmt: skip
    annot_dir = tmp_path / "annot"
    annot_dir.mkdir()
    (annot_dir / "valid.h5").write_bytes(b"the authors' annotations")
    _refused(["data", "c2f-annot", "--annot", str(annot_dir), "--images", str(images), "--out",
              str(annot_dir / "valid.h5")], "inside the input folder --annot", capsys,
             annot_dir)  # fmt: skip


def test_export_never_writes_into_a_runs_checkpoints(micro_run, capsys):
    target = next((micro_run / "checkpoints").rglob("manifest.ocdbt"))
    _refused(["export", "--workdir", str(micro_run), "--format", "stablehlo", "--out",
              str(target)], "inside the run's", capsys, micro_run)  # fmt: skip


def test_clip_checks_its_three_outputs_and_subject_first(data_dir, tmp_path, capsys):
    from data_prep.synthetic.clip import main as clip

    def refused(argv, wording):
        before = _digest(data_dir, tmp_path)
        with pytest.raises(SystemExit) as e:
            clip(argv)
        assert e.value.code == 2 and wording in capsys.readouterr().err
        assert _digest(data_dir, tmp_path) == before

    refused(["--out", str(data_dir / "train.h5")], "must end in .mp4")
    (tmp_path / "walk.npz").write_bytes(b"the clip's ground truth")
    refused(["--out", str(tmp_path / "walk.mp4")], "walk.npz exists; pass --overwrite")
    refused(["--out", str(tmp_path / "x.mp4"), "--subject", "99"], "--subject: one of")


def test_predict_never_replaces_images_or_the_runs_files(micro_run, tmp_path, capsys):
    from PIL import Image

    images = tmp_path / "imgs"
    images.mkdir()
    Image.new("RGB", (64, 64)).save(images / "frame_0000.jpg")
    (images / "frame_0000.json").write_text("the user's own")
    run = ["--workdir", str(micro_run)]
    _refused(["predict", str(images), *run, "--out", str(images)], "inside the input IMAGES",
             capsys, images, micro_run)  # fmt: skip
    photo = tmp_path / "config.jpg"
    Image.new("RGB", (64, 64)).save(photo)
    _refused(["predict", str(photo), *run, "--out", str(micro_run)], "is the run folder",
             capsys, micro_run)  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("an earlier result")
    _refused(["predict", str(photo), *run, "--out", str(out)], "config.json exists", capsys, out)
    _refused(["predict", str(photo), *run, "--out", str(tmp_path / "o"), "--box", "0,0,1e308,9"],
             "--box: numbers beyond 1e7", capsys, micro_run)  # fmt: skip
    _refused(["predict", str(photo), *run, "--out", str(tmp_path / "o"), "--K", "0,1,2,3"],
             "--K: focal lengths must be positive", capsys, micro_run)  # fmt: skip


def test_video_keeps_a_clips_ground_truth_and_reads_inputs_by_name(micro_run, tmp_path, capsys):
    from PIL import Image

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"a video")
    (tmp_path / "clip.npz").write_bytes(b"its ground truth")
    run = ["video", str(clip), "--workdir", str(micro_run)]
    _refused([*run, "--out", str(tmp_path / "clip.MP4")], "exists; pass --overwrite", capsys,
             tmp_path)  # fmt: skip
    boxes = tmp_path / "boxes.json"
    boxes.write_text("[[0, 0, 10]]")
    _refused([*run, "--out", str(tmp_path / "o.mp4"), "--boxes", str(boxes)],
             "entry 0 is [0, 0, 10], not null or [x0, y0, x1, y1]", capsys, tmp_path)  # fmt: skip
    readme = tmp_path / "README.md"
    readme.write_text("# notes")
    _refused([*run, "--out", str(tmp_path / "o.mp4"), "--truth", str(readme)],
             "is not an .npz file", capsys, tmp_path)  # fmt: skip
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 64)).save(photo)
    _refused(["video", str(photo), "--workdir", str(micro_run), "--out", str(tmp_path / "p.mp4")],
             "is a still image", capsys, tmp_path)  # fmt: skip
    five = tmp_path / "five.npz"
    np.savez(five, joints_cam=np.zeros((3, 5, 3)), joints_2d=np.zeros((3, 5, 2)))
    _refused([*run, "--out", str(tmp_path / "o.mp4"), "--truth", str(five)],
             "the run's h36m17 has 17 joints", capsys, tmp_path)  # fmt: skip


def test_synthetic_stills_and_train_never_replace_a_users_files(data_dir, tmp_path, capsys,
                                                                  micro_cfg):  # fmt: skip
    _refused(["data", "synthetic", "--out", str(data_dir), "--train-poses", "1"],
             "exists; pass --overwrite", capsys, data_dir)  # fmt: skip
    stills = tmp_path / "stills"
    stills.mkdir()
    (stills / "frame_0000.jpg").write_bytes(b"a photograph of mine")
    _refused(["data", "stills", "--data", str(data_dir / "test.h5"), "--out", str(stills)],
             "frame_0000.jpg exists", capsys, stills, data_dir)  # fmt: skip
    _refused(["data", "stills", "--data", str(data_dir / "test.h5"), "--out", str(tmp_path / "s"),
              "--count", "100000"], "--count: ", capsys, data_dir)  # fmt: skip
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    _refused(["train", "--config", "tiny", "--workdir", str(mine), "--set",
              f"data.root={str(data_dir)!r}"], "not a c2f run's (notes.txt)", capsys,
             mine)  # fmt: skip
    steps = "train.steps=1" + "0" * 23  # 10^23
    _refused(["train", "--config", "tiny", "--workdir", str(tmp_path / "r"), "--set",
              f"data.root={str(data_dir)!r}", steps], "at most 1,000,000,000", capsys,
             data_dir)  # fmt: skip


def test_an_unfinished_dataset_is_refused_by_name(data_dir):
    from c2f.data import DatasetError, H5Source
    from c2f.data.schema import INCOMPLETE_MARKER

    (data_dir / INCOMPLETE_MARKER).write_text("killed")
    with pytest.raises(DatasetError, match="did not finish"):
        H5Source(data_dir / "train.h5")


def test_report_names_carry_the_sample_selection():
    from c2f.evaluation.report import report_name

    options = {"decode": "soft", "flip": "none", "root": "gt"}
    full = report_name(40, "p1-gt-root", options, "test.h5")
    every = report_name(40, "p1-gt-root", {**options, "every": 40}, "test.h5")
    assert every == full + "_every-40"


# Hangs, signals and full disks (9-13).


def test_the_mp4_writer_reports_a_failing_flush_without_hanging(tmp_path, monkeypatch):
    from c2f.serving import mp4

    class FullDisk:
        def encode(self, frame=None):
            if frame is None:  # the flush
                raise OSError(errno.ENOSPC, "No space left on device")
            return []

    monkeypatch.setattr(mp4, "_open_stream", lambda *a: FullDisk())
    out = tmp_path / "c.mp4"
    failure = []

    def write():
        try:
            with mp4.Mp4Writer(out, 25) as w:
                for _ in range(3):
                    w.write(np.zeros((16, 16, 3), np.uint8))
        except OSError as e:
            failure.append(e)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the writer hung"
    assert failure and failure[0].errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # no temporary file, no output


def test_the_mp4_writer_refuses_an_unwritable_place_promptly(tmp_path):
    from c2f.serving.mp4 import Mp4Writer

    with pytest.raises((OSError, RuntimeError)):
        with Mp4Writer("/proc/c2f-test/c.mp4", 25) as w:
            w.write(np.zeros((16, 16, 3), np.uint8))


def test_a_full_disk_is_exit_code_4_and_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    import c2f.cli as cli

    target = tmp_path / "out.json"

    class Verb:
        @staticmethod
        def main(argv):
            with replacing(target) as tmp:
                tmp.write_text("half")
                raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

    monkeypatch.setitem(cli.VERBS, "fill", ("fill_verb", "test"))
    monkeypatch.setitem(sys.modules, "fill_verb", Verb)
    assert cli.main(["fill"]) == cli.DISK_FULL == 4
    assert "the disk is full" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_check_outputs_refuses_existing_files_unless_asked(tmp_path):
    existing = tmp_path / "a.h5"
    existing.write_bytes(b"x")
    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        check_outputs({"--out": existing})
    check_outputs({"--out": existing}, overwrite=True)


def _signalled(argv, sig: str, delay: float, code: int) -> None:
    """Run ``argv``, send ``sig`` after ``delay`` s: exit ``code``, one line, no traceback."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        proc.wait(delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(getattr(signal, sig))
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == code, err
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.parametrize(
    "sig, delay, code",
    [("SIGINT", 0.3, 130), ("SIGTERM", 2.5, 143)],
)
def test_a_signal_at_any_moment_of_start_up_is_130_or_143(tiny_data, tmp_path, sig, delay, code):
    """During the imports (0.3 s) and jax's start-up (2.5 s): never 0, 1 or 139."""
    workdir = tmp_path / "run"
    argv = [sys.executable, "-m", "c2f", "train", "--config", "tiny", "--workdir", str(workdir),
            "--set", f"data.root={str(tiny_data)!r}"]  # fmt: skip
    _signalled(argv, sig, delay, code)
    assert not list(workdir.glob(".config.json.tmp-*"))


@pytest.mark.parametrize("sig, delay, code", [("SIGINT", 0.8, 130), ("SIGTERM", 2.0, 143)])
def test_a_signal_during_evaluation_is_130_or_143(micro_run, tmp_path, sig, delay, code):
    """Evaluation's start-up and its run (read, compile, first batches): no report half-written."""
    run = tmp_path / "run"
    shutil.copytree(micro_run, run)
    before = _digest(run)
    argv = [sys.executable, "-m", "c2f", "eval", "--workdir", str(run)]
    _signalled(argv, sig, delay, code)
    assert {k: v for k, v in _digest(run).items() if k in before} == before
    assert not [p for p in run.rglob("*") if ".tmp-" in p.name]


# A hand run with the stock recipes (issue 27's "hidden override").


def test_the_training_protocol_follows_the_test_file(micro_cfg, tiny_data, tmp_path, capsys):
    """A protocol that selects nothing of the test file: a named error (exit 2) at start."""
    argv = ["train", "--config", "tiny", "--workdir", str(tmp_path / "r"), "--set",
            f"data.root={str(tiny_data)!r}", "data.test_file='train.h5'"]  # fmt: skip
    assert c2f_main(argv) == 2
    err = capsys.readouterr().err
    assert "the recipe's train.protocol" in err and "'all-frames'" in err
    assert not (tmp_path / "r" / "checkpoints").exists()


# Readers (14-16): the Torch7 depth limit is in test_safe_readers.py.


def test_an_npz_member_is_bounded_by_its_declared_size(tmp_path, capsys):
    import zipfile

    bomb = tmp_path / "bomb.npz"
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (67108864,), }".ljust(118)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        # 64 MiB of zeros in about 64 KB
        z.writestr("train_data.npy", b"\x93NUMPY\x01\x00" + header + b"\n" + bytes(64 * 2**20))
    assert bomb.stat().st_size < 2**20
    images = tmp_path / "frames"
    images.mkdir()
    _refused(["data", "h3wb", "--npz", str(bomb), "--images", str(images), "--out",
              str(tmp_path / "o.h5")], "refused before reading", capsys, tmp_path)  # fmt: skip


def test_a_floor_of_nan_joints_and_training_on_an_empty_file_are_named(data_dir, tmp_path,
                                                                         capsys):  # fmt: skip
    import h5py

    from c2f.data.schema import FIELDS, read

    bad = tmp_path / "nan.h5"
    shutil.copy(data_dir / "test.h5", bad)
    with h5py.File(bad, "r+") as f:
        f["joints_cam"][0, 0, 0] = np.nan
    _refused(["floor", "--data", str(bad), "--protocol", "all-frames"], "'joints_cam' is NaN",
             capsys, bad)  # fmt: skip
    _refused(["floor", "--data", str(data_dir / "test.h5"), "--heatmap", "0"], "--heatmap: ",
             capsys, data_dir)  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(data_dir / "test.h5", empty / "test.h5")
    with h5py.File(data_dir / "train.h5") as src, h5py.File(empty / "train.h5", "w") as f:
        for key, value in src.attrs.items():
            f.attrs[key] = value
        f.attrs["num_samples"] = 0
        for name in FIELDS:
            if name in src:
                data = read(src, name, slice(0, 0))
                f.create_dataset(name, data=data, maxshape=(None, *data.shape[1:]),
                                 dtype=src[name].dtype)  # fmt: skip
    _refused(["train", "--config", "tiny", "--workdir", str(tmp_path / "r"), "--set",
              f"data.root={str(empty)!r}"], "error: ", capsys, empty)  # fmt: skip


def test_draw_refuses_another_keypoint_set_and_a_2d_only_file(micro_run, data_dir, capsys):
    import h5py

    from c2f.data.schema import FIELDS, DatasetWriter, open_dataset, read
    from c2f.skeleton import SKELETONS

    with open_dataset(data_dir / "test.h5") as f:
        batch = {name: read(f, name, slice(0, 2)) for name in FIELDS}
    hand = SKELETONS["hand21"]
    for name, value in batch.items():  # 17 joints padded to the hand's 21
        if isinstance(value, np.ndarray) and value.ndim > 1 and value.shape[1] == 17:
            batch[name] = np.concatenate([value, value[:, :4]], axis=1)
    hands = data_dir / "hands.h5"
    with DatasetWriter(hands, source="synthetic", args={}, crop_res=96, skeleton=hand) as w:
        w.append(batch)
    run = ["draw", "--workdir", str(micro_run), "--out", str(data_dir / "p.png")]
    _refused([*run, "--data", str(hands)], "holds hand21 keypoints; the run predicts h36m17",
             capsys, data_dir)  # fmt: skip
    flat = data_dir / "flat.h5"
    shutil.copy(data_dir / "test.h5", flat)
    with h5py.File(flat, "r+") as f:
        f["valid_3d"][...] = 0
    _refused([*run, "--data", str(flat)], "has no 3D joints to draw (a 2D-only file)", capsys,
             data_dir)  # fmt: skip


def test_an_hdf5_field_is_bounded_by_its_declared_size(micro_run, data_dir, capsys):
    """Unallocated chunks: a 10-million-sample file of a few hundred KB (issue 27, readers)."""
    import h5py

    big = data_dir / "big.h5"
    shutil.copy(data_dir / "test.h5", big)
    rows = 10**7
    with h5py.File(big, "r+") as f:
        for ds in f.values():
            ds.resize(rows, axis=0)
        f.attrs["num_samples"] = rows
    assert big.stat().st_size < 2**22
    run = ["draw", "--workdir", str(micro_run), "--out", str(data_dir / "p.png")]
    _refused([*run, "--data", str(big)], "bytes in a", capsys, data_dir)
