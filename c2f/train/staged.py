"""The training step as one compiled program per segment of the network.

``train.programs="segments"`` (:data:`c2f.model.segments.PROGRAMS`): the forward runs segment by
segment (:mod:`c2f.model.segments`), each jitted with its backward's residuals as outputs
(``jax.vjp`` inside ``jax.jit``); the loss and its gradient are one program, the backward runs
the segments' residual functions in reverse, and the optimiser runs segment by segment too
(:mod:`c2f.train.segment_update`). Segments of equal structure and shapes (every stage's inner
hourglass in the paper network) share one compiled program, so XLA compiles less, and the
persistent cache reads the programs back faster (docs/speed.md). The
arithmetic is the same as the one-program step's; XLA fuses a little differently at the
segments' edges, so results agree to float32 rounding (tests/test_staged.py), not bit for bit.
"""

import functools

import jax
from flax import nnx

from c2f.config import Config
from c2f.losses import stage_losses
from c2f.model.c2f_pose import heads_to_volumes
from c2f.model.segments import Segment, head_names, segments
from c2f.train import segment_update
from c2f.train.update import batch_images


def _owned(skip: tuple[tuple, ...]):
    """Filter: the variables a segment owns (not under one of its ``skip`` paths)."""

    def owned(path, _):
        return not any(tuple(path[: len(p)]) == p for p in skip)

    return owned


def _forward(graphdef, run, skip, state, constants, inputs):
    """A segment's forward: (values written, its backward, its new BatchNorm averages).

    ``constants`` (the images) are not differentiated: their gradient is never needed.
    """
    owned = _owned(skip)
    params, stats, rest = nnx.split_state(state, nnx.All(nnx.Param, owned), owned, ...)

    def apply(params, inputs):
        # New variables, made in this trace: BatchNorm writes its averages into them.
        module = nnx.merge(graphdef, params, *jax.tree.map(lambda v: v, (stats, rest)))
        outputs = run(module, *constants, *inputs)
        return outputs, nnx.state(module, nnx.All(nnx.Not(nnx.Param), owned))

    outputs, backward, new_stats = jax.vjp(apply, params, inputs, has_aux=True)
    return outputs, backward, new_stats


# One jitted forward per distinct (segment graph, run, skip): equal segments share it, and a
# call hashes no static argument (hashing a GraphDef walks it: 100 ms a step for the paper).
_FORWARDS = {}


def forward_program(graphdef, run, skip):
    """The jitted forward of segments with this graph, function and skip list."""
    key = (graphdef, run, skip)
    if key not in _FORWARDS:
        _FORWARDS[key] = jax.jit(functools.partial(_forward, graphdef, run, skip))
    return _FORWARDS[key]


@jax.jit
def _backward(backward, cotangents):
    """(gradients of the segment's parameters, cotangents of the values it read)."""
    return backward(cotangents)


@functools.partial(jax.jit, static_argnums=1)
def _images(batch, res: int):
    return batch_images(batch, res)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _loss_and_grad(heads, batch, model_cfg, loss_cfg, targets):
    """((loss, per-stage parts), the heads' gradients); the configs are static (hashable)."""

    def loss_fn(heads):
        volumes = heads_to_volumes(heads, model_cfg)
        return stage_losses(volumes, batch["coords"], batch["mask"], loss_cfg, targets,
                            mask_xy=batch.get("mask_xy"))  # fmt: skip

    return jax.value_and_grad(loss_fn, has_aux=True)(heads)


def _split_reads(segment: Segment):
    """(the images if the segment reads them first, the values it is differentiated by)."""
    n = 1 if segment.reads[:1] == ("images",) else 0
    return segment.reads[:n], segment.reads[n:]


def _at(node, path: tuple):
    """The part of a state (or a module) at ``path``."""
    for key in path:
        by_attribute = isinstance(node, nnx.Module) and not isinstance(key, int)
        node = getattr(node, key) if by_attribute else node[key]
    return node


def whole(parts, chain: list[Segment]):
    """Per-segment states (paths relative to each segment) -> one state of the whole model."""
    flat = []
    for segment, part in zip(chain, parts):
        flat += [((*segment.path, *path), value) for path, value in nnx.to_flat_state(part)]
    return nnx.from_flat_state(flat)


def make_gradients(cfg: Config, graphdef):
    """``gradients(state, batch) -> ((loss, parts), grads, stats)``, segment by segment.

    ``graphdef`` and ``state``: the split (model, optimizer) pair, as for the train step.

    ``grads`` and ``stats`` (the new BatchNorm averages) are per segment, in the order of
    :func:`c2f.model.segments.segments`; :func:`whole` makes each one state of the model.
    Not itself jitted: it dispatches the segments' programs (asynchronously, as jax does).
    """
    chain = segments(cfg.model)
    heads = head_names(cfg.model)
    reads = [_split_reads(segment) for segment in chain]  # (constants, differentiated)
    forwards = []

    def gradients(state, batch):
        model_state = state[0]
        if not forwards:  # the segments' own graphs, once: equal segments share a program
            model, _ = nnx.merge(graphdef, state)
            forwards.extend(
                forward_program(nnx.graphdef(_at(model, s.path)), s.run, s.skip) for s in chain
            )
        values = {"images": _images(batch, cfg.model.input_res)}
        tape, stats = [], []
        for segment, (constants, inputs), forward in zip(chain, reads, forwards):
            outputs, backward, new_stats = forward(
                _at(model_state, segment.path), tuple(values[name] for name in constants),
                tuple(values[name] for name in inputs),
            )  # fmt: skip
            values.update(zip(segment.writes, outputs))
            tape.append(backward)
            stats.append(new_stats)
        loss, head_grads = _loss_and_grad(
            tuple(values.pop(h) for h in heads), batch, cfg.model, cfg.loss, cfg.targets
        )
        values.clear()
        cotangents = dict(zip(heads, head_grads))
        grads = []
        for segment, (_, inputs) in zip(reversed(chain), reversed(reads)):
            # Popped: each segment's residuals are freed once its backward has run.
            backward = tape.pop()
            outputs = tuple(cotangents.pop(name) for name in segment.writes)
            param_grads, input_grads = _backward(backward, outputs)
            del backward
            for name, grad in zip(inputs, input_grads):
                cotangents[name] = cotangents[name] + grad if name in cotangents else grad
            grads.append(param_grads)
        return loss, tuple(reversed(grads)), tuple(stats)

    return gradients


def make_staged_step(cfg: Config, graphdef):
    """``train_step(state, batch) -> (state, metrics)`` as :func:`c2f.train.steps.make_train_step`.

    :func:`make_gradients`, then the optimiser segment by segment
    (:mod:`c2f.train.segment_update`), the state's parameters and optimiser state donated.
    """
    chain = segments(cfg.model)
    gradients = make_gradients(cfg, graphdef)
    found = {}

    def train_step(state, batch):
        (loss, parts), grads, stats = gradients(state, batch)
        if not found:  # where each segment's pieces go, and its optimiser program
            _, optimizer = nnx.merge(graphdef, state)
            where = segment_update.layout(state, chain, grads, stats)
            updates = segment_update.programs(optimizer.tx, cfg.optim.clip_norm, where)
            found.update(where=where, updates=updates)
        state, norm, finite = segment_update.apply(
            found["updates"], found["where"], state, grads, stats, loss
        )
        return state, {"loss": loss, "grad_norm": norm, "finite": finite, **parts}

    return train_step
