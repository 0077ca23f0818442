"""Checkpoints with orbax: the last N and the best by validation MPJPE, each owning its config.

``WORKDIR/checkpoints/last/<step>`` keeps the ``keep`` most recent; ``.../best/<step>`` the one
with the lowest test MPJPE. Each holds the train state (model + optimizer) and a JSON record
(step, the config it was trained with, metrics). Saving is synchronous so that a kill right
after a save loses nothing; every process calls it (orbax coordinates multi-host writes).

Inference reads a checkpoint through :func:`load_model`: the config saved IN that checkpoint
(not the workdir's ``config.json``, which a later resume may have changed) and the model's
arrays only (the optimizer's are never read).

The state is stored PACKED: the model's and the optimizer's arrays each concatenated into one
flat array per dtype (items ``model`` and ``optimizer``), unpacked by the shapes of the
state restored into. Orbax's cost is per array (measured: 1 array 0.01 s, 879 arrays 1.9 s
per save), and the tiny test network alone has 879; packed, a save writes 3. Checkpoints
written before (one array per variable, item ``state``) are still read.
"""

import dataclasses
import json
import pathlib
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
from flax import nnx

from c2f.config import config_from_dict
from c2f.model import abstract_model
from c2f.saving import check_room, saving
from c2f.sharding import make_mesh, replicate

MODEL_KEY = 0  # the train state is nnx.split((model, optimizer)): item 0 is the model
PARTS = ("model", "optimizer")


@jax.jit
def _concat(leaves):
    groups = {}
    for x in leaves:
        groups.setdefault(str(x.dtype), []).append(x.reshape(-1))
    return {dtype: jax.numpy.concatenate(xs) for dtype, xs in groups.items()}


def pack(tree) -> dict:
    """{dtype: flat array} of a pytree's leaves, in ``jax.tree.leaves`` order."""
    leaves = jax.tree.leaves(tree)
    return _concat(leaves) if leaves else {}


def unpack(packed: dict, abstract_tree, what: str):
    """The inverse of :func:`pack`, shaped like ``abstract_tree``.

    Leaves are host numpy, or placed on the abstract leaves' shardings when they have one.

    Raises:
      ValueError: naming ``what`` when the sizes do not match the abstract tree.
    """
    leaves, treedef = jax.tree.flatten(abstract_tree)
    offsets = {dtype: 0 for dtype in packed}
    out = []
    for leaf in leaves:
        dtype, size = str(np.dtype(leaf.dtype)), int(np.prod(leaf.shape))
        flat = packed.get(dtype)
        if flat is None or offsets[dtype] + size > flat.shape[0]:
            raise ValueError(f"{what}: the checkpoint holds fewer {dtype} values than the state")
        value = np.asarray(flat[offsets[dtype] : offsets[dtype] + size]).reshape(leaf.shape)
        offsets[dtype] += size
        sharding = getattr(leaf, "sharding", None)
        if sharding is not None:
            value = jax.make_array_from_callback(leaf.shape, sharding, lambda i, v=value: v[i])
        out.append(value)
    left = {d: packed[d].shape[0] - n for d, n in offsets.items() if packed[d].shape[0] != n}
    if left:
        raise ValueError(f"{what}: the checkpoint holds more values than the state ({left})")
    return jax.tree.unflatten(treedef, out)


class CheckpointUnreadable(ValueError):
    """A checkpoint's files are missing or damaged (named, with what failed)."""


# What orbax and our unpacking raise for missing, truncated or damaged files.
_READ_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError, EOFError)


def _short(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:300]


