"""Batches of examples, deterministic in (seed, step), built by parallel workers.

Batch ``step`` holds the samples ``perm[k * B:(k + 1) * B]`` of the permutation of its epoch
(``perm = Generator([seed, epoch]).permutation(N)``, ``k = step % steps_per_epoch``), each
augmented with a generator seeded by ``[seed, step, slot]``. So a run resumed at step s sees
exactly the batches an uninterrupted run would, whatever the number of workers.

Workers are processes (``spawn``: jax in the parent does not survive a fork), each building
whole batches; ``prefetch`` batches are in flight at any time.
"""

import collections
import dataclasses
import multiprocessing as mp

import numpy as np

from c2f.data.augment import Augmentation, AugmentConfig, make_example, sample_augmentation
from c2f.data.source import H5Source
from c2f.geometry.depth_bins import DepthBins

_META = ("subject", "action", "subaction", "camera", "frame")


@dataclasses.dataclass(frozen=True)
class BatchSpec:
    """What a batch looks like: shapes, augmentation and order."""

    batch_size: int
    input_res: int
    output_res: int
    depth_bins: DepthBins = DepthBins()
    augment: AugmentConfig | None = AugmentConfig()
    shuffle: bool = True
    seed: int = 0

    def __post_init__(self):
        for name in ("batch_size", "input_res", "output_res"):
            if getattr(self, name) <= 0:
                raise ValueError(f"BatchSpec.{name}: must be positive, got {getattr(self, name)}")


def _stack(examples: list[dict]) -> dict:
    return {k: np.stack([e[k] for e in examples]) for k in examples[0]}


class Loader:
    """Deterministic batches of one source.

    Args:
      source: the samples.
      spec: batch shape, augmentation, order and seed.
      workers: worker processes (0 builds batches in the calling process).
      prefetch: batches in flight with workers.
    """

    def __init__(self, source: H5Source, spec: BatchSpec, workers: int = 0, prefetch: int = 4):
        if len(source) < spec.batch_size and spec.shuffle:
            raise ValueError(
                f"batch_size: {spec.batch_size} exceeds the {len(source)} samples of {source.path}"
            )
        self.source, self.spec = source, spec
        self.workers, self.prefetch = workers, max(prefetch, workers)

    @property
    def steps_per_epoch(self) -> int:
        """Full batches per pass (shuffled), or batches covering every sample (in order)."""
        n, b = len(self.source), self.spec.batch_size
        return n // b if self.spec.shuffle else -(-n // b)

    def indices(self, step: int) -> np.ndarray:
        """Sample indices of batch ``step``; an in-order last batch may be shorter."""
        n, b = len(self.source), self.spec.batch_size
        epoch, k = divmod(step, self.steps_per_epoch)
        if not self.spec.shuffle:
            return np.arange(k * b, min((k + 1) * b, n))
        perm = np.random.default_rng([self.spec.seed, epoch]).permutation(n)
        return perm[k * b : (k + 1) * b]

    def batch(self, step: int) -> dict:
        """Batch ``step`` (see :meth:`batch_of`)."""
        return self.batch_of(self.indices(step), step)

    def batch_of(self, indices, step: int = 0) -> dict:
        """The samples ``indices`` as a batch (augmented as batch ``step`` would be).

        Returns the fields of :func:`make_example` stacked, plus ``index`` and the samples'
        subject, action, subaction, camera and frame.
        """
        spec = self.spec
        examples = []
        for slot, i in enumerate(indices):
            sample = self.source[int(i)]
            if spec.augment is None:
                aug = Augmentation()
            else:
                aug = sample_augmentation(
                    np.random.default_rng([spec.seed, step, slot]), spec.augment
                )
            try:
                ex = make_example(
                    sample,
                    aug,
                    stored_res=self.source.crop_res,
                    input_res=spec.input_res,
                    output_res=spec.output_res,
                    depth_bins=spec.depth_bins,
                )
            except ValueError as e:
                raise ValueError(f"{self.source.path}: sample {int(i)}: {e}") from e
            ex["index"] = np.int64(i)
            ex.update({k: sample[k] for k in _META})
            examples.append(ex)
        return _stack(examples)

    def __call__(self, start_step: int = 0, num_steps: int | None = None):
        """Iterate over batches from ``start_step`` on (forever if ``num_steps`` is None)."""
        stop = None if num_steps is None else start_step + num_steps
        steps = iter(range(start_step, stop)) if stop is not None else _count(start_step)
        return self.batches((self.indices(s), s) for s in steps)

    def batches(self, jobs):
        """Batches of ``(indices, step)`` jobs, in order, built by the workers (if any).

        Evaluation passes consecutive slices of its sample list; training, its steps' indices.
        """
        if self.workers <= 0:
            yield from (self.batch_of(i, s) for i, s in jobs)
            return
        ctx = mp.get_context("spawn")
        with ctx.Pool(self.workers, initializer=_init_worker, initargs=(self,)) as pool:
            pending = collections.deque()
            for job in jobs:
                pending.append(pool.apply_async(_worker_batch, job))
                if len(pending) >= self.prefetch:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()


def _count(start: int):
    while True:
        yield start
        start += 1


_WORKER_LOADER: Loader | None = None


def _init_worker(loader: Loader) -> None:
    global _WORKER_LOADER
    _WORKER_LOADER = loader


def _worker_batch(indices, step: int) -> dict:
    return _WORKER_LOADER.batch_of(indices, step)
