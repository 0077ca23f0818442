"""The experiment configuration: frozen dataclasses, one file per recipe in ``configs/``.

A recipe is a Python file defining ``get_config() -> Config``; load it with
:func:`load_config`.
"""

import dataclasses
import importlib.util
import pathlib

from c2f.geometry.depth_bins import DepthBins
from c2f.losses import LossConfig
from c2f.model.config import ModelConfig
from c2f.volume.targets import TargetConfig


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that defines the network and what it is trained to predict."""

    model: ModelConfig = ModelConfig()
    targets: TargetConfig = TargetConfig()
    loss: LossConfig = LossConfig()
    depth_bins: DepthBins = DepthBins()

    def __post_init__(self):
        if self.depth_bins.num_bins % self.model.depths[-1]:
            raise ValueError(
                f"Config: model.depths[-1] ({self.model.depths[-1]}) must divide "
                f"depth_bins.num_bins ({self.depth_bins.num_bins})"
            )
        if len(self.loss.stage_weights) not in (0, len(self.model.depths)):
            raise ValueError(
                f"Config: loss.stage_weights has {len(self.loss.stage_weights)} entries for "
                f"{len(self.model.depths)} stages"
            )


def load_config(path: str | pathlib.Path) -> Config:
    """Load ``get_config()`` from a recipe file such as ``configs/paper.py``.

    Raises:
      ValueError: if the file is missing or does not define ``get_config`` returning a Config.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"config: no such file {str(path)!r}")
    spec = importlib.util.spec_from_file_location(f"c2f_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ValueError(f"config: {str(path)!r} defines no get_config()")
    cfg = module.get_config()
    if not isinstance(cfg, Config):
        raise ValueError(f"config: get_config() in {str(path)!r} returned {type(cfg).__name__}")
    return cfg
