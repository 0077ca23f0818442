"""A temporal model's run: its config (one frozen dataclass), folder and checkpoints.

A temporal model belongs to the image run whose predictions it learned from: it lives in
``RUN/temporal/NAME/`` (``config.json``, ``checkpoints/`` of orbax, ``metrics.jsonl``, ``tb/``),
NAME by default its design, ``-causal`` for the causal form (``dilated``, ``attention-causal``).
"""

import dataclasses
import json
import pathlib

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx

from c2f.saving import check_room, saving
from c2f.temporal import train
from c2f.temporal.augment import Augment
from c2f.temporal.designs import TemporalConfig

CONFIG_FILE = "config.json"


@dataclasses.dataclass(frozen=True)
class TemporalRun:
    """How a temporal model is trained; ``c2f train-temporal --set`` overrides any field."""

    model: TemporalConfig = TemporalConfig()
    augment: Augment = Augment()
    data_file: str = "train_seq.h5"  # under the image run's data.root (c2f data synthetic)
    steps: int = 2000
    batch_size: int = 128  # examples of three consecutive frames (c2f.temporal.train)
    learning_rate: float = 1e-3
    accel_weight: float = 1.0  # the acceleration error's weight in the loss
    seed: int = 0
    log_every: int = 100
    checkpoint_every: int = 500

    def __post_init__(self):
        if min(self.steps, self.batch_size, self.log_every, self.checkpoint_every) < 1:
            raise ValueError("steps, batch_size, log_every and checkpoint_every must be >= 1")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate: > 0, got {self.learning_rate}")
        if self.accel_weight < 0:
            raise ValueError(f"accel_weight: >= 0, got {self.accel_weight}")

    @property
    def name(self) -> str:
        """The run's default folder name: the design, ``-causal`` when causal."""
        return self.model.design + ("-causal" if self.model.causal else "")


def run_folder(workdir, name: str) -> pathlib.Path:
    """``WORKDIR/temporal/NAME``."""
    return pathlib.Path(workdir) / "temporal" / name


def from_dict(data: dict) -> TemporalRun:
    """A :class:`TemporalRun` from its ``dataclasses.asdict`` (``config.json``)."""
    return TemporalRun(**{**data, "model": TemporalConfig(**data["model"]),
                          "augment": Augment(**data["augment"])})  # fmt: skip


def read_config(folder) -> TemporalRun:
    path = pathlib.Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no temporal model here (no {CONFIG_FILE}); train "
                                "one with c2f train-temporal")  # fmt: skip
    try:
        return from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{path}: not a temporal model's config ({e})") from e


def _plain(state) -> dict:
    """A state as a dict of arrays (PRNG keys as their data), for orbax."""
    pure = nnx.to_pure_dict(state)
    keyed = jax.dtypes.issubdtype
    return jax.tree.map(lambda x: jax.random.key_data(x)
                        if keyed(x.dtype, jax.dtypes.prng_key) else x, pure)  # fmt: skip


def _restored(plain: dict, abstract):
    """The inverse of :func:`_plain` onto ``abstract`` (an ``nnx.State`` of the same tree)."""
    keyed = jax.dtypes.issubdtype
    pure = jax.tree.map(lambda a, x: jax.random.wrap_key_data(x)
                        if keyed(a.dtype, jax.dtypes.prng_key) else x,
                        nnx.to_pure_dict(abstract), plain)  # fmt: skip
    nnx.replace_by_pure_dict(abstract, pure)
    return abstract


def optimizer(cfg: TemporalRun) -> optax.GradientTransformation:
    """Adam with a cosine decay over the run's steps."""
    return optax.adam(optax.cosine_decay_schedule(cfg.learning_rate, cfg.steps))


def create(cfg: TemporalRun):
    """(graphdef, state) of the run's fresh (model, optimizer) pair, in training mode."""
    return train.create(cfg.model, optimizer(cfg), cfg.seed)


def manager(folder, create: bool = True) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=2, create=create,
                                           enable_async_checkpointing=False)  # fmt: skip
    return ocp.CheckpointManager(pathlib.Path(folder).absolute() / "checkpoints", options=options)


def save(mngr: ocp.CheckpointManager, step: int, state, meta: dict) -> None:
    """Save the (model, optimizer) state at ``step`` (whole or not at all: c2f.saving)."""
    if step in mngr.all_steps():
        return
    plain = _plain(state)
    check_room(mngr.directory.parent, plain)
    with saving(mngr, step):
        mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(plain),
                                                meta=ocp.args.JsonSave(meta)))  # fmt: skip


def restore(mngr: ocp.CheckpointManager, abstract_state, step: int | None = None):
    """(state, meta) of ``step`` (default: the latest) onto ``abstract_state``'s structure."""
    step = mngr.latest_step() if step is None else step
    target = jax.tree.map(np.asarray, _plain(abstract_state))
    got = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target),
                                                     meta=ocp.args.JsonRestore()))  # fmt: skip
    return _restored(got["state"], abstract_state), got["meta"]


def load(workdir, name: str):
    """A trained temporal model of run ``workdir``, for inference: (TemporalRun, model, meta).

    The model is in evaluation mode (no dropout).
    """
    folder = run_folder(workdir, name)
    cfg = read_config(folder)
    graphdef, abstract = create(cfg)
    mngr = manager(folder, create=False)
    if mngr.latest_step() is None:
        raise FileNotFoundError(f"{folder}: the temporal model has no checkpoint yet")
    state, meta = restore(mngr, abstract)
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    return cfg, model, meta
