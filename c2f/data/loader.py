"""Batches of examples, deterministic in (seed, step), built by parallel workers.

Batch ``step`` holds the samples ``perm[k * B:(k + 1) * B]`` of the permutation of its epoch
(``perm = Generator([seed, epoch]).permutation(N)``, ``k = step % steps_per_epoch``), each
augmented with a generator seeded by ``[seed, step, slot]``. So a run resumed at step s sees
exactly the batches an uninterrupted run would, whatever the number of workers.

Workers are processes (``spawn``: jax in the parent does not survive a fork), each building
whole batches; ``prefetch`` batches are in flight at any time. A
:class:`c2f.data.mixture.Mixture` source draws each batch from several files at fixed shares
(its own rule, also deterministic in (seed, step)).
"""

import collections
import dataclasses
import multiprocessing as mp

import numpy as np

from c2f.data.augment import (
    Augmentation,
    AugmentConfig,
    ImageDecodeError,
    make_example,
    sample_augmentation,
)
from c2f.data.source import H5Source
from c2f.geometry.depth_bins import DepthBins

_META = ("subject", "action", "subaction", "camera", "frame")
BAD_IMAGES = ("skip", "fail")
AUGMENT_PLACES = ("host", "device")
"""Where the image's warp and colour run: in the loader (uint8 ``image``), or inside the jitted
step (the loader sends the stored ``crop``, its ``warp`` and ``colour``; c2f.train.steps)."""
MAX_SUBSTITUTES = 16


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
    bad_images: str = "skip"
    augment_on: str = "host"

    def __post_init__(self):
        for name in ("batch_size", "input_res", "output_res"):
            if getattr(self, name) <= 0:
                raise ValueError(f"BatchSpec.{name}: must be positive, got {getattr(self, name)}")
        if self.bad_images not in BAD_IMAGES:
            raise ValueError(f"bad_images: one of {BAD_IMAGES}, got {self.bad_images!r}")
        if self.augment_on not in AUGMENT_PLACES:
            raise ValueError(f"augment_on: one of {AUGMENT_PLACES}, got {self.augment_on!r}")


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
        self.mixed = hasattr(source, "batch_indices")  # c2f.data.mixture.Mixture
        if self.mixed and (source.batch_size != spec.batch_size or not spec.shuffle):
            raise ValueError(f"a mixture of sources makes shuffled batches of "
                             f"{source.batch_size}, not {spec.batch_size}")  # fmt: skip
        self.source, self.spec = source, spec
        self.workers, self.prefetch = workers, max(prefetch, workers)
        # Device warps take one crop size per batch: smaller stored crops of a mixture are
        # padded (bottom and right, black) to the largest, which leaves their pixels' places.
        self.crop_side = max(s.crop_res for s in getattr(source, "sources", [source]))

    @property
    def steps_per_epoch(self) -> int:
        """Full batches per pass (shuffled), or batches covering every sample (in order)."""
        n, b = len(self.source), self.spec.batch_size
        return n // b if self.spec.shuffle else -(-n // b)

    def indices(self, step: int) -> np.ndarray:
        """Sample indices of batch ``step``; an in-order last batch may be shorter."""
        n, b = len(self.source), self.spec.batch_size
        if self.mixed:
            return self.source.batch_indices(step, self.spec.seed)
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
        subject, action, subaction, camera and frame, and ``bad_images``: how many samples
        had an undecodable image and were replaced by the next decodable one. Replacing is
        for training (``spec.bad_images == "skip"``, shuffled); an in-order (evaluation)
        batch, or ``"fail"``, raises instead.

        Raises:
          ValueError: naming the file and the sample.
        """
        spec = self.spec
        examples, bad = [], 0
        read_many = getattr(self.source, "samples", None)
        first = read_many(indices) if read_many is not None else [None] * len(indices)
        for slot, i in enumerate(indices):
            if spec.augment is None:
                aug = Augmentation()
            else:
                aug = sample_augmentation(
                    np.random.default_rng([spec.seed, step, slot]), spec.augment
                )
            for attempt in range(MAX_SUBSTITUTES):
                j = (int(i) + attempt) % len(self.source)
                try:
                    ex = self._example(j, aug, first[slot] if attempt == 0 else None)
                    break
                except ImageDecodeError as e:
                    if spec.bad_images == "fail" or not spec.shuffle:
                        raise ValueError(f"{self._where(j)}: {e}") from e
                    bad += 1
                    print(f"warning: {self._where(j)}: {e}; skipped", flush=True)
            else:
                raise ValueError(f"{self.source.path}: samples {int(i)}..{j}: no decodable image")
            examples.append(ex)
        batch = _stack(examples)
        batch["bad_images"] = np.int64(bad)
        return batch

    def _where(self, index: int) -> str:
        describe = getattr(self.source, "describe", None)
        return describe(index) if describe else f"{self.source.path}: sample {index}"

    def _example(self, index: int, aug: Augmentation, sample: dict | None = None) -> dict:
        sample = self.source[index] if sample is None else sample
        spec = self.spec
        try:
            ex = make_example(
                sample,
                aug,
                stored_res=sample.get("crop_res", self.source.crop_res),
                input_res=spec.input_res,
                output_res=spec.output_res,
                depth_bins=spec.depth_bins,
                skeleton=self.source.skeleton,
                device_warp=spec.augment_on == "device",
            )
        except ImageDecodeError:
            raise
        except ValueError as e:
            raise ValueError(f"{self._where(index)}: {e}") from e
        if "crop" in ex and ex["crop"].shape[0] < self.crop_side:
            pad = self.crop_side - ex["crop"].shape[0]
            ex["crop"] = np.pad(ex["crop"], ((0, pad), (0, pad), (0, 0)))
        ex["index"] = np.int64(index)
        ex.update({k: sample[k] for k in _META})
        return ex

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
