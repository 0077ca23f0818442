"""Gaussian voxel targets, built from joint coordinates on the device.

Two modes (:class:`TargetConfig`): ``"authors"`` reproduces the authors' integer-cell targets
exactly (:mod:`c2f.volume.authors_target`; the paper config uses it); ``"continuous"``, below,
centres sub-pixel Gaussians on the true coordinates.

A target is the outer product of three 1-D Gaussians (never a dense 3-D loop), amplitude 1:
``t[j, d, h, w] = gx[j, w] * gy[j, h] * gz[j, d]`` with ``gx[j, w] = exp(-(w - x_j)^2 / 2 sx^2)``.

Default widths (documented choice; the paper fixes sigma = 2 heatmap px in x and y):

* x, y: ``sigma_xy = 2`` px at every stage.
* z: the authors' code widens the depth kernel as the depth resolution grows and uses a single
  depth slice for coarse stages. We keep the kernel's physical width constant,
  ``sigma_z = sigma_z_finest * D / D_finest`` bins (2 bins = 62 mm at the paper's 64), but never
  narrower than ``min_sigma_z`` = 1 bin (a sampled Gaussian narrower than a bin is a poor,
  biased target); and for ``D <= single_slice_max_depth`` (4) the target is the single slice of
  the bin that contains z (one-hot in z), as in the paper's 1-2-4 coarse stages.
"""

import dataclasses

import jax.numpy as jnp

from c2f.checks import check_array


@dataclasses.dataclass(frozen=True)
class TargetConfig:
    """Kind and widths of the Gaussian targets (see the module docstring for the rule).

    Attributes:
      mode: "continuous" (sub-pixel Gaussians, the widths below) or "authors" (the authors'
        ``drawGaussian3D``, sigma_xy = 2 px and their depth kernel; only ``sigma_xy`` applies,
        as an integer).
    """

    mode: str = "continuous"
    sigma_xy: float = 2.0
    sigma_z_finest: float = 2.0
    min_sigma_z: float = 1.0
    single_slice_max_depth: int = 4

    def __post_init__(self):
        if self.mode not in ("continuous", "authors"):
            raise ValueError(f"TargetConfig.mode: 'continuous' or 'authors', got {self.mode!r}")
        if self.mode == "authors" and self.sigma_xy != int(self.sigma_xy):
            raise ValueError(
                f"TargetConfig.sigma_xy: the authors' targets need an integer, got {self.sigma_xy}"
            )
        for name in ("sigma_xy", "sigma_z_finest", "min_sigma_z"):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"TargetConfig.{name}: must be positive, got {getattr(self, name)}"
                )


def target_sigmas(depth: int, finest_depth: int, cfg: TargetConfig = TargetConfig()):
    """(sigma_x, sigma_y, sigma_z) for a stage with ``depth`` bins; sigma_z is None for one slice.

    Args:
      depth: the stage's depth resolution D.
      finest_depth: the finest depth resolution of the model (64 in the paper).
      cfg: widths.
    """
    if depth <= cfg.single_slice_max_depth:
        sigma_z = None
    else:
        sigma_z = max(cfg.sigma_z_finest * depth / finest_depth, cfg.min_sigma_z)
    return cfg.sigma_xy, cfg.sigma_xy, sigma_z


def _gauss_1d(n: int, mu, sigma):
    """[..., n] samples of exp(-(i - mu)^2 / 2 sigma^2) for i = 0..n-1; mu is [...]."""
    i = jnp.arange(n, dtype=jnp.float32)
    return jnp.exp(-((i - mu[..., None]) ** 2) / (2.0 * sigma**2))


def gaussian_target(coords, shape: tuple[int, int, int], sigma: tuple[float, float, float | None]):
    """Gaussian voxel targets of every joint.

    Args:
      coords: [J, 3] (x, y, z) in voxel units of this volume (:mod:`c2f.volume` convention).
      shape: (D, H, W) of the volume.
      sigma: (sigma_x, sigma_y, sigma_z) in voxels; ``sigma_z=None`` puts all of the target in
        the one depth slice that contains z (none if z is outside the volume).

    Returns:
      [J, D, H, W] float32 targets with values in [0, 1] (1 at a voxel centre that coincides
      with the joint).
    """
    coords = check_array("coords", coords, (None, 3))
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"shape: expected (D, H, W) positive ints, got {shape!r}")
    depth, height, width = shape
    coords = jnp.asarray(coords, jnp.float32)
    gx = _gauss_1d(width, coords[:, 0], sigma[0])
    gy = _gauss_1d(height, coords[:, 1], sigma[1])
    if sigma[2] is None:
        # jnp.round halves to even; floor(z + 0.5) puts a boundary z in the upper bin.
        gz = jnp.floor(coords[:, 2] + 0.5)[:, None] == jnp.arange(depth)
        gz = gz.astype(jnp.float32)
    else:
        gz = _gauss_1d(depth, coords[:, 2], sigma[2])
    return gz[:, :, None, None] * gy[:, None, :, None] * gx[:, None, None, :]
