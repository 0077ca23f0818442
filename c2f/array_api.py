"""Pick numpy or jax.numpy to match the arguments.

Geometry runs both on the host (data preparation, float64 numpy) and on the device (inside jitted
steps); functions written against the namespace returned here serve both without copies.
"""

import sys

import numpy as np


def namespace(*arrays):
    """``jax.numpy`` if any argument is a jax array or tracer, else ``numpy``.

    jax is not imported here: without it there are no jax arrays, and host-only users (the
    ONNX runtime's crops) never load it.
    """
    jax = sys.modules.get("jax")
    if jax is not None and any(isinstance(a, jax.Array) for a in arrays):
        import jax.numpy as jnp

        return jnp
    return np
