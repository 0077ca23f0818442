"""The decoders: volume -> voxel coordinates, one table of names.

``DECODERS`` is the extension point: every command-line ``--decode`` (``choices``), the
configuration's validation and the evaluation protocols read its names. Adding a decoder is
one entry here.
"""

import functools

from c2f.volume.hard_argmax import hard_argmax_3d
from c2f.volume.soft_argmax import soft_argmax_3d

DECODERS = {
    # name: (function [..., J, D, H, W] -> [..., J, 3], one line for help texts)
    "soft": (soft_argmax_3d, "3D soft-argmax (integral regression)"),
    "hard": (
        functools.partial(hard_argmax_3d, refine=True),
        "argmax refined to sub-voxel by a parabola through its neighbours",
    ),
    "argmax": (
        functools.partial(hard_argmax_3d, refine=False),
        "the paper's: the highest voxel's centre",
    ),
}
DECODES = tuple(DECODERS)


def check_decode(name: str) -> str:
    """``name`` if it is a decoder of :data:`DECODERS`; else a ValueError listing them."""
    if name not in DECODERS:
        raise ValueError(f"decode: one of {DECODES}, got {name!r}")
    return name


def decode(volume, how: str):
    """[B, J, D, H, W] -> [B, J, 3] voxel coordinates (x, y heatmap px; z bins).

    ``how``: a name of :data:`DECODERS` ("soft", "hard" or "argmax").
    """
    return DECODERS[check_decode(how)][0](volume)
