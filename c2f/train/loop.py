"""The training loop: data, the jitted step, periodic evaluation, checkpoints, logs, resume.

``train(cfg, workdir)`` resumes from the latest checkpoint in ``workdir`` if there is one:
same step, model and optimizer state, and (the loader being a function of (seed, step)) the
same batches, so a resumed run continues the loss curve of an uninterrupted one. SIGINT and
SIGTERM save a checkpoint and stop cleanly. A non-finite loss or gradient stops training with
a message naming the step; the last good checkpoint is kept as it was.
"""

import json
import os
import pathlib
import signal
import time

import jax
import numpy as np
from tqdm import tqdm

from c2f import checkpoint as ckpt
from c2f import signals
from c2f.config import Config, with_data_skeleton
from c2f.data import BatchSpec, DatasetError, H5Source, Loader
from c2f.data.mixture import Mixture, parse_mix
from c2f.data.subset import without_actions
from c2f.evaluation import benchmarks, protocols
from c2f.evaluation.evaluate import (
    evaluate,
    make_inference,
    protocol_options,
    summary_scalars,
    test_loader,
)
from c2f.serving.visualize import figure
from c2f.sharding import make_mesh, replicate, replicated_shapes, shard_batch
from c2f.train.lock import WorkdirError, WorkdirLock
from c2f.train.logger import MetricWriter
from c2f.train.resume import check_resume_config, evaluated_steps, record_evaluation
from c2f.train.state import (
    abstract_train_state,
    create,
    eval_graph,
    learning_rate_schedule,
)
from c2f.train.steps import make_train_step


class TrainingDiverged(RuntimeError):
    """The loss or the gradients became NaN or Inf."""


class FiniteGuard:
    """Checks each step's ``finite`` flag one step late, so that no step waits for its own.

    ``push(step, metrics)`` hands over the newest step's metrics (device arrays, not yet
    read) and checks the PREVIOUS step's flag, whose computation the newest step depends on
    and which is therefore done or about to be: the host never stalls the device queue.
    ``check()`` reads the newest flag now; the loop calls it before anything that must not
    see a non-finite state: a log line, an evaluation, a checkpoint.

    Raises:
      TrainingDiverged: naming the first non-finite step.
    """

    def __init__(self, describe_checkpoint):
        self.pending = None
        self.reads = []  # steps whose flag was read, in order (tests inspect it)
        self.describe_checkpoint = describe_checkpoint

    def push(self, step: int, metrics: dict) -> None:
        previous, self.pending = self.pending, (step, metrics)
        if previous is not None:
            self._read(*previous)

    def check(self) -> None:
        if self.pending is not None:
            self._read(*self.pending)
            self.pending = None

    def _read(self, step: int, metrics: dict) -> None:
        self.reads.append(step)
        if not bool(metrics["finite"]):
            raise TrainingDiverged(
                f"step {step}: non-finite loss or gradient (loss {float(metrics['loss'])}); "
                f"stopped; {self.describe_checkpoint()}"
            )


class StopFlag:
    """Set by SIGINT/SIGTERM; the loop checks it between steps.

    A signal that came during start-up and was swallowed on its way (jax's callbacks swallow
    exceptions; :mod:`c2f.signals` recorded it) sets it at once.
    """

    def __init__(self):
        self.signum = signals.received()
        self.stop = self.signum is not None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handlers
                pass
        return self

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            signals.record(signum)
        self.stop = True

    def __exit__(self, *_):
        for sig, old in self._old.items():
            signal.signal(sig, old)


RUN_FILES = ("config.json", "checkpoints", "metrics.jsonl", "tb", "eval", "temporal", ".lock")


def check_workdir(workdir: pathlib.Path) -> None:
    """A workdir is empty, missing, or a c2f run (its ``config.json`` or ``checkpoints/``).

    Raises:
      WorkdirError: a folder of the user's (train would write its config.json there).
    """
    if not workdir.is_dir() or (workdir / "config.json").is_file():
        return
    if (workdir / "checkpoints").is_dir():
        return
    others = sorted(p.name for p in workdir.iterdir() if p.name not in RUN_FILES)
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise WorkdirError(f"--workdir: {workdir} holds files that are not a c2f run's "
                           f"({shown}); give an empty folder or a run")  # fmt: skip


def _eval_samples(cfg: Config, test_source):
    """The training-time evaluation's protocol, loader and samples, checked before any work.

    The protocol is the test file's benchmark's (InterHand2.6M, H3WB, MPI-INF-3DHP name
    theirs), else the recipe's ``train.protocol``; one that selects nothing of the file is a
    :class:`DatasetError` naming both.
    """
    benchmark = benchmarks.get(test_source.benchmark)
    name = benchmark.protocol or cfg.train.protocol
    protocol = protocols.get(name)
    try:
        loader, indices = test_loader(cfg, test_source, cfg.train.eval_limit, 1, protocol)
    except ValueError as e:
        whose = (f"benchmark {benchmark.name!r}'s" if benchmark.protocol else
                 "the recipe's train.protocol")  # fmt: skip
        raise DatasetError(
            f"{e} (protocol {name!r} is {whose}; set train.protocol, e.g. "
            "'all-frames', or give a test file that it fits)"
        ) from e
    return protocol, loader, indices


