"""The integral-regression variant (Sun et al. 2018) of the paper network on Human3.6M (GPU):
soft-argmax + L1 on every stage, Adam with a step schedule."""

from c2f.config import Config, DataConfig, OptimConfig, TrainConfig
from c2f.losses import LossConfig
from c2f.model.config import ModelConfig


def get_config() -> Config:
    return Config(
        model=ModelConfig(
            depths=(1, 2, 4, 64), features=256, input_res=256, compute_dtype="bfloat16"
        ),
        loss=LossConfig(mse_weight=0.0, l1_weight=1.0),
        data=DataConfig(root="data/h36m", workers=16),
        optim=OptimConfig(name="adam", learning_rate=1e-3, decay_steps=(90_000, 120_000)),
        train=TrainConfig(
            batch_size=32, steps=140_000, eval_every=10_000, decode="soft", programs="segments"
        ),
    )
