"""c2f: coarse-to-fine volumetric 3D human pose estimation (Pavlakos et al., CVPR 2017) in JAX."""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy: importing c2f should not import jax-heavy modules until they are used.
    if name == "Predictor":
        from c2f.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'c2f' has no attribute {name!r}")