class Checkpoints:
    """The last and the best checkpoints of a workdir.

    Args:
      workdir: the run's folder.
      keep: how many recent checkpoints to keep.
      create: create the folders (training); readers pass False.
    """

    def __init__(self, workdir, keep: int = 3, create: bool = True):
        self.root = pathlib.Path(workdir).absolute() / "checkpoints"
        opts = dict(create=create, enable_async_checkpointing=False)
        self.last = ocp.CheckpointManager(
            self.root / "last", options=ocp.CheckpointManagerOptions(max_to_keep=keep, **opts)
        )
        self.best = ocp.CheckpointManager(
            self.root / "best",
            options=ocp.CheckpointManagerOptions(
                max_to_keep=1, best_fn=lambda m: m["mpjpe"], best_mode="min", **opts
            ),
        )

    def _manager(self, which: str):
        if which not in ("last", "best"):
            raise ValueError(f"which: 'last' or 'best', got {which!r}")
        return self.last if which == "last" else self.best

    @staticmethod
    def _args(state, meta):
        items = {part: ocp.args.StandardSave(pack(state[i])) for i, part in enumerate(PARTS)}
        return ocp.args.Composite(**items, meta=ocp.args.JsonSave(meta))

    def _packed(self, which: str, step: int) -> bool:
        return (self._manager(which).directory / str(step) / "model").is_dir()

    def _restore_packed(self, which, step, abstract_parts: dict):
        """{part: unpacked state} of the parts named, from a packed checkpoint."""
        manager = self._manager(which)
        directory = manager.directory / str(step)
        out = {}
        for part, abstract_part in abstract_parts.items():
            sizes = {}
            for leaf in jax.tree.leaves(abstract_part):
                dtype = str(np.dtype(leaf.dtype))
                sizes[dtype] = sizes.get(dtype, 0) + int(np.prod(leaf.shape))
            # Read whole onto one local device: the saving run's devices (other processes,
            # another count) need not exist here.
            here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
            target = {d: jax.ShapeDtypeStruct((n,), d, sharding=here) for d, n in sizes.items()}
            try:
                with ocp.StandardCheckpointer() as reader:
                    packed = reader.restore(directory / part, target)
            except (ValueError, KeyError) as e:
                raise ValueError(
                    f"{directory / part}: the stored arrays do not fit this state "
                    f"({str(e).splitlines()[0][:300]})"
                ) from e
            out[part] = unpack(packed, abstract_part, f"{directory / part}")
        return out

    def save(self, step: int, state, meta: dict) -> None:
        """Save ``state`` at ``step`` among the last checkpoints (no-op if it exists)."""
        if step not in self.last.all_steps():
            check_room(self.root, state)
            with saving(self.last, step):
                self.last.save(step, args=self._args(state, meta))

    def save_best(self, step: int, state, meta: dict, mpjpe: float) -> None:
        """Offer ``state`` as the best checkpoint; kept only if ``mpjpe`` beats the kept one."""
        if step not in self.best.all_steps():
            check_room(self.root, state)
            with saving(self.best, step):
                self.best.save(step, args=self._args(state, meta),
                               metrics={"mpjpe": float(mpjpe)})  # fmt: skip

    def latest_step(self) -> int | None:
        return self.last.latest_step()

    def step_of(self, step: int | None, which: str = "last") -> int:
        """The step to read: ``step`` if it exists, else the latest of ``which``.

        Raises:
          FileNotFoundError: naming the folder and the steps it has.
        """
        manager = self._manager(which)
        steps = manager.all_steps()
        if step is None:
            if not steps:
                raise FileNotFoundError(f"no {which} checkpoint in {manager.directory}")
            return manager.latest_step()
        if step not in steps:
            raise FileNotFoundError(
                f"no checkpoint at step {step} in {manager.directory} (have {sorted(steps)})"
            )
        return step

    def meta(self, step: int | None = None, which: str = "last") -> dict:
        """The JSON record of a checkpoint (step, config, metrics)."""
        step = self.step_of(step, which)
        out = self._manager(which).restore(
            step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
        )
        return dict(out["meta"])

    def restore(self, abstract_state, step: int | None = None, which: str = "last"):
        """(state, meta) of a checkpoint (default: the latest of ``which``)."""
        step = self.step_of(step, which)
        if self._packed(which, step):
            parts = self._restore_packed(which, step, {p: abstract_state[i]
                                                       for i, p in enumerate(PARTS)})  # fmt: skip
            state = jax.tree.map(lambda x: x, abstract_state)  # a copy to fill
            for i, part in enumerate(PARTS):
                state[i] = parts[part]
            return state, self.meta(step, which)
        out = self._manager(which).restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()
            ),
        )
        return out["state"], out["meta"]

    def restore_model(self, abstract_model_state, step: int | None = None, which: str = "last"):
        """The model's arrays of a checkpoint (host numpy), without the optimizer's."""
        step = self.step_of(step, which)
        if self._packed(which, step):
            return self._restore_packed(which, step, {"model": abstract_model_state})["model"]
        item = {MODEL_KEY: jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_model_state)}
        path = self._manager(which).directory / str(step) / "state"
        with ocp.PyTreeCheckpointer() as reader:
            out = reader.restore(
                path,
                args=ocp.args.PyTreeRestore(
                    item=item,
                    restore_args=ocp.checkpoint_utils.construct_restore_args(item),
                    partial_restore=True,
                ),
            )
        return out[MODEL_KEY]

    def move_aside(self, step: int, which: str = "last") -> pathlib.Path:
        """Move a damaged checkpoint to ``checkpoints/damaged/`` (kept, never deleted)."""
        manager = self._manager(which)
        source = manager.directory / str(step)
        target = self.root / "damaged" / f"{which}-{step}"
        k = 1
        while target.exists():
            target = self.root / "damaged" / f"{which}-{step}.{k}"
            k += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
        reload = getattr(manager, "reload", None)
        if reload is not None:  # orbax caches its list of steps
            reload()
        return target

    def restore_intact(self, abstract_state, *, check=None, move: bool = True, log=print):
        """(state, meta, result of ``check``) of the newest ``last`` checkpoint that reads whole.

        A newest checkpoint that fails to read (files deleted, truncated or damaged) is named,
        moved aside (``move``: process 0 of a run) and the previous one is tried. ``check(meta)``
        runs on a checkpoint's record before its arrays are read: what it raises (a refused
        config change) propagates, so that a config that does not fit is never taken for
        damage.

        Raises:
          CheckpointUnreadable: no checkpoint reads (naming each and why).
        """
        failures = []
        for step in sorted(self.last.all_steps(), reverse=True):
            try:
                meta = self.meta(step)
            except _READ_ERRORS as e:
                meta, error = None, e
            if meta is not None:
                checked = check(meta) if check is not None else None
                try:
                    state, meta = self.restore(abstract_state, step)
                    return state, meta, checked
                except _READ_ERRORS as e:
                    error = e
            failures.append(f"step {step}: {_short(error)}")
            where = self.move_aside(step) if move else self.last.directory / str(step)
            log(f"checkpoint at step {step} could not be read ({_short(error)}); moved to "
                f"{where}; trying the previous one")  # fmt: skip
        raise CheckpointUnreadable(
            f"{self.root}: no checkpoint could be read ({'; '.join(failures)})"
        )

    def close(self) -> None:
        self.last.close()
        self.best.close()


