"""Resuming: a checkpoint owns its config, and nothing is lost when an evaluation fails."""

import json
import shutil

import numpy as np
import pytest

from c2f import checkpoint as ckpt
from c2f.config import apply_overrides, with_data_skeleton
from c2f.skeleton import H36M17
from c2f.train.loop import train
from c2f.train.resume import ConfigChanged, evaluated_steps
from tests.small import MICRO


def test_a_changed_config_is_refused_and_an_accepted_one_logged(micro_cfg, micro_run, tiny_data,
                                                                  tmp_path):  # fmt: skip
    import shutil

    import train as train_cli
    from tests.small import MICRO_RUN

    micro_cfg = apply_overrides(micro_cfg, MICRO_RUN)
    tmp_path = tmp_path / "run"
    shutil.copytree(micro_run, tmp_path)  # a finished 4-step run
    saved = (tmp_path / "config.json").read_text()
    changed = apply_overrides(micro_cfg, ["model.features=8", "optim.learning_rate=0.01"])
    with pytest.raises(ConfigChanged, match="model.features: 16 -> 8.*optim.learning_rate"):
        train(changed, tmp_path, progress=False)
    argv = ["--config", "tiny", "--workdir", str(tmp_path), "--set",
            f"data.root={str(tiny_data)!r}", "train.log_every=1", *MICRO[:1],
            "model.features=8"]  # fmt: skip
    assert train_cli.main(argv) == 2
    # Refused before anything was written: the run is still readable as it was.
    assert (tmp_path / "config.json").read_text() == saved
    assert ckpt.Checkpoints(tmp_path).latest_step() == 4
    cfg, *_ = ckpt.load_model(tmp_path)
    assert cfg == with_data_skeleton(micro_cfg, H36M17)  # the run records the data's skeleton
    assert micro_cfg.model.skeleton is None and cfg.model.skeleton is H36M17
    # Free fields (how long, how often) need no flag; a binding change with the flag is logged.
    # (The seed: a binding field that leaves the compiled step as it was, so no compilation.)
    longer = apply_overrides(micro_cfg, ["train.steps=8", "train.log_every=2"])
    changed = apply_overrides(longer, ["train.seed=5"])
    summary = train(changed, tmp_path, stop_after=2, progress=False, allow_config_change=True)
    assert summary["step"] == 6
    notes = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    change = next(n["config_change"] for n in notes if "config_change" in n)
    assert "train.seed: 0 -> 5" in change and "train.steps: 4 -> 8" in change
    # The checkpoint of step 4 was trained with the old seed, step 6 with the new one; each
    # is read with its own config whatever config.json now says.
    old, *_ = ckpt.load_model(tmp_path, step=4)
    new, *_ = ckpt.load_model(tmp_path, step=6)
    assert old.train.seed == micro_cfg.train.seed == 0 and new.train.seed == 5
    with pytest.raises(ConfigChanged):  # the flag was for one run, not for the workdir
        train(apply_overrides(longer, ["loss.l1_weight=0.5"]), tmp_path, progress=False)


def test_a_failed_evaluation_loses_no_checkpoint_and_is_redone(micro_cfg, tiny_data, tmp_path,
                                                                 monkeypatch, capsys):  # fmt: skip
    # On training data with undecodable images (every other one): the run also shows that
    # they are skipped and counted in the log (tests/test_bad_data.py tests the loader).
    from c2f.train import loop
    from tests.test_bad_data import with_broken_train_images

    data = with_broken_train_images(tiny_data, tmp_path / "data", range(1, 120, 2))
    micro_cfg = apply_overrides(micro_cfg, [f"data.root={str(data)!r}"])
    tmp_path = tmp_path / "run"

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
    logs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    counts = [x["train/bad_images"] for x in logs if "train/bad_images" in x]
    assert counts and counts[-1] > 0


