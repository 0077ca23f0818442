"""The paper's recipe on Human3.6M (GPU): 4 stages of 1-2-4-64 bins, 256 px in, 64 px out,
RMSprop at 2.5e-4, per-stage voxel MSE on Gaussian targets, batch 16."""

from c2f.config import Config, DataConfig, OptimConfig, TrainConfig
from c2f.model.config import ModelConfig


def get_config() -> Config:
    return Config(
        model=ModelConfig(
            depths=(1, 2, 4, 64), features=256, input_res=256, compute_dtype="bfloat16"
        ),
        data=DataConfig(root="data/h36m", workers=16),
        optim=OptimConfig(name="rmsprop", learning_rate=2.5e-4),
        train=TrainConfig(batch_size=16, steps=150_000, eval_every=10_000, decode="hard"),
    )
