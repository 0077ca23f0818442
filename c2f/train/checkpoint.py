"""Checkpoints with orbax: the last N and the best by validation MPJPE, plus metadata.

``WORKDIR/checkpoints/last/<step>`` keeps the ``keep`` most recent; ``.../best/<step>`` the one
with the lowest test MPJPE. Each holds the train state (model + optimizer) and a JSON record
(step, config, metrics). Saving is synchronous so that a kill right after a save loses nothing.
"""

import dataclasses
import json
import pathlib

import jax
import orbax.checkpoint as ocp


class Checkpoints:
    """The last and the best checkpoints of a workdir."""

    def __init__(self, workdir, keep: int = 3):
        root = pathlib.Path(workdir).absolute() / "checkpoints"
        opts = dict(create=True, enable_async_checkpointing=False)
        self.last = ocp.CheckpointManager(
            root / "last", options=ocp.CheckpointManagerOptions(max_to_keep=keep, **opts)
        )
        self.best = ocp.CheckpointManager(
            root / "best",
            options=ocp.CheckpointManagerOptions(
                max_to_keep=1, best_fn=lambda m: m["mpjpe"], best_mode="min", **opts
            ),
        )

    def save(self, step: int, state, meta: dict, mpjpe: float | None = None) -> None:
        """Save ``state`` at ``step``; also as the best if ``mpjpe`` beats the kept best."""
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        if step not in self.last.all_steps():
            self.last.save(step, args=args)
        if mpjpe is not None and step not in self.best.all_steps():
            self.best.save(step, args=args, metrics={"mpjpe": float(mpjpe)})

    def latest_step(self) -> int | None:
        return self.last.latest_step()

    def restore(self, abstract_state, step: int | None = None, which: str = "last"):
        """(state, meta) of a checkpoint (default: the latest of ``which``)."""
        manager = self.last if which == "last" else self.best
        step = manager.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no {which} checkpoint in {manager.directory}")
        if step not in manager.all_steps():
            raise FileNotFoundError(
                f"no checkpoint at step {step} in {manager.directory} (have {manager.all_steps()})"
            )
        out = manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()
            ),
        )
        return out["state"], out["meta"]

    def close(self) -> None:
        self.last.close()
        self.best.close()


def config_to_json(cfg) -> str:
    """A config as JSON (dataclasses all the way down)."""
    return json.dumps(dataclasses.asdict(cfg))


def abstract(state):
    """Shape/dtype/sharding placeholders of a state, to restore into."""
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, state)


def load_run(workdir, step: int | None = None, which: str = "last"):
    """A trained run for evaluation: (config, model graphdef, model state, checkpoint meta).

    The model is in evaluation mode and its state replicated on the local devices' mesh.
    """
    from c2f.config import config_from_dict
    from c2f.train.sharding import make_mesh, replicate
    from c2f.train.state import abstract as abstract_train_state
    from c2f.train.state import eval_graph

    path = pathlib.Path(workdir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{workdir}: no config.json (is it a train.py workdir?)")
    cfg = config_from_dict(json.loads(path.read_text()))
    graphdef, abstract_state = abstract_train_state(cfg)
    checkpoints = Checkpoints(workdir, keep=cfg.train.keep_checkpoints)
    state, meta = checkpoints.restore(abstract_state, step=step, which=which)
    checkpoints.close()
    model_graph, model_state = eval_graph(graphdef, state)
    return cfg, model_graph, replicate(model_state, make_mesh()), meta
