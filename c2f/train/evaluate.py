"""Evaluation on a test split: per-sample errors and the per-action tables of both metrics.

Which samples, how they are decoded and which root depth is used come from an evaluation
protocol (:mod:`c2f.protocols`).
"""

import jax
import numpy as np
from tqdm import tqdm

from c2f import protocols
from c2f.data import BatchSpec, H5Source, Loader
from c2f.metrics import per_action
from c2f.train.sharding import shard_batch
from c2f.train.steps import make_eval_step


def test_loader(cfg, source: H5Source, limit: int = 0, every: int = 1, protocol=None):
    """(loader, indices): unaugmented examples.

    The samples are the protocol's (:func:`c2f.protocols.select`; all when None), then the
    first ``limit`` (0: all) of them, then every ``every``-th.
    """
    spec = BatchSpec(
        batch_size=cfg.train.batch_size,
        input_res=cfg.model.input_res,
        output_res=cfg.model.output_res,
        depth_bins=cfg.depth_bins,
        augment=None,
        shuffle=False,
    )
    if protocol is None:
        indices = np.arange(len(source))
    else:
        subject, frame = source.column("subject"), source.column("frame")
        indices = protocols.select(protocol, subject, frame, source.path)
    if limit:
        indices = indices[:limit]
    return Loader(source, spec), indices[::every]


def protocol_eval_step(cfg, graphdef, protocol, *, decode=None, flip=None, root=None):
    """The jitted evaluation step of a protocol; explicit arguments override its choices.

    Returns (eval_step, options) with the options used: ``decode``, ``flip``, ``root``.
    """
    options = {
        "decode": protocols.check_decode(decode) if decode else protocol.decoding(cfg.train.decode),
        "flip": flip or protocol.flip,
        "root": root or protocol.root,
    }
    step = make_eval_step(
        cfg, graphdef, how=options["decode"], flip=options["flip"], root=options["root"]
    )
    return step, options


def _pad(batch: dict, size: int) -> dict:
    n = len(batch["index"])
    if n == size:
        return batch
    return {k: np.concatenate([v, np.repeat(v[-1:], size - n, axis=0)]) for k, v in batch.items()}


def evaluate(eval_step, state, loader: Loader, indices, mesh, progress: bool = True) -> dict:
    """Run ``eval_step`` over the samples ``indices`` of the loader's source.

    Returns:
      dict with per-sample ``index``, ``action``, ``mpjpe``, ``pa_mpjpe``, ``pred_mm``, ``uv``,
      and the :class:`c2f.metrics.ActionTable` of each protocol (``p1``, ``p2``).
    """
    size = loader.spec.batch_size
    steps = -(-len(indices) // size)
    keep = ("index", "action", "mpjpe", "pa_mpjpe", "pred_mm", "uv", "joints_rel_mm")
    out = {k: [] for k in keep}
    batches = (loader.batch_of(indices[s * size : (s + 1) * size]) for s in range(steps))
    bar = tqdm(batches, total=steps, desc="eval", unit="batch", disable=not progress, leave=False)
    for batch in bar:
        n = len(batch["index"])
        result = jax.device_get(eval_step(state, shard_batch(_pad(batch, size), mesh, size)))
        for k in keep:
            out[k].append(np.asarray(result[k] if k in result else batch[k])[:n])
    out = {k: np.concatenate(v) for k, v in out.items()}
    names = [loader.source.action_names[a] for a in out["action"]]
    out["p1"] = per_action(out["mpjpe"], names)
    out["p2"] = per_action(out["pa_mpjpe"], names)
    return out


def summary_scalars(result: dict, protocol=None) -> dict:
    """The headline numbers of an evaluation, averaged as the protocol says (default: actions).

    ``eval/mpjpe`` and ``eval/pa_mpjpe`` follow the protocol's average; the ``_weighted``
    (over frames) and ``_actions`` (over actions) variants are both logged.
    """
    protocol = protocol or protocols.get("p1-gt-root")
    p1, p2 = result["p1"], result["p2"]
    return {
        "eval/mpjpe": protocols.headline(p1, protocol),
        "eval/mpjpe_weighted": p1.weighted,
        "eval/mpjpe_actions": p1.mean_over_actions,
        "eval/pa_mpjpe": protocols.headline(p2, protocol),
        "eval/pa_mpjpe_weighted": p2.weighted,
        "eval/pa_mpjpe_actions": p2.mean_over_actions,
    }
