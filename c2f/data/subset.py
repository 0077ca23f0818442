"""Part of a dataset: the samples of some actions only, with the interface of a source."""

import numpy as np

from c2f.data.source import checked_indices


class Subset:
    """The samples ``indices`` of ``source``, numbered 0..len-1 in that order.

    Reads and columns go to the source; ``path`` names the file and says that sample numbers
    in messages count within the subset.
    """

    def __init__(self, source, indices, description: str):
        self._source = source
        self.indices = np.asarray(indices, np.int64)
        self.path = f"{source.path} ({description}; samples numbered within them)"
        self.num_samples = len(self.indices)
        for name in ("crop_res", "action_names", "source", "args", "skeleton", "benchmark"):
            setattr(self, name, getattr(source, name))

    @property
    def independent_frames(self) -> bool:
        return self._source.independent_frames

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.num_samples:
            raise IndexError(f"{self.path}: sample {index} out of range [0, {self.num_samples})")
        return self._source[int(self.indices[index])]

    def samples(self, indices) -> list[dict]:
        """The samples ``indices`` in one read per field (:meth:`H5Source.samples`)."""
        indices = checked_indices(indices, self.num_samples, self.path)
        return self._source.samples(self.indices[indices])

    def column(self, name: str) -> np.ndarray:
        return self._source.column(name)[self.indices]


def action_mask(action, action_names, actions, what: str, path) -> np.ndarray:
    """[N] bool: the samples (``action`` [N] ids into ``action_names``) of the named ``actions``.

    Raises:
      ValueError: naming ``what`` and ``path`` when an action is not among ``action_names``.
    """
    unknown = sorted(set(actions) - set(action_names))
    if unknown:
        known = list(action_names)
        raise ValueError(f"{what}: {unknown} not among the actions of {path} ({known})")
    return np.isin(action, [list(action_names).index(a) for a in actions])


def without_actions(source, actions, what: str = "data.hold_out_actions"):
    """``source`` less the samples of the named ``actions`` (``source`` itself if none).

    Raises:
      ValueError: naming ``what`` when an action is not among the file's action names, or
        when nothing is left.
    """
    if not actions:
        return source
    held = action_mask(source.column("action"), source.action_names, actions, what, source.path)
    keep = np.flatnonzero(~held)
    if not len(keep):
        raise ValueError(f"{what}: holding out {list(actions)} leaves no sample of {source.path}")
    return Subset(source, keep, f"without {', '.join(actions)}")
