"""The embedded default on a CPU: a small coarse-to-fine network on the synthetic dataset.

2 stages (4 and 16 depth bins), 64 px in, 16 px out, 64 features; integral L1 on every stage
(the soft-argmax localises far below a heatmap pixel, which a 16 px heatmap needs), Adam with a
step schedule. ``make demo`` trains it in about 11 minutes on 2 cores.
"""

from c2f.config import Config, DataConfig, OptimConfig, TrainConfig
from c2f.data.augment import AugmentConfig
from c2f.losses import LossConfig
from c2f.model.config import ModelConfig

STEPS = 1800


def get_config() -> Config:
    return Config(
        model=ModelConfig(
            design="uniform",
            init="lecun",
            depths=(4, 16),
            features=64,
            input_res=64,
            hourglass_levels=2,
        ),
        loss=LossConfig(mse_weight=0.0, l1_weight=1.0),
        data=DataConfig(root="data/synthetic", workers=1, augment=AugmentConfig()),
        optim=OptimConfig(
            name="adam",
            learning_rate=2e-3,
            decay_steps=(int(0.7 * STEPS), int(0.9 * STEPS)),
            warmup_steps=100,
        ),  # fmt: skip
        train=TrainConfig(
            batch_size=32,
            steps=STEPS,
            log_every=50,
            eval_every=800,
            checkpoint_every=200,
            decode="soft",
        ),  # fmt: skip
    )
