"""Argument validation for c2f's public functions.

Every public function validates its array arguments with :func:`check_array`, so that bad input
fails early with a ``ValueError`` that names the argument. Shape and dtype are checked always;
values (NaN/Inf) only when the array is concrete, i.e. not inside ``jax.jit``/``vmap`` tracing,
where they cannot be inspected without a device sync.
"""

import sys
from collections.abc import Sequence

import numpy as np

Spec = Sequence[int | str | None]


def _describe(spec: Spec) -> str:
    return "[" + ", ".join("*" if s is None else str(s) for s in spec) + "]"


def _shape_ok(shape: tuple[int, ...], spec: Spec) -> bool:
    spec = list(spec)
    if "..." in spec:
        i = spec.index("...")
        head, tail = spec[:i], spec[i + 1 :]
        if len(shape) < len(head) + len(tail):
            return False
        shape = shape[: len(head)] + (shape[len(shape) - len(tail) :] if tail else ())
        spec = head + tail
    if len(shape) != len(spec):
        return False
    return all(s is None or s == d for s, d in zip(spec, shape))


def _jax():
    """The jax module if something imported it, else None.

    Without jax there are no jax arrays to check, and host-only users (the ONNX runtime)
    never import it.
    """
    return sys.modules.get("jax")


def _issubdtype(dtype, kind) -> bool:
    jax = _jax()
    if jax is not None:  # jax's knows bfloat16 as a float
        return bool(jax.numpy.issubdtype(dtype, kind))
    return bool(np.issubdtype(dtype, kind))


def is_concrete(x) -> bool:
    """True when the values of ``x`` can be read (not a tracer inside jit/vmap/grad)."""
    jax = _jax()
    return jax is None or not isinstance(x, jax.core.Tracer)


def check_array(
    name: str,
    x,
    shape: Spec | None = None,
    *,
    kind: str = "float",
    finite: bool = True,
):
    """Validate an array argument and return it as an array (numpy stays numpy, jax stays jax).

    Args:
      name: the argument's name, used in the error message.
      x: the value to check (array-like).
      shape: expected shape; ints must match, ``None`` matches any size and ``"..."`` any number
        of leading/middle dimensions, e.g. ``("...", 17, 3)``.
      kind: ``"float"`` (floating point), ``"int"`` (integer), ``"uint8"``, ``"bool"``,
        ``"number"`` (int or float) or ``"mask"`` (bool, int or float).
      finite: reject NaN/Inf values (checked only for concrete arrays).

    Raises:
      ValueError: naming ``name``, on a wrong shape, dtype or non-finite value.
    """
    jax = _jax()
    if not isinstance(x, (np.ndarray, *((jax.Array,) if jax is not None else ()))):
        try:
            x = np.asarray(x)
        except Exception as e:  # ragged lists, objects
            raise ValueError(f"{name}: expected an array, got {type(x).__name__} ({e})") from e
    dtype = x.dtype
    ok = {
        "float": _issubdtype(dtype, np.floating),
        "int": _issubdtype(dtype, np.integer),
        "uint8": dtype == np.uint8,
        "bool": dtype == np.bool_,
        "number": _issubdtype(dtype, np.floating) or _issubdtype(dtype, np.integer),
        "mask": dtype == np.bool_
        or _issubdtype(dtype, np.floating)
        or _issubdtype(dtype, np.integer),
    }[kind]
    if not ok:
        raise ValueError(f"{name}: expected a {kind} array, got dtype {dtype}")
    if shape is not None and not _shape_ok(tuple(x.shape), shape):
        raise ValueError(f"{name}: expected shape {_describe(shape)}, got {list(x.shape)}")
    if finite and kind in ("float", "number") and is_concrete(x):
        if not bool(np.all(np.isfinite(np.asarray(x, dtype=np.float32)))):
            raise ValueError(f"{name}: contains NaN or Inf values")
    return x


def check_positive(name: str, value) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a positive number."""
    if not (isinstance(value, (int, float, np.integer, np.floating)) and value > 0):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
