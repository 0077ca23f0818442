"""Export a trained run's predictor: ``c2f export --workdir RUN --format F --out FILE``.

The exported graph is the whole inference function (:class:`c2f.inference.Inference`): uint8
crops -> float -> network -> decode (and flip test) -> 2D joints in image px, root-relative
and camera-frame 3D joints in mm, with the weights inside and a symbolic batch size. Inputs
``image`` [B, R, R, 3] uint8, ``hm_to_img`` [B, 2, 3], ``intrinsics`` [B, 4] (fx, fy, cx,
cy), ``distortion`` [B, 5] (all float32); outputs ``uv`` [B, J, 2] px, ``pred_mm`` and
``joints_mm`` [B, J, 3] mm. The host-side crop stays outside (:mod:`c2f.serving.person_crop`); the
runtimes of :mod:`c2f.serving.deploy` add it back with the Predictor's call signature.

* ``stablehlo``: ``jax.export``, lowered for several platforms in one artifact (default cpu,
  cuda, tpu; no device of those kinds is needed), in the run's compute dtype unless
  ``--compute-dtype``. The file is a zip of ``meta.json`` and ``model.stablehlo``.
* ``onnx``: jax2onnx, float32 (ONNX Runtime's CPU provider has no bfloat16 kernels for the
  network's products), opset 23, for ONNX Runtime; the metadata rides in the model's
  ``metadata_props`` under ``c2f``.

After writing, the export is run by its runtime on random crops beside the Predictor and the
largest differences are printed (only where the artifact runs here).
"""

import argparse
import contextlib
import dataclasses
import json
import logging
import pathlib
import sys
import time
import zipfile

import jax
import numpy as np

from c2f.checkpoint import load_model
from c2f.data import H5Source
from c2f.evaluation.evaluate import test_loader
from c2f.inference import FLIPS, Inference
from c2f.model.channel_ops import single_platform
from c2f.outputs import add_overwrite, check_outputs, replacing
from c2f.serving.deploy import load
from c2f.serving.deploy.stablehlo import META_FILE, STABLEHLO_FILE  # the runtime's layout
from c2f.serving.person_crop import OUTPUTS
from c2f.serving.predictor import Predictor, _with_dtype
from c2f.serving.temporal_export import export_temporal
from c2f.volume import DECODES

FORMAT_VERSION = 1
INPUT_NAMES = ("image", "hm_to_img", "intrinsics", "distortion")
PLATFORMS = ("cpu", "cuda", "tpu")


def input_names(cfg) -> tuple[str, ...]:
    """The artifact's inputs: the crops, and the root depth where the skeleton has no bones."""
    needs_root = cfg.model.keypoints.bone_lengths_mm is None
    return INPUT_NAMES + (("root_depth_mm",) if needs_root else ())


def _input_specs(cfg, batch):
    r = cfg.model.input_res
    shapes = [(batch, r, r, 3), (batch, 2, 3), (batch, 4), (batch, 5)]
    dtypes = [np.uint8, np.float32, np.float32, np.float32]
    if "root_depth_mm" in input_names(cfg):
        parts = len(cfg.model.keypoints.roots)
        shapes.append((batch,) if parts == 1 else (batch, parts))
        dtypes.append(np.float32)
    return tuple(shapes), tuple(dtypes)


def predictor_function(cfg, graphdef, state, *, decode: str, flip: str):
    """The inference function with its weights as constants, and its description.

    Returns:
      (fn, meta): ``fn(image, hm_to_img, intrinsics, distortion[, root_depth_mm]) -> (uv,
      pred_mm, joints_mm)`` (the root depth for skeletons without bone lengths); ``meta``
      what a runtime needs to know about it, the skeleton (names, bones, flip pairs) included.
    """
    names = input_names(cfg)
    inference = Inference(cfg, graphdef, state, decode=decode, flip=flip)
    run = inference.with_constant_weights()

    def fn(*inputs):
        batch = dict(zip(names, inputs))
        out = run(batch)
        return tuple(out[k] for k in OUTPUTS)

    meta = {
        "format_version": FORMAT_VERSION,
        "input_res": cfg.model.input_res,
        "output_res": cfg.model.output_res,
        "joints": cfg.model.joints,
        "decode": inference.decode,
        "flip": inference.flip,
        "compute_dtype": cfg.model.compute_dtype,
        "inputs": list(names),
        "skeleton": json.loads(cfg.model.keypoints.to_json()),
        "outputs": list(OUTPUTS),
    }
    return fn, meta


