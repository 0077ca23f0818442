"""The paper's network and targets: 4 stages with 1-2-4-64 depth bins, 256 px in, 64 px out."""

from c2f.config import Config
from c2f.model.config import ModelConfig


def get_config() -> Config:
    return Config(model=ModelConfig(depths=(1, 2, 4, 64), features=256, input_res=256))
