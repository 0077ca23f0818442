"""Training a temporal model on an image run's predictions (``c2f train-temporal``).

Reads like the image loop (:mod:`c2f.train.loop`): set-up (the image run's predictions on the
training subjects' consecutive frames, cached; the windows; the state, resumed), step, log,
checkpoint. The inputs are the image model's outputs (:mod:`c2f.temporal.windows`' features),
perturbed (:mod:`c2f.temporal.augment`); the target is the ground truth of the target frame.
A resumed run draws the same batches (each step's random stream is ``(seed, step)``) and so
ends with the same weights as an uninterrupted one.
"""

import dataclasses
import hashlib
import json
import pathlib

import numpy as np
from flax import nnx
from tqdm import tqdm

from c2f.archives import check_members
from c2f.checkpoint import load_model
from c2f.data import H5Source
from c2f.evaluation import protocols
from c2f.evaluation.evaluate import evaluate, make_inference, protocol_options, test_loader
from c2f.evaluation.temporal import sequences
from c2f.outputs import replacing
from c2f.sharding import make_mesh
from c2f.temporal.apply import Refiner
from c2f.temporal.augment import augment_windows
from c2f.temporal.run import (
    CONFIG_FILE,
    TemporalRun,
    create,
    manager,
    read_config,
    restore,
    run_folder,
    save,
)
from c2f.temporal.train import make_step
from c2f.temporal.windows import result_features, triplet_index, window_index
from c2f.train.lock import WorkdirLock
from c2f.train.logger import MetricWriter
from c2f.train.loop import StopFlag
from c2f.train.resume import config_differences

COLUMNS = ("subject", "action", "subaction", "camera", "frame")
FREE_ON_RESUME = ("log_every", "checkpoint_every")  # what a resumed run may change


class TemporalConfigChanged(ValueError):
    """A resumed temporal run given another config (exit 2)."""


def image_predictions(workdir, data, *, progress: bool = True) -> dict:
    """The image run's outputs on every sample of ``data``, cached beside its temporal models.

    Returns: per-sample ``pred_mm`` [N, J, 3], ``coords`` [N, J, 3], ``confidence`` [N, J],
    ``joints_rel_mm`` (truth), the :data:`COLUMNS`, and ``heatmap_px``. The cache
    (``WORKDIR/temporal/predictions-STEM-stepN-KEY.npz``) is keyed by the file (path, size,
    time) and the checkpoint's step.
    """
    cfg, graphdef, state, meta = load_model(workdir)
    data = pathlib.Path(data)
    source = H5Source(data)
    if source.skeleton != cfg.model.keypoints:
        raise ValueError(f"--data: {data} holds {source.skeleton.name} keypoints; the run "
                         f"predicts {cfg.model.keypoints.name}")  # fmt: skip
    if source.independent_frames:
        raise ValueError(f"--data: {data}'s frames are independent poses, not sequences (write "
                         "train_seq.h5 with c2f data synthetic --train-seq-poses N)")  # fmt: skip
    stat = data.resolve().stat()
    key = hashlib.sha256(f"{data.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    cache = (pathlib.Path(workdir) / "temporal" /
             f"predictions-{data.stem}-step{meta['step']}-{key.hexdigest()[:10]}.npz")  # fmt: skip
    if cache.is_file():
        with np.load(cache) as f:
            return dict(f)
    protocol = protocols.get("all-frames")
    loader, indices = test_loader(cfg, source, protocol=protocol, workers=0)
    options = protocol_options(cfg, protocol)
    result = evaluate(make_inference(cfg, graphdef, state, options), loader, indices,
                      make_mesh(), root=options["root"], progress=progress)  # fmt: skip
    out = {k: result[k] for k in ("pred_mm", "coords", "confidence", "joints_rel_mm")}
    out.update({k: source.column(k)[result["index"]] for k in COLUMNS})
    out["heatmap_px"] = np.int64(cfg.model.output_res)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with replacing(cache) as tmp:
        np.savez(tmp, **out)
    return out


def read_predictions(path, joints: int) -> dict:
    """Per-frame predictions saved elsewhere (another detector, planted noise): an ``.npz``.

    It holds what :func:`image_predictions` returns: ``pred_mm`` [N, J, 3], ``coords``
    [N, J, 3] (heatmap px; z unused), ``confidence`` [N, J], ``joints_rel_mm`` [N, J, 3] (the
    truth), the [N] :data:`COLUMNS` and ``heatmap_px``. Read without pickle, members bounded.

    Raises:
      ValueError: naming the file and the field.
    """
    path = pathlib.Path(path)
    check_members(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"--predictions: {path}: not a readable .npz ({e})") from e
    shapes = {"pred_mm": (joints, 3), "coords": (joints, 3), "confidence": (joints,),
              "joints_rel_mm": (joints, 3), **{k: () for k in COLUMNS}}  # fmt: skip
    n = len(data.get("pred_mm", ()))
    for key, shape in {**shapes, "heatmap_px": None}.items():
        if key not in data:
            raise ValueError(f"--predictions: {path} has no {key!r}")
        if shape is not None and data[key].shape != (n, *shape):
            raise ValueError(f"--predictions: {path}: {key!r} is {data[key].shape}, expected "
                             f"{(n, *shape)}")  # fmt: skip
        if data[key].dtype.kind == "f" and not np.all(np.isfinite(data[key])):
            raise ValueError(f"--predictions: {path}: {key!r} has NaN or Inf values")
    return data


