"""The training step as one program and as segments (``train.programs``), side by side.

    python -m bench.staged [--config paper] [--batch 1] [--rounds 8] [--out runs/bench]

For each form, in order: a new process with an empty compilation cache folder (model set-up,
then the step's first call: trace, compile, run), and a second process that reads that folder
(the same two figures); then one process runs both forms from the same state, interleaved
(medians of ``--rounds`` calls, each waiting for the new state), and compares the segmented
step's gradients with the one program's on one batch (the paper network: the stacked design
the suite checks on a small network only, tests/test_staged.py). float32, host augmentation,
random images and joints. Writes ``staged.json`` under ``--out``; docs/speed.md has a run.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

FORMS = ("one", "segments")


def _config(args, form: str):
    from c2f.config import apply_overrides, load_config

    settings = ["model.compute_dtype=float32", f"train.batch_size={args.batch}",
                "data.augment_on=host", f"train.programs={form}"]  # fmt: skip
    return apply_overrides(load_config(args.config), settings)


def _batch(cfg, batch: int) -> dict:
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    res, out, joints = cfg.model.input_res, cfg.model.output_res, cfg.model.joints
    return {
        "image": jnp.asarray(rng.integers(0, 255, (batch, res, res, 3), dtype=np.uint8)),
        "coords": jnp.asarray(rng.uniform(3, out - 3, (batch, joints, 3)), jnp.float32),
        "mask": jnp.ones((batch, joints), jnp.float32),
    }


def _first_call(args, form: str, cache: str) -> None:
    """In a process of its own: set-up and the first step's seconds, printed as JSON."""
    import jax

    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.01)
    from c2f.cli.compile_cache import collect_less
    from c2f.train.state import create
    from c2f.train.steps import make_train_step

    collect_less()
    cfg = _config(args, form)
    start = time.perf_counter()
    graphdef, state = create(cfg)
    jax.block_until_ready(state)
    setup = time.perf_counter() - start
    step, batch = make_train_step(cfg, graphdef), _batch(cfg, args.batch)
    start = time.perf_counter()
    jax.block_until_ready(step(state, batch))
    print(json.dumps({"setup_s": setup, "first_call_s": time.perf_counter() - start}))


def _in_process(args) -> dict:
    """Both forms interleaved from one state, and their gradients compared."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from c2f.model.segments import segments
    from c2f.train import staged
    from c2f.train.state import create
    from c2f.train.steps import make_train_step
    from c2f.train.update import make_gradients_one_program

    cfg = _config(args, "one")
    graphdef, state = create(cfg)
    batch = _batch(cfg, args.batch)

    (loss, _), grads, _ = make_gradients_one_program(graphdef, cfg)(state, batch)
    (loss2, _), grads2, _ = staged.make_gradients(cfg, graphdef)(state, batch)
    a = {p: np.asarray(v[...]) for p, v in nnx.to_flat_state(grads)}
    b = {
        p: np.asarray(v[...])
        for p, v in nnx.to_flat_state(staged.whole(grads2, segments(cfg.model)))
    }
    worst = max(
        (np.max(np.abs(a[k] - b[k])) / np.max(np.abs(a[k])), k) for k in a if k[-1] != "bias"
    )
    diff = np.sqrt(sum(np.sum((a[k] - b[k]) ** 2) for k in a) / sum(np.sum(a[k] ** 2) for k in a))
    steps = {form: make_train_step(_config(args, form), graphdef) for form in FORMS}
    states = {form: jax.tree.map(lambda x: jnp.asarray(np.asarray(x)), state) for form in FORMS}
    times = {form: [] for form in FORMS}
    for r in range(args.rounds + 2):
        for form in FORMS:
            start = time.perf_counter()
            states[form] = jax.block_until_ready(steps[form](states[form], batch))[0]
            if r >= 2:  # the first calls compile (for host arrays, then the step's own)
                times[form].append(time.perf_counter() - start)
    medians = {form: statistics.median(t) for form, t in times.items()}
    return {
        "loss": {"one": float(loss), "segments": float(loss2)},
        "gradient_relative_error": float(diff),
        "worst_leaf_but_biases": {"relative_error": float(worst[0]), "path": str(worst[1])},
        "step_median_s": medians, "step_ratio": medians["segments"] / medians["one"],
    }  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.staged", description=__doc__.split("\n")[0])
    p.add_argument("--config", default="paper")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/bench"))
    p.add_argument("--first-call", nargs=2, metavar=("FORM", "CACHE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.first_call:
        _first_call(args, *args.first_call)
        return 0
    result = {"config": args.config, "batch": args.batch, "first_call": {}}
    for form in FORMS:
        with tempfile.TemporaryDirectory() as cache:
            for run in ("empty cache", "cache filled"):
                cmd = [sys.executable, "-m", "bench.staged", "--config", args.config, "--batch",
                       str(args.batch), "--first-call", form, cache]  # fmt: skip
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                result["first_call"][f"{form}, {run}"] = figures
                print(f"{form:8s} {run:12s} set-up {figures['setup_s']:5.1f} s, first step "
                      f"{figures['first_call_s']:5.1f} s", flush=True)  # fmt: skip
    result.update(_in_process(args))
    print(json.dumps({k: v for k, v in result.items() if k != "first_call"}, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "staged.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