def config_to_json(cfg) -> str:
    """A config as JSON (dataclasses all the way down)."""
    return json.dumps(dataclasses.asdict(cfg))


def restore_target(state):
    """Shape/dtype/sharding placeholders of a state, to restore into."""
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, state)


def run_config(workdir, meta: dict):
    """The config a checkpoint was trained with: its own record (``config.json`` if none)."""
    if "config" in meta:
        return config_from_dict(meta["config"])
    path = pathlib.Path(workdir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{workdir}: no config in the checkpoint and no config.json")
    return config_from_dict(json.loads(path.read_text()))


def load_model(workdir, step: int | None = None, which: str = "last"):
    """A trained model for inference: (config, graphdef, state, checkpoint meta).

    The config is the checkpoint's own; the model is in evaluation mode, restored without the
    optimizer and replicated on the mesh of every device.

    Raises:
      FileNotFoundError: no such workdir, checkpoint or step (naming what exists).
      ValueError: the checkpoint's arrays do not fit its config (naming both).
    """
    workdir = pathlib.Path(workdir)
    if not (workdir / "checkpoints").is_dir():
        raise FileNotFoundError(f"{workdir}: no checkpoints/ folder (is it a train.py workdir?)")
    checkpoints = Checkpoints(workdir, create=False)
    asked = step
    try:
        candidates = [checkpoints.step_of(step, which)]
        if asked is None:  # the newest that reads; an explicit step is that step or an error
            candidates = sorted(checkpoints._manager(which).all_steps(), reverse=True)
        failures = []
        for step in candidates:
            try:
                cfg, graphdef, state, meta = _read_model(checkpoints, workdir, step, which)
            except CheckpointUnreadable as e:
                if asked is not None:
                    raise
                failures.append(str(e))
                print(f"{e}; trying the previous {which} checkpoint", file=sys.stderr)
                continue
            if failures:
                print(f"using the {which} checkpoint at step {step} instead", file=sys.stderr)
            break
        else:
            raise CheckpointUnreadable(
                f"{workdir}: no {which} checkpoint could be read: " + "; ".join(failures)
            )
    finally:
        checkpoints.close()
    return cfg, graphdef, replicate(state, make_mesh()), meta


def _read_model(checkpoints, workdir, step: int, which: str):
    """(cfg, graphdef, state, meta) of one checkpoint; CheckpointUnreadable names it."""
    try:
        meta = checkpoints.meta(step, which)
        cfg = run_config(workdir, meta)
    except _READ_ERRORS as e:
        raise CheckpointUnreadable(
            f"{workdir}: the {which} checkpoint at step {step} could not be read ({_short(e)})"
        ) from e
    model = abstract_model(cfg.model)
    model.eval()
    graphdef, abstract_state = nnx.split(model)
    try:
        state = checkpoints.restore_model(abstract_state, step, which)
    except _READ_ERRORS as e:
        raise CheckpointUnreadable(
            f"{workdir}: the {which} checkpoint at step {step} could not be read: its arrays "
            f"are missing, damaged or do not fit the model of its config ({_short(e)})"
        ) from e
    return cfg, graphdef, state, meta
