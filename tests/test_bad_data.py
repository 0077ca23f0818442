"""Broken datasets fail when opened, before any training step, naming file, field and sample."""

import shutil

import h5py
import numpy as np
import pytest

from c2f.data import BatchSpec, DatasetError, H5Source, Loader


def _corrupt(src, dst, edit):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def _set(field, index, value):
    def edit(f):
        data = f[field][...]
        data[index] = value
        f[field][...] = data

    return edit


def _attr(name, value):
    def edit(f):
        f.attrs[name] = value

    return edit


AT = "at sample\\(s\\)"
CASES = {
    "nan_joint": (_set("joints_cam", (5, 3, 1), np.nan), f"'joints_cam': NaN or Inf.*{AT} 5 "),
    "huge_joint": (_set("joints_cam", (7, 0, 0), 1e9), f"'joints_cam': a joint farther.*{AT} 7 "),
    "zero_scale": (_set("scale", 11, 0.0), f"'scale': a scale that is not positive.*{AT} 11 "),
    "nan_scale": (_set("crop_scale", 12, np.nan), f"'crop_scale': NaN or Inf.*{AT} 12 "),
    "nan_intrinsics": (_set("intrinsics", (3, 2), np.nan), f"'intrinsics': NaN or Inf.*{AT} 3 "),
    "zero_focal": (_set("intrinsics", (4, 0), 0.0), f"'intrinsics': a focal length.*{AT} 4 "),
    "action_id": (_set("action", 9, 99), f"'action': an id outside the file's 15 act.*{AT} 9 "),
    "camera_id": (_set("camera", 2, -1), f"'camera': an id outside.*{AT} 2 "),
    "schema_version": (_attr("schema_version", "x"), "'schema_version' is not a number"),
    "crop_res": (_attr("crop_res", 64), "'crop_res' is 64 but the stored crops are 96x96"),
    "action_names": (_attr("action_names", "[broken"), "'action_names' is malformed"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_opening_a_corrupted_file_names_file_field_and_sample(tiny_data, tmp_path, case):
    edit, message = CASES[case]
    path = _corrupt(tiny_data / "test.h5", tmp_path / f"{case}.h5", edit)
    with pytest.raises(DatasetError, match=message) as info:
        H5Source(path)
    assert str(path) in str(info.value)


def test_train_py_refuses_a_bad_file_before_training(tiny_data, tmp_path, capsys):
    import train as train_cli

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(tiny_data / "test.h5", data / "test.h5")
    _corrupt(tiny_data / "train.h5", data / "train.h5", _set("joints_cam", (40, 0, 2), np.inf))
    workdir = tmp_path / "run"
    argv = ["--config", "tiny", "--workdir", str(workdir), "--set",
            f"data.root={str(data)!r}"]  # fmt: skip
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "train.h5: field 'joints_cam': NaN or Inf values at sample(s) 40 (1 bad)" in err
    assert not (workdir / "checkpoints").exists()  # nothing started


def _break_images(f, indices):
    for i in indices:
        f["image"][i] = np.frombuffer(b"\xff\xd8 not a jpeg", np.uint8)


def test_undecodable_images_are_skipped_counted_and_named_or_fail(tiny_data, tmp_path, capsys):
    path = _corrupt(tiny_data / "train.h5", tmp_path / "train.h5", lambda f: _break_images(f, [7]))
    source = H5Source(path)  # only sample 0's image is decoded at open
    spec = BatchSpec(batch_size=3, input_res=64, output_res=16, seed=0)
    batch = Loader(source, spec).batch_of([6, 7, 9], step=0)
    assert int(batch["bad_images"]) == 1 and list(batch["index"]) == [6, 8, 9]
    assert f"{path}: sample 7: image: not a decodable JPEG" in capsys.readouterr().out
    strict = BatchSpec(batch_size=3, input_res=64, output_res=16, bad_images="fail")
    with pytest.raises(ValueError, match="train.h5: sample 7: image: not a decodable"):
        Loader(source, strict).batch_of([6, 7, 9])
    in_order = BatchSpec(batch_size=3, input_res=64, output_res=16, augment=None, shuffle=False)
    with pytest.raises(ValueError, match="sample 7"):  # evaluation never substitutes
        Loader(source, in_order).batch_of([6, 7, 9])


def with_broken_train_images(tiny_data, folder, indices):
    """A copy of the tiny dataset whose training images ``indices`` do not decode."""
    folder.mkdir(parents=True)
    shutil.copy(tiny_data / "test.h5", folder / "test.h5")
    _corrupt(tiny_data / "train.h5", folder / "train.h5", lambda f: _break_images(f, indices))
    return folder
