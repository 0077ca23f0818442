"""Root-relative depth <-> depth-bin coordinates.

The paper discretises the depth of each joint relative to the root (pelvis), along the camera's
optical axis, into 64 uniform bins from -1005.19 mm to 980.86 mm (31.03 mm each; the edges are
``voxel_limits.mat`` of the authors' code). A stage with ``D`` bins (``D`` dividing 64) uses the
same range with ``64 / D`` fine bins merged into one.

Bin coordinates follow :mod:`c2f.grid`: bin ``d`` of ``D`` has its centre at ``d``; the range
covers ``[-0.5, D - 0.5]``. Depths beyond the range map outside it (no clamping here).
"""

import dataclasses

import numpy as np

from c2f import grid
from c2f.checks import check_array, check_positive

PAPER_DEPTH_MIN_MM = -1005.1859029814127
PAPER_DEPTH_MAX_MM = 980.8598618317474
PAPER_NUM_BINS = 64


@dataclasses.dataclass(frozen=True)
class DepthBins:
    """A depth range split into uniform bins.

    Attributes:
      min_mm: lower edge of the first bin, root-relative mm (negative: nearer the camera).
      max_mm: upper edge of the last bin, mm.
      num_bins: bins at the finest resolution; coarser resolutions must divide it.
    """

    min_mm: float = PAPER_DEPTH_MIN_MM
    max_mm: float = PAPER_DEPTH_MAX_MM
    num_bins: int = PAPER_NUM_BINS

    def __post_init__(self):
        if not self.max_mm > self.min_mm:
            raise ValueError(
                f"DepthBins: max_mm ({self.max_mm}) must exceed min_mm ({self.min_mm})"
            )
        check_positive("DepthBins.num_bins", self.num_bins)

    def _check_resolution(self, depth: int) -> None:
        if not (isinstance(depth, int) and depth > 0 and self.num_bins % depth == 0):
            raise ValueError(f"depth: {depth!r} bins must be a positive divisor of {self.num_bins}")

    def bin_width_mm(self, depth: int | None = None) -> float:
        """Width of one bin at resolution ``depth`` (default: the finest), mm."""
        depth = self.num_bins if depth is None else depth
        self._check_resolution(depth)
        return (self.max_mm - self.min_mm) / depth

    def edges_mm(self, depth: int | None = None):
        """[depth + 1] bin edges in mm (numpy)."""
        depth = self.num_bins if depth is None else depth
        self._check_resolution(depth)
        return np.linspace(self.min_mm, self.max_mm, depth + 1)

    def to_bins(self, z_mm, depth: int | None = None):
        """Root-relative depth [...] mm -> continuous bin coordinate [...] at ``depth`` bins."""
        depth = self.num_bins if depth is None else depth
        self._check_resolution(depth)
        z_mm = check_array("z_mm", z_mm)
        return grid.to_grid((z_mm - self.min_mm) / (self.max_mm - self.min_mm), depth)

    def to_mm(self, z_bins, depth: int | None = None):
        """Continuous bin coordinate [...] at ``depth`` bins -> root-relative depth [...] mm."""
        depth = self.num_bins if depth is None else depth
        self._check_resolution(depth)
        z_bins = check_array("z_bins", z_bins, kind="number")
        return self.min_mm + grid.from_grid(z_bins, depth) * (self.max_mm - self.min_mm)
