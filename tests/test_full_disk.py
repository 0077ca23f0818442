"""A full disk (issue 27, item 13): exit code 4, the one line, and no partial file, anywhere.

The disk fills where each writer meets it: at HDF5's last flush (a dataset), part way through a
set of files (stills, a video's siblings), inside orbax's writer threads (a checkpoint), and in a
command's worker processes (``c2f data synthetic --workers 2``, on a real 200 KiB tmpfs where
the machine lets the test mount one).
"""

import errno
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import c2f.cli as cli
from c2f.data.schema import DatasetWriter
from c2f.outputs import replacing_all

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def _files(folder) -> list:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_a_dataset_whose_last_flush_fails_leaves_no_temporary(tiny_data, tmp_path):
    from c2f.data.schema import FIELDS, open_dataset, read

    with open_dataset(tiny_data / "test.h5") as f:
        batch = {name: read(f, name, slice(0, 2)) for name in FIELDS}

    class FullAtClose:
        def __init__(self, file):
            self.file = file

        def __getattr__(self, name):
            return getattr(self.file, name)

        def __getitem__(self, name):
            return self.file[name]

        def close(self):
            self.file.close()
            raise ENOSPC

    writer = DatasetWriter(tmp_path / "d.h5", source="synthetic", args={}, crop_res=96)
    writer.file = FullAtClose(writer.file)
    with pytest.raises(OSError) as e:
        with writer:
            writer.append(batch)
    assert e.value.errno == errno.ENOSPC
    assert _files(tmp_path) == []


def test_synthetic_that_fills_the_disk_leaves_the_folder_as_it_was(tmp_path, monkeypatch, capsys):
    import data_prep.synthetic.__main__ as synthetic

    def full(*args, **kwargs):
        raise ENOSPC

    monkeypatch.setattr(synthetic, "write_split", full)
    out = tmp_path / "new"
    assert cli.main(["data", "synthetic", "--out", str(out), "--body", "capsules"]) == 4
    assert "the disk is full" in capsys.readouterr().err
    assert not out.exists()  # not even the marker of an unfinished set


def test_stills_are_the_whole_set_or_none(tiny_data, tmp_path, monkeypatch, capsys):
    from PIL import Image

    save, calls = Image.Image.save, []

    def fills_on_the_third(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 3:
            raise ENOSPC
        return save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", fills_on_the_third)
    out = tmp_path / "stills"
    argv = ["data", "stills", "--data", str(tiny_data / "test.h5"), "--out", str(out)]
    assert cli.main([*argv, "--count", "4"]) == 4
    assert "the disk is full" in capsys.readouterr().err
    assert _files(out) == []


def test_a_set_of_files_is_renamed_only_once_all_were_written(tmp_path):
    paths = [tmp_path / "v.npz", tmp_path / "v.json"]
    with pytest.raises(OSError):
        with replacing_all(paths) as tmps:
            tmps[0].write_bytes(b"joints")
            raise ENOSPC  # the video itself, at its last flush
    assert _files(tmp_path) == []
    with replacing_all(paths) as tmps:
        for tmp in tmps:
            tmp.write_text("x")
    assert _files(tmp_path) == ["v.json", "v.npz"]


def test_a_checkpoint_that_cannot_fit_is_refused_before_orbax_writes(tmp_path, monkeypatch):
    from c2f import saving

    state = {"w": np.zeros((1 << 18,), np.float32)}  # 1 MiB
    monkeypatch.setattr(saving.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(9, 9, 9))
    with pytest.raises(OSError, match="writing a checkpoint needs about 2.2 MiB") as e:
        saving.check_room(tmp_path, state)
    assert e.value.errno == errno.ENOSPC


def test_a_failed_save_leaves_no_temporary_folder_and_is_named(tmp_path):
    from c2f.saving import saving

    class Manager:
        directory = tmp_path

        def wait_until_finished(self):
            raise ValueError("another part's error, raised again")

    (tmp_path / "7").mkdir()  # an earlier, finished checkpoint: kept
    with pytest.raises(OSError) as e:
        with saving(Manager(), 7 + 1):
            (tmp_path / "8.orbax-checkpoint-tmp" / "model.orbax-checkpoint-tmp").mkdir(parents=True)
            raise ValueError("RESOURCE_EXHAUSTED: Failed writing [os_error_code='28']")
    assert e.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["7"]


def _mount_small_tmpfs(folder) -> bool:
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
                          capture_output=True)  # fmt: skip
    return done.returncode == 0


def test_synthetic_workers_on_a_real_full_disk(tmp_path):
    small = tmp_path / "small"
    if not _mount_small_tmpfs(small):
        pytest.skip("mounting a 200 KiB tmpfs needs root and CAP_SYS_ADMIN; the same path is "
                    "covered above with a failing writer")  # fmt: skip
    try:
        out = small / "d"
        argv = ["data", "synthetic", "--out", str(out), "--body", "capsules", "--workers", "2",
                "--train-poses", "2", "--test-poses", "1", "--crop-res", "64"]  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "c2f", *argv], capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 4, done.stderr[-2000:]
        assert "the disk is full" in done.stderr
        assert "Traceback" not in done.stderr
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=False)
