"""Several training sources in every batch at fixed shares (e.g. Human3.6M and MPII).

Batch ``step`` takes ``counts[k]`` samples of source ``k``: the slice ``pos * counts[k]`` ..
``(pos + 1) * counts[k]`` of the permutation ``Generator([seed, k, epoch_k]).permutation(N_k)``,
where ``epoch_k, pos = divmod(step, N_k // counts[k])``. Each source runs through its own epochs
(a small 2D set repeats more often than a large 3D one), and a batch depends on (seed, step)
alone, so a resumed run sees exactly the batches an uninterrupted one would.
"""

import numpy as np


def parse_mix(entries, batch_size: int, what: str = "data.mix") -> list[tuple[str, int]]:
    """``("PATH:SHARE", ...)`` as ``[(path, samples per batch)]``.

    Raises:
      ValueError: naming ``what`` for a malformed entry, a share outside (0, 1), shares that
        leave the main training file no sample of a batch, or a share under one sample.
    """
    out, total = [], 0
    for entry in entries:
        path, sep, share = str(entry).rpartition(":")
        try:
            share = float(share)
        except ValueError:
            share = None
        if not sep or not path or share is None or not 0 < share < 1:
            raise ValueError(f"{what}: {entry!r} is not 'PATH:SHARE' with 0 < SHARE < 1")
        count = int(round(share * batch_size))
        if count < 1:
            raise ValueError(f"{what}: {entry!r} is less than one sample of a {batch_size} batch")
        out.append((path, count))
        total += count
    if out and total >= batch_size:
        raise ValueError(f"{what}: the shares take {total} of {batch_size} samples a batch; "
                         "the main training file needs at least one")  # fmt: skip
    return out


class Mixture:
    """Sources side by side: sample ``i`` of source ``k`` is number ``offsets[k] + i``.

    Args:
      sources: the sources (:class:`c2f.data.H5Source` or :class:`c2f.data.subset.Subset`).
      counts: samples of each source in a batch.
    """

    def __init__(self, sources, counts):
        if len(sources) != len(counts) or not sources:
            raise ValueError("Mixture: one count per source, at least one source")
        for source, count in zip(sources, counts):
            if len(source) < count:
                raise ValueError(f"{source.path}: {len(source)} samples, fewer than the "
                                 f"{count} a batch takes")  # fmt: skip
        self.sources, self.counts = list(sources), [int(c) for c in counts]
        self.offsets = np.cumsum([0] + [len(s) for s in sources])
        self.num_samples = int(self.offsets[-1])
        main = sources[0]
        self.path = " + ".join(s.path for s in sources)
        self.action_names, self.source, self.args = main.action_names, main.source, main.args
        self.crop_res = main.crop_res
        self.skeleton = main.skeleton
        for other in sources[1:]:  # one keypoint set per batch: converters map into the run's
            if other.skeleton != main.skeleton:
                raise ValueError(
                    f"data.mix: {other.path} holds skeleton {other.skeleton.name!r}, "
                    f"{main.path} {main.skeleton.name!r}: convert it to the same keypoint set"
                )

    @property
    def batch_size(self) -> int:
        return sum(self.counts)

    def __len__(self) -> int:
        return self.num_samples

    def locate(self, index: int) -> tuple[int, int]:
        """(source number, index within it) of a mixture index."""
        if not 0 <= index < self.num_samples:
            raise IndexError(f"{self.path}: sample {index} out of range [0, {self.num_samples})")
        k = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return k, int(index - self.offsets[k])

    def __getitem__(self, index: int) -> dict:
        """The sample, with ``crop_res`` (its file's stored crop side) added."""
        k, i = self.locate(index)
        return {**self.sources[k][i], "crop_res": self.sources[k].crop_res}

    def describe(self, index: int) -> str:
        k, i = self.locate(index)
        return f"{self.sources[k].path}: sample {i}"

    def batch_indices(self, step: int, seed: int) -> np.ndarray:
        """Mixture indices of batch ``step`` (module docstring), source by source."""
        out = []
        for k, (source, count) in enumerate(zip(self.sources, self.counts)):
            epoch, pos = divmod(step, len(source) // count)
            perm = np.random.default_rng([seed, k, epoch]).permutation(len(source))
            out.append(perm[pos * count : (pos + 1) * count] + self.offsets[k])
        return np.concatenate(out)
