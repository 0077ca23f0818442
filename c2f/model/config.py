"""Configuration of the coarse-to-fine network."""

import dataclasses
import json

import jax.numpy as jnp

from c2f.skeleton import H36M17, Skeleton, get

# The designs, an extension point (name -> one line for help texts); C2FPose builds each.
DESIGNS = {
    "stacked": "the paper's hg-stacked-N.lua (wide branches, two lin layers per stage)",
    "uniform": "the authors' hg.lua: 256 features throughout",
}
INITS = ("torch", "lecun")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shape and precision of :class:`c2f.model.C2FPose`.

    Two designs, both from the authors' training code (geopavlakos/c2f-vol-train,
    ``src/models/``):

    * ``"stacked"``: ``hg-stacked-{2,3,4}.lua``, the networks of the paper. Hourglass branches of
      three residuals, ``wide_features`` (512) hourglass outputs, two 1x1 "lin" layers per stage
      and the concatenation of consecutive stages' features (:mod:`c2f.model.stacked`).
    * ``"uniform"``: ``hg.lua``, ``features`` channels throughout, ``modules`` residuals per
      branch (``-nModules``), residual re-injection (:mod:`c2f.model.uniform`).

    Attributes:
      design: "stacked" (the paper's) or "uniform".
      depths: depth bins D_k of each stage's volume, coarse to fine; each divides the last.
      joints: joints J per volume: the skeleton's (set ``skeleton``; a different value is
        an error). 17, the default, follows any skeleton.
      skeleton: the keypoint set (:mod:`c2f.skeleton`; a registered name, a Skeleton, or its
        JSON dict), or None: the training file's (``c2f train`` fills it in before anything is
        built or written, and the run records it). Read it as :attr:`keypoints`.
      features: channels inside the hourglasses (256 in the paper); the stem has features/4
        and features/2 channels (64, 128).
      wide_features: "stacked" only: hourglass outputs and the first lin layer (512 in the
        paper).
      modules: "uniform" only: residual modules per hourglass branch (``hg.lua``'s nModules).
      input_res: input image side, px; the output volumes are ``input_res // 4`` px square.
      hourglass_levels: max-pool downsamplings inside each hourglass.
      compute_dtype: "float32" or "bfloat16" (GPU); parameters are always float32.
      bn_momentum: running-average decay of BatchNorm statistics (Torch's 0.1 = 0.9 here).
      init: "torch" (Torch7's defaults, as the authors trained: convolution weights and biases
        uniform in +-1/sqrt(fan_in), BatchNorm scales uniform in [0, 1]) or "lecun" (flax's
        LeCun-normal kernels, zero biases, unit BatchNorm scales).
    """

    design: str = "stacked"
    depths: tuple[int, ...] = (1, 2, 4, 64)
    joints: int = 17
    features: int = 256
    wide_features: int = 512
    modules: int = 1
    input_res: int = 256
    hourglass_levels: int = 4
    compute_dtype: str = "float32"
    bn_momentum: float = 0.9
    init: str = "torch"
    skeleton: Skeleton | None = None

    def __post_init__(self):
        if isinstance(self.skeleton, str):
            object.__setattr__(self, "skeleton", get(self.skeleton))
        elif isinstance(self.skeleton, dict):
            object.__setattr__(self, "skeleton", Skeleton.from_json(json.dumps(self.skeleton)))
        elif self.skeleton is not None and not isinstance(self.skeleton, Skeleton):
            raise ValueError(f"ModelConfig.skeleton: a skeleton name, got {self.skeleton!r}")
        if self.skeleton is not None and self.joints != self.skeleton.num_joints:
            if self.joints != H36M17.num_joints:  # 17 is the default: it follows the skeleton
                raise ValueError(
                    f"ModelConfig.joints: {self.joints}, but skeleton {self.skeleton.name!r} has "
                    f"{self.skeleton.num_joints} joints (joints follows the skeleton)"
                )
            object.__setattr__(self, "joints", self.skeleton.num_joints)
        if self.design not in DESIGNS:
            raise ValueError(f"ModelConfig.design: one of {tuple(DESIGNS)}, got {self.design!r}")
        if self.init not in INITS:
            raise ValueError(f"ModelConfig.init: one of {INITS}, got {self.init!r}")
        if not self.depths or not all(isinstance(d, int) and d > 0 for d in self.depths):
            raise ValueError(f"ModelConfig.depths: expected positive ints, got {self.depths!r}")
        if any(self.depths[-1] % d for d in self.depths):
            raise ValueError(f"ModelConfig.depths: each must divide the last, got {self.depths!r}")
        if self.design == "stacked" and len(self.depths) < 2:
            raise ValueError(
                "ModelConfig.depths: the stacked design (hg-stacked-N.lua) needs at least 2 "
                f"stages, got {self.depths!r}"
            )
        for name in ("features", "wide_features"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0 or value % 4:
                raise ValueError(f"ModelConfig.{name}: a positive multiple of 4, got {value!r}")
        if not isinstance(self.modules, int) or self.modules < 1:
            raise ValueError(f"ModelConfig.modules: a positive int, got {self.modules!r}")
        if self.joints <= 0:
            raise ValueError(f"ModelConfig.joints: must be positive, got {self.joints}")
        if not isinstance(self.hourglass_levels, int) or self.hourglass_levels < 1:
            raise ValueError(
                f"ModelConfig.hourglass_levels: a positive int, got {self.hourglass_levels!r}"
            )
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
    def keypoints(self) -> Skeleton:
        """The run's skeleton (Human3.6M's 17 joints where none is recorded).

        Raises:
          ValueError: ``joints`` is not 17 and no skeleton says which joints they are (a
            config before ``c2f train`` took the data's skeleton).
        """
        skeleton = self.skeleton or H36M17
        if skeleton.num_joints != self.joints:
            raise ValueError(
                f"ModelConfig: {self.joints} joints but no skeleton names them; set "
                "model.skeleton (c2f train takes the training file's)"
            )
        return skeleton

    @property
    def output_res(self) -> int:
        """Side of the output volumes, heatmap px."""
        return self.input_res // 4

    @property
    def dtype(self):
        return jnp.dtype(self.compute_dtype)