def _start(folder: pathlib.Path, cfg: TemporalRun) -> None:
    """Record the config of a new run, or check a resumed one's."""
    if (folder / CONFIG_FILE).is_file():
        differ = config_differences(read_config(folder), cfg)
        changed = [f"{k} {a!r} -> {b!r}" for k, (a, b) in differ.items() if k not in FREE_ON_RESUME]
        if changed:
            raise TemporalConfigChanged(f"{folder}: a temporal model trained with another "
                                        f"config ({'; '.join(changed)}); give another --name "
                                        "or the same settings")  # fmt: skip
        return
    folder.mkdir(parents=True, exist_ok=True)
    with replacing(folder / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(dataclasses.asdict(cfg), indent=1))


def train_temporal(workdir, cfg: TemporalRun, *, name: str | None = None, data=None,
                   predictions=None, progress: bool = True,
                   stop_after: int | None = None) -> dict:  # fmt: skip
    """Train (or resume) the temporal model ``name`` of image run ``workdir``.

    Args:
      workdir: the image run (its last checkpoint makes the inputs).
      cfg: the temporal run's settings (``model.joints`` is set to the image run's).
      name: its folder under ``WORKDIR/temporal`` (default ``cfg.name``).
      data: the dataset of consecutive frames (default: the image run's
        ``data.root / cfg.data_file``).
      predictions: an ``.npz`` of per-frame predictions to learn from instead
        (:func:`read_predictions`); ``data`` is then not read.
      progress: progress bars.
      stop_after: stop (saving) after this many steps of this call (tests: an interruption).

    Returns:
      ``step``, ``loss_mm`` (the last logged), ``raw_mm`` and ``refined_mm`` (MPJPE of the
      image model's predictions of ``data`` and of the refined ones, unperturbed), ``folder``,
      ``interrupted``.
    """
    image_cfg = load_model(workdir)[0]
    data = pathlib.Path(data or pathlib.Path(image_cfg.data.root) / cfg.data_file)
    joints = image_cfg.model.keypoints.num_joints
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, joints=joints))
    folder = run_folder(workdir, name or cfg.name)
    pred = read_predictions(predictions, joints) if predictions else None
    with WorkdirLock(folder):
        _start(folder, cfg)
        if pred is None:
            pred = image_predictions(workdir, data, progress=progress)
        return _train(folder, cfg, pred, progress=progress, stop_after=stop_after)


def _inputs(cfg: TemporalRun, pred: dict):
    """(features [N, J, F], truth [N, J, 3] mm, runs) of the predictions."""
    features = result_features(pred, int(pred["heatmap_px"]))
    runs = sequences({k: pred[k] for k in COLUMNS})
    return features, np.asarray(pred["joints_rel_mm"], np.float32), runs


def _batch(cfg: TemporalRun, step: int, features, truth, triplets, index, res: int):
    """The step's examples: perturbed windows [B, W + 2, J, F], truth [B, 3, J, 3]."""
    rng = np.random.default_rng([cfg.seed, step])
    pick = rng.integers(0, len(triplets), cfg.batch_size)
    windows = augment_windows(features[index[pick]], rng, cfg.augment, res)
    return windows, truth[triplets[pick]]


def _train(folder, cfg: TemporalRun, pred: dict, *, progress: bool, stop_after) -> dict:
    features, truth, runs = _inputs(cfg, pred)
    triplets, index = triplet_index(runs, cfg.model.window, cfg.model.causal)
    if not len(triplets):
        raise ValueError("the predictions hold no run of 3 consecutive frames to learn from")
    res = int(pred["heatmap_px"])
    graphdef, state = create(cfg)
    mngr = manager(folder)
    start = 0
    if mngr.latest_step() is not None:
        state, meta = restore(mngr, state)
        start = int(meta["step"])
    step_fn = make_step(graphdef, cfg.accel_weight)
    writer = MetricWriter(folder)
    step, loss, losses = start, float("nan"), []
    end = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    bar = tqdm(total=cfg.steps, initial=start, desc="train-temporal", unit="step",
               disable=not progress)  # fmt: skip
    with StopFlag() as flag:
        while step < end and not flag.stop:
            windows, target = _batch(cfg, step, features, truth, triplets, index, res)
            state, loss_mm = step_fn(state, windows, target)
            step += 1
            losses.append(float(loss_mm))
            bar.update(1)
            if step % cfg.log_every == 0 or step == end:
                loss = float(np.mean(losses))
                writer.scalars(step, {"train/loss_mm": loss})
                bar.set_postfix(loss_mm=f"{loss:.1f}")
                losses = []
            if step % cfg.checkpoint_every == 0 or step == end or flag.stop:
                save(mngr, step, state, {"step": step})
    bar.close()
    if step > start:
        save(mngr, step, state, {"step": step})
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    targets, windows = window_index(runs, cfg.model.window, cfg.model.causal)
    refined = Refiner(model).windows(features[windows])
    raw = np.linalg.norm(features[targets, :, :3] * 1000.0 - truth[targets], axis=-1).mean()
    err = np.linalg.norm(refined - truth[targets], axis=-1).mean()
    writer.scalars(step, {"train/raw_mm": raw, "train/refined_mm": err})
    writer.close()
    mngr.close()
    return {"step": step, "loss_mm": loss, "raw_mm": float(raw), "refined_mm": float(err),
            "folder": str(folder), "interrupted": flag.signum}  # fmt: skip
