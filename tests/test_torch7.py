"""Importing the authors' Torch7 network (data_prep.torch7) from files in the real format."""

import json

import numpy as np
import pytest
from flax import nnx

from data_prep.torch7 import t7file
from data_prep.torch7.__main__ import check, main
from data_prep.torch7.convert import assign, file_digest, read
from data_prep.torch7.t7file import Table, Torch7Error, TorchObject
from tests import torch7_writer as tw
from tests.torch7_reference import forward

TINY = dict(depths=(1, 2), joints=17, features=8, wide=16, levels=1)  # 2 stages, fast
FULL = dict(depths=(1, 2, 4, 8), joints=17, features=8, wide=16, levels=2)  # 4 stages, nested


def test_reader_keeps_values_references_and_strided_tensors(tmp_path):
    storage = tw.Storage(np.arange(12, dtype=np.float32))
    transposed = tw.Tensor(storage, 1, (3, 2), (1, 3))  # a strided window at offset 1
    shared = Table(name="shared")
    key = Table(k=1)
    root = Table(
        {
            1: 2.5,
            2: "text",
            3: True,
            "t": transposed,
            "again": transposed,
            "a": shared,
            "b": Table(inner=shared),
            key: "table key",
            "m": TorchObject("nn.Identity", 1, Table(train=False)),
        }
    )
    root["self"] = root
    tw.save(root, tmp_path / "values.t7")
    out = t7file.load(tmp_path / "values.t7")
    assert out[1] == 2.5 and out[2] == "text" and out[3] is True
    np.testing.assert_array_equal(
        out["t"], np.arange(12.0)[1:].reshape(-1)[[0, 3, 1, 4, 2, 5]].reshape(3, 2)
    )
    assert out["again"] is out["t"] and out["a"] is out["b"]["inner"] and out["self"] is out
    (table_key,) = [k for k in out if isinstance(k, Table)]
    assert table_key["k"] == 1 and out[table_key] == "table key"
    assert out["m"].typename == "nn.Identity" and out["m"]["train"] is False


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The 4-stage network written to a file: (path, builder)."""
    path = tmp_path_factory.mktemp("t7") / "net.t7"
    builder, gmodule = tw.build(**FULL)
    tw.save(gmodule, path)
    return path, builder


def _volumes_match(path, builder, input_res):
    from c2f.model import abstract_model

    imported = read(path, input_res=input_res)
    model = abstract_model(imported.config)  # shapes only: every array must come from the file
    assign(model, imported)
    model.eval()
    images = np.random.default_rng(0).uniform(0, 1, (2, input_res, input_res, 3))
    ours = model(images.astype(np.float32))
    reference = forward(builder, images.transpose(0, 3, 1, 2))
    for k, (volume, head) in enumerate(zip(ours, reference)):
        head = head.reshape(volume.shape)  # Torch's [B, J * D, H, W], joint-major
        scale = np.abs(head).max()
        assert scale > 0.05, k  # a non-trivial output
        np.testing.assert_allclose(np.asarray(volume), head, atol=1e-5 * scale, err_msg=str(k))
    return imported


def test_import_reproduces_the_written_network(written):
    path, builder = written
    imported = _volumes_match(path, builder, input_res=32)
    c = imported.config
    assert (c.depths, c.features, c.wide_features, c.hourglass_levels) == ((1, 2, 4, 8), 8, 16, 2)
    # Every convolution and BatchNorm written (each has a "weight") was mapped.
    assert imported.modules == sum(key == "weight" for _, key, _ in builder.params) == 432
    # forwardnodes is not the creation order: the walk did not depend on it.
    gmodule = t7file.load(path)
    order = [n["data"]["annotations"]["_debugLabel"] for n in gmodule["forwardnodes"].array()]
    created = [n["data"]["annotations"]["_debugLabel"] for n, _, _ in builder.nodes]
    assert order != created


def test_old_batchnorm_running_std_is_converted(tmp_path):
    builder, gmodule = tw.build(**TINY, seed=3, old_batchnorm=True)
    tw.save(gmodule, tmp_path / "old.t7")
    _volumes_match(tmp_path / "old.t7", builder, input_res=16)


def _mutated(tmp_path, change):
    builder, gmodule = tw.build(**TINY)
    change(builder, gmodule)
    path = tmp_path / "bad.t7"
    tw.save(gmodule, path)
    return path


def _node(builder, line, which=0):
    return [
        n
        for n, m, _ in builder.nodes
        if m is not None and n["data"]["annotations"]["_debugLabel"].endswith(f":{line}_")
    ][which]


def _swap_concat(builder, gmodule):
    data = _node(builder, 58)["data"]  # the JoinTable
    mapindex = data["mapindex"]
    first, second = mapindex[1], mapindex[2]
    mapindex[1], mapindex[2], mapindex[first], mapindex[second] = second, first, 2, 1


def _wrong_class(builder, gmodule):
    _node(builder, 38)["data"]["module"].typename = "nn.SpatialFullConvolution"


def _wrong_shape(builder, gmodule):
    head = _node(builder, 54)["data"]["module"]
    w = head.fields["weight"]
    head.fields["weight"] = tw.Tensor(w.storage, w.offset, (w.size[0] - 1, *w.size[1:]), w.stride)


def _nan_weight(builder, gmodule):
    w = _node(builder, 38)["data"]["module"].fields["weight"]
    w.storage.data[w.offset] = np.nan


@pytest.mark.parametrize(
    "change, message",
    [
        (_swap_concat, "expected one JoinTable (stage 0's concatenation) reading it as input 1"),
        (
            _wrong_class,
            "expected one SpatialConvolution (stem) reading it, found 0 (it feeds: "
            "SpatialFullConvolution",
        ),
        (_wrong_shape, "stages.0.head (node"),
        (_nan_weight, "stem.kernel: the file's values hold NaN"),
    ],
)
def test_wrong_networks_are_named(tmp_path, change, message):
    from c2f.model import abstract_model
    from data_prep.torch7.convert import check_arrays_finite

    path = _mutated(tmp_path, change)
    with pytest.raises(Torch7Error) as info:
        imported = read(path, input_res=16)
        model = abstract_model(imported.config)
        assign(model, imported)
        check_arrays_finite(model)
    assert message in str(info.value), str(info.value)
    assert str(path) in str(info.value) or "NaN" in message


def test_broken_files_are_named(tmp_path, written):
    path, _ = written
    raw = path.read_bytes()
    cases = {
        "truncated.t7": (raw[: len(raw) // 2], "truncated?"),
        "text.t7": (b"this is not a torch file\n" * 4, "unknown type tag"),
        "trailing.t7": (raw + b"\0" * 8, "bytes follow the saved object"),
        "empty.t7": (b"", "empty file"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(Torch7Error) as info:
            read(tmp_path / name)
        assert message in str(info.value) and name in str(info.value), str(info.value)
    tw.save(TorchObject("nn.Sequential", 1, Table(modules=Table())), tmp_path / "seq.t7")
    with pytest.raises(Torch7Error, match="is a nn.Sequential, expected nn.gModule"):
        read(tmp_path / "seq.t7")


@pytest.fixture(scope="module")
def imported_run(written, tmp_path_factory):
    path, _ = written
    out = tmp_path_factory.mktemp("imported") / "run"
    assert main([str(path), "--out", str(out), "--input-res", "32"]) == 0
    return out


def test_the_imported_run_loads_like_a_trained_one(written, imported_run, capsys):
    from c2f.checkpoint import load_model
    from c2f.model import abstract_model

    path, builder = written
    cfg, graphdef, state, meta = load_model(imported_run)
    assert cfg.model == read(path, input_res=32).config and meta["step"] == 0
    assert meta["imported"]["sha256"] == file_digest(path)
    assert cfg.train.protocol == "paper"  # the paper's recipe around the imported network
    loaded = nnx.merge(graphdef, state)
    expected = abstract_model(cfg.model)
    imported = read(path, input_res=32)
    assign(expected, imported)
    ours, theirs = nnx.to_flat_state(nnx.state(loaded)), nnx.to_flat_state(nnx.state(expected))
    for (p, a), (q, b) in zip(ours, theirs):
        assert p == q
        np.testing.assert_array_equal(np.asarray(a[...]), np.asarray(b[...]), err_msg=str(p))
    # A second import into the same folder is refused, and changes nothing.
    before = json.loads((imported_run / "imported.json").read_text())
    assert main([str(path), "--out", str(imported_run)]) == 2
    assert "already holds checkpoints" in capsys.readouterr().err
    assert json.loads((imported_run / "imported.json").read_text()) == before


def test_check_runs_on_the_real_frames(imported_run, shared_data):
    errors = check(imported_run, shared_data / "mmpose_h36m_samples")
    assert len(errors) == 5 and all(np.isfinite(v) and v > 0 for v in errors.values())
    assert errors["mean"] == pytest.approx(np.mean([v for k, v in errors.items() if k != "mean"]))


def test_a_hostile_check_file_is_refused_before_the_import(written, tmp_path, capsys):
    """``--check`` reads its samples and cameras first: a pickle that would run code stops the
    command (exit 2) before the run folder exists."""
    import pickle

    path, _ = written
    data = tmp_path / "check"
    data.mkdir()
    np.savez(data / "test_h36m_body3d.npz", imgname=np.array(["S9/x.jpg"]),
             part=np.zeros((1, 17, 3)), S=np.zeros((1, 17, 4)))  # fmt: skip
    # A pickle whose load would call os.system: the restricted unpickler refuses the global.
    (data / "cameras.pkl").write_bytes(
        b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
    )
    out = tmp_path / "run"
    assert main([str(path), "--out", str(out), "--check", "--check-data", str(data)]) == 2
    assert "refused to unpickle" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "pwned").exists()
    # pickle itself would have run it: the file is what the test says it is.
    assert b"system" in (data / "cameras.pkl").read_bytes() and pickle.HIGHEST_PROTOCOL


def test_an_existing_out_is_refused_before_the_file_is_read(written, tmp_path, capsys):
    path, _ = written
    notes = tmp_path / "README.md"
    notes.write_text("mine")
    assert main([str(path), "--out", str(notes)]) == 2
    assert "README.md exists and is not an empty folder" in capsys.readouterr().err
    assert notes.read_text() == "mine"