def train(cfg: Config, workdir, *, stop_after: int | None = None, progress: bool = True,
          allow_config_change: bool = False) -> dict:  # fmt: skip
    """Train (or resume) ``cfg`` in ``workdir``.

    Args:
      cfg: the experiment.
      workdir: checkpoints, logs and config go here.
      stop_after: stop (with a checkpoint) after this many steps of this call, as a kill would.
      progress: show a progress bar.
      allow_config_change: resume although ``cfg`` differs from the checkpoint's config in
        fields that change the experiment (recorded in the log); otherwise that is an error.

    Returns:
      dict with the final ``step``, the last logged ``loss``, if evaluated ``eval``, and
      ``interrupted`` True when SIGINT/SIGTERM stopped it (after saving a checkpoint).

    Raises:
      TrainingDiverged: on a non-finite loss or gradient.
      ConfigChanged: resuming with a different config (naming the fields).
      WorkdirBusy: another process is training in ``workdir`` (:mod:`c2f.train.lock`).
    """
    workdir = pathlib.Path(workdir)
    check_workdir(workdir)
    if jax.process_index() != 0:  # one lock per run: process 0 holds it
        return _train(cfg, workdir, stop_after=stop_after, progress=progress,
                      allow_config_change=allow_config_change)  # fmt: skip
    with WorkdirLock(workdir):
        return _train(cfg, workdir, stop_after=stop_after, progress=progress,
                      allow_config_change=allow_config_change)  # fmt: skip


def _initial_state(cfg, workdir, checkpoints, mesh, allow_config_change, *, move):
    """(graphdef, state on the mesh, first step, config changes): fresh, or the last checkpoint.

    A resumed run restores into shapes alone: initialising the paper network's 53.6 M
    parameters first took about 6 s, most of it compiling one random draw per shape.
    """
    if checkpoints.latest_step() is None:
        graphdef, state = create(cfg)
        return graphdef, replicate(state, mesh), 0, []

    # A refused resume leaves the run as it was: the config is checked on each checkpoint's
    # record before its arrays are read; a damaged newest checkpoint is named, moved aside
    # (never deleted) and the previous one is used.
    def check(meta):
        return check_resume_config(workdir, meta, cfg, allow_config_change)

    graphdef, abstract = abstract_train_state(cfg)
    state, meta, changes = checkpoints.restore_intact(
        replicated_shapes(abstract, mesh), check=check, move=move
    )
    start = int(meta["step"])
    print(f"resuming {workdir} at step {start}")
    return graphdef, state, start, changes


