"""Data parallelism: one mesh axis "data" over every device of every host.

The same code runs on 1 or N local devices and on several hosts (after
``jax.distributed.initialize``): parameters are replicated, the batch is split along "data",
and XLA inserts the cross-device reductions (BatchNorm statistics and gradients are global).
"""

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P


def make_mesh() -> jax.sharding.Mesh:
    """A 1-D mesh over all devices (of all processes).

    The axis is "auto" (XLA propagates shardings through the model), not jax's newer explicit
    sharding-in-types, under which every reshape inside the network would need annotations.
    """
    return jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))


def replicate(tree, mesh):
    """Place a pytree on every device of the mesh."""
    return jax.device_put(tree, NamedSharding(mesh, P()))


def replicated_shapes(abstract, mesh):
    """``jax.ShapeDtypeStruct`` placeholders of a pytree of shapes, replicated on the mesh.

    What a checkpoint is restored into, as :func:`replicate` would place the arrays.
    """
    sharding = NamedSharding(mesh, P())
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding),
                        abstract)  # fmt: skip


def local_rows(batch_size: int) -> slice:
    """The rows of a global batch that this process loads and feeds."""
    n, p = jax.process_count(), jax.process_index()
    if batch_size % n:
        raise ValueError(f"batch_size: {batch_size} does not split over {n} processes")
    per = batch_size // n
    return slice(p * per, (p + 1) * per)


def shard_batch(batch: dict, mesh, batch_size: int) -> dict:
    """Global arrays sharded along "data" from this process's rows of a host batch.

    Args:
      batch: numpy arrays with the global batch on axis 0 (every process builds the same
        global batch deterministically; each feeds its own rows).
      mesh: the data mesh.
      batch_size: the global batch size (a multiple of the device count).
    """
    if batch_size % mesh.size:
        raise ValueError(f"batch_size: {batch_size} does not split over {mesh.size} devices")
    sharding = NamedSharding(mesh, P("data"))
    rows = local_rows(batch_size)
    out = {}
    for key, value in batch.items():
        value = np.asarray(value)
        if value.ndim == 0 or value.dtype.kind not in "biuf":
            continue
        out[key] = jax.make_array_from_process_local_data(sharding, value[rows], value.shape)
    return out


def gather(tree) -> dict:
    """Every process's rows of a pytree of global arrays, as host numpy on every process.

    ``jax.device_get`` cannot read an array that spans another process's devices; this is the
    multi-host-safe read (a no-op gather on one process).
    """
    if jax.process_count() == 1:
        return jax.device_get(tree)

    return multihost_utils.process_allgather(tree, tiled=True)
