"""Model contenders: c2f's jitted forward, Predictor and train_step, and the PyTorch twin.

The twin (../shared/peers/torch_c2f.py) is the same network in PyTorch, NCHW; it runs eager,
eager ``channels_last`` and under ``torch.compile`` on the same input sizes. torch is a
benchmark-only dependency (``pip install torch==2.13.0``), never imported by the package.
"""

import dataclasses
import importlib.util
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from c2f.config import Config, load_config
from c2f.model import C2FPose
from c2f.model.summary import model_flops
from c2f.model.torch_port import from_state_dict
from c2f.serving.deploy import OnnxPredictor, StableHLOPredictor
from c2f.serving.export import export_onnx, export_stablehlo
from c2f.serving.predictor import Predictor
from c2f.train.state import create
from c2f.train.steps import make_train_step

PEERS = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "peers" / "torch_c2f.py"


def load(config, dtype: str | None = None):
    """A Config from a configs/*.py path (or a Config), optionally with another compute dtype."""
    cfg = config if isinstance(config, Config) else load_config(config)
    if dtype:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, compute_dtype=dtype))
    return cfg


def _cost(compiled) -> tuple[float | None, int | None]:
    """(FLOPs, peak bytes) of a compiled XLA executable, where the backend reports them."""
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    try:
        mem = compiled.memory_analysis()
        peak = (mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
                - mem.alias_size_in_bytes)  # fmt: skip
    except Exception:  # noqa: BLE001 - not every backend implements it
        peak = None
    return (float(cost["flops"]) if cost and "flops" in cost else None), peak


def c2f_forward(config: str, batch: int, dtype: str | None = None):
    """(call, info): the model alone through ``jax.jit`` on its split state, float images."""
    cfg = load(config, dtype)
    model = C2FPose(cfg.model, rngs=nnx.Rngs(0))
    model.eval()
    graphdef, state = nnx.split(model)
    forward = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x)[-1])
    res = cfg.model.input_res
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(batch, res, res, 3)), jnp.float32)
    _, peak = _cost(forward.lower(state, x).compile())
    flops = model_flops(cfg.model, batch)  # not XLA's: a GPU's leaves out cuDNN's convolutions
    return (lambda: jax.block_until_ready(forward(state, x))), {"flops": flops, "peak": peak}


def c2f_predictor(config: str, batch: int, dtype: str | None = None, **kwargs):
    """(call, predictor): the end-to-end Predictor on uint8 images of the input size."""
    cfg = load(config, dtype)
    model = C2FPose(cfg.model, rngs=nnx.Rngs(0))
    model.eval()
    predictor = Predictor(cfg, *nnx.split(model), **kwargs)
    res = cfg.model.input_res
    images = np.random.default_rng(1).integers(0, 255, (batch, res, res, 3), np.uint8)
    return (lambda: predictor(images)), predictor


def c2f_train_step(config: str, batch: int, dtype: str | None = None):
    """(call, info): the config's train_step (donating its state) on a fixed random batch."""
    cfg = load(config, dtype)
    graphdef, state = create(cfg)
    step = make_train_step(cfg, graphdef)
    data = _random_batch(cfg.model, batch)
    data = {k: jnp.asarray(v) for k, v in data.items()}
    # A segmented step (train.programs) is several programs: no one peak to read.
    peak = _cost(step.lower(state, data).compile())[1] if cfg.train.programs == "one" else None
    flops = model_flops(cfg.model, batch, train=True)
    holder = [state]

    def call():
        holder[0], metrics = step(holder[0], data)
        jax.block_until_ready(metrics["loss"])

    return call, {"flops": flops, "peak": peak}


def _random_batch(model_cfg, batch: int) -> dict:
    rng = np.random.default_rng(0)
    res, out, depth = model_cfg.input_res, model_cfg.output_res, model_cfg.depths[-1]
    coords = rng.uniform([2, 2, 2], [out - 3, out - 3, depth - 3], (batch, model_cfg.joints, 3))
    return {
        "image": rng.integers(0, 255, (batch, res, res, 3), np.uint8),
        "coords": coords.astype(np.float32),
        "mask": np.ones((batch, model_cfg.joints), bool),
    }


