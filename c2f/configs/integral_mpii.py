"""Sun et al. 2018's recipe with MPII mixed in: integral L1 on every stage, half of each batch
from Human3.6M and half from MPII (2D only: supervised in x and y, c2f.losses), on the paper's
network (GPU).

What differs from Sun et al.: their network is a ResNet-50 with deconvolution layers and one
64 x 64 x 64 volume; this keeps the paper's stacked hourglasses (1-2-4-64 depth bins, each stage
supervised). The optimizer and schedule are configs/integral.py's. Convert MPII first:
``python -m data_prep.mpii --annot mpii_human_pose_v1_u12_1.mat --images images
--out data/mpii/train.h5``.
"""

import dataclasses
import pathlib

from c2f.config import load_config


def get_config():
    cfg = load_config(pathlib.Path(__file__).with_name("integral.py"))
    return dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, mix=("data/mpii/train.h5:0.5",))
    )
