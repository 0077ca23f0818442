"""Safe readers: deeply nested Torch7 files, archives whose members declare too much, edited
metadata: each a named error, before any large allocation or any call."""

import json
import struct
import zipfile

import pytest

from data_prep.torch7 import t7file


def test_deeply_nested_torch7_tables_are_a_named_error(tmp_path):
    depth = t7file.MAX_DEPTH + 50
    parts = []
    for level in range(depth):  # {1 = {1 = {...}}}: a table tag, its index, one entry
        parts.append(struct.pack("<iii", t7file.TABLE, level + 1, 1))
        parts.append(struct.pack("<id", t7file.NUMBER, 1.0))
    parts.append(struct.pack("<i", t7file.NIL))
    path = tmp_path / "deep.t7"
    path.write_bytes(b"".join(parts))
    with pytest.raises(
        t7file.Torch7Error, match=f"deep.t7: .*nested deeper than {t7file.MAX_DEPTH}"
    ):
        t7file.load(path)


def test_shallow_nesting_still_reads(tmp_path):
    parts = []
    for level in range(300):
        parts.append(struct.pack("<iii", t7file.TABLE, level + 1, 1))
        parts.append(struct.pack("<id", t7file.NUMBER, 1.0))
    parts.append(struct.pack("<id", t7file.NUMBER, 7.0))
    path = tmp_path / "ok.t7"
    path.write_bytes(b"".join(parts))
    value = t7file.load(path)
    for _ in range(300):
        value = value[1]
    assert value == 7.0


def _artifact(path, meta: bytes, model_size: int):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.json", meta)
        z.writestr("model.stablehlo", b"\0" * model_size)


def test_an_artifact_member_larger_than_its_bound_is_refused_unread(tmp_path, monkeypatch):
    from c2f.serving.deploy import load, stablehlo

    path = tmp_path / "bomb.zip"
    _artifact(path, json.dumps({"format": "c2f-stablehlo"}).encode(), 4096)
    monkeypatch.setitem(stablehlo.MAX_MEMBER_BYTES, "model.stablehlo", 1024)  # a small bound
    with pytest.raises(ValueError, match="model.stablehlo declares 4,096 bytes, more than"):
        load(path)
    monkeypatch.undo()
    _artifact(path, b"{not json", 16)
    with pytest.raises(ValueError, match="bomb.zip: meta.json is not JSON"):
        load(path)


@pytest.mark.parametrize("kind", ["function", "closure"])
def test_nested_functions_and_closures_count_toward_the_depth_limit(tmp_path, kind):
    """50,000 functions each holding the next as its upvalues: a named error, no RecursionError."""
    parts = []
    for level in range(50_000):
        if kind == "function":
            parts.append(struct.pack("<ii", t7file.FUNCTION, 1) + b"\x1b")
        else:
            parts.append(struct.pack("<iii", t7file.CLOSURE, level + 1, 1) + b"\x1b")
    parts.append(struct.pack("<i", t7file.NIL))
    path = tmp_path / f"{kind}s.t7"
    path.write_bytes(b"".join(parts))
    with pytest.raises(t7file.Torch7Error, match=f"nested deeper than {t7file.MAX_DEPTH}"):
        t7file.load(path)


def test_a_torch7_tensor_of_zero_strides_and_huge_sizes_is_named(tmp_path):
    def string(text: str) -> bytes:
        return struct.pack("<i", len(text)) + text.encode()

    storage = (struct.pack("<ii", t7file.TORCH, 2) + string("V 1") + string("torch.FloatStorage")
               + struct.pack("<qf", 1, 1.0))  # fmt: skip
    tensor = (struct.pack("<ii", t7file.TORCH, 1) + string("V 1") + string("torch.FloatTensor")
              + struct.pack("<i", 2) + struct.pack("<qq", 2**40, 2**40)
              + struct.pack("<qq", 0, 0) + struct.pack("<q", 1) + storage)  # fmt: skip
    path = tmp_path / "huge.t7"
    path.write_bytes(tensor)
    with pytest.raises(t7file.Torch7Error, match="huge.t7: .*1,208,925,819,614,629,174,706,176 "
                       "elements, more than"):  # fmt: skip
        t7file.load(path)


def test_a_temporal_artifact_is_read_as_strictly(tmp_path):
    # The image model's artifact, a damaged program and a mangled meta: each named.
    from c2f.serving.deploy.temporal import FORMAT, TemporalArtifact

    path = tmp_path / "t.zip"
    _artifact(path, json.dumps({"format": "c2f-stablehlo"}).encode(), 16)
    with pytest.raises(ValueError, match="t.zip: meta.json says format 'c2f-stablehlo'"):
        TemporalArtifact(path)
    _artifact(path, json.dumps({"format": FORMAT, "window": 27}).encode(), 16)
    with pytest.raises(ValueError, match="t.zip: model.stablehlo does not deserialize"):
        TemporalArtifact(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="t.zip: not a c2f temporal artifact"):
        TemporalArtifact(path)
