"""Pick numpy or jax.numpy to match the arguments.

Geometry runs both on the host (data preparation, float64 numpy) and on the device (inside jitted
steps); functions written against the namespace returned here serve both without copies.
"""

import jax
import jax.numpy as jnp
import numpy as np


def namespace(*arrays):
    """``jax.numpy`` if any argument is a jax array or tracer, else ``numpy``."""
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np