def _twin(model_cfg):
    """(module, twin Config) of the PyTorch twin of ``model_cfg``'s design."""
    spec = importlib.util.spec_from_file_location("torch_c2f", PEERS)
    twin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twin)
    c = model_cfg
    if c.design == "stacked" and (c.features, c.wide_features) != (256, 512):
        raise ValueError(
            f"the twin's stacked network has the paper's widths 256/512, not "
            f"{c.features}/{c.wide_features}"
        )
    if c.design == "uniform" and c.modules != 1:
        raise ValueError(f"the twin's uniform network has one module per branch, not {c.modules}")
    tcfg = twin.Config(c.input_res, c.features, tuple(c.depths), c.joints, c.hourglass_levels,
                       design=c.design)  # fmt: skip
    return twin, tcfg


def twin_check(config, batch: int = 1) -> dict:
    """Port the twin's (randomly initialised) weights into c2f and compare the volumes.

    Returns ``{"max_abs_diff", "max_abs_volume", "design"}`` over every stage, float32.
    """
    import torch  # optional (the PyTorch twins): imported by the rows that compare with it

    cfg = load(config, "float32").model
    twin, tcfg = _twin(cfg)
    torch.manual_seed(0)
    net = twin.build(tcfg).eval()
    model = from_state_dict(cfg, {k: v.numpy() for k, v in net.state_dict().items()})
    graphdef, state = nnx.split(model)
    res = cfg.input_res
    x = np.random.default_rng(2).uniform(size=(batch, res, res, 3)).astype(np.float32)
    ours = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))(state, x)
    with torch.inference_mode():
        ref = net(torch.from_numpy(x.transpose(0, 3, 1, 2)))
    diff = max(float(np.abs(np.asarray(o) - r.numpy().reshape(o.shape)).max())
               for o, r in zip(ours, ref))  # fmt: skip
    scale = max(float(r.abs().max()) for r in ref)
    return {"design": cfg.design, "max_abs_diff": diff, "max_abs_volume": scale}


def twin_device(jax_backend: str, cuda_available: bool) -> str:
    """Where the twin runs: on the GPU when c2f does (and torch has CUDA), else on the CPU.

    A comparison across devices would time different hardware: on a GPU without torch's CUDA
    the twin's rows are refused rather than run on the host.
    """
    if jax_backend == "gpu":
        if not cuda_available:
            raise RuntimeError("c2f runs on the GPU but torch has no CUDA: install a CUDA "
                               "build of torch, or --sections without the twin's rows")  # fmt: skip
        return "cuda"
    return "cpu"


def _torch_device():
    import torch  # optional (the PyTorch twins): imported by the rows that compare with it

    return torch.device(twin_device(jax.default_backend(), torch.cuda.is_available()))


def torch_inference(config: str, batch: int, compile_: bool) -> dict:
    """Contenders (name -> call) for the twin in eval mode, on c2f's device.

    Eager float32, channels_last, ``torch.compile`` of that; on a GPU also channels_last under
    bfloat16 autocast and its ``torch.compile`` (compared with c2f's bf16 rows).
    """
    import torch  # optional (the PyTorch twins): imported by the rows that compare with it

    device = _torch_device()
    model_cfg = load(config).model
    twin, tcfg = _twin(model_cfg)
    res = tcfg.in_res
    x = torch.randn(batch, 3, res, res).to(device)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    cl = twin.build(tcfg).eval().to(device).to(memory_format=torch.channels_last)
    nets = {"torch eager": (twin.build(tcfg).eval().to(device), x, False),
            "torch channels_last": (cl, x_cl, False)}  # fmt: skip
    if compile_:
        nets["torch.compile"] = (torch.compile(cl), x_cl, False)
    if device.type == "cuda":
        nets["torch channels_last bf16"] = (cl, x_cl, True)
        if compile_:
            nets["torch.compile bf16"] = (torch.compile(cl), x_cl, True)

    def runner(net, inp, bf16):
        def call():
            with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16,
                                                        enabled=bf16):  # fmt: skip
                net(inp)[-1].sum().item()  # .item() waits for the result

        return call

    return {name: runner(*v) for name, v in nets.items()}


