"""A saved hg-stacked-N.lua gModule -> a :class:`c2f.model.C2FPose` and a c2f run directory."""

import dataclasses
import hashlib
import json
import pathlib

import jax.numpy as jnp
import numpy as np
from flax import nnx

from c2f.checkpoint import Checkpoints, config_to_json
from c2f.model.batch_norm import BatchNorm
from c2f.model.config import ModelConfig
from c2f.model.conv import Conv
from c2f.train.state import make_optimizer
from data_prep.torch7 import t7file
from data_prep.torch7.nngraph import data_flow
from data_prep.torch7.stacked import BN, CONV, StackedWalk, bn_weights, conv_weights, kind

PAPER_CONFIG = "paper"  # the named recipe (c2f/configs/paper.py)


@dataclasses.dataclass
class Imported:
    """A network read from a Torch7 file."""

    config: ModelConfig
    walk: StackedWalk
    modules: int  # convolutions and BatchNorms in the file


def read(path, *, joints: int = 17, input_res: int = 256, long_size: int = 8) -> Imported:
    """Read and map a saved ``hg-stacked-N.lua`` network (without building ours).

    Args:
      path: the ``.t7`` file (``torch.save`` of the ``nn.gModule``).
      joints: joints J per volume; each head must have ``J * D_k`` channels.
      input_res: input side in px (not stored in the weights; the authors' ``-inputRes`` 256).
      long_size: see :func:`t7file.load`.

    Raises:
      Torch7Error: the file is unreadable or not such a network (names the node).
    """
    name = str(path)
    flow = data_flow(t7file.load(path, long_size), name)
    walk = StackedWalk(flow, name)
    off_path = set(_layers_in(n.module for n in flow.nodes)) - {id(m) for m in walk.layers.values()}
    if off_path:
        raise t7file.Torch7Error(
            f"{name}: {len(off_path)} convolution/BatchNorm modules of the "
            "file lie off the hg-stacked-N.lua data flow"
        )
    for k, channels in enumerate(walk.heads):
        if channels % joints:
            raise t7file.Torch7Error(
                f"{name}: stage {k}'s head has {channels} channels, not a "
                f"multiple of {joints} joints (--joints)"
            )
    stem, wide = walk.layers["stem"], walk.layers["stages.0.hourglass.up.2.conv3"]
    try:
        config = ModelConfig(
            design="stacked",
            depths=tuple(c // joints for c in walk.heads),
            joints=joints,
            features=4 * int(stem["nOutputPlane"]),
            wide_features=int(wide["nOutputPlane"]),
            input_res=input_res,
            hourglass_levels=walk.levels,
            compute_dtype="float32",
            init="torch",
        )
    except ValueError as e:
        raise t7file.Torch7Error(f"{name}: the network's shape is not one c2f builds: {e}") from e
    return Imported(config, walk, len(walk.layers))


def _layers_in(modules) -> dict:
    """{id: module} of every convolution and BatchNorm in ``modules`` and their containers."""
    found, seen, stack = {}, set(), list(modules)
    while stack:
        module = stack.pop()
        if not isinstance(module, t7file.TorchObject) or id(module) in seen:
            continue
        seen.add(id(module))
        if kind(module) in (CONV, BN):
            found[id(module)] = module
        inner = module.get("modules")
        if isinstance(inner, t7file.Table):
            stack.extend(inner.array())
    return found


def assign(model, imported: Imported) -> None:
    """Copy the file's weights into ``model`` (a :class:`C2FPose` of ``imported.config``).

    ``model`` may be abstract (:func:`c2f.model.abstract_model`): every variable of
    the network is a convolution's or a BatchNorm's, and each is set.

    Raises:
      Torch7Error: a layer of ours has no counterpart, or shapes or settings differ (naming
        the layer and the file's node).
    """
    layers, where = imported.walk.layers, imported.walk.where
    used = set()
    for path, layer in nnx.iter_graph(model):
        if not isinstance(layer, (Conv, BatchNorm)):
            continue
        key = ".".join(str(p) for p in path)
        if key not in layers:
            raise t7file.Torch7Error(
                f"{imported.walk.name}: no module of the file plays the role of {key}"
            )
        module, node = layers[key], where[key]
        at = f"{imported.walk.name}: {key} ({node.describe()})"
        used.add(key)
        if isinstance(layer, Conv):
            kernel, bias = conv_weights(module, layer.kernel.get_value().shape, layer.stride, at)
            layer.kernel.set_value(jnp.asarray(kernel))
            layer.bias.set_value(jnp.asarray(bias))
        else:
            values = bn_weights(module, layer.scale.get_value().shape[0], layer.epsilon, at)
            for field, value in values.items():
                getattr(layer, field).set_value(jnp.asarray(value))
    unused = sorted(set(layers) - used)
    if unused:
        raise t7file.Torch7Error(
            f"{imported.walk.name}: {len(unused)} of the file's layers "
            f"match no layer of c2f's network (first: {unused[:3]})"
        )


def file_digest(path) -> str:
    """sha256 of a file, read in 16 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            digest.update(block)
    return digest.hexdigest()


def write_run(out, cfg, model, source: dict) -> None:
    """A train.py-style run directory holding ``model`` as the checkpoint of step 0.

    The checkpoint has the model and a fresh optimizer state of ``cfg`` (so that ``train.py``
    can fine-tune from it) and records ``source`` (the file, its sha256) in its JSON record.

    Raises:
      FileExistsError: ``out`` already holds checkpoints (nothing is overwritten).
    """
    out = pathlib.Path(out)
    if (out / "checkpoints").exists():
        raise FileExistsError(f"--out: {out} already holds checkpoints; choose a new folder")
    model.train()  # the layout train.py saves and resumes
    optimizer = nnx.Optimizer(model, make_optimizer(cfg.optim, cfg.train.steps), wrt=nnx.Param)
    state = nnx.split((model, optimizer))[1]
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = Checkpoints(out, keep=cfg.train.keep_checkpoints)
    try:
        config = json.loads(config_to_json(cfg))
        checkpoints.save(0, state, {"step": 0, "config": config, "imported": source})
    finally:
        checkpoints.close()
    (out / "config.json").write_text(config_to_json(cfg))
    (out / "imported.json").write_text(json.dumps(source, indent=2) + "\n")


def check_arrays_finite(model) -> None:
    """Raise if any imported array holds NaN or Inf (a corrupt or diverged file)."""
    for path, value in nnx.to_flat_state(nnx.state(model)):
        if not np.all(np.isfinite(np.asarray(value[...]))):
            raise t7file.Torch7Error(
                f"{'.'.join(map(str, path))}: the file's values hold NaN or Inf"
            )
