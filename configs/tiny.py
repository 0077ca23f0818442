"""A tiny network for tests: 2 stages (4 and 16 bins), 64 px in, 16 px out, 32 features."""

from c2f.config import Config
from c2f.geometry.depth_bins import DepthBins
from c2f.model.config import ModelConfig


def get_config() -> Config:
    return Config(
        model=ModelConfig(depths=(4, 16), features=32, input_res=64, hourglass_levels=2),
        depth_bins=DepthBins(num_bins=64),
    )
