"""The optimiser applied segment by segment, for the segmented step (:mod:`c2f.train.staged`).

The optimiser's state mirrors the parameters (RMSprop's mean square, Adam's moments) beside a
few shared scalars (the schedule's count). Each segment's program gets its own parameters,
their gradients, their mirrored state and the shared scalars, and runs the recipe's optax
transformation on them; equal segments (the paper network's four inner hourglasses) share one
program, so XLA compiles the paper network's optimiser over 658 of its 1,552 parameter arrays
instead of all of them (docs/speed.md). Every transformation in :data:`c2f.optim.OPTIMIZERS`
is elementwise per array given those scalars: this is the update of the whole tree. Clipping
by the global norm (``optim.clip_norm``) needs every gradient: the norm is taken first, one
program, and each segment's gradients are clipped with it as
:func:`c2f.optim.clip_by_global_norm` does; the chain's own clipping then sees a segment's
smaller norm and leaves it.

Positions: the new state is the old one's leaves (``jax.tree.leaves``) with each segment's
outputs put back at indices worked out once (:func:`layout`), then unflattened.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax

from c2f.optim import global_norm


def _plain(keypath) -> tuple:
    """A jax key path as plain keys; a Variable's trailing ``.value`` dropped."""
    keys = []
    for k in keypath:
        if isinstance(k, jax.tree_util.DictKey):
            keys.append(k.key)
        elif isinstance(k, jax.tree_util.SequenceKey):
            keys.append(k.idx)
        elif isinstance(k, jax.tree_util.GetAttrKey):
            keys.append(k.name)
        else:
            keys.append(k.key)  # FlattenedIndexKey
    if keypath and isinstance(keypath[-1], jax.tree_util.GetAttrKey) and keys[-1] == "value":
        keys.pop()
    return tuple(keys)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where each segment's pieces sit among the leaves of the (model, optimizer) state.

    Attributes:
      params: per segment, the leaf indices of its parameters, in its gradients' order.
      paths: per segment, those parameters' paths relative to the segment (static: equal
        segments have equal paths and share their program).
      mirrors: per segment, per prefix, the leaf indices of the mirrored optimiser state.
      stats: per segment, the leaf indices of its BatchNorm averages, in its forward's order.
      prefixes: the optax paths under which state mirrors the parameters, e.g. ``(0, "nu")``.
      scalars: the leaf indices of the optimiser's other state (counts); ``scalar_paths``
        their optax paths.
      step: the leaf index of the optimiser's step counter.
    """

    params: tuple
    paths: tuple
    mirrors: tuple
    stats: tuple
    prefixes: tuple
    scalars: tuple
    scalar_paths: tuple
    step: int


def layout(state, chain, grads, stats) -> Layout:
    """The :class:`Layout` of ``state`` (model, optimizer) for the segments' outputs.

    ``grads`` and ``stats``: one segmented step's per-segment outputs (their structure).
    """
    index = {
        _plain(kp): i for i, (kp, _) in enumerate(jax.tree_util.tree_flatten_with_path(state)[0])
    }
    paths = tuple(
        tuple(_plain(kp) for kp, _ in jax.tree_util.tree_flatten_with_path(g)[0]) for g in grads
    )
    full = {(*s.path, *rel) for s, rels in zip(chain, paths) for rel in rels}
    prefixes, scalar_paths = [], []
    for path in index:
        if path[:2] != (1, "opt_state"):
            continue
        rest = path[2:]
        cut = next((k for k in range(len(rest)) if rest[k:] in full), None)
        if cut is None:
            scalar_paths.append(rest)
        elif rest[:cut] not in prefixes:
            prefixes.append(rest[:cut])
    return Layout(
        params=tuple(tuple(index[(0, *s.path, *r)] for r in rels) for s, rels in zip(chain, paths)),
        paths=paths,
        mirrors=tuple(
            tuple(tuple(index[(1, "opt_state", *p, *s.path, *r)] for r in rels) for p in prefixes)
            for s, rels in zip(chain, paths)
        ),
        stats=tuple(
            tuple(
                index[(0, *s.path, *_plain(kp))]
                for kp, _ in jax.tree_util.tree_flatten_with_path(st)[0]
            )
            for s, st in zip(chain, stats)
        ),  # fmt: skip
        prefixes=tuple(prefixes),
        scalars=tuple(index[(1, "opt_state", *p)] for p in scalar_paths),
        scalar_paths=tuple(scalar_paths),
        step=index[(1, "step")],
    )


def _nest(paths, values) -> dict:
    tree = {}
    for path, value in zip(paths, values):
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return tree


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _update(tx, max_norm, paths, prefixes, scalar_paths, params, grads, mirrors, scalars, norm):
    """One segment's optimiser step: (new parameters, new mirrored state, new scalars)."""
    if max_norm > 0:  # as c2f.optim.clip_by_global_norm, with the norm of every gradient
        keep = norm < max_norm
        grads = tuple(jnp.where(keep, g, (g / norm.astype(g.dtype)) * max_norm) for g in grads)
    params_tree = _nest(paths, params)
    position = {path: i for i, path in enumerate(paths)}
    template, treedef = jax.tree_util.tree_flatten_with_path(tx.init(params_tree))

    def where(plain):
        for j, prefix in enumerate(prefixes):
            if plain[: len(prefix)] == prefix and plain[len(prefix) :] in position:
                return j, position[plain[len(prefix) :]]
        return None, scalar_paths.index(plain)

    places = [where(_plain(kp)) for kp, _ in template]
    state = [mirrors[j][i] if j is not None else scalars[i] for j, i in places]
    updates, new_state = tx.update(_nest(paths, grads), jax.tree.unflatten(treedef, state),
                                   params_tree)  # fmt: skip
    new_params = optax.apply_updates(params_tree, updates)
    new_mirrors = [list(m) for m in mirrors]
    new_scalars = list(scalars)
    for (j, i), leaf in zip(places, jax.tree.leaves(new_state)):
        (new_mirrors[j] if j is not None else new_scalars)[i] = leaf
    return (tuple(_get(new_params, p) for p in paths), tuple(map(tuple, new_mirrors)),
            tuple(new_scalars))  # fmt: skip


