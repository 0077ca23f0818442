"""Configuration of the coarse-to-fine network."""

import dataclasses

import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shape and precision of :class:`c2f.model.C2FPose`.

    Attributes:
      depths: depth bins D_k of each stage's volume, coarse to fine; each divides the last.
      joints: joints J per volume.
      features: channels inside the hourglasses (256 in the paper).
      input_res: input image side, px; the output volumes are ``input_res // 4`` px square.
      hourglass_levels: max-pool downsamplings inside each hourglass.
      compute_dtype: "float32" or "bfloat16" (GPU); parameters are always float32.
      bn_momentum: running-average decay of BatchNorm statistics (PyTorch's 0.1 = 0.9 here).
    """

    depths: tuple[int, ...] = (1, 2, 4, 64)
    joints: int = 17
    features: int = 256
    input_res: int = 256
    hourglass_levels: int = 4
    compute_dtype: str = "float32"
    bn_momentum: float = 0.9

    def __post_init__(self):
        if not self.depths or not all(isinstance(d, int) and d > 0 for d in self.depths):
            raise ValueError(f"ModelConfig.depths: expected positive ints, got {self.depths!r}")
        if any(self.depths[-1] % d for d in self.depths):
            raise ValueError(f"ModelConfig.depths: each must divide the last, got {self.depths!r}")
        if self.features % 4 or self.features <= 0:
            raise ValueError(f"ModelConfig.features: a positive multiple of 4, got {self.features}")
        if self.joints <= 0:
            raise ValueError(f"ModelConfig.joints: must be positive, got {self.joints}")
        step = 4 * 2**self.hourglass_levels
        if self.input_res <= 0 or self.input_res % step:
            raise ValueError(
                f"ModelConfig.input_res: must be a positive multiple of {step} "
                f"(4 x 2^hourglass_levels), got {self.input_res}"
            )
        if self.compute_dtype not in ("float32", "bfloat16"):
            raise ValueError(
                f"ModelConfig.compute_dtype: 'float32' or 'bfloat16', got {self.compute_dtype!r}"
            )

    @property
    def output_res(self) -> int:
        """Side of the output volumes, heatmap px."""
        return self.input_res // 4

    @property
    def dtype(self):
        return jnp.dtype(self.compute_dtype)
