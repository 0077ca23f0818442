"""The one coordinate convention for every discrete grid in c2f.

Image pixels, crop pixels, heatmap pixels, voxels and depth bins all follow it:

* Cell ``i`` of a grid of ``n`` cells has its CENTRE at continuous coordinate ``i`` (0-based).
  The grid covers ``[-0.5, n - 0.5]``. This is the convention of camera models (Human3.6M's
  and OpenCV's principal points are in it) and of ``argmax`` indices.
* A continuous quantity ``t`` normalised to ``[0, 1]`` over the grid's extent maps to
  ``t * n - 0.5``. Two grids over the same extent relate by ``(x + 0.5) * n_to / n_from - 0.5``.

All functions here are array-agnostic (numpy or jax) and elementwise.
"""


def to_grid(t, n):
    """Normalised position ``t`` in [0, 1] over the extent -> grid coordinate of an n-cell grid."""
    return t * n - 0.5


def from_grid(x, n):
    """Grid coordinate of an n-cell grid -> normalised position in [0, 1] over the extent."""
    return (x + 0.5) / n


def rescale(x, n_from, n_to):
    """Grid coordinate on an ``n_from``-cell grid -> the same point on an ``n_to``-cell grid."""
    return (x + 0.5) * (n_to / n_from) - 0.5
