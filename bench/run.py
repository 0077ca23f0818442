"""Inference benchmark against the PyTorch twin: ``python -m bench.run``.

Measures, in ONE run with the contenders interleaved round by round (so machine drift hits all
of them alike), the paper config's forward pass at each batch size:

* ``c2f forward``: the model through ``jax.jit`` on its split NNX state (float images);
* ``c2f Predictor``: the end-to-end predictor (uint8 images -> crop -> model -> decode -> mm);
* ``torch eager``, ``torch channels_last``, ``torch.compile``: the twin in ../shared/peers.

Prints medians and min-max per call, images/s and each contender's ratio to the fastest torch
variant; writes ``OUT/bench.json`` and ``OUT/bench.md``. torch is a benchmark-only dependency
(``pip install torch==2.13.0``), never imported by the package. Untrained weights: speed only.
"""

import argparse
import dataclasses
import importlib.util
import json
import pathlib
import platform
import statistics
import time

import numpy as np

PEERS = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "peers" / "torch_c2f.py"


def _torch_contenders(batch: int, res: int, compile_: bool):
    import torch

    spec = importlib.util.spec_from_file_location("torch_c2f", PEERS)
    twin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twin)
    net = twin.C2FHourglass(twin.CONFIGS["paper"]).eval()
    x = torch.randn(batch, 3, res, res)
    out = {"torch eager": (net, x)}
    cl = twin.C2FHourglass(twin.CONFIGS["paper"]).eval().to(memory_format=torch.channels_last)
    out["torch channels_last"] = (cl, x.contiguous(memory_format=torch.channels_last))
    if compile_:
        out["torch.compile"] = (torch.compile(cl), x.contiguous(memory_format=torch.channels_last))

    def runner(model, inp):
        def call():
            with torch.inference_mode():
                model(inp)

        return call

    return {name: runner(m, i) for name, (m, i) in out.items()}


def _jax_contenders(cfg, batch: int):
    import jax
    from flax import nnx

    from c2f.model import C2FPose
    from c2f.predictor import Predictor

    model = C2FPose(cfg.model, rngs=nnx.Rngs(0))
    model.eval()
    graphdef, state = nnx.split(model)
    forward = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))
    res = cfg.model.input_res
    x = jax.numpy.asarray(
        np.random.default_rng(0).uniform(size=(batch, res, res, 3)), jax.numpy.float32
    )
    predictor = Predictor(cfg, graphdef, state)
    images = np.random.default_rng(1).integers(0, 255, (batch, res, res, 3), np.uint8)
    return {
        "c2f forward": lambda: jax.block_until_ready(forward(state, x)),
        "c2f Predictor": lambda: predictor(images),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/paper.py")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--calls", type=int, default=3, help="timed calls per contender per round")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/bench"))
    args = p.parse_args(argv)

    import jax

    from c2f.config import load_config
    from c2f.model import conv_macs, forward_flops

    cfg = load_config(args.config)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, compute_dtype="float32"))
    flops = forward_flops(cfg.model)
    machine = f"{platform.machine()}, {jax.device_count()} x {jax.devices()[0].device_kind}"
    results = {"machine": machine,
               "date": time.strftime("%Y-%m-%d"), "config": args.config,
               "flops_per_image_xla": flops, "conv_macs_per_image": conv_macs(cfg.model),
               "rows": []}  # fmt: skip
    for batch in args.batches:
        torch_runs = _torch_contenders(batch, cfg.model.input_res, not args.no_compile)
        contenders = {**_jax_contenders(cfg, batch), **torch_runs}
        for call in contenders.values():  # warm-up: compilation is not timed
            call()
        times = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, call in contenders.items():
                for _ in range(args.calls):
                    start = time.perf_counter()
                    call()
                    times[name].append(time.perf_counter() - start)
        torch_best = min(statistics.median(v) for k, v in times.items() if k.startswith("torch"))
        for name, t in times.items():
            med = statistics.median(t)
            row = {"batch": batch, "contender": name, "median_s": med, "min_s": min(t),
                   "max_s": max(t), "images_per_s": batch / med,
                   "speed_vs_fastest_torch": torch_best / med,
                   "gflops_per_s": flops * batch / med / 1e9}  # fmt: skip
            results["rows"].append(row)
            print(f"batch {batch:3d}  {name:20s} {1000 * med:9.1f} ms "
                  f"[{1000 * min(t):.0f}-{1000 * max(t):.0f}]  {batch / med:7.2f} img/s  "
                  f"x{torch_best / med:.2f} vs fastest torch")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(results, indent=1))
    lines = [f"Machine: {results['machine']}; date {results['date']}; config {args.config} "
             f"(float32); {flops / 1e9:.2f} GFLOPs per image (XLA).", "",
             "| batch | contender | median ms | min-max ms | images/s | vs best torch | GFLOP/s |",
             "|---:|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in results["rows"]:
        lines.append(f"| {r['batch']} | {r['contender']} | {1000 * r['median_s']:.0f} | "
                     f"{1000 * r['min_s']:.0f}-{1000 * r['max_s']:.0f} | {r['images_per_s']:.2f} | "
                     f"{r['speed_vs_fastest_torch']:.2f}x | {r['gflops_per_s']:.1f} |")  # fmt: skip
    (args.out / "bench.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
