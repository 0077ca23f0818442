import json

import numpy as np
import pytest

from c2f import checkpoint as ckpt
from c2f.config import apply_overrides, config_from_dict, load_config
from c2f.train.loop import TrainingDiverged, train


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

    class StopAfterTwo(loop.StopFlag):  # as if SIGINT arrived during the first steps
        calls = 0

        @property
        def stop(self):
            StopAfterTwo.calls += 1
            return StopAfterTwo.calls >= 2

        @stop.setter
        def stop(self, value):
            pass

    monkeypatch.setattr(loop, "StopFlag", StopAfterTwo)
    argv = ["--config", "tiny", "--workdir", str(tmp_path),
            "--set", f"data.root={micro_cfg.data.root!r}", "train.log_every=1"]  # fmt: skip
    assert train_cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted at step " in err and "done at step" not in err
    step = int(err.split("interrupted at step ")[1].split(";")[0])
    assert 0 < step < 6 and ckpt.Checkpoints(tmp_path).latest_step() == step


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
    cfg = load_config("paper")
    cfg2 = apply_overrides(cfg, ["train.steps=10", "optim.name=adam", "model.depths=[1, 64]"])
    assert cfg2.train.steps == 10 and cfg2.optim.name == "adam" and cfg2.model.depths == (1, 64)
    assert config_from_dict(json.loads(ckpt.config_to_json(cfg2))) == cfg2
    with pytest.raises(ValueError, match="train.stepz"):
        apply_overrides(cfg, ["train.stepz=1"])
    with pytest.raises(ValueError, match="optim.name"):
        apply_overrides(cfg, ["optim.name=sgd"])
    with pytest.raises(ValueError, match="TrainConfig.programs"):
        apply_overrides(cfg, ["train.programs=many"])
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides(cfg, ["train.steps"])
    tiny = load_config("tiny")
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
