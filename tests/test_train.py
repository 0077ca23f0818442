import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from c2f import checkpoint as ckpt
from c2f.config import apply_overrides, config_from_dict, load_config
from c2f.train.loop import TrainingDiverged, train
from tests.small import MICRO


def _losses(workdir):
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["train/loss"] for r in rows if "train/loss" in r}


def test_resume_after_a_kill_continues_the_same_curve(micro_cfg, micro_run, tmp_path):
    from tests.small import MICRO_RUN

    cfg = apply_overrides(micro_cfg, MICRO_RUN)
    full = _losses(micro_run)
    assert sorted(full) == [1, 2, 3, 4]
    resumed_dir = tmp_path / "resumed"
    train(cfg, resumed_dir, stop_after=3, progress=False)  # "killed" after step 3
    assert ckpt.Checkpoints(resumed_dir).latest_step() == 3
    train(cfg, resumed_dir, progress=False)
    resumed = _losses(resumed_dir)
    for step in range(1, 5):
        assert resumed[step] == pytest.approx(full[step], rel=1e-5), step
    assert len(set(full.values())) > 1  # the loss actually moves


def poison_step_3(monkeypatch):
    """The loader's batch of step 3 gets a NaN joint coordinate."""
    from c2f.data import loader as loader_mod

    original = loader_mod.Loader.batch_of

    def poisoned(self, indices, step=0):
        batch = original(self, indices, step)
        if step == 3 and self.spec.shuffle:  # the training loader's, not evaluation's
            batch["coords"][0, 0, 0] = np.nan
        return batch

    monkeypatch.setattr(loader_mod.Loader, "batch_of", poisoned)


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(micro_cfg, tmp_path, monkeypatch):
    poison_step_3(monkeypatch)
    with pytest.raises(TrainingDiverged, match="step 3.*last good checkpoint \\(step 2\\)"):
        train(micro_cfg, tmp_path, progress=False)
    checkpoints = ckpt.Checkpoints(tmp_path)
    assert checkpoints.latest_step() == 2
    from c2f.checkpoint import load_model

    _, _, state, meta = load_model(tmp_path)
    assert meta["step"] == 2
    import jax

    assert all(bool(np.all(np.isfinite(x))) for x in jax.tree.leaves(state))


def test_finite_flag_is_read_one_step_late_and_before_every_save(micro_cfg, tmp_path, monkeypatch):
    from c2f.train.loop import FiniteGuard

    events = []

    class Flag:  # a device flag whose read is recorded
        def __init__(self, step, ok=True):
            self.step, self.ok = step, ok

        def __bool__(self):
            events.append(("read", self.step))
            return self.ok

    guard = FiniteGuard(lambda: "kept")
    for step in range(3):
        events.append(("dispatched", step))
        guard.push(step, {"finite": Flag(step), "loss": 0.0})
    assert events == [("dispatched", 0), ("dispatched", 1), ("read", 0), ("dispatched", 2),
                      ("read", 1)]  # fmt: skip
    guard.check()
    assert events[-1] == ("read", 2) and guard.pending is None
    guard.push(3, {"finite": Flag(3, ok=False), "loss": float("nan")})
    with pytest.raises(TrainingDiverged, match="step 3.*kept"):
        guard.check()
    # In the loop, with logs every 100 steps: a NaN at step 3 is caught before the checkpoint
    # of step 4 would be written; the checkpoint of step 2 stays the last.
    poison_step_3(monkeypatch)
    cfg = apply_overrides(micro_cfg, ["train.log_every=100"])
    with pytest.raises(TrainingDiverged, match="step 3.*last good checkpoint \\(step 2\\)"):
        train(cfg, tmp_path, progress=False)
    assert ckpt.Checkpoints(tmp_path).latest_step() == 2


def test_an_interrupted_run_exits_non_zero_and_says_where(micro_cfg, tmp_path, monkeypatch, capsys):
    import train as train_cli
    from c2f.train import loop

    class StopAfterTwo(loop._StopFlag):  # as if SIGINT arrived during the first steps
        calls = 0

        @property
        def stop(self):
            StopAfterTwo.calls += 1
            return StopAfterTwo.calls >= 2

        @stop.setter
        def stop(self, value):
            pass

    monkeypatch.setattr(loop, "_StopFlag", StopAfterTwo)
    argv = ["--config", "configs/tiny.py", "--workdir", str(tmp_path),
            "--set", f"data.root={micro_cfg.data.root!r}", "train.log_every=1"]  # fmt: skip
    assert train_cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted at step " in err and "done at step" not in err
    step = int(err.split("interrupted at step ")[1].split(";")[0])
    assert 0 < step < 6 and ckpt.Checkpoints(tmp_path).latest_step() == step


