"""The authors' "uniform" alternative (``hg.lua``, one residual per branch) on Human3.6M (GPU).

c2f's network before the paper's stacked design: 256 features throughout, 13,170,231
parameters at 1-2-4-64. Otherwise the paper's recipe (configs/paper.py), with batch 16.
"""

import dataclasses
import pathlib

from c2f.config import load_config
from c2f.model.config import ModelConfig


def get_config():
    cfg = load_config(pathlib.Path(__file__).with_name("paper.py"))
    model = ModelConfig(design="uniform", modules=1, depths=(1, 2, 4, 64), features=256,
                        input_res=256, init="torch", compute_dtype="bfloat16")  # fmt: skip
    return dataclasses.replace(
        cfg, model=model, train=dataclasses.replace(cfg.train, batch_size=16)
    )
