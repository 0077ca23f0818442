"""The training loop: data, the jitted step, periodic evaluation, checkpoints, logs, resume.

``train(cfg, workdir)`` resumes from the latest checkpoint in ``workdir`` if there is one:
same step, model and optimizer state, and (the loader being a function of (seed, step)) the
same batches, so a resumed run continues the loss curve of an uninterrupted one. SIGINT and
SIGTERM save a checkpoint and stop cleanly. A non-finite loss or gradient stops training with
a message naming the step; the last good checkpoint is kept as it was.
"""

import json
import pathlib
import signal
import time

import jax
import numpy as np
from tqdm import tqdm

from c2f import protocols
from c2f.config import Config
from c2f.data import BatchSpec, H5Source, Loader
from c2f.train import checkpoint as ckpt
from c2f.train.evaluate import evaluate, protocol_eval_step, summary_scalars, test_loader
from c2f.train.logger import MetricWriter
from c2f.train.sharding import make_mesh, replicate, shard_batch
from c2f.train.state import create, eval_graph, learning_rate_schedule
from c2f.train.steps import make_train_step
from c2f.visualize import figure


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


class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop checks it between steps."""

    def __init__(self):
        self.stop = False
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handlers
                pass
        return self

    def _handle(self, signum, frame):
        self.stop = True

    def __exit__(self, *_):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _check_workdir_config(workdir: pathlib.Path, cfg: Config) -> None:
    path = workdir / "config.json"
    text = ckpt.config_to_json(cfg)
    if path.is_file():
        old = json.loads(path.read_text())
        if old != json.loads(text):
            changed = [k for k in old if old[k] != json.loads(text).get(k)]
            print(f"note: {path} differs from this run's config in {changed}; using this run's")
    workdir.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def train(cfg: Config, workdir, *, stop_after: int | None = None, progress: bool = True) -> dict:
    """Train (or resume) ``cfg`` in ``workdir``.

    Args:
      cfg: the experiment.
      workdir: checkpoints, logs and config go here.
      stop_after: stop (with a checkpoint) after this many steps of this call, as a kill would.
      progress: show a progress bar.

    Returns:
      dict with the final ``step``, the last logged ``loss``, if evaluated ``eval``, and
      ``interrupted`` True when SIGINT/SIGTERM stopped it (after saving a checkpoint).

    Raises:
      TrainingDiverged: on a non-finite loss or gradient.
    """
    workdir = pathlib.Path(workdir)
    _check_workdir_config(workdir, cfg)
    mesh = make_mesh()
    main_process = jax.process_index() == 0
    train_source = H5Source(pathlib.Path(cfg.data.root) / cfg.data.train_file)
    test_source = H5Source(pathlib.Path(cfg.data.root) / cfg.data.test_file)
    spec = BatchSpec(
        batch_size=cfg.train.batch_size,
        input_res=cfg.model.input_res,
        output_res=cfg.model.output_res,
        depth_bins=cfg.depth_bins,
        augment=cfg.data.augment,
        seed=cfg.train.seed,
    )
    loader = Loader(train_source, spec, workers=cfg.data.workers)

    graphdef, state = create(cfg)
    state = replicate(state, mesh)
    checkpoints = ckpt.Checkpoints(workdir, keep=cfg.train.keep_checkpoints)
    start = 0
    if checkpoints.latest_step() is not None:
        state, meta = checkpoints.restore(ckpt.abstract(state))
        start = int(meta["step"])
        print(f"resuming {workdir} at step {start}")
    train_step = make_train_step(cfg, graphdef)
    schedule = learning_rate_schedule(cfg.optim, cfg.train.steps)
    writer = MetricWriter(workdir, enabled=main_process)
    protocol = protocols.get(cfg.train.protocol)
    eval_loader, eval_indices = test_loader(cfg, test_source, cfg.train.eval_limit, 1, protocol)
    eval_steps = {}

    def run_eval(step, state):
        model_graph, model_state = eval_graph(graphdef, state)
        if model_graph not in eval_steps:
            eval_steps[model_graph] = protocol_eval_step(cfg, model_graph, protocol)[0]
        result = evaluate(
            eval_steps[model_graph], model_state, eval_loader, eval_indices, mesh, progress
        )
        scalars = summary_scalars(result, protocol)
        writer.scalars(step, scalars)
        if cfg.train.image_summaries and main_process:
            picks = eval_indices[np.linspace(0, len(eval_indices) - 1, 2).astype(int)]
            fig = figure(cfg, model_graph, model_state, test_source, picks, mesh, heatmap=True)
            writer.image(step, "eval/predictions", fig)
        return result, scalars

    def save(step, state, mpjpe=None, extra=None):
        meta = {"step": step, "config": json.loads(ckpt.config_to_json(cfg)), **(extra or {})}
        checkpoints.save(step, state, meta, mpjpe)

    end = cfg.train.steps if stop_after is None else min(cfg.train.steps, start + stop_after)
    summary = {"step": start}
    bar = tqdm(
        total=cfg.train.steps, initial=start, desc="train", unit="step", disable=not progress
    )
    batches = loader(start, end - start)
    tick, seen = time.perf_counter(), 0
    guard = FiniteGuard(
        lambda: f"the last good checkpoint (step {checkpoints.latest_step()}) is kept"
    )
    with _StopFlag() as flag:
        for step in range(start, end):
            batch = next(batches)
            state, metrics = train_step(state, shard_batch(batch, mesh, cfg.train.batch_size))
            done = step + 1
            log_now = done % cfg.train.log_every == 0 or done == end
            evaluate_now = cfg.train.eval_every and done % cfg.train.eval_every == 0
            evaluate_now = evaluate_now or done == cfg.train.steps
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
                tick, seen = now, 0
                writer.scalars(done, {f"train/{k}": v for k, v in values.items()})
                bar.set_postfix(loss=f"{values['loss']:.4g}")
                summary["loss"] = values["loss"]
            if evaluate_now:
                result, scalars = run_eval(done, state)
                summary["eval"] = scalars
                bar.write(f"step {done}: MPJPE {scalars['eval/mpjpe']:.1f} mm, "
                          f"PA-MPJPE {scalars['eval/pa_mpjpe']:.1f} mm")  # fmt: skip
                save(done, state, scalars["eval/mpjpe"], {"eval": scalars})
            elif save_now:
                save(done, state)
            summary["step"] = done
            if stopping:
                bar.write(f"interrupted at step {done}: checkpoint saved")
                summary["interrupted"] = True
                break
    bar.close()
    writer.close()
    checkpoints.close()
    return summary
