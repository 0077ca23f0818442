"""c2f: coarse-to-fine volumetric 3D keypoint estimation (Pavlakos et al., CVPR 2017) in JAX.

The public facade: ``from c2f import Predictor``. The command line is ``c2f`` (:mod:`c2f.cli`).
"""

__version__ = "0.2.0"
__all__ = ["Predictor", "__version__"]


def __getattr__(name):
    # Lazy: the Predictor imports jax (2.7 s, measured cold on the 2-core CI machine), which
    # `import c2f` for the version or the command's help should not pay.
    if name == "Predictor":
        from c2f.serving.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'c2f' has no attribute {name!r}")
