"""The paper's recipe on Human3.6M (GPU), as the authors' training code sets it.

Every setting and its source in geopavlakos/c2f-vol-train (``src/opts.lua`` options and the
README's training command ``th main.lua -netType hg-stacked-4 -task pose-c2f -nStack 4
-resZ 1,2,4,64 -LR 2.5e-4 -nEpochs 1000 -trainIters 1000``):

* network: ``hg-stacked-4.lua`` (README: "to replicate the models used in our paper"),
  ``-nFeats 256``, hourglass outputs 512, 4 pooling levels, ``-resZ 1,2,4,64``,
  ``-inputRes 256``, ``-outputRes 64``; Torch7's default initialisation (nothing in the Lua
  overrides ``reset()``).
* targets: ``drawGaussian3D`` with ``sigma_2d = 2`` (``src/util/pose-c2f.lua``), the
  authors' mode, voxel MSE on every stage (``nn.ParallelCriterion`` of ``nn.MSECriterion``,
  weights 1).
* optimiser: ``-optMethod rmsprop -LR 2.5e-4``, ``-LRdecay 0``, ``-momentum 0``,
  ``-weightDecay 0``; Torch ``optim.rmsprop`` alpha 0.99, epsilon 1e-8 outside the square root.
* batch: ``-trainBatch 4`` (the README's command does not change it).
* length: at most ``-nEpochs 1000`` x ``-trainIters 1000`` = 1,000,000 iterations. train.lua
  (lines 112-119) stops early when the TRAINING accuracy (PCK of the last stage at 64/10 px)
  grew by less than ``-threshold 0.001`` over ``floor(nsamples / (trainIters * trainBatch *
  2))`` epochs. c2f does not implement that stop: set ``train.steps`` for your budget and pick
  the checkpoint by the test error (``checkpoints/best``).
* augmentation: ``-scaleFactor 0.25``, ``-rotFactor 30`` (rotation on 40 % of samples), colour
  0.8-1.2 per channel, flip 0.5 (``src/data.lua`` lines 84-108): c2f's defaults, warped and
  coloured on the device (``data.augment_on="device"``: a GPU step outruns the host's warps).
* evaluation: the authors' protocol (``c2f.evaluation.protocols``: "paper").

Deviations, and why: ``compute_dtype`` bfloat16 (parameters and the soft-argmax stay float32)
halves a GPU step's time and memory; set ``model.compute_dtype=float32`` for the authors'
arithmetic. The authors draw targets on the unaugmented crop and warp the target volumes with
the image (bilinear); c2f draws them at the augmented joint position (no interpolation blur).
"""

from c2f.config import Config, DataConfig, OptimConfig, TrainConfig
from c2f.losses import LossConfig
from c2f.model.config import ModelConfig
from c2f.volume import TargetConfig


def get_config() -> Config:
    return Config(
        model=ModelConfig(
            design="stacked",
            depths=(1, 2, 4, 64),
            features=256,
            wide_features=512,
            input_res=256,
            hourglass_levels=4,
            init="torch",
            compute_dtype="bfloat16",
        ),
        targets=TargetConfig(mode="authors", sigma_xy=2.0),
        loss=LossConfig(mse_weight=1.0, l1_weight=0.0),
        data=DataConfig(root="data/h36m", workers=16, augment_on="device"),
        optim=OptimConfig(name="rmsprop", learning_rate=2.5e-4),
        train=TrainConfig(
            batch_size=4,
            steps=1_000_000,
            eval_every=20_000,
            checkpoint_every=5_000,
            decode="argmax",
            protocol="paper",
            programs="segments",
        ),
    )
