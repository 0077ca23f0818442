import os

import h5py
import numpy as np
import pytest

from c2f.data.schema import (
    FIELDS,
    SCHEMA_VERSION,
    DatasetError,
    DatasetWriter,
    field_shape,
    open_dataset,
)
from c2f.skeleton import H36M17


def _samples(n=3):
    out = {}
    for name, (kind, _) in FIELDS.items():
        shape = field_shape(name, 17)
        if kind == "vlen_uint8":
            out[name] = [bytes([i, 1, 2]) for i in range(n)]
        else:
            out[name] = np.ones((n, *shape), kind)
    return out


def test_round_trip_and_atomic_publish(tmp_path):
    path = tmp_path / "split.h5"
    with DatasetWriter(path, source="test", args={"a": 1}, crop_res=64, chunk=2) as w:
        w.append(_samples(3))
        assert not path.exists()  # nothing published before close
        w.append(_samples(2))
    with open_dataset(path) as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION and f.attrs["num_samples"] == 5
        assert f["joints_cam"].shape == (5, 17, 3) and bytes(f["image"][4]) == bytes([1, 1, 2])
    assert [p.name for p in tmp_path.iterdir()] == ["split.h5"]


def test_failure_inside_the_writer_leaves_nothing(tmp_path):
    path = tmp_path / "split.h5"
    path.write_bytes(b"previous")  # an earlier result survives a failed rewrite
    with pytest.raises(RuntimeError):
        with DatasetWriter(path, source="test", args={}, crop_res=64) as w:
            w.append(_samples(2))
            raise RuntimeError("killed")
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["split.h5"]


def test_writer_rejects_bad_samples(tmp_path):
    with DatasetWriter(tmp_path / "x.h5", source="test", args={}, crop_res=64) as w:
        bad = _samples(2)
        bad["joints_cam"][0, 3, 1] = np.nan
        with pytest.raises(ValueError, match="joints_cam.*NaN"):
            w.append(bad)
        bad = _samples(2)
        del bad["scale"]
        with pytest.raises(ValueError, match="scale"):
            w.append(bad)
        bad = _samples(2)
        bad["center"] = np.ones((2, 3))
        with pytest.raises(ValueError, match="center"):
            w.append(bad)


def test_reader_names_file_and_field(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset file"):
        open_dataset(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(DatasetError, match="junk.h5.*not a readable HDF5"):
        open_dataset(junk)
    path = tmp_path / "ok.h5"
    with DatasetWriter(path, source="test", args={}, crop_res=64) as w:
        w.append(_samples(1))
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(DatasetError, match="ok.h5.*schema_version 99"):
        open_dataset(path)
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION
        del f["joints_2d"]
    with pytest.raises(DatasetError, match="ok.h5.*missing field 'joints_2d'"):
        open_dataset(path)


def test_partial_files_of_killed_writers_are_removed_by_the_next(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".split.h5.tmp-{dead.stdout.strip()}"
    live = tmp_path / f".split.h5.tmp-{os.getppid()}"  # a writer still running
    other = tmp_path / ".other.h5.tmp-1"
    for p in (stale, live, other):
        p.write_bytes(b"partial")
    with DatasetWriter(tmp_path / "split.h5", source="test", args={}, crop_res=64) as w:
        w.append(_samples(1))
    assert not stale.exists() and live.exists() and other.exists()


def test_h36m_converter_checks_its_output_folder_first(tmp_path, capsys):
    from data_prep.h36m.__main__ import main

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as info:
        main(["--root", str(tmp_path), "--out", str(blocker / "out")])
    assert info.value.code == 2
    assert f"--out: {blocker / 'out'} is not a writable folder" in capsys.readouterr().err


def test_version_2_validity_and_version_1_files_still_read(synthetic_split, tmp_path):
    import json
    import shutil

    from c2f.data import H5Source, make_example
    from c2f.data.augment import Augmentation
    from c2f.geometry import DepthBins

    # A version-1 file: no validity fields, no joint map; every joint reads as valid.
    old = tmp_path / "v1.h5"
    shutil.copy(synthetic_split, old)
    with h5py.File(old, "a") as f:
        del f["valid_2d"], f["valid_3d"], f.attrs["joint_sources"]
        f.attrs["schema_version"] = 1
    v1 = H5Source(old)
    assert v1[3]["valid_3d"].tolist() == [1] * 17 and v1.column("valid_2d").shape == (120, 17)
    # Version 2: a joint without 3D may hold anything finite (here z = 0: "behind the camera"
    # would fail a 3D joint), and the example masks it, mirrored with the joints on a flip.
    new = tmp_path / "v2.h5"
    shutil.copy(synthetic_split, new)
    with h5py.File(new, "a") as f:
        assert json.loads(f.attrs["joint_sources"])[0] == "Pelvis"
        cam = f["joints_cam"][...]
        cam[:, 13, 2] = 0.0  # the left wrist (c2f.skeleton order)
        f["joints_cam"][...] = cam
        valid = f["valid_3d"][...]
        valid[:, 13] = 0
        f["valid_3d"][...] = valid
    source = H5Source(new)
    kwargs = dict(stored_res=128, input_res=64, output_res=16, depth_bins=DepthBins())
    plain = make_example(source[0], Augmentation(), **kwargs, skeleton=H36M17)
    flipped = make_example(source[0], Augmentation(flip=True), **kwargs, skeleton=H36M17)
    assert not plain["mask"][13] and plain["mask"].sum() == 16
    assert not flipped["mask"][16] and flipped["mask"].sum() == 16  # left wrist -> right one
    # ... and supervises it in x and y alone (c2f.losses' mask_xy).
    assert np.flatnonzero(plain["mask_xy"]).tolist() == [13]
    assert np.flatnonzero(flipped["mask_xy"]).tolist() == [16]
    source.close()
    with h5py.File(new, "a") as f:
        valid[0, 13] = 1  # now it claims a 3D joint at z = 0
        f["valid_3d"][...] = valid
    with pytest.raises(DatasetError, match=r"'joints_cam': a joint at or behind .* sample\(s\) 0 "):
        H5Source(new)
    with h5py.File(new, "a") as f:
        valid[0, 13] = 0
        valid[5, 2] = 2
        f["valid_3d"][...] = valid
    with pytest.raises(DatasetError, match=r"'valid_3d': a value other than 0 or 1 at sample"):
        H5Source(new)
