"""The speed suite: ``python -m bench`` (see BENCHMARKS.md for the latest table).

Measures in ONE run, contenders interleaved round by round (:mod:`bench.harness`):

* first, the twin check: the PyTorch twin's weights ported into c2f
  (:mod:`c2f.model.torch_port`) must give the same volumes (the run stops otherwise);
* inference of the paper config at each ``--batches``: the jitted ``Predictor`` (uint8 images
  in, millimetres out), the model's jitted forward, and the PyTorch twin eager, channels_last
  and ``torch.compile`` (model forward only);
* one training step of ``--train-config`` (the demo config on CPU, the paper config on GPU)
  against the twin's Adam step on the same integral L1 loss;
* soft-argmax, refined hard argmax and Gaussian targets at 17 x 64 x 64 x 64;
* the input pipeline, images/s of one worker;
* with ``--sections deploy`` (not run by default: the ONNX conversion of the paper network
  takes long), the exported forms of ``--deploy-config`` on crops: the jitted Predictor, the
  StableHLO artifact and the ONNX model in their runtimes (:mod:`c2f.serving.deploy`), beside the
  twin's eager and ``torch.compile`` forward;
* with ``--sections video`` (not run by default), the video command's frames/s beside the
  Predictor's at batch 8 (:mod:`bench.video`);
* with ``--sections temporal`` (not run by default; also ``python -m bench.temporal``, which
  needs no torch), the temporal models' cost per frame beside the image model's
  (:mod:`bench.temporal`);
* the Predictor's per-call host overhead, on a paper-shaped model 64 channels narrow enough
  that its compute is negligible: the call's median minus its jitted function's median.

FLOPs are counted from the network's own layer shapes (``c2f.model.summary.model_flops``: every
convolution's taps, a training step as 3 passes), the same count on every backend and for the
twin, which does the same work (XLA's GPU cost analysis leaves out cuDNN's convolutions; on the
CPU XLA's count is within 1 % of it: tests/test_flops.py); peak memory from XLA's memory
analysis. The twin and its inputs are placed on c2f's device (``bench.models.twin_device``: a
GPU run without torch's CUDA is refused); on a GPU the twin adds channels_last rows under
bfloat16 autocast and their ``torch.compile``. On a GPU, bf16 rows
and the model FLOPs utilisation against the chip's bf16 peak are added. Writes
``OUT/bench.json`` and ``OUT/bench.md``. torch is benchmark-only: ``pip install torch==2.13.0``.
"""

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import sys
import time

import jax
import numpy as np

from bench import kernels, models, temporal, video
from bench.harness import Contender, interleave, print_rows

BF16_PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0}  # dense, SXM parts


def _inference(args, gpu: bool):
    rows = []
    for batch in args.batches:
        group = f"inference, batch {batch}"
        fwd, info = models.c2f_forward(args.config, batch, "float32")
        pred, _ = models.c2f_predictor(args.config, batch, "float32")
        c = [Contender("c2f Predictor", pred, batch, info["flops"], info["peak"], group),
             Contender("c2f forward", fwd, batch, info["flops"], info["peak"], group)]  # fmt: skip
        if gpu:
            fwd16, info16 = models.c2f_forward(args.config, batch, "bfloat16")
            pred16, _ = models.c2f_predictor(args.config, batch, "bfloat16")
            c += [Contender("c2f Predictor bf16", pred16, batch, info16["flops"], None, group),
                  Contender("c2f forward bf16", fwd16, batch, info16["flops"], info16["peak"],
                            group)]  # fmt: skip
        for name, call in models.torch_inference(args.config, batch, not args.no_compile).items():
            c.append(Contender(name, call, batch, info["flops"], None, group, torch=True))
        rows += interleave(c, args.rounds, args.calls)
        print_rows(rows[-len(c) :])
    return rows


