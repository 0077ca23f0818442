"""Whole body (H3WB's 133 COCO-WholeBody keypoints) on the paper network (GPU): 1-2-4-32.

The last volume of 133 joints at 64 depth bins is 34.9 M voxels per image (7.8x the 17-joint
one). Measured (docs/keypoints.md): an inference forward pass at batch 4 needs 1.29 GiB at 64
bins, 0.76 at 32, 0.50 at 16 (``c2f model --config paper --batch 4 --set
model.skeleton=coco_wholebody133 "model.depths=(1,2,4,N)"``); the bench's train step at batch
4 6.08 GiB at 64 bins, 5.15 at 32, against 4.35 for the 17-joint paper network. 32 bins of
62.5 mm over +-1 m with the soft-argmax's sub-bin read-out (integral L1, as the ``integral``
recipe) keep the depth resolution the decoder needs while halving the largest volume; 16 bins
(125 mm) would be coarser than a hand. Not trained here (no H3WB frames, no GPU). Convert the
data with ``c2f data h3wb``.
"""

from c2f.config import Config, DataConfig, OptimConfig, TrainConfig
from c2f.losses import LossConfig
from c2f.model.config import ModelConfig


def get_config() -> Config:
    return Config(
        model=ModelConfig(
            depths=(1, 2, 4, 32),
            skeleton="coco_wholebody133",
            input_res=256,
            compute_dtype="bfloat16",
        ),
        loss=LossConfig(mse_weight=0.0, l1_weight=1.0),
        data=DataConfig(root="data/h3wb", workers=16),
        optim=OptimConfig(name="adam", learning_rate=1e-3, decay_steps=(90_000, 120_000)),
        train=TrainConfig(
            batch_size=16,
            steps=140_000,
            eval_every=10_000,
            decode="soft",
            protocol="all-frames",
            programs="segments",
        ),  # fmt: skip
    )
