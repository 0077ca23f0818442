"""The coarse-to-fine volumetric stacked-hourglass network."""

from c2f.model.c2f_pose import C2FPose, abstract_model
from c2f.model.config import ModelConfig
from c2f.model.summary import conv_macs, count_params, forward_flops

__all__ = ["C2FPose", "ModelConfig", "abstract_model", "conv_macs", "count_params", "forward_flops"]
