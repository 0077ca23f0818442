"""Exported predictors (c2f.serving.export) run by their runtimes (c2f.serving.deploy)
equal the Predictor."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

# A network as small as the pipeline allows (one stage, 8 features, 32 px): jax2onnx's
# conversion time grows faster than linearly with the number of operations.
NANO = ["model.design='uniform'", "model.depths=(8,)", "model.features=8",
        "model.hourglass_levels=1", "model.input_res=32"]  # fmt: skip
SHARP = 20.0  # the head's scale: a random network's flat volumes made peaked (spread joints)
TOL_PX, TOL_MM = 1e-3, 0.1  # the agreement: 2D px, root-relative 3D mm


@pytest.fixture(scope="module")
def nano(micro_cfg):
    """(cfg, graphdef, state, Predictor) of a random nano network with a sharpened head.

    Random volumes are nearly flat: the soft-argmax of each joint would sit at the centre and
    the root depth from bone lengths be ill-posed. Scaling the heads' weights makes each
    joint's volume peak somewhere of its own, so the skeleton is spread, as a trained one.
    """
    import jax
    from flax import nnx

    from c2f.config import apply_overrides
    from c2f.model import abstract_model
    from c2f.serving.predictor import Predictor

    cfg = apply_overrides(micro_cfg, [*NANO, "train.decode='soft'"])
    model = abstract_model(cfg.model)  # filled from numpy: eager initialisation compiles a lot
    model.eval()
    graphdef, shapes = nnx.split(model)
    rng = np.random.default_rng(3)

    def value(path, s):
        name = jax.tree_util.keystr(path)
        if "kernel" in name:
            scale = SHARP if "head" in name else 1.0
            w = rng.normal(0, 1 / np.sqrt(np.prod(s.shape[:-1])), s.shape) * scale
        elif "scale" in name or "var" in name:
            w = rng.uniform(0.5, 1.5, s.shape)
        else:  # biases, means
            w = rng.normal(0, 0.1, s.shape)
        return w.astype(s.dtype)

    state = jax.tree_util.tree_map_with_path(value, shapes)
    return cfg, graphdef, state, Predictor(cfg, graphdef, state, decode="soft", flip="volumes")


def _crops(cfg, n=3, seed=0):
    rng = np.random.default_rng(seed)
    r, scale = cfg.model.input_res, 16.0  # image px per heatmap px: a person ~130 px tall
    return {
        "image": rng.integers(0, 256, (n, r, r, 3), dtype=np.uint8),
        "hm_to_img": np.tile(np.array([[scale, 0, 60], [0, scale, 40]], np.float32), (n, 1, 1)),
        "intrinsics": np.tile(np.array([1145, 1146, 512, 515], np.float32), (n, 1)),
        "distortion": np.zeros((n, 5), np.float32),
    }


@pytest.fixture(scope="module")
def exported(nano, tmp_path_factory):
    """Both exports of the nano network: {format: path}."""
    from c2f.serving.export import export_onnx, export_stablehlo

    cfg, graphdef, state, _ = nano
    out = tmp_path_factory.mktemp("exports")
    meta = export_stablehlo(cfg, graphdef, state, out / "nano.stablehlo", decode="soft",
                            flip="volumes")  # fmt: skip
    assert meta["platforms"] == ["cpu", "cuda", "tpu"]
    export_onnx(cfg, graphdef, state, out / "nano.onnx", decode="soft", flip="volumes")
    return {"stablehlo": out / "nano.stablehlo", "onnx": out / "nano.onnx"}


# Runs in a fresh interpreter where flax, optax, orbax and c2f.model cannot be imported, and
# jax neither while the ONNX runtime runs: what each runtime needs is all it gets.
RUNTIMES = """
import importlib.abc, json, sys
import numpy as np
blocked = {"flax", "optax", "orbax", "c2f.model", "jax"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError(f"blocked: {name}")
sys.meta_path.insert(0, Block())
inputs = dict(np.load(sys.argv[1]))
crops = {k: inputs[k] for k in ("image", "hm_to_img", "intrinsics", "distortion")}
out = {}
from c2f.serving.deploy import load
onnx = load(sys.argv[3])
out.update({f"onnx_{k}": v for k, v in onnx.run_crops(crops).items()})
full = onnx(inputs["frames"], boxes=inputs["boxes"], K=inputs["K"])
out.update({f"onnx_full_{k}": v for k, v in full.items()})
assert "jax" not in sys.modules, "the ONNX runtime imported jax"
blocked.discard("jax")
hlo = load(sys.argv[2])
out.update({f"hlo_{k}": v for k, v in hlo.run_crops(crops).items()})
full = hlo(inputs["frames"], boxes=inputs["boxes"], K=inputs["K"])
out.update({f"hlo_full_{k}": v for k, v in full.items()})
np.savez(sys.argv[4], **out)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("flax", "optax", "orbax"))))
"""


def test_runtimes_reproduce_the_predictor_without_flax(nano, exported, tmp_path):
    cfg, _, _, predictor = nano
    crops = _crops(cfg)
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 120, 160, 3), dtype=np.uint8)
    boxes = np.array([[30, 10, 110, 100], [50, 20, 120, 110]], np.float64)
    K = np.array([[300.0, 0, 80], [0, 300, 60], [0, 0, 1]])
    np.savez(tmp_path / "in.npz", frames=frames, boxes=boxes, K=K, **crops)
    proc = subprocess.run(
        [sys.executable, "-c", RUNTIMES, str(tmp_path / "in.npz"), str(exported["stablehlo"]),
         str(exported["onnx"]), str(tmp_path / "out.npz")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    got = dict(np.load(tmp_path / "out.npz"))
    want = predictor.run_crops(crops)
    spread = np.ptp(want["uv"], axis=1).min()
    assert spread > 20, spread  # the sharpened network's joints are spread over the image
    full = predictor(frames, boxes=boxes, K=K)
    for runtime in ("hlo", "onnx"):
        np.testing.assert_allclose(got[f"{runtime}_uv"], want["uv"], atol=TOL_PX)
        np.testing.assert_allclose(got[f"{runtime}_pred_mm"], want["pred_mm"], atol=TOL_MM)
        # Camera-frame joints add the root depth recovered from bone lengths: agreement
        # relative to the distance from the camera.
        far = np.abs(want["joints_mm"][..., 2]).max()
        assert np.abs(got[f"{runtime}_joints_mm"] - want["joints_mm"]).max() <= 1e-4 * far
        # The whole call (host crop included) equals the Predictor's call.
        np.testing.assert_allclose(got[f"{runtime}_full_joints_2d"], full["joints_2d"],
                                   atol=TOL_PX)  # fmt: skip
        np.testing.assert_allclose(got[f"{runtime}_full_joints_3d"], full["joints_3d"],
                                   atol=TOL_MM)  # fmt: skip


def test_bad_files_and_inputs_are_named(nano, exported, tmp_path):
    from c2f.serving.deploy import OnnxPredictor, StableHLOPredictor, load
    from c2f.serving.export import export_stablehlo

    cfg, graphdef, state, _ = nano
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    for opener in (load, StableHLOPredictor, OnnxPredictor):
        with pytest.raises(ValueError, match="notes.txt"):
            opener(text)
    with pytest.raises(ValueError, match="not a zip file.*OnnxPredictor"):
        StableHLOPredictor(exported["onnx"])
    with pytest.raises(ValueError, match="StableHLO artifact.*StableHLOPredictor"):
        OnnxPredictor(exported["stablehlo"])
    tpu_only = tmp_path / "tpu.stablehlo"
    export_stablehlo(cfg, graphdef, state, tpu_only, decode="soft", flip="none",
                     platforms=("tpu",))  # fmt: skip
    with pytest.raises(ValueError, match="lowered for tpu; this machine runs cpu"):
        load(tpu_only)
    runtime = load(exported["stablehlo"])
    crops = _crops(cfg, n=2)
    with pytest.raises(ValueError, match=r"image: expected uint8 \[B, 32, 32, 3\], got float32"):
        runtime.run_crops({**crops, "image": crops["image"].astype(np.float32)})
    with pytest.raises(ValueError, match=r"intrinsics: expected float32 \[B, 4\]"):
        runtime.run_crops({**crops, "intrinsics": crops["intrinsics"][:, :3]})
    with pytest.raises(ValueError, match="no 'distortion'"):
        runtime.run_crops({k: v for k, v in crops.items() if k != "distortion"})
    with pytest.raises(ValueError, match="images: expected dtype uint8"):
        runtime(np.zeros((1, 64, 64, 3), np.float32))


def test_export_command_on_a_run(micro_run, tmp_path, capsys):
    from c2f.serving.export import main

    out = tmp_path / "run.stablehlo"
    assert main(["--workdir", str(micro_run), "--format", "stablehlo", "--out", str(out),
                 "--platforms", "cpu"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "platforms: cpu" in printed and "check against the Predictor" in printed
    assert main(["--workdir", str(tmp_path / "nothing"), "--format", "onnx",
                 "--out", str(tmp_path / "x.onnx")]) == 2  # fmt: skip


def test_numpy_crop_agrees_with_the_training_resampler():
    from c2f.data.augment import warp
    from c2f.geometry.crop import crop_matrix
    from c2f.serving.person_crop import warp_bilinear

    y, x = np.mgrid[0:90, 0:120]
    image = np.stack([x * 2, y * 2, (x + y) % 256], -1).astype(np.uint8)
    image[40:50, 60:70] = 255  # an edge
    for rot in (0.0, 17.0):
        M = crop_matrix(np.array([61.0, 44.0]), 0.37, 48, rot_deg=rot)
        ours, pil = warp_bilinear(image, M, 48).astype(int), warp(image, M, 48).astype(int)
        inner = np.s_[2:-2, 2:-2]  # borders differ in how black is blended in
        assert np.abs(ours[inner] - pil[inner]).max() <= 1, rot
        assert np.abs(ours[inner] - pil[inner]).mean() < 0.01, rot
