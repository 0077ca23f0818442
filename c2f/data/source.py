"""Random access to a dataset file, lazily opened so that it can be pickled to workers."""

import json

import h5py
import numpy as np

from c2f.data.schema import (
    FIELDS,
    DatasetError,
    benchmark_of,
    crop_res,
    open_dataset,
    read,
    skeleton_of,
)
from c2f.data.validate import validate as validate_file


def checked_indices(indices, num_samples: int, path) -> np.ndarray:
    """``indices`` as int64; an IndexError naming ``path`` for one outside [0, num_samples)."""
    indices = np.asarray(indices, np.int64)
    out = (indices < 0) | (indices >= num_samples)
    if out.any():
        raise IndexError(f"{path}: sample {indices[out][0]} out of range [0, {num_samples})")
    return indices


class H5Source:
    """Samples of one c2f dataset file (docs/data.md).

    The file is opened on first access in each process (h5py handles do not survive a fork or
    a pickle), so a source can be handed to loader workers.

    Args:
      path: the dataset file; its schema and every sample's numeric fields are checked here,
        in the constructing process (:func:`c2f.data.validate.validate`).
      validate: skip the whole-file check with False (the schema is always checked).

    Raises:
      DatasetError: naming the file, the field and the first bad samples.
    """

    def __init__(self, path, validate: bool = True):
        self.path = str(path)
        with open_dataset(self.path) as f:
            if validate:
                try:
                    validate_file(f, self.path)
                except ValueError as e:
                    raise DatasetError(str(e)) from e
            self.num_samples = len(f["image"])
            self.crop_res = crop_res(f)
            self.skeleton = skeleton_of(f, self.path)
            self.benchmark = benchmark_of(f)
            self.action_names = tuple(json.loads(f.attrs["action_names"]))
            self.source = str(f.attrs["source"])
            try:
                self.args = dict(json.loads(f.attrs["args"]))
            except (TypeError, ValueError):
                self.args = {}
        self._file: h5py.File | None = None

    @property
    def independent_frames(self) -> bool:
        """True when the frame ids do not order a video.

        A writer says so with ``args["frame_step"] == 0``: the synthetic independent poses
        (``--independent``, whose ids only space the samples) and still images (MPII, COCO).
        Synthetic files written before that key were independent unless ``motion``.
        """
        if "frame_step" in self.args:
            return not self.args["frame_step"]
        return self.source == "synthetic" and not self.args.get("motion")

    def __len__(self) -> int:
        return self.num_samples

    def close(self) -> None:
        """Close this process's handle (reopened on the next access)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None
        return state

    def _handle(self) -> h5py.File:
        if self._file is None:
            self._file = open_dataset(self.path)
        return self._file

    def __getitem__(self, index: int) -> dict:
        """One sample: every field of the schema as numpy (``image`` as JPEG bytes)."""
        if not 0 <= index < self.num_samples:
            raise IndexError(f"{self.path}: sample {index} out of range [0, {self.num_samples})")
        f = self._handle()
        return {name: read(f, name, index) for name in FIELDS}

    def samples(self, indices) -> list[dict]:
        """The samples ``indices`` (any order, repeats allowed), as :meth:`__getitem__` gives.

        One read per field for the whole list (h5py's sorted selection) rather than one per
        field and sample: a batch of 32 costs about a tenth of the single reads.
        """
        indices = checked_indices(indices, self.num_samples, self.path)
        if indices.size == 0:
            return []
        rows, where = np.unique(indices, return_inverse=True)
        f = self._handle()
        fields = {name: read(f, name, rows) for name in FIELDS}
        return [{name: value[k] for name, value in fields.items()} for k in where]

    def column(self, name: str) -> np.ndarray:
        """A whole non-image field, e.g. ``"action"`` or ``"joints_cam"``."""
        if name not in FIELDS or name == "image":
            raise ValueError(f"column: {name!r} is not a numeric field of {self.path}")
        return read(self._handle(), name)