def _deploy(args):
    rows = []
    for batch in args.batches:
        group = f"deployed forms, {pathlib.Path(args.deploy_config).stem}, batch {batch}"
        calls, info = models.deployed(args.deploy_config, batch, args.out / "exports")
        print(f"exports: StableHLO {info['stablehlo_export_s']:.1f} s, ONNX "
              f"{info['onnx_export_s']:.1f} s")  # fmt: skip
        c = [Contender(name, call, batch, None, None, group) for name, call in calls.items()]
        twin = models.torch_inference(args.deploy_config, batch, not args.no_compile)
        c += [Contender(n, call, batch, None, None, group, torch=True)
              for n, call in twin.items() if n != "torch channels_last"]  # fmt: skip
        rows += interleave(c, args.rounds, args.calls)
        print_rows(rows[-len(c) :])
    return rows


def _training(args, gpu: bool):
    group = f"train step, {pathlib.Path(args.train_config).stem}, batch {args.train_batch}"
    dtype = "bfloat16" if gpu else "float32"
    step, info = models.c2f_train_step(args.train_config, args.train_batch, dtype)
    name = "c2f train_step" + (" bf16" if gpu else "")
    c = [Contender(name, step, args.train_batch, info["flops"], info["peak"], group)]
    torch_steps = models.torch_train_step(args.train_config, args.train_batch, not args.no_compile)
    for name, call in torch_steps.items():
        c.append(Contender(name, call, args.train_batch, info["flops"], None, group, torch=True))
    rows = interleave(c, args.rounds, args.calls)
    print_rows(rows)
    return rows


def _kernels(args):
    group = f"decode / targets, {args.decode_batch} x 17 x 64^3"
    c = [Contender(n, f, args.decode_batch, group=group)
         for n, f in kernels.decode_and_targets(args.decode_batch).items()]  # fmt: skip
    c.append(Contender("torch soft-argmax (eager)", kernels.torch_soft_argmax(args.decode_batch),
                       args.decode_batch, group=group, torch=True))  # fmt: skip
    rows = interleave(c, args.rounds, args.calls)
    load = kernels.loader(args.out / "data")
    rows += interleave([Contender("c2f Loader, 1 worker, 256 px", load, 32,
                                  group="input pipeline")], args.rounds, args.calls)  # fmt: skip
    print_rows(rows)
    return rows


def _overhead(args):
    cfg = models.load(args.config)
    narrow = dataclasses.replace(cfg.model, features=4, wide_features=8, input_res=64)
    call, predictor = models.c2f_predictor(dataclasses.replace(cfg, model=narrow), 1)
    batch = predictor._place({"image": np.zeros((1, 64, 64, 3), np.uint8),
                              "hm_to_img": np.zeros((1, 2, 3), np.float32),
                              "intrinsics": np.ones((1, 4), np.float32),
                              "distortion": np.zeros((1, 5), np.float32)}, 1)  # fmt: skip

    def jitted():  # the inference function alone, on inputs already on the device
        jax.block_until_ready(predictor.inference(batch))

    group = "Predictor host overhead"
    c = [Contender("Predictor call, narrow paper-shaped model", call, 1, group=group),
         Contender("its jitted function, device inputs", jitted, 1, group=group)]  # fmt: skip
    rows = interleave(c, args.rounds, 50 * args.calls)
    print_rows(rows)
    overhead = rows[0]["median_s"] - rows[1]["median_s"]
    print(f"Predictor per-call host overhead: {1000 * overhead:.2f} ms (goal < 2 ms)")
    return rows, overhead


