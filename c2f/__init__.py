"""c2f: coarse-to-fine volumetric 3D human pose estimation (Pavlakos et al., CVPR 2017) in JAX."""

__version__ = "0.1.0"
