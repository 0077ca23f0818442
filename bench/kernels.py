"""Contenders for the pieces around the network: volume decoding, target generation, loading.

Decoding and targets run at the paper's 17 x 64 x 64 x 64 volume, jitted and ``vmap``-ed over
a batch; the soft-argmax also runs in PyTorch (eager, the twin's obvious implementation) for
reference. The input pipeline is :class:`c2f.data.Loader` in-process (one worker's work:
JPEG decode, the paper's augmentation, targets) on a small synthetic split.
"""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from c2f.data import BatchSpec, H5Source, Loader
from c2f.volume import gaussian_target, hard_argmax_3d, soft_argmax_3d
from c2f.volume.authors_target import authors_target
from data_prep.synthetic.generate import write_split

JOINTS, DEPTH, RES = 17, 64, 64


def decode_and_targets(batch: int) -> dict:
    """Contenders (name -> call): soft-argmax, argmax, continuous and authors' targets."""
    rng = np.random.default_rng(0)
    volume = jnp.asarray(rng.normal(size=(batch, JOINTS, DEPTH, RES, RES)), jnp.float32)
    coords = jnp.asarray(rng.uniform(2, 60, (batch, JOINTS, 3)), jnp.float32)
    soft = jax.jit(jax.vmap(soft_argmax_3d))
    hard = jax.jit(jax.vmap(lambda v: hard_argmax_3d(v, refine=True)))
    targets = jax.jit(jax.vmap(lambda c: gaussian_target(c, (DEPTH, RES, RES), (2.0, 2.0, 2.0))))
    authors = jax.jit(jax.vmap(lambda c: authors_target(c, (DEPTH, RES, RES), DEPTH)))
    return {
        "c2f soft-argmax": lambda: jax.block_until_ready(soft(volume)),
        "c2f hard argmax (refined)": lambda: jax.block_until_ready(hard(volume)),
        "c2f Gaussian targets": lambda: jax.block_until_ready(targets(coords)),
        "c2f authors' targets": lambda: jax.block_until_ready(authors(coords)),
    }


def torch_soft_argmax(batch: int):
    import torch  # optional (the PyTorch twins): imported by the rows that compare with it

    volume = torch.randn(batch, JOINTS, DEPTH, RES, RES)
    axes = [torch.arange(n, dtype=torch.float32) for n in (RES, RES, DEPTH)]

    def call():
        with torch.inference_mode():
            p = torch.softmax(volume.reshape(batch, JOINTS, -1), -1).reshape(volume.shape)
            torch.stack([(p.sum((2, 3)) * axes[0]).sum(-1), (p.sum((2, 4)) * axes[1]).sum(-1),
                         (p.sum((3, 4)) * axes[2]).sum(-1)], -1).sum().item()  # fmt: skip

    return call


def small_split(root: pathlib.Path, workers: int = 2) -> pathlib.Path:
    """A 960-image synthetic split at 256 px (S1, S5) under ``root``, generated if missing."""
    split = root / "train.h5"
    if not split.is_file():
        print(f"generating a small synthetic split for the loader: {split}", flush=True)
        write_split(split, ["S1", "S5"], poses=4, crop_res=256, seed=0, workers=workers, args={})
    return split


def loader(root: pathlib.Path, batch: int = 32, input_res: int = 256):
    """call(): one batch of the in-process loader (one worker's work), at the paper's 256 px."""
    source = H5Source(small_split(root))
    load = Loader(source, BatchSpec(batch_size=batch, input_res=input_res, output_res=64))
    step = iter(range(1 << 30))
    return lambda: load.batch(next(step))
