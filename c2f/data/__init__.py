"""The dataset format and the input pipeline (docs/data.md)."""

from c2f.data.augment import Augmentation, AugmentConfig, make_example, sample_augmentation
from c2f.data.loader import BatchSpec, Loader
from c2f.data.schema import SCHEMA_VERSION, DatasetError, DatasetWriter, open_dataset
from c2f.data.source import H5Source

__all__ = [
    "SCHEMA_VERSION",
    "AugmentConfig",
    "Augmentation",
    "BatchSpec",
    "DatasetError",
    "DatasetWriter",
    "H5Source",
    "Loader",
    "make_example",
    "open_dataset",
    "sample_augmentation",
]
