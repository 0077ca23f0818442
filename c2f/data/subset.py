"""Part of a dataset: the samples of some actions only, with the interface of a source."""

import numpy as np


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
        for name in ("crop_res", "action_names", "source", "args"):
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

    def column(self, name: str) -> np.ndarray:
        return self._source.column(name)[self.indices]


def without_actions(source, actions, what: str = "data.hold_out_actions"):
    """``source`` less the samples of the named ``actions`` (``source`` itself if none).

    Raises:
      ValueError: naming ``what`` when an action is not among the file's action names, or
        when nothing is left.
    """
    if not actions:
        return source
    unknown = sorted(set(actions) - set(source.action_names))
    if unknown:
        known = list(source.action_names)
        raise ValueError(f"{what}: {unknown} not among the actions of {source.path} ({known})")
    codes = [source.action_names.index(a) for a in actions]
    keep = np.flatnonzero(~np.isin(source.column("action"), codes))
    if not len(keep):
        raise ValueError(f"{what}: holding out {list(actions)} leaves no sample of {source.path}")
    return Subset(source, keep, f"without {', '.join(actions)}")
