"""Weights from a PyTorch ``state_dict`` of the twin networks into :class:`C2FPose`.

The twins (``../shared/peers/torch_c2f.py``: ``C2FStacked`` = hg-stacked-N.lua,
``C2FHourglass`` = hg.lua with one module per branch) are NCHW transcriptions of the authors'
Torch7 models; this is how the architecture is proven equal to theirs (same volumes on the same
input, ``tests/test_torch_port.py``) and how a PyTorch user brings trained weights over. torch is
never imported: pass ``{name: tensor.numpy()}``.

Every convolution and BatchNorm of ours is matched to the twin's module of the same role by
name, every shape is checked, and every twin tensor must be used (``num_batches_tracked``
aside); any mismatch is a ValueError naming the module.
"""

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np
from flax import nnx

from c2f.model.batch_norm import BatchNorm
from c2f.model.c2f_pose import C2FPose
from c2f.model.config import ModelConfig
from c2f.model.conv import Conv

_RESIDUAL = {"conv1": "c1", "conv2": "c2", "conv3": "c3"}
_UNIFORM_TOP = {"res1": "r1", "res2": "r2", "res3": "r3"}
_UNIFORM_STAGE = {"hourglass": "hg", "residual": "res"}
_STACKED_TOP = {"stem": "stem.0", "stem_bn": "stem.1", "res1": "r1",
                "res4": "r456.0", "res5": "r456.1", "res6": "r456.2"}  # fmt: skip
_STACKED_STAGE = {"hourglass": "hgs.{k}", "lin1": "lins.{k}.0.0", "lin1_bn": "lins.{k}.0.1",
                  "lin2": "lins.{k}.1.0", "lin2_bn": "lins.{k}.1.1", "head": "heads.{k}",
                  "cat_conv": "cat_convs.{k}", "pred_back": "pred_back.{k}"}  # fmt: skip


def twin_name(path: tuple, design: str) -> str:
    """The twin's module name of one of our modules, given by its path in :class:`C2FPose`."""
    parts = [str(p) for p in path]
    if parts[0] == "stages":
        k, head, rest = parts[1], parts[2], parts[3:]
        if design == "stacked":
            prefix = _STACKED_STAGE[head].format(k=k)
        else:
            prefix = f"stages.{k}.{_UNIFORM_STAGE.get(head, head)}"
    else:
        table = _STACKED_TOP if design == "stacked" else _UNIFORM_TOP
        prefix, rest = table.get(parts[0], parts[0]), parts[1:]
    return ".".join([prefix, *(_RESIDUAL.get(p, p) for p in rest)])


def _layers(model: C2FPose):
    for path, node in nnx.iter_graph(model):
        if isinstance(node, (Conv, BatchNorm)):
            yield path, node


def from_state_dict(cfg: ModelConfig, state_dict: Mapping[str, np.ndarray]) -> C2FPose:
    """A :class:`C2FPose` of ``cfg`` holding the twin's weights, in evaluation mode.

    Args:
      cfg: the architecture; ``design`` picks the twin (stacked: ``C2FStacked``, uniform with
        ``modules=1``: ``C2FHourglass``).
      state_dict: the twin's ``state_dict()`` as numpy arrays (NCHW convolution weights
        [C_out, C_in, kh, kw]; BatchNorm ``weight``, ``bias``, ``running_mean``,
        ``running_var``).

    Raises:
      ValueError: naming the module whose tensor is missing, extra or of another shape.
    """
    if cfg.design == "uniform" and cfg.modules != 1:
        raise ValueError(f"modules: the PyTorch twin has one module per branch, got {cfg.modules}")
    model = C2FPose(cfg, rngs=nnx.Rngs(0))
    unused = {k for k in state_dict if not k.endswith("num_batches_tracked")}

    def take(name: str, shape: tuple) -> np.ndarray:
        if name not in state_dict:
            raise ValueError(f"state_dict: no tensor {name!r} (expected shape {shape})")
        value = np.asarray(state_dict[name], np.float32)
        if value.shape != shape:
            raise ValueError(f"state_dict[{name!r}]: shape {value.shape}, expected {shape}")
        unused.discard(name)
        return value

    for path, layer in _layers(model):
        name = twin_name(path, cfg.design)
        if isinstance(layer, Conv):
            kh, kw, cin, cout = layer.kernel[...].shape
            w = take(f"{name}.weight", (cout, cin, kh, kw))
            layer.kernel.set_value(jnp.asarray(w.transpose(2, 3, 1, 0)))
            layer.bias.set_value(jnp.asarray(take(f"{name}.bias", (cout,))))
        else:
            (n,) = layer.scale[...].shape
            layer.scale.set_value(jnp.asarray(take(f"{name}.weight", (n,))))
            layer.bias.set_value(jnp.asarray(take(f"{name}.bias", (n,))))
            layer.mean.set_value(jnp.asarray(take(f"{name}.running_mean", (n,))))
            layer.var.set_value(jnp.asarray(take(f"{name}.running_var", (n,))))
    if unused:
        raise ValueError(
            f"state_dict: {len(unused)} tensors match no layer of the {cfg.design} design "
            f"(first: {sorted(unused)[:3]})"
        )
    model.eval()
    return model