def export_stablehlo(cfg, graphdef, state, out, *, decode, flip, platforms=PLATFORMS,
                     source=None) -> dict:  # fmt: skip
    """Write a multi-platform ``jax.export`` artifact to ``out``; returns its meta."""
    bad = [p for p in platforms if p not in ("cpu", "cuda", "rocm", "tpu")]
    if bad or not platforms:
        raise ValueError(f"platforms: from cpu, cuda, rocm, tpu; got {list(platforms)}")
    fn, meta = predictor_function(cfg, graphdef, state, decode=decode, flip=flip)
    (b,) = jax.export.symbolic_shape("b")
    shapes, dtypes = _input_specs(cfg, b)
    specs = [jax.ShapeDtypeStruct(s, d) for s, d in zip(shapes, dtypes)]
    exported = jax.export.export(jax.jit(fn), platforms=tuple(platforms))(*specs)
    meta = {**meta, "format": "c2f-stablehlo", "platforms": list(exported.platforms),
            "source": source or {}}  # fmt: skip
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as tmp, zipfile.ZipFile(tmp, "w") as archive:  # whole or absent
        archive.writestr(META_FILE, json.dumps(meta, indent=2))
        archive.writestr(STABLEHLO_FILE, bytes(exported.serialize()))
    return meta


