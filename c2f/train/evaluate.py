"""Evaluation on a test split: per-sample errors and the per-action tables of both protocols."""

import jax
import numpy as np
from tqdm import tqdm

from c2f.data import BatchSpec, H5Source, Loader
from c2f.metrics import ActionTable, per_action
from c2f.train.sharding import shard_batch


def test_loader(cfg, source: H5Source, limit: int = 0, every: int = 1):
    """(loader, indices): unaugmented examples of every ``every``-th of the first ``limit``."""
    spec = BatchSpec(
        batch_size=cfg.train.batch_size,
        input_res=cfg.model.input_res,
        output_res=cfg.model.output_res,
        depth_bins=cfg.depth_bins,
        augment=None,
        shuffle=False,
    )
    n = len(source) if not limit else min(limit, len(source))
    return Loader(source, spec), np.arange(0, n, every)


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


def summary_scalars(result: dict) -> dict:
    """The headline numbers of an evaluation."""
    p1: ActionTable = result["p1"]
    p2: ActionTable = result["p2"]
    return {
        "eval/mpjpe": p1.mean_over_actions,
        "eval/mpjpe_weighted": p1.weighted,
        "eval/pa_mpjpe": p2.mean_over_actions,
        "eval/pa_mpjpe_weighted": p2.weighted,
    }
