"""Resuming: a checkpoint owns its config, and nothing is lost when an evaluation fails."""

import json

import pytest

from c2f import checkpoint as ckpt
from c2f.config import apply_overrides
from c2f.train.loop import train
from c2f.train.resume import ConfigChanged, evaluated_steps
from tests.small import MICRO


def test_a_changed_config_is_refused_before_anything_is_written(micro_cfg, tiny_data, tmp_path):
    import train as train_cli

    train(micro_cfg, tmp_path, stop_after=2, progress=False)
    saved = (tmp_path / "config.json").read_text()
    changed = apply_overrides(micro_cfg, ["model.features=8", "optim.learning_rate=0.01"])
    with pytest.raises(ConfigChanged, match="model.features: 16 -> 8.*optim.learning_rate"):
        train(changed, tmp_path, progress=False)
    argv = ["--config", "configs/tiny.py", "--workdir", str(tmp_path), "--set",
            f"data.root={str(tiny_data)!r}", "train.log_every=1", *MICRO[:1],
            "model.features=8"]  # fmt: skip
    assert train_cli.main(argv) == 2
    assert (tmp_path / "config.json").read_text() == saved  # the run is still readable
    assert ckpt.Checkpoints(tmp_path).latest_step() == 2
    cfg, *_ = ckpt.load_model(tmp_path)
    assert cfg == micro_cfg


def test_an_accepted_change_is_logged_and_old_checkpoints_keep_their_config(micro_cfg, tmp_path):
    train(micro_cfg, tmp_path, stop_after=2, progress=False)
    # Free fields (how long, how often) need no flag.
    longer = apply_overrides(micro_cfg, ["train.steps=8", "train.log_every=2"])
    train(longer, tmp_path, stop_after=2, progress=False)
    changed = apply_overrides(longer, ["optim.learning_rate=0.0005"])
    summary = train(changed, tmp_path, stop_after=2, progress=False, allow_config_change=True)
    assert summary["step"] == 6
    notes = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any("optim.learning_rate: 0.001 -> 0.0005" in n.get("config_change", "") for n in notes)
    # The checkpoint of step 4 was trained with the old rate, step 6 with the new one; each
    # is read with its own config whatever config.json now says.
    old, *_ = ckpt.load_model(tmp_path, step=4)
    new, *_ = ckpt.load_model(tmp_path, step=6)
    assert old.optim.learning_rate == 1e-3 and new.optim.learning_rate == 5e-4


def test_a_failed_evaluation_loses_no_checkpoint_and_is_redone(micro_cfg, tmp_path, monkeypatch,
                                                                 capsys):  # fmt: skip
    from c2f.train import loop

    def broken(*args, **kwargs):
        raise RuntimeError("a bad test sample")

    with monkeypatch.context() as m:
        m.setattr(loop, "evaluate", broken)
        with pytest.raises(RuntimeError, match="bad test sample"):
            train(micro_cfg, tmp_path, progress=False)
    checkpoints = ckpt.Checkpoints(tmp_path)
    assert checkpoints.latest_step() == 6  # written before the evaluation
    assert checkpoints.best.all_steps() == [] and evaluated_steps(tmp_path) == set()
    # The same state as a kill between writing "last" and "best": the re-run evaluates.
    summary = train(micro_cfg, tmp_path, progress=False)
    assert "evaluating step 6" in capsys.readouterr().out
    assert summary["step"] == 6 and "eval/mpjpe" in summary["eval"]
    assert ckpt.Checkpoints(tmp_path).best.all_steps() == [6]
    assert evaluated_steps(tmp_path) == {6}
    train(micro_cfg, tmp_path, progress=False)  # done: nothing re-evaluated
    assert "evaluating" not in capsys.readouterr().out