def export_onnx(cfg, graphdef, state, out, *, decode, flip, source=None) -> dict:
    """Write a float32 ONNX model (jax2onnx) to ``out``; returns its meta.

    Raises:
      ImportError: jax2onnx or onnx is not installed (``requirements-deploy.txt``).
    """
    # jax2onnx logs a traceback for each optional plugin whose library (equinox, dm-pix) is
    # absent, and onnx_ir a warning per untyped constant shape: neither concerns this graph.
    for name in ("jax2onnx.plugins.plugin_system", "onnx_ir.serde"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import onnx
        from jax2onnx import to_onnx
    except ImportError as e:
        raise ImportError(
            f"--format onnx needs jax2onnx and onnx ({e}): pip install -r "
            "requirements-deploy.txt && pip install --no-deps jax2onnx==0.17.1 (make does both)"
        ) from e

    if cfg.model.compute_dtype != "float32":
        cfg, graphdef = _with_dtype(cfg, "float32")
    fn, meta = predictor_function(cfg, graphdef, state, decode=decode, flip=flip)
    shapes, dtypes = _input_specs(cfg, "B")
    specs = [_Spec(s, d) for s, d in zip(shapes, dtypes)]
    # platform_dependent cannot be converted: trace the CPU's branch (1x1 as MatMul).
    with single_platform("cpu"), _linear_connectivity_check():
        model = to_onnx(fn, specs, model_name="c2f", input_names=list(input_names(cfg)),
                        output_names=list(OUTPUTS))  # fmt: skip
    meta = {**meta, "format": "c2f-onnx", "platforms": ["onnxruntime"], "source": source or {}}
    entry = model.metadata_props.add()
    entry.key, entry.value = "c2f", json.dumps(meta)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as tmp:
        onnx.save(model, str(tmp))
    return meta


@contextlib.contextmanager
def _linear_connectivity_check():
    """Make jax2onnx's per-equation output check linear instead of quadratic.

    jax2onnx 0.17.1 checks after each equation that its outputs are produced by a node of
    the graph by scanning every node so far (``output_binding._value_is_graph_connected``):
    quadratic in the graph's size, 64 s of a 90 s conversion of a 2-stage micro network, and
    no end in 30 minutes for the paper's (measured). A value whose producer belongs to the
    graph is connected; every other value still goes through jax2onnx's own check.
    """
    try:
        from jax2onnx.converter import output_binding
    except ImportError:  # another jax2onnx layout: leave it alone
        yield
        return
    original = output_binding._value_is_graph_connected

    def connected(ctx, value):
        producer = value.producer() if hasattr(value, "producer") else None
        if producer is not None and producer.graph is getattr(ctx.builder, "nodes", None):
            return True
        return original(ctx, value)

    output_binding._value_is_graph_connected = connected
    try:
        yield
    finally:
        output_binding._value_is_graph_connected = original


@dataclasses.dataclass
class _Spec:
    """An input for jax2onnx: a shape whose batch is the name "B", and a dtype.

    jax2onnx's own symbolic-dimension path; jax's symbolic shapes fail in its lowering.
    """

    shape: tuple
    dtype: np.dtype


def check_batch(cfg, n: int = 4, seed: int = 0):
    """(crops, what): ``n`` crops of the run's test split when it is here, else random ones.

    A trained network on random noise can predict collapsed poses, for which the root depth
    from bone lengths is ill-conditioned: real crops make the 3D comparison meaningful.
    """
    path = pathlib.Path(cfg.data.root) / cfg.data.test_file
    if path.is_file():
        loader, indices = test_loader(cfg, H5Source(path), limit=n, workers=0)
        batch = loader.batch_of(indices)
        return {k: batch[k] for k in input_names(cfg)}, f"{len(indices)} test crops of {path}"
    rng = np.random.default_rng(seed)
    r, scale = cfg.model.input_res, 1000.0 / cfg.model.output_res
    crops = {
        "image": rng.integers(0, 256, (n, r, r, 3), dtype=np.uint8),
        "hm_to_img": np.tile(np.array([[scale, 0, 20], [0, scale, 10]], np.float32), (n, 1, 1)),
        "intrinsics": np.tile(np.array([1145, 1145, 512, 515], np.float32), (n, 1)),
        "distortion": np.zeros((n, 5), np.float32),
    }
    if "root_depth_mm" in input_names(cfg):
        parts = len(cfg.model.keypoints.roots)
        crops["root_depth_mm"] = np.full((n,) if parts == 1 else (n, parts), 1000.0, np.float32)
    return crops, f"{n} random crops (no test split at {path})"


def compare(runtime, predictor, crops: dict) -> dict:
    """How a runtime's outputs differ from the Predictor's on ``crops``.

    Returns:
      the largest absolute difference of each output, and ``agree``/``joints``: how many
      joints are within 1e-3 px (2D) and 0.1 mm (root-relative 3D). With an argmax decode a
      joint whose two best voxels nearly tie may land a whole voxel apart.
    """
    ours, theirs = predictor.run_crops(crops), runtime.run_crops(crops)
    out = {k: float(np.abs(ours[k] - theirs[k]).max()) for k in OUTPUTS}
    close = (np.abs(ours["uv"] - theirs["uv"]).max(-1) <= 1e-3) & (
        np.abs(ours["pred_mm"] - theirs["pred_mm"]).max(-1) <= 0.1
    )
    return {**out, "agree": int(close.sum()), "joints": int(close.size)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", required=True, help="a train.py (or data_prep.torch7) run")
    p.add_argument("--checkpoint", type=int, help="step to export (default: the latest)")
    p.add_argument("--best", action="store_true", help="the best checkpoint by test MPJPE")
    p.add_argument("--format", required=True, choices=("stablehlo", "onnx"))
    p.add_argument(
        "--temporal",
        metavar="NAME",
        help="export the run's temporal model "
        "WORKDIR/temporal/NAME instead, as its own artifact (stablehlo only)",
    )
    p.add_argument("--out", required=True, type=pathlib.Path)
    add_overwrite(p)
    p.add_argument("--decode", choices=DECODES, help="default: the run's")
    p.add_argument("--flip", choices=FLIPS, default="none")
    p.add_argument(
        "--platforms",
        default=",".join(PLATFORMS),
        help="stablehlo: comma-separated, from cpu, cuda, rocm, tpu",
    )
    p.add_argument(
        "--compute-dtype",
        choices=("float32", "bfloat16"),
        help="stablehlo: default the run's; onnx is always float32",
    )
    return p.parse_args(argv)  # fmt: skip


def main(argv=None) -> int:
    args = parse_args(argv)

    which = "best" if args.best else "last"
    try:
        # Never into the run's checkpoints/ nor over a file: before the work.
        check_outputs({"--out": args.out}, overwrite=args.overwrite)
        cfg, graphdef, state, meta = load_model(args.workdir, step=args.checkpoint, which=which)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.temporal:
        return _export_temporal(args, cfg)
    if args.compute_dtype and args.compute_dtype != cfg.model.compute_dtype:
        cfg, graphdef = _with_dtype(cfg, args.compute_dtype)
    decode = args.decode or cfg.train.decode
    source = {"workdir": str(pathlib.Path(args.workdir).resolve()), "step": meta["step"],
              "which": which}  # fmt: skip
    print(f"exporting {args.workdir} ({which} checkpoint, step {meta['step']}) as {args.format}: "
          f"decode {decode}, flip {args.flip} ...", flush=True)  # fmt: skip
    tick = time.perf_counter()
    try:
        if args.format == "stablehlo":
            platforms = tuple(p.strip() for p in args.platforms.split(",") if p.strip())
            info = export_stablehlo(cfg, graphdef, state, args.out, decode=decode,
                                    flip=args.flip, platforms=platforms, source=source)  # fmt: skip
        else:
            info = export_onnx(cfg, graphdef, state, args.out, decode=decode, flip=args.flip,
                               source=source)  # fmt: skip
    except (ImportError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # Skeletons without bone lengths take the root depth as an input; the check crops carry
    # their own, this nominal one only satisfies the constructors.
    nominal = None
    if "root_depth_mm" in info["inputs"]:
        nominal = [1000.0] * len(cfg.model.keypoints.roots)
    size = args.out.stat().st_size / 2**20
    print(f"wrote {args.out}: {size:.1f} MB in {time.perf_counter() - tick:.1f} s")
    print(f"  inputs: image uint8 [B, {info['input_res']}, {info['input_res']}, 3], hm_to_img "
          "[B, 2, 3], intrinsics [B, 4], distortion [B, 5]"
          + (", root_depth_mm" if nominal else "")
          + f"; outputs: uv [B, J, 2] px, pred_mm, joints_mm [B, J, 3] mm (J = "
          f"{cfg.model.joints}, skeleton {cfg.model.keypoints.name})")  # fmt: skip
    print(f"  platforms: {', '.join(info['platforms'])}; computes in {info['compute_dtype']}")

    try:
        runtime = load(args.out, root_depth_mm=nominal)
    except (ImportError, RuntimeError) as e:
        print(f"  check: skipped ({e})")
        return 0
    dtype = "float32" if args.format == "onnx" else None  # what the ONNX graph computes in
    predictor = Predictor(cfg, graphdef, state, decode=decode, flip=args.flip,
                          compute_dtype=dtype, root_depth_mm=nominal)  # fmt: skip
    crops, what = check_batch(cfg)
    diff = compare(runtime, predictor, crops)
    print(f"  check against the Predictor on {what}: {diff['agree']} of {diff['joints']} joints "
          f"within 1e-3 px and 0.1 mm; max |difference| {diff['uv']:.2g} px (2D), "
          f"{diff['pred_mm']:.2g} mm (3D, root-relative), {diff['joints_mm']:.2g} mm (3D, "
          "camera frame)")  # fmt: skip
    if diff["agree"] < diff["joints"] and decode != "soft":
        print("  (an argmax decode moves a joint by a whole voxel where its two best voxels "
              "nearly tie, as on random crops or for an untrained network)")  # fmt: skip
    return 0


def _export_temporal(args, cfg) -> int:
    """``--temporal NAME``: the temporal model's artifact, checked against the model."""
    if args.format != "stablehlo":
        print("error: --temporal: a temporal model exports as stablehlo only", file=sys.stderr)
        return 2
    platforms = tuple(p.strip() for p in args.platforms.split(",") if p.strip())
    try:
        info = export_temporal(args.workdir, args.temporal, args.out, platforms=platforms,
                               heatmap_px=cfg.model.output_res)  # fmt: skip
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: the temporal model {args.temporal} ({info['design']}, "
          f"{info['window']} frames, {'causal' if info['causal'] else 'centred'}); input "
          f"windows float32 [B, {info['window']}, {info['joints']}, {info['features']}], "
          f"output [B, {info['joints']}, 3] mm")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