def torch_train_step(config: str, batch: int, compile_: bool) -> dict:
    """Contenders (name -> call): one step of the twin with the config's loss and optimiser.

    The integral L1 of every stage, or (a config with ``loss.mse_weight``) the voxel MSE
    against fixed dense targets; Adam, or RMSprop (alpha 0.99, eps 1e-8 outside the root,
    as Torch7's) for an "rmsprop" config.
    """
    import torch  # optional (the PyTorch twins): imported by the rows that compare with it

    device = _torch_device()
    cfg = load(config)
    twin, tcfg = _twin(cfg.model)
    data = _random_batch(cfg.model, batch)
    images = torch.from_numpy(data["image"]).permute(0, 3, 1, 2).float().div(255).to(device)
    coords = torch.from_numpy(data["coords"]).to(device)
    finest = tcfg.depths[-1]

    def soft_argmax(h, depth):  # [B, J * D, H, W] -> [B, J, 3] (x, y, z) voxels
        b, _, hh, ww = h.shape
        p = torch.softmax(h.reshape(b, tcfg.joints, -1), -1).reshape(b, tcfg.joints, depth, hh, ww)
        ax = [torch.arange(n, dtype=p.dtype, device=device) for n in (ww, hh, depth)]
        return torch.stack([(p.sum((2, 3)) * ax[0]).sum(-1), (p.sum((2, 4)) * ax[1]).sum(-1),
                            (p.sum((3, 4)) * ax[2]).sum(-1)], -1)  # fmt: skip

    mse = cfg.loss.mse_weight > 0
    res = tcfg.out_res
    dense = [torch.rand(batch, tcfg.joints * d, res, res, device=device) * 0.01
             for d in tcfg.depths]  # fmt: skip

    def loss_fn(net, x):
        total = 0.0
        if mse:
            for h, target in zip(net(x), dense):
                total = total + ((h - target) ** 2).mean()
            return total
        for h, depth in zip(net(x), tcfg.depths):
            target = coords.clone()
            target[..., 2] = (coords[..., 2] + 0.5) * depth / finest - 0.5
            unit = torch.tensor([1.0, 1.0, finest / depth], device=device)
            total = total + ((soft_argmax(h, depth) - target).abs() * unit).mean()
        return total

    out = {}
    variants = [("torch eager", False, False), ("torch channels_last", True, False)]
    if compile_:
        variants.append(("torch.compile", True, True))
    for name, channels_last, compiled in variants:
        net = twin.build(tcfg).train().to(device)
        x = images
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
            x = images.contiguous(memory_format=torch.channels_last)
        if cfg.optim.name == "rmsprop":
            opt = torch.optim.RMSprop(net.parameters(), lr=2.5e-4, alpha=0.99, eps=1e-8)
        else:
            opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        fn = torch.compile(net) if compiled else net

        def call(fn=fn, opt=opt, x=x):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(fn, x)
            loss.backward()
            opt.step()
            loss.item()

        out[name] = call
    return out


def deployed(config: str, batch: int, out: pathlib.Path) -> dict:
    """Contenders (name -> call) for the exported forms of one random network, on crops.

    The jitted Predictor, the StableHLO artifact in :class:`c2f.serving.deploy.StableHLOPredictor`
    and the ONNX model in :class:`c2f.serving.deploy.OnnxPredictor`, all from crops (``run_crops``:
    the host crop excluded) with the same decode; also the export times, in ``info``.
    """
    cfg = load(config, "float32")
    model = C2FPose(cfg.model, rngs=nnx.Rngs(0))
    model.eval()
    graphdef, state = nnx.split(model)
    out.mkdir(parents=True, exist_ok=True)
    info = {}
    tick = time.perf_counter()
    export_stablehlo(cfg, graphdef, state, out / "bench.stablehlo", decode="soft", flip="none",
                     platforms=("cpu", "cuda"))  # fmt: skip
    info["stablehlo_export_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    export_onnx(cfg, graphdef, state, out / "bench.onnx", decode="soft", flip="none")
    info["onnx_export_s"] = time.perf_counter() - tick
    rng = np.random.default_rng(0)
    res = cfg.model.input_res
    crops = {
        "image": rng.integers(0, 255, (batch, res, res, 3), np.uint8),
        "hm_to_img": np.tile(np.array([[16, 0, 0], [0, 16, 0]], np.float32), (batch, 1, 1)),
        "intrinsics": np.tile(np.array([1145, 1145, 500, 500], np.float32), (batch, 1)),
        "distortion": np.zeros((batch, 5), np.float32),
    }
    runners = {
        "c2f Predictor (crops)": Predictor(cfg, graphdef, state, decode="soft"),
        "StableHLO runtime": StableHLOPredictor(out / "bench.stablehlo"),
        "ONNX Runtime": OnnxPredictor(out / "bench.onnx"),
    }
    calls = {name: (lambda r=r: r.run_crops(crops)) for name, r in runners.items()}
    return calls, info
