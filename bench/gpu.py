"""``c2f bench --gpu``: the paper recipe on one GPU in ONE prepared run within a time budget.

In order, each section skipped (and said so) once ``--budget`` seconds are spent:

1. a bf16 matrix product (8192^3, the chip's practical peak, measured in this run);
2. inference of the paper network in bf16 (the jitted forward on float images) at batch 1 and
   32: median ms, images/s, TFLOP/s from the layer shapes (``model_flops``), and MFU against
   the chip's dense bf16 peak (``BF16_PEAK_TFLOPS``) and against the measured product;
3. the paper recipe's train step (bf16, RMSprop, voxel MSE on the authors' targets) at batch 4
   (the authors') and 32, the same columns;
4. an end-to-end ``c2f train --config paper`` on synthetic 256 px data for about
   ``--train-seconds``, device augmentation and the real loader: images/s from its log.

Compilations go to the persistent cache in ``OUT/jax_cache``, so a rerun on the same machine
skips them. On the H200 the paper step alone compiled in 219 s (issue 26), so a first run with
a cold cache does not fit every section in 8 minutes: ``gpu.json`` lists those skipped, and a
second run (warm cache) measures them. ``--dry-run`` runs the same machinery on the ``tiny``
recipe on any backend (the test suite's check of this script); its figures mean nothing.
Writes ``OUT/gpu.json``. Figures belong in BENCHMARKS.md only from a GPU run.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

from bench.harness import median_seconds
from c2f.cli import compile_cache

BF16_PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0}  # dense, SXM parts
DRY_RUN_MODEL = ["model.hourglass_levels=1", "model.features=16"]


def models_config(name: str, overrides: list):
    """The recipe ``name`` with ``overrides`` (a Config, which bench.models takes as is)."""
    from c2f.config import apply_overrides, load_config

    return apply_overrides(load_config(name), overrides)


def _median_s(call, calls: int) -> float:
    call()  # compilation and first touch are not timed
    return median_seconds(call, calls)


def _matmul(n: int, calls: int) -> dict:
    import jax
    import jax.numpy as jnp

    a = jnp.ones((n, n), jnp.bfloat16)
    f = jax.jit(lambda x: x @ x)
    s = _median_s(lambda: f(a).block_until_ready(), calls)
    return {"section": "bf16 matmul", "n": n, "median_s": s, "tflops": 2 * n**3 / s / 1e12}


def _row(section, batch, s, flops, peak, measured) -> dict:
    tflops = flops / s / 1e12
    return {"section": section, "batch": batch, "median_s": s, "images_per_s": batch / s,
            "tflops": tflops, "mfu_of_peak": tflops / peak if peak else None,
            "of_measured_matmul": tflops / measured if measured else None}  # fmt: skip


def _model_rows(config, batches, train_batches, calls, peak, measured, over, dtype) -> list:
    from bench import models

    rows = []
    label = dtype or "float32, dry run"
    plan = [(f"inference {label}", models.c2f_forward, b) for b in batches]
    plan += [(f"train step {label}", models.c2f_train_step, b) for b in train_batches]
    for section, make, batch in plan:
        if over():
            break
        call, info = make(config, batch, dtype)
        rows.append(_row(section, batch, _median_s(call, calls), info["flops"], peak, measured))
        print(rows[-1], flush=True)
    return rows


def _end_to_end(args, data: pathlib.Path, seconds: float) -> dict:
    """``c2f train``: ``train_seconds`` after its first logged steps, ``seconds`` at most in all.

    Images/s from its log (the median of its logged rates after the first).
    """
    from data_prep.synthetic.generate import write_split

    data.mkdir(parents=True, exist_ok=True)
    for name, subjects in (("train.h5", ["S1", "S5"]), ("test.h5", ["S9"])):
        if not (data / name).is_file():
            write_split(data / name, subjects, poses=2 if not args.dry_run else 1,
                        crop_res=args.crop_res, seed=0,
                        workers=1 if args.dry_run else os.cpu_count(), args={})  # fmt: skip
    workdir = args.out / "train_run"
    overrides = [f"data.root={str(data)!r}", f"data.workers={args.workers}",
                 "data.augment_on='device'", "train.eval_every=0", "train.log_every=5",
                 f"train.steps={args.train_steps}", "train.checkpoint_every=1000000",
                 "train.protocol='all-frames'", "train.eval_limit=8",
                 f"train.batch_size={args.e2e_batch}", *args.extra]  # fmt: skip
    argv = [sys.executable, "-m", "c2f", "train", "--config", args.config, "--workdir",
            str(workdir), "--set", *overrides]  # fmt: skip
    proc = subprocess.Popen(argv, env={**os.environ, "C2F_COMPILATION_CACHE": str(args.cache)})
    logs = workdir / "metrics.jsonl"
    deadline, trained_from = time.perf_counter() + seconds, None
    while proc.poll() is None and time.perf_counter() < deadline:
        time.sleep(1.0)
        if trained_from is None and logs.is_file() and logs.stat().st_size:
            # the first logged steps: start-up and compilation are over; train_seconds more
            trained_from = time.perf_counter()
            deadline = min(deadline, trained_from + args.train_seconds)
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT: saves, exits 130
        proc.wait(120)
    rates = [r["train/images_per_s"] for r in map(json.loads, logs.read_text().splitlines())
             if "train/images_per_s" in r] if logs.is_file() else []  # fmt: skip
    return {"section": "c2f train end to end", "batch": args.e2e_batch, "exit": proc.returncode,
            "logged_rates": rates,
            "images_per_s": statistics.median(rates[1:] or rates) if rates else None}  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/bench_gpu"))
    p.add_argument("--budget", type=float, default=450.0, help="seconds before sections stop")
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--train-seconds", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    p.add_argument("--dry-run", action="store_true", help="the tiny recipe, any backend")
    args = p.parse_args(argv)
    start = time.perf_counter()
    import jax

    if jax.default_backend() != "gpu" and not args.dry_run:
        print(f"error: no GPU here (jax backend: {jax.default_backend()}); --dry-run checks the "
              "script", file=sys.stderr)  # fmt: skip
        return 2
    args.cache = args.out / "jax_cache"
    os.environ["C2F_COMPILATION_CACHE"] = str(args.cache)
    compile_cache.enable()  # jax's live config too
    kind = jax.devices()[0].device_kind
    peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if k in kind), None)
    args.config = "tiny" if args.dry_run else "paper"
    # The dry run's network: the tiny recipe made smaller still (what the suite can afford).
    args.extra = DRY_RUN_MODEL if args.dry_run else []
    model_config = models_config(args.config, args.extra)
    args.crop_res = 64 if args.dry_run else 256
    # The dry run ends its training as the GPU run does (SIGINT after the first logged steps:
    # a checkpoint, exit 130), a second after them rather than a minute.
    args.e2e_batch, args.train_steps = (4, 100_000) if args.dry_run else (32, 100_000)
    if args.dry_run:
        args.train_seconds = min(args.train_seconds, 1.0)
    batches, train_batches = ((2,), (2,)) if args.dry_run else ((1, 32), (4, 32))

    def over() -> bool:
        return time.perf_counter() - start > args.budget

    rows = [_matmul(256 if args.dry_run else 8192, args.calls)]
    print(rows[0], flush=True)
    measured = rows[0]["tflops"]
    dtype = None if args.dry_run else "bfloat16"  # the dry run: tiny's float32 (cheaper on CPU)
    rows += _model_rows(model_config, batches, train_batches, args.calls, peak, measured, over,
                        dtype)  # fmt: skip
    skipped = []
    if over():
        skipped.append("c2f train end to end")
    else:
        left = args.budget - (time.perf_counter() - start)
        rows.append(_end_to_end(args, args.out / "data", max(left, 60.0)))
        print(rows[-1], flush=True)
    result = {"device": kind, "bf16_peak_tflops": peak, "jax": jax.__version__,
              "dry_run": args.dry_run, "seconds": time.perf_counter() - start, "rows": rows,
              "skipped_for_time": skipped}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out / 'gpu.json'} in {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
