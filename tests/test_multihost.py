"""Two processes through jax.distributed (CPU, gloo collectives) train like one process.

Each process has two CPU devices, so the run also shards every batch over several local
devices: this test is the suite's multi-device test (one row of the global batch of 4 per
device), and BatchNorm statistics are global over the four (MPJPE, computed with the running
averages, equals the one-device run's).
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Each process: jax.distributed, then train.py's own train() to step 2 (evaluated, saved),
# then a second train() that resumes from that checkpoint to step 4: what a relaunch does,
# without paying the start-up (imports, model creation, compilation) twice.
DRIVER = """
import sys, jax
jax.distributed.initialize(sys.argv[1], 2, int(sys.argv[2]))
print("devices", jax.device_count(), "local", jax.local_device_count(), flush=True)
from c2f.config import apply_overrides, load_config
from c2f.train.loop import train
cfg = apply_overrides(load_config("tiny"), sys.argv[4:])
for steps in (2, 4):
    out = train(apply_overrides(cfg, [f"train.steps={steps}"]), sys.argv[3], progress=False)
    print("finished", out["step"], flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(workdir, overrides: list[str]) -> list[str]:
    """The driver as two processes of one run; returns their outputs."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo",
           "JAX_COMPILATION_CACHE_DIR": str(ROOT / ".cache" / "jax-multihost")}  # fmt: skip
    # Two CPU devices per process: four devices in two processes, so this one run covers
    # sharding a batch over several local devices as well as over processes.
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    address = f"127.0.0.1:{_free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, address, str(rank), str(workdir), *overrides],
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
            outs.append(p.communicate(timeout=500)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("the two-process run did not finish in 500 s")
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    return outs


def _logged(workdir):
    rows = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    loss = {r["step"]: r["train/loss"] for r in rows if "train/loss" in r}
    mpjpe = {r["step"]: r["eval/mpjpe"] for r in rows if "eval/mpjpe" in r}
    return loss, mpjpe


def test_two_processes_train_evaluate_checkpoint_and_resume_like_one(micro_run, tiny_data,
                                                                     tmp_path):  # fmt: skip
    from c2f import checkpoint as ckpt
    from tests.small import MICRO, MICRO_RUN

    # The reference: the same config in one process (conftest's micro_run).
    settings = [f"data.root={str(tiny_data)!r}", *MICRO, *MICRO_RUN[1:]]
    one = micro_run
    two = tmp_path / "two"
    outs = _launch(two, settings)
    for out in outs:
        assert "finished 2" in out and "resuming" in out and "finished 4" in out, out[-2000:]
        assert "devices 4 local 2" in out, out[:500]
    loss_one, mpjpe_one = _logged(one)
    loss_two, mpjpe_two = _logged(two)
    assert sorted(loss_two) == [1, 2, 3, 4] and sorted(mpjpe_two) == [2, 4]
    # The same global batches of 4, each process feeding its 2 rows (1 a device); gradients
    # reduced across devices and processes in another order. Adam moves parameters whose
    # gradient is ~0 by ~lr * sign, so the curves agree to 1e-5 at the first step, 1e-3 after.
    assert loss_two[1] == pytest.approx(loss_one[1], rel=1e-5)
    for step in (2, 3, 4):
        assert loss_two[step] == pytest.approx(loss_one[step], rel=1e-3), step
    # Evaluation gathered every test sample from both processes. It reads the running
    # averages, which follow the biases of convolutions that feed a BatchNorm: their gradient
    # is 0 up to rounding, which Adam turns into steps of ~lr in a sign that depends on the
    # summation order (measured 1.8e-3 apart at step 2).
    for step in (2, 4):
        assert mpjpe_two[step] == pytest.approx(mpjpe_one[step], rel=3e-3), step
    checkpoints = ckpt.Checkpoints(two)
    assert checkpoints.last.all_steps() == [2, 4] and len(checkpoints.best.all_steps()) == 1
    # The checkpoint both processes wrote is read back whole by one process.
    cfg, _, state, meta = ckpt.load_model(two, step=4)
    assert meta["step"] == 4 and cfg.model.features == 16
