"""Pictures of predictions: 2D skeletons on images and 3D skeletons from two viewpoints.

Used by ``c2f draw`` (test samples of a run: the input crop with the predicted (coloured) and
ground-truth (white) 2D skeletons, then the 3D skeletons, prediction coloured and ground truth
grey, seen from the front and the side), ``c2f eval --vis``, ``c2f predict``, ``c2f video`` and
the training loop's image summaries.
"""

import functools

import numpy as np
from PIL import Image, ImageDraw

from c2f.skeleton import Skeleton

_LEFT, _RIGHT, _MID = (40, 110, 255), (255, 70, 40), (200, 60, 220)


_SIDE_COLOURS = {"L": _LEFT, "R": _RIGHT, "M": _MID}


def _bone_colour(skeleton: Skeleton, child: int):
    """A bone's colour: the subject's left cool, right warm, the middle purple."""
    return _SIDE_COLOURS[skeleton.joint_sides[child]]


def draw_2d(image: np.ndarray, uv, skeleton: Skeleton, gt_uv=None, width: int = 2) -> np.ndarray:
    """``image`` [H, W, 3] uint8 with the skeleton at ``uv`` [J, 2] px (and ``gt_uv`` in white)."""
    img = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(img)
    if gt_uv is not None:
        for p, c in skeleton.bones:
            draw.line(
                [tuple(map(float, gt_uv[p])), tuple(map(float, gt_uv[c]))],
                fill=(255, 255, 255),
                width=width,
            )
    for p, c in skeleton.bones:
        draw.line(
            [tuple(map(float, uv[p])), tuple(map(float, uv[c]))],
            fill=_bone_colour(skeleton, c),
            width=width,
        )
    return np.asarray(img)


@functools.lru_cache(maxsize=8)
def _panel_background(size: int) -> np.ndarray:
    """The 3D panel without skeletons (text costs most of a panel's drawing: made once)."""
    panel = Image.new("RGB", (2 * size, size), (250, 250, 250))
    draw = ImageDraw.Draw(panel)
    for view in (0, 1):
        draw.line([(view * size, 0), (view * size, size)], fill=(180, 180, 180))
        draw.text(
            (view * size + 4, 4), "front (x, y)" if view == 0 else "side (z, y)", fill=(0, 0, 0)
        )
    background = np.asarray(panel)
    background.flags.writeable = False
    return background


def draw_3d(pred_mm, skeleton: Skeleton, gt_mm=None, size: int = 256,
            extent_mm: float | None = None) -> np.ndarray:  # fmt: skip
    """Front (x-y) and side (z-y) orthographic views of root-relative skeletons.

    ``extent_mm``: half the side shown (default the skeleton's ``extent_mm``). The parts of a
    skeleton of several parts are each drawn about their own root.

    Returns:
      [size, 2 * size, 3] uint8.
    """
    panel = Image.fromarray(_panel_background(size).copy())
    draw = ImageDraw.Draw(panel)
    scale = size / (2 * (extent_mm or skeleton.extent_mm))

    def to_px(p, view):
        h = p[0] if view == 0 else p[2]
        return (view * size + size / 2 + h * scale, size / 2 + p[1] * scale)

    for view in (0, 1):
        for joints, colour in ((gt_mm, (150, 150, 150)), (pred_mm, None)):
            if joints is None:
                continue
            for p, c in skeleton.bones:
                fill = colour or _bone_colour(skeleton, c)
                draw.line([to_px(joints[p], view), to_px(joints[c], view)], fill=fill, width=3)
    return np.asarray(panel)


def sample_figure(image, uv, gt_uv, pred_mm, gt_mm, skeleton: Skeleton,
                  min_size: int = 192) -> np.ndarray:  # fmt: skip
    """One row: the crop with 2D skeletons, then the 3D views, at least ``min_size`` px high."""
    zoom = max(1, -(-min_size // image.shape[0]))
    if zoom > 1:  # small demo crops: enlarge so the skeletons are legible
        size = image.shape[0] * zoom
        image = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
        uv = (np.asarray(uv) + 0.5) * zoom - 0.5
        gt_uv = None if gt_uv is None else (np.asarray(gt_uv) + 0.5) * zoom - 0.5
    size = image.shape[0]
    left = draw_2d(image, uv, skeleton, gt_uv)
    right = draw_3d(pred_mm, skeleton, gt_mm, size=size)
    return np.concatenate([left, right], axis=1)


def figure(pictures: dict, cfg) -> np.ndarray:
    """Rows of :func:`sample_figure` for the samples an evaluation kept.

    Args:
      pictures: ``result["pictures"]`` of :func:`c2f.evaluation.evaluate.evaluate` (crops, true 2D
        joints in crop px, decoded heatmap coordinates, predicted and true root-relative mm).
      cfg: the run's configuration (input and heatmap resolutions, the skeleton).
    """
    if len(pictures["image"]) == 0:
        raise ValueError("pictures: no samples were kept to draw")
    scale = cfg.model.input_res / cfg.model.output_res
    rows = []
    for i in range(len(pictures["image"])):
        uv = (pictures["coords"][i, :, :2] + 0.5) * scale - 0.5  # heatmap px -> crop px
        true_uv, pred, true = (pictures[k][i] for k in ("uv_input", "pred_mm", "joints_rel_mm"))
        rows.append(
            sample_figure(pictures["image"][i], uv, true_uv, pred, true, cfg.model.keypoints)
        )
    return np.concatenate(rows, axis=0)