def _train(cfg: Config, workdir: pathlib.Path, *, stop_after, progress, allow_config_change):
    workdir = pathlib.Path(workdir)
    mesh = make_mesh()
    main_process = jax.process_index() == 0
    progress = progress and main_process  # one bar per run, not one per process
    train_source = without_actions(
        H5Source(pathlib.Path(cfg.data.root) / cfg.data.train_file), cfg.data.hold_out_actions
    )
    if cfg.data.mix:
        extra = parse_mix(cfg.data.mix, cfg.train.batch_size)
        counts = [cfg.train.batch_size - sum(c for _, c in extra), *(c for _, c in extra)]
        train_source = Mixture([train_source, *(H5Source(p) for p, _ in extra)], counts)
    test_source = H5Source(pathlib.Path(cfg.data.root) / cfg.data.test_file)
    # The keypoint set is the data's: the run records it, and the model's joints and the depth
    # range follow it (before anything is built or written).
    for source in (train_source, test_source):
        if source.skeleton != train_source.skeleton:
            raise DatasetError(
                f"{source.path}: skeleton {source.skeleton.name!r}, but the training data's is "
                f"{train_source.skeleton.name!r}"
            )
    try:
        cfg = with_data_skeleton(cfg, train_source.skeleton)
    except ValueError as e:
        raise DatasetError(f"{train_source.path}: {e}") from e
    spec = BatchSpec(
        batch_size=cfg.train.batch_size,
        input_res=cfg.model.input_res,
        output_res=cfg.model.output_res,
        depth_bins=cfg.depth_bins,
        augment=cfg.data.augment,
        seed=cfg.train.seed,
        bad_images=cfg.data.bad_images,
        augment_on=cfg.data.augment_on,
    )
    try:
        loader = Loader(train_source, spec, workers=cfg.data.workers)
    except ValueError as e:  # fewer samples than one batch (an empty file included)
        raise DatasetError(str(e)) from e
    protocol, eval_loader, eval_indices = _eval_samples(cfg, test_source)
    signals.raise_if_received()  # one that a library swallowed: stop before anything is written

    checkpoints = ckpt.Checkpoints(workdir, keep=cfg.train.keep_checkpoints)
    graphdef, state, start, changes = _initial_state(
        cfg, workdir, checkpoints, mesh, allow_config_change, move=main_process
    )
    if main_process:
        workdir.mkdir(parents=True, exist_ok=True)
        tmp = workdir / f".config.json.tmp-{os.getpid()}"  # whole or not at all
        tmp.write_text(ckpt.config_to_json(cfg))
        os.replace(tmp, workdir / "config.json")
    train_step = make_train_step(cfg, graphdef)
    schedule = learning_rate_schedule(cfg.optim, cfg.train.steps)
    writer = MetricWriter(workdir, enabled=main_process)
    if changes:
        writer.text(start, "config_change", "; ".join(changes))
    options = protocol_options(cfg, protocol)
    picks = eval_indices[np.linspace(0, len(eval_indices) - 1, 2).astype(int)]
    inference = None

    def run_eval(step, state):
        nonlocal inference
        model_graph, model_state = eval_graph(graphdef, state)
        if inference is None:  # compiled once; later evaluations only swap the weights
            inference = make_inference(cfg, model_graph, model_state, options)
        inference.set_state(model_state)
        result = evaluate(inference, eval_loader, eval_indices, mesh, root=options["root"],
                          pictures=picks if cfg.train.image_summaries else (),
                          progress=progress)  # fmt: skip
        scalars = summary_scalars(result, protocol)
        writer.scalars(step, scalars)
        if cfg.train.image_summaries and main_process:
            writer.image(step, "eval/predictions", figure(result["pictures"], cfg))
        checkpoints.save_best(step, state, meta_of(step, {"eval": scalars}), scalars["eval/mpjpe"])
        if main_process:
            record_evaluation(workdir, step, scalars)
        return result, scalars

    def meta_of(step, extra=None):
        return {"step": step, "config": json.loads(ckpt.config_to_json(cfg)), **(extra or {})}

    def is_eval_step(done):
        every = cfg.train.eval_every
        return bool(every and done % every == 0) or done == cfg.train.steps

    resumed_eval = None
    if start and is_eval_step(start) and start not in evaluated_steps(workdir):
        # Killed (or the evaluation failed) after the checkpoint was written: evaluate now, so
        # that "best" is never missing a step that "last" has.
        print(f"evaluating step {start}, which the interrupted run did not")
        resumed_eval = run_eval(start, state)[1]

    end = cfg.train.steps if stop_after is None else min(cfg.train.steps, start + stop_after)
    summary = {"step": start}
    if resumed_eval is not None:
        summary["eval"] = resumed_eval
    bar = tqdm(
        total=cfg.train.steps, initial=start, desc="train", unit="step", disable=not progress
    )
    batches = loader(start, end - start)
    tick, seen, bad_images = time.perf_counter(), 0, 0
    guard = FiniteGuard(
        lambda: (
            f"the last good checkpoint (step {checkpoints.latest_step()}) is kept"
            if checkpoints.latest_step() is not None
            else "no checkpoint was written before it"
        )
    )
    with StopFlag() as flag:
        for step in range(start, end):
            batch = next(batches)
            bad_images += int(batch.get("bad_images", 0))
            state, metrics = train_step(state, shard_batch(batch, mesh, cfg.train.batch_size))
            done = step + 1
            log_now = done % cfg.train.log_every == 0 or done == end
            evaluate_now = is_eval_step(done)
            stopping = flag.stop  # read once: a signal between two reads must not skip the save
            save_now = done % cfg.train.checkpoint_every == 0 or stopping or done == end
            try:
                guard.push(step, metrics)
                if log_now or evaluate_now or save_now:
                    guard.check()  # nothing non-finite is logged, evaluated or saved
            except TrainingDiverged:
                bar.close()
                raise
            seen += cfg.train.batch_size
            bar.update(1)
            if log_now:
                values = {k: float(v) for k, v in jax.device_get(metrics).items() if k != "finite"}
                now = time.perf_counter()
                values["images_per_s"] = seen / (now - tick)
                values["learning_rate"] = float(schedule(step))
                values["bad_images"] = bad_images  # skipped undecodable images, this call
                tick, seen = now, 0
                writer.scalars(done, {f"train/{k}": v for k, v in values.items()})
                bar.set_postfix(loss=f"{values['loss']:.4g}")
                summary["loss"] = values["loss"]
            if evaluate_now or save_now:
                # Written before the evaluation, so that a failing evaluation loses no steps.
                checkpoints.save(done, state, meta_of(done))
            if evaluate_now:
                result, scalars = run_eval(done, state)
                summary["eval"] = scalars
                bar.write(f"step {done}: MPJPE {scalars['eval/mpjpe']:.1f} mm, "
                          f"PA-MPJPE {scalars['eval/pa_mpjpe']:.1f} mm")  # fmt: skip
            summary["step"] = done
            if stopping:
                bar.write(f"interrupted at step {done}: checkpoint saved")
                summary["interrupted"] = True
                summary["signal"] = flag.signum
                break
    bar.close()
    writer.close()
    checkpoints.close()
    return summary
