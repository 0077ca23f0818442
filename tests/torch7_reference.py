"""The numpy reference forward pass (NCHW) of a network built by :mod:`tests.torch7_writer`.

It runs from the builder's own records (modules, inputs, packed weights), never from the file,
so that an importer error cannot hide in a shared reading.
"""

import numpy as np

from tests.torch7_writer import Builder


def _get(module, key):
    t = module.fields[key]
    return t.storage.data[t.offset : t.offset + int(np.prod(t.size))].reshape(t.size)


def _run(module, x):
    name = module.typename.rsplit(".", 1)[1]
    if name == "SpatialConvolution":
        w, b = _get(module, "weight"), _get(module, "bias")
        k, s, p = int(module["kW"]), int(module["dW"]), int(module["padW"])
        x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        return np.einsum("bchwij,ocij->bohw", win, w, optimize=True) + b[None, :, None, None]
    if name == "SpatialBatchNormalization":
        if "running_std" in module.fields:
            inv = _get(module, "running_std")
        else:
            inv = 1 / np.sqrt(_get(module, "running_var") + module["eps"])
        mean, w, b = (_get(module, k) for k in ("running_mean", "weight", "bias"))
        return ((x - mean[:, None, None]) * (inv * w)[:, None, None]) + b[:, None, None]
    if name == "ReLU":
        return np.maximum(x, 0)
    if name == "SpatialMaxPooling":
        b, c, h, w = x.shape
        return x.reshape(b, c, h // 2, 2, w // 2, 2).max((3, 5))
    if name == "SpatialUpSamplingNearest":
        return x.repeat(2, axis=2).repeat(2, axis=3)
    if name == "Identity":
        return x
    if name == "Sequential":
        for m in module["modules"].array():
            x = _run(m, x)
        return x
    if name == "ConcatTable":
        return [_run(m, x) for m in module["modules"].array()]
    if name == "CAddTable":
        return sum(x)
    if name == "JoinTable":
        return np.concatenate(x, axis=1)
    raise NotImplementedError(name)


def forward(builder: Builder, images: np.ndarray) -> list:
    """The heads [B, J * D_k, H, W] of the written network for ``images`` [B, 3, R, R]."""
    values = {}
    for node, module, inputs in builder.nodes:
        if module is None:
            continue
        args = [values[id(n)] for n in inputs]
        x = images if not args else args[0] if len(args) == 1 else args
        values[id(node)] = _run(module, x)
    return [values[id(n)] for n in builder.outputs]
