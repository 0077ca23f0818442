"""``c2f bench --gpu``'s machinery, on the CPU (``--dry-run``: the tiny recipe)."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_gpu_bench_runs_every_section_and_refuses_a_cpu(tmp_path, capsys):
    import jax

    from bench import gpu

    if jax.default_backend() == "cpu":
        assert gpu.main(["--out", str(tmp_path / "refused")]) == 2
        assert "no GPU here" in capsys.readouterr().err
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    run = [sys.executable, "-m", "bench", "--gpu", "--out", str(tmp_path)]
    done = subprocess.run([*run, "--dry-run", "--calls", "2", "--workers", "0"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "gpu.json").read_text())
    sections = [r["section"] for r in result["rows"]]
    assert sections == ["bf16 matmul", "inference float32, dry run",
                        "train step float32, dry run", "c2f train end to end"]  # fmt: skip
    for row in result["rows"][1:3]:
        assert row["tflops"] > 0 and row["images_per_s"] > 0
    e2e = result["rows"][-1]
    # the real loader and train command, stopped as on the GPU: SIGINT, a checkpoint, exit 130
    assert e2e["exit"] == 130 and e2e["images_per_s"] > 0
    assert list((tmp_path / "jax_cache").iterdir())  # compilations persisted for a rerun