_UPDATES = {}


def programs(tx, max_norm: float, where: Layout) -> list:
    """Each segment's jitted update (parameters and mirrored state donated), equal ones shared.

    Bound once: a call then hashes no static argument.
    """
    found = []
    for paths in where.paths:
        key = (tx, max_norm, paths, where.prefixes, where.scalar_paths)
        if key not in _UPDATES:
            bound = functools.partial(_update, *key)
            _UPDATES[key] = jax.jit(bound, donate_argnums=(0, 2))
        found.append(_UPDATES[key])
    return found


@jax.jit
def _norm(grads, loss):
    """(the global gradient norm, whether it and the loss are finite)."""
    norm = global_norm(grads)
    return norm, jnp.isfinite(loss) & jnp.isfinite(norm)


def apply(updates: list, where: Layout, state, grads, stats, loss):
    """The new (model, optimizer) state after one step, and (grad_norm, finite).

    ``updates``: :func:`programs`. ``state`` is donated (its parameters and optimiser state
    are updated in place).
    """
    leaves, treedef = jax.tree.flatten(state)
    norm, finite = _norm(grads, loss)
    new = list(leaves)
    scalars = tuple(leaves[i] for i in where.scalars)
    new_scalars = None
    for k, segment_grads in enumerate(grads):
        params = tuple(leaves[i] for i in where.params[k])
        mirrors = tuple(tuple(leaves[i] for i in m) for m in where.mirrors[k])
        new_params, new_mirrors, new_scalars = updates[k](
            params, tuple(jax.tree.leaves(segment_grads)), mirrors, scalars, norm
        )
        for i, value in zip(where.params[k], new_params):
            new[i] = value
        for indices, values in zip(where.mirrors[k], new_mirrors):
            for i, value in zip(indices, values):
                new[i] = value
        for i, value in zip(where.stats[k], jax.tree.leaves(stats[k])):
            new[i] = value
    # Every segment advanced the same counts from the same values: any one's are the new ones.
    for i, value in zip(where.scalars, new_scalars):
        new[i] = value
    new[where.step] = leaves[where.step] + 1
    return jax.tree.unflatten(treedef, new), norm, finite