def test_sharded_step_on_four_devices_equals_one_device(tmp_path, tiny_data):
    script = textwrap.dedent(
        f"""
        import jax, numpy as np
        from jax.sharding import AxisType
        from c2f.config import apply_overrides, load_config
        from c2f.data import BatchSpec, H5Source, Loader
        from c2f.sharding import replicate, shard_batch
        from c2f.train.state import create
        from c2f.train.steps import make_train_step
        assert jax.device_count() == 4, jax.devices()
        overrides = ["data.root={str(tiny_data)!r}", "train.batch_size=8", *{MICRO!r}]
        cfg = apply_overrides(load_config("configs/tiny.py"), overrides)
        spec = BatchSpec(batch_size=8, input_res=64, output_res=16, depth_bins=cfg.depth_bins)
        batch = Loader(H5Source("{tiny_data}/train.h5"), spec).batch(0)
        results = []
        for devices in (jax.devices()[:1], jax.devices()):
            mesh = jax.make_mesh(
                (len(devices),), ("data",), axis_types=(AxisType.Auto,), devices=devices
            )
            graphdef, state = create(cfg)
            step = make_train_step(cfg, graphdef)
            state, metrics = step(replicate(state, mesh), shard_batch(batch, mesh, 8))
            results.append((jax.device_get(metrics), jax.device_get(state)))
            for later in (1,):  # one more step: the curves stay together
                more = Loader(H5Source("{tiny_data}/train.h5"), spec).batch(later)
                state, m = step(state, shard_batch(more, mesh, 8))
                results[-1][0][f"loss{{later}}"] = float(m["loss"])
        (m1, s1), (m4, s4) = results
        for key in ("loss", "grad_norm"):
            assert abs(m1[key] - m4[key]) <= 1e-4 * abs(m1[key]), (key, m1[key], m4[key])
        for key in ("loss1",):
            assert abs(m1[key] - m4[key]) <= 1e-3 * abs(m1[key]), (key, m1[key], m4[key])
        flat1 = jax.tree_util.tree_leaves_with_path(s1)
        leaves4 = jax.tree.leaves(s4)
        stats, others = [], []
        for (path, a), b in zip(flat1, leaves4):
            diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
            name = jax.tree_util.keystr(path)
            if name.startswith("[0]") and ("['mean']" in name or "['var']" in name):
                stats.append(float(diff.max()))  # BatchNorm running statistics
            else:
                others.append(float(diff.max()))
        # BatchNorm statistics are global over the sharded batch: the same running averages.
        assert stats and max(stats) < 1e-4, max(stats)
        # Adam's first step moves each parameter by about lr * sign(gradient): only parameters
        # whose gradient is ~0 (sign decided by reduction order) may differ, by at most 2 lr.
        assert max(others) <= 2.05 * cfg.optim.learning_rate, max(others)
        diffs = stats + others
        l1, l4 = m1["loss"], m4["loss"]
        print("OK", l1, l4, max(diffs))
        """
    )
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK" in proc.stdout


def test_eval_writes_both_tables(tiny_run, capsys):
    import eval as eval_cli

    assert eval_cli.main(["--workdir", str(tiny_run), "--vis", "2", "--flip"]) == 0
    out = capsys.readouterr().out
    assert "Protocol 1 (MPJPE)" in out and "Protocol 2 (PA-MPJPE)" in out
    files = sorted(p.name for p in (tiny_run / "eval").iterdir())
    assert any(f.endswith(".md") for f in files) and any(f.endswith(".png") for f in files)
    result = json.loads(
        next((tiny_run / "eval").glob("*_p1-gt-root_soft_flip-coords_*.json")).read_text()
    )
    p1 = result["tables"]["Protocol 1 (MPJPE)"]
    p2 = result["tables"]["Protocol 2 (PA-MPJPE)"]
    assert result["samples"] == 120 and len(p1) == 17  # 15 actions + Avg + Weighted
    assert all(np.isfinite(v) and v > 0 for v in p1.values())
    assert p2["Weighted"] <= p1["Weighted"]
    # The other decoding and the root depth from bone lengths, on every third sample.
    argv = ["--workdir", str(tiny_run), "--decode", "hard", "--root", "bones", "--every", "3"]
    assert eval_cli.main(argv) == 0
    other = json.loads(next((tiny_run / "eval").glob("*hard*bones*.json")).read_text())
    assert other["samples"] == 40 and np.isfinite(other["tables"]["Protocol 1 (MPJPE)"]["Avg"])


def test_config_overrides_and_json_round_trip():
    cfg = load_config("configs/paper.py")
    cfg2 = apply_overrides(cfg, ["train.steps=10", "optim.name=adam", "model.depths=[1, 64]"])
    assert cfg2.train.steps == 10 and cfg2.optim.name == "adam" and cfg2.model.depths == (1, 64)
    assert config_from_dict(json.loads(ckpt.config_to_json(cfg2))) == cfg2
    with pytest.raises(ValueError, match="train.stepz"):
        apply_overrides(cfg, ["train.stepz=1"])
    with pytest.raises(ValueError, match="optim.name"):
        apply_overrides(cfg, ["optim.name=sgd"])
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides(cfg, ["train.steps"])
    tiny = load_config("configs/tiny.py")
    assert tiny.depth_bins.num_bins == 16  # derived from model.depths, stated nowhere else
    deeper = apply_overrides(tiny, ["model.depths=(4,48)"])
    assert deeper.depth_bins.num_bins == 48
    with pytest.raises(ValueError, match="derived from model.depths"):
        apply_overrides(tiny, ["depth_bins.num_bins=48"])


def test_tensorboard_and_jsonl_logs(tiny_run):
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2

    tags = {}
    for path in (tiny_run / "tb").iterdir():
        for raw in RawEventFileLoader(str(path)).Load():
            for value in event_pb2.Event.FromString(raw).summary.value:
                tags[value.tag] = value
    expected = ["train/loss", "train/stage1/mse", "train/stage1/l1", "train/grad_norm"]
    expected += ["train/learning_rate", "train/images_per_s", "eval/mpjpe", "eval/pa_mpjpe"]
    for tag in expected:
        assert tag in tags, tag
    image = tags["eval/predictions"].image
    assert image.height > 0 and image.encoded_image_string[:4] == b"\x89PNG"
    rows = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/mpjpe" in r for r in rows) and all("step" in r for r in rows)
