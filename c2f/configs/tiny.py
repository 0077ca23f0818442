"""A tiny network for tests: 2 stages (4 and 16 bins), 64 px in, 16 px out, 32 features."""

from c2f.config import Config, DataConfig, OptimConfig, TrainConfig
from c2f.losses import LossConfig
from c2f.model.config import ModelConfig


def get_config() -> Config:
    return Config(
        model=ModelConfig(
            design="uniform",
            init="lecun",
            depths=(4, 16),
            features=32,
            input_res=64,
            hourglass_levels=2,
        ),
        loss=LossConfig(mse_weight=1.0, l1_weight=0.1),
        data=DataConfig(workers=0),
        optim=OptimConfig(name="adam", learning_rate=1e-3),
        train=TrainConfig(
            batch_size=4, steps=6, log_every=2, eval_every=0, checkpoint_every=2, eval_limit=16
        ),  # fmt: skip
    )