def _markdown(results) -> str:
    mfu = any(r.get("mfu") for r in results["rows"])
    head = ["group", "contender", "median ms", "min-max ms", "images/s", "vs fastest torch",
            "GFLOP/s", "peak MiB"] + (["MFU"] if mfu else [])  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results["rows"]:
        cells = [r["group"], r["contender"], f"{1000 * r['median_s']:.1f}",
                 f"{1000 * r['min_s']:.1f}-{1000 * r['max_s']:.1f}", f"{r['items_per_s']:.2f}",
                 f"{r['vs_fastest_torch']:.2f}x" if r["vs_fastest_torch"] else "",
                 f"{r['gflops_per_s']:.1f}" if r["gflops_per_s"] else "",
                 f"{r['peak_mib']:.0f}" if r["peak_mib"] else ""]  # fmt: skip
        if mfu:
            cells.append(f"{100 * r['mfu']:.1f} %" if r.get("mfu") else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--gpu" in argv:  # the one prepared GPU run (bench/gpu.py)
        from bench import gpu

        return gpu.main([a for a in argv if a != "--gpu"])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="paper", help="inference config")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--train-config", default=None, help="default: paper on GPU, demo on CPU")
    p.add_argument("--train-batch", type=int, default=32)
    p.add_argument("--decode-batch", type=int, default=8)
    sections = ["inference", "training", "kernels", "overhead", "deploy", "video", "temporal"]
    p.add_argument("--sections", nargs="+", default=sections[:4], choices=sections)
    p.add_argument(
        "--deploy-config",
        default="uniform",
        help="network of the deploy section (jax2onnx is slow on the paper's)",
    )
    p.add_argument("--video-config", default="demo", help="network of --sections video")
    p.add_argument("--video-frames", type=int, default=100, help="frames of --sections video")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--calls", type=int, default=2, help="timed calls per contender per round")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/bench"))
    p.add_argument("--gpu", action="store_true", help="the one prepared GPU run (bench/gpu.py)")
    args = p.parse_args(argv)

    import torch  # optional (the PyTorch twins): imported by the rows that compare with it

    gpu = jax.default_backend() == "gpu"
    args.train_config = args.train_config or ("paper" if gpu else "demo")
    kind = jax.devices()[0].device_kind
    torch.set_num_threads(os.cpu_count())
    results = {
        "command": " ".join(["c2f bench", *(argv if argv is not None else sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {jax.device_count()} x "
                   f"{kind}", "jax": jax.__version__, "torch": torch.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""), "rows": [],
    }  # fmt: skip
    check = models.twin_check(args.config)
    results["twin_check"] = check
    print(
        f"twin check ({check['design']}, ported weights, float32): max |c2f - twin| = "
        f"{check['max_abs_diff']:.2e} over volumes up to {check['max_abs_volume']:.2f}"
    )
    if check["max_abs_diff"] > 1e-4 * max(1.0, check["max_abs_volume"]):
        raise SystemExit("twin check failed: the architectures differ")
    if "inference" in args.sections:
        results["rows"] += _inference(args, gpu)
    if "training" in args.sections:
        results["rows"] += _training(args, gpu)
    if "kernels" in args.sections:
        results["rows"] += _kernels(args)
    if "deploy" in args.sections:
        results["rows"] += _deploy(args)
    if "video" in args.sections:
        clip = video.contenders(args.video_config, args.out / "video", args.video_frames)
        rows = interleave(clip, args.rounds, 1)
        print_rows(rows)
        results["rows"] += rows
    if "temporal" in args.sections:
        rows = interleave(temporal.contenders(args.video_config), args.rounds, args.calls)
        print_rows(rows)
        results["rows"] += rows
    if "overhead" in args.sections:
        rows, overhead = _overhead(args)
        results["rows"] += rows
        results["predictor_overhead_ms"] = 1000 * overhead
    peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if k in kind), None) if gpu else None
    for r in results["rows"]:
        r["mfu"] = r["gflops_per_s"] / (1000 * peak) if peak and r["gflops_per_s"] else None
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(results, indent=1))
    md = (f"Command: `{results['command']}`; {results['date']}; {results['machine']}; "
          f"jax {results['jax']}, torch {results['torch']}; XLA_FLAGS "
          f"`{results['xla_flags']}`.\n\n" + _markdown(results))  # fmt: skip
    tc = results["twin_check"]
    md += (f"\nTwin check ({tc['design']}): the twin's weights ported into c2f give volumes "
           f"within {tc['max_abs_diff']:.1e} of the twin's (values up to "
           f"{tc['max_abs_volume']:.2f}).\n")  # fmt: skip
    if "predictor_overhead_ms" in results:
        md += f"\nPredictor per-call host overhead: {results['predictor_overhead_ms']:.2f} ms.\n"
    (args.out / "bench.md").write_text(md)
    print(f"wrote {args.out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
