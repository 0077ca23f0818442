"""Two processes through jax.distributed (CPU, gloo collectives) train like one process."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(workdir, data, steps: int) -> list[str]:
    """train.py as two processes of one run; returns their outputs."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo",
           "JAX_COMPILATION_CACHE_DIR": str(ROOT / ".cache" / "jax-multihost")}  # fmt: skip
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    port = _free_port()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "train.py",
                "--config",
                "configs/tiny.py",
                "--workdir",
                str(workdir),
                "--set",
                f"data.root={str(data)!r}",
                f"train.steps={steps}",
                "train.log_every=1",
                "train.eval_every=2",
                "data.workers=0",
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(rank),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for rank in range(2)
    ]
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=400)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("the two-process run did not finish in 400 s")
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    return outs


def _logged(workdir) -> dict:
    rows = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    loss = {r["step"]: r["train/loss"] for r in rows if "train/loss" in r}
    mpjpe = {r["step"]: r["eval/mpjpe"] for r in rows if "eval/mpjpe" in r}
    return loss, mpjpe


def test_two_processes_train_evaluate_checkpoint_and_resume_like_one(tiny_run, tmp_path):
    # The reference is the one-process tiny run (same config, seed and global batch of 4).
    from c2f import checkpoint as ckpt
    from c2f import protocols
    from c2f.data import H5Source
    from c2f.evaluate import evaluate, make_inference, protocol_options, test_loader
    from c2f.sharding import make_mesh

    cfg, *_ = ckpt.load_model(tiny_run)
    two = tmp_path / "two"
    _launch(two, cfg.data.root, steps=2)  # stops at step 2, evaluated and saved
    outs = _launch(two, cfg.data.root, steps=4)  # both processes resume from that checkpoint
    assert all("resuming" in out and "done at step 4" in out for out in outs)
    loss_one, _ = _logged(tiny_run)
    loss_two, mpjpe_two = _logged(two)
    assert sorted(loss_two) == [1, 2, 3, 4] and sorted(mpjpe_two) == [2, 4]
    # The same global batches; gradients reduced across processes in another order. As in the
    # four-device test: Adam moves parameters whose gradient is ~0 by ~lr * sign, so the
    # curves agree to 1e-5 at the first step and 1e-3 after.
    assert loss_two[1] == pytest.approx(loss_one[1], rel=1e-5)
    for step in (2, 3, 4):
        assert loss_two[step] == pytest.approx(loss_one[step], rel=1e-3), step
    # Evaluation gathered every test sample from both processes: the two-process MPJPE of
    # step 4 equals this process's evaluation of the same checkpoint.
    cfg4, graphdef, state, _ = ckpt.load_model(two, step=4)
    protocol = protocols.get(cfg4.train.protocol)
    options = protocol_options(cfg4, protocol)
    source = H5Source(f"{cfg4.data.root}/{cfg4.data.test_file}")
    loader, indices = test_loader(cfg4, source, cfg4.train.eval_limit, 1, protocol, workers=0)
    here = evaluate(make_inference(cfg4, graphdef, state, options), loader, indices, make_mesh(),
                    root=options["root"], progress=False)  # fmt: skip
    assert protocols.headline(here["p1"], protocol) == pytest.approx(mpjpe_two[4], rel=1e-5)
    checkpoints = ckpt.Checkpoints(two)
    assert checkpoints.last.all_steps() == [2, 4] and len(checkpoints.best.all_steps()) == 1
