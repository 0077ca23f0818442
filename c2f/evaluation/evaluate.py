"""Evaluation on a test split: per-sample errors and the per-action tables of both metrics.

Which samples, how they are decoded, the flip test and which root depth is used come from an
evaluation protocol (:mod:`c2f.evaluation.protocols`). The model runs through the one inference
function (:class:`c2f.inference.Inference`); the errors are computed on the host from every
process's predictions, so the same code evaluates on one device, N devices or N hosts.
"""

import functools
import time

import jax
import numpy as np
from tqdm import tqdm

from c2f.data import BatchSpec, H5Source, Loader
from c2f.evaluation import metrics, protocols
from c2f.inference import INPUTS, Inference, flip_mode
from c2f.sharding import gather, shard_batch

# Per-sample arrays of a result (besides the tables); "coords" feed the pictures.
KEEP = ("index", "action", "mpjpe", "pa_mpjpe", "pred_mm", "uv", "coords", "confidence",
        "joints_rel_mm", "joints_mm", "joints_cam", "valid_3d")  # fmt: skip
PICTURE_FIELDS = ("image", "uv_input", "coords", "pred_mm", "joints_rel_mm")


def test_loader(cfg, source: H5Source, limit: int = 0, every: int = 1, protocol=None,
                workers: int | None = None):  # fmt: skip
    """(loader, indices): unaugmented examples, built by ``workers`` processes.

    The samples are the protocol's (:func:`c2f.evaluation.protocols.select`; all when None), then
    the first ``limit`` (0: all) of them, then every ``every``-th. ``workers`` defaults to the
    run's ``data.workers``.
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
    workers = cfg.data.workers if workers is None else workers
    return Loader(source, spec, workers=workers), indices[::every]


def protocol_options(cfg, protocol, *, decode=None, flip=None, root=None) -> dict:
    """The protocol's ``decode``, ``flip`` and ``root``; explicit arguments override it."""
    if root not in (None, "gt", "bones"):
        raise ValueError(f"root: 'gt' or 'bones', got {root!r}")
    return {
        "decode": protocols.check_decode(decode) if decode else protocol.decoding(cfg.train.decode),
        "flip": flip_mode(flip) if flip else protocol.flip,
        "root": root or protocol.root,
    }


def make_inference(cfg, graphdef, state, options: dict) -> Inference:
    """The inference function of a protocol's options (:func:`protocol_options`)."""
    return Inference(cfg, graphdef, state, decode=options["decode"], flip=options["flip"])


def _pad(batch: dict, size: int) -> dict:
    n = len(batch["index"])
    if n == size:
        return batch
    return {
        k: np.concatenate([v, np.repeat(v[-1:], size - n, axis=0)])
        for k, v in batch.items()
        if np.ndim(v)
    }


@functools.partial(jax.jit, static_argnames="skeleton")
def _errors(pred, gt, valid, skeleton):
    return metrics.mpjpe(pred, gt, skeleton=skeleton, valid=valid), metrics.pa_mpjpe(pred, gt)


def evaluate(inference: Inference, loader: Loader, indices, mesh, *, root: str = "gt",
             pictures=(), progress: bool = True) -> dict:  # fmt: skip
    """Run ``inference`` over the samples ``indices`` of the loader's source.

    Args:
      inference: the model and its read-out.
      loader: an in-order loader (:func:`test_loader`).
      indices: the samples to evaluate, in order.
      mesh: the data mesh; every process calls this with the same arguments.
      root: "gt" feeds the true root depth, "bones" lets the model's skeleton recover it.
      pictures: sample indices whose crops and predictions are kept for drawing.
      progress: show a progress bar (process 0 only).

    Returns:
      dict with per-sample ``index``, ``action``, ``mpjpe``, ``pa_mpjpe`` (mm), ``pred_mm``,
      ``uv``, ``coords``, ``joints_rel_mm``, ``joints_mm`` (predicted, camera frame),
      ``joints_cam`` (true, camera frame), ``valid_3d``; the
      :class:`c2f.evaluation.metrics.ActionTable` of each
      protocol (``p1``, ``p2``); ``pictures``: the ``PICTURE_FIELDS`` of the picked samples;
      ``examples_per_s``: the evaluation's throughput.
    """
    if root not in ("gt", "bones"):
        raise ValueError(f"root: 'gt' or 'bones', got {root!r}")
    skeleton = inference.cfg.model.keypoints
    if root == "bones" and skeleton.bone_lengths_mm is None:
        raise ValueError(
            f"root 'bones': skeleton {skeleton.name!r} has no mean bone lengths; use the "
            "ground-truth root ('gt')"
        )
    size = loader.spec.batch_size
    steps = -(-len(indices) // size)
    out = {k: [] for k in KEEP}
    picks = {int(i) for i in pictures}
    kept = {k: [] for k in PICTURE_FIELDS}
    jobs = ((indices[s * size : (s + 1) * size], 0) for s in range(steps))
    show = progress and jax.process_index() == 0
    bar = tqdm(loader.batches(jobs), total=steps, desc="eval", unit="batch", disable=not show,
               leave=False)  # fmt: skip
    start = time.perf_counter()
    for batch in bar:
        n = len(batch["index"])
        padded = _pad(batch, size)
        feed = {
            k: padded[k] for k in INPUTS if k in padded and (root == "gt" or k != "root_depth_mm")
        }
        result = gather(inference(shard_batch(feed, mesh, size)))
        # MPJPE over the joints with ground truth; all valid (Human3.6M): the plain mean
        valid = padded["valid_3d"] if not padded["valid_3d"].all() else None
        mpjpe, pa = _errors(result["pred_mm"], padded["joints_rel_mm"], valid, skeleton)
        result = {**{k: np.asarray(v)[:n] for k, v in result.items()},
                  "mpjpe": np.asarray(mpjpe)[:n], "pa_mpjpe": np.asarray(pa)[:n]}  # fmt: skip
        for k in KEEP:
            out[k].append(np.asarray(result[k] if k in result else batch[k])[:n])
        rows = [r for r, i in enumerate(batch["index"]) if int(i) in picks]
        for k in PICTURE_FIELDS:
            kept[k].extend((result[k] if k in result else batch[k])[r] for r in rows)
    elapsed = time.perf_counter() - start
    out = {k: np.concatenate(v) for k, v in out.items()}
    names = [loader.source.action_names[a] for a in out["action"]]
    out["p1"] = metrics.per_action(out["mpjpe"], names)
    out["p2"] = metrics.per_action(out["pa_mpjpe"], names)
    out["pictures"] = {k: np.asarray(v) for k, v in kept.items()}
    out["examples_per_s"] = len(indices) / max(elapsed, 1e-9)
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
        "eval/examples_per_s": result["examples_per_s"],
    }