def test_checkpoints_are_packed_and_the_earlier_layout_still_reads(micro_cfg, tmp_path):
    import numpy as np
    import orbax.checkpoint as ocp

    from c2f.train.state import create

    graphdef, state = create(micro_cfg)
    meta = {"step": 2, "config": json.loads(ckpt.config_to_json(micro_cfg))}
    # The layout of earlier releases: one array per variable, item "state".
    old = ocp.CheckpointManager((tmp_path / "old/checkpoints/last").absolute(),
                                options=ocp.CheckpointManagerOptions(create=True))  # fmt: skip
    old.save(2, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                        meta=ocp.args.JsonSave(meta)))  # fmt: skip
    old.close()
    new = ckpt.Checkpoints(tmp_path / "new")
    new.save(2, state, meta)
    assert sorted(p.name for p in (tmp_path / "new/checkpoints/last/2").iterdir()
                  if p.is_dir()) == ["meta", "model", "optimizer"]  # fmt: skip
    expected = [np.asarray(x) for x in jax_leaves(state[0])]
    for run in ("old", "new"):
        cfg, _, model, got_meta = ckpt.load_model(tmp_path / run)
        assert cfg == micro_cfg and got_meta["step"] == 2
        assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(expected, jax_leaves(model)))
        full, _ = ckpt.Checkpoints(tmp_path / run).restore(ckpt.restore_target(state))
        assert all(np.array_equal(np.asarray(a), np.asarray(b))
                   for a, b in zip(jax_leaves(state), jax_leaves(full)))  # fmt: skip
    # A checkpoint that does not fit the config is an error naming both.
    wider = apply_overrides(micro_cfg, ["model.features=32"])
    meta_wider = {"step": 4, "config": json.loads(ckpt.config_to_json(wider))}
    new.save(4, state, meta_wider)
    with pytest.raises(ValueError, match="do not fit the model of its config"):
        ckpt.load_model(tmp_path / "new", step=4)


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def test_one_writer_per_workdir(tmp_path, capsys):
    import multiprocessing as mp

    from c2f.cli import main as c2f_main
    from c2f.train.lock import WorkdirBusy, WorkdirLock

    # A live holder in another process: a second train is refused, naming it, and writes
    # nothing; when the holder dies (here: exits without unlocking), the lock is free again.
    ready, done = mp.get_context("spawn").Event(), mp.get_context("spawn").Event()
    holder = mp.get_context("spawn").Process(target=_hold, args=(str(tmp_path), ready, done))
    holder.start()
    assert ready.wait(60)
    try:
        with pytest.raises(WorkdirBusy, match=f"pid {holder.pid}"):
            WorkdirLock(tmp_path).__enter__()
        argv = ["train", "--config", "tiny", "--workdir", str(tmp_path)]
        assert c2f_main(argv) == 2
        assert "being trained by another process" in capsys.readouterr().err
        assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]
    finally:
        done.set()
        holder.join(30)
    with WorkdirLock(tmp_path):  # released by the OS with its holder
        pass
    # A workdir that is a file is named, not a traceback.
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exit_:
        c2f_main(["train", "--config", "tiny", "--workdir", str(tmp_path / "file")])
    assert exit_.value.code == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def _hold(workdir, ready, done):
    import os

    from c2f.train.lock import WorkdirLock

    WorkdirLock(workdir).__enter__()
    ready.set()
    done.wait(60)
    os._exit(0)  # no unlock: the kernel releases the lock with the process


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_a_damaged_last_checkpoint_is_moved_aside_and_the_previous_used(
    micro_run, micro_cfg, tmp_path, capsys, damage
):
    from c2f.cli import main as c2f_main
    from tests.small import MICRO_RUN

    run = tmp_path / "run"
    shutil.copytree(micro_run, run)
    last = run / "checkpoints" / "last"
    assert sorted(int(p.name) for p in last.iterdir() if p.name.isdigit())[-2:] == [2, 4]
    files = sorted(p for p in (last / "4" / "model").rglob("*") if p.is_file())
    for f in files:  # the model's arrays of step 4
        if damage == "delete":
            f.unlink()
        else:
            f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 3])
    # Evaluation says which step it could not read and which it used; an explicit step is
    # refused by name.
    assert c2f_main(["eval", "--workdir", str(run), "--every", "8"]) == 0
    err = capsys.readouterr().err
    assert "checkpoint at step 4 could not be read" in err
    assert "using the last checkpoint at step 2 instead" in err
    assert c2f_main(["eval", "--workdir", str(run), "--checkpoint", "4"]) == 2
    assert "step 4 could not be read" in capsys.readouterr().err
    if damage == "delete":
        return  # the same fallback as truncation; one training resume is enough (suite time)
    # Training moves it aside (kept) and resumes from step 2 to the end.
    summary = train(apply_overrides(micro_cfg, MICRO_RUN), run, progress=False)
    out = capsys.readouterr().out
    assert "checkpoint at step 4 could not be read" in out and "resuming" in out
    assert "at step 2" in out and summary["step"] == 4
    assert (run / "checkpoints" / "damaged" / "last-4" / "model").is_dir()
    assert ckpt.Checkpoints(run).latest_step() == 4  # written again


# The micro run's numbers from the code before keypoint sets were values (commit c3958ab, same
# fixture, jax 0.10.2 on the project's CPU machine): Human3.6M results must not move. Equal to
# the last bit there; on another machine of the same kind (2026-12-04) the same commit gave
# train/loss within 1e-6 but eval/mpjpe 432.683 and 411.606 (1.4e-4 relative: the CPU's
# rounding through 4 training steps). The tolerances leave room for that only.
# Re-pinned on 2026-12-05 for BatchNorm's hand-written gradient (c2f/model/batch_norm.py):
# every gradient equals the differentiated formula's to 1e-4 relative except the biases of
# convolutions that feed a BatchNorm, whose gradient is 0 up to rounding (|g| ~ 1e-9, a new
# rounding); Adam steps them by ~lr, which the running averages carry into evaluation. The
# losses stayed within 6e-6; eval/mpjpe moved from 432.622 and 411.554 (1.8e-3 and 1.6e-4).
BEFORE_SKELETONS = {
    "train/loss": [1.3096286058425903, 1.327270269393921, 1.268053650856018, 1.2410064935684204],
    "eval/mpjpe": [431.84558486938477, 411.4900245666504],
    "eval/pa_mpjpe": [383.42564392089844, 382.3288040161133],
}


def test_human36m_numbers_are_those_of_before_keypoint_sets(micro_run):
    rows = [json.loads(line) for line in (micro_run / "metrics.jsonl").read_text().splitlines()]
    for key, expected in BEFORE_SKELETONS.items():
        got = [r[key] for r in rows if key in r]
        rtol = 1e-4 if key.startswith("train") else 5e-4
        np.testing.assert_allclose(got, expected, rtol=rtol, err_msg=key)
