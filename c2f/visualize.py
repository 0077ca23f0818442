"""Pictures of predictions: 2D skeletons on images and 3D skeletons from two viewpoints.

``python -m c2f.visualize --workdir DIR [--n 4] [--out FILE.png]`` draws test samples of a
trained run: the input crop with the predicted (coloured) and ground-truth (white) 2D skeletons,
then the 3D skeletons (prediction coloured, ground truth grey) seen from the front and the side.
"""

import numpy as np
from PIL import Image, ImageDraw

from c2f.skeleton import BONES, JOINT_NAMES

_LEFT, _RIGHT, _MID = (40, 110, 255), (255, 70, 40), (200, 60, 220)


def _bone_colour(child: int):
    name = JOINT_NAMES[child]
    return _LEFT if name.startswith("L") else _RIGHT if name.startswith("R") else _MID


def draw_2d(image: np.ndarray, uv, gt_uv=None, width: int = 2) -> np.ndarray:
    """``image`` [H, W, 3] uint8 with the skeleton at ``uv`` [17, 2] px (and ``gt_uv`` in white)."""
    img = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(img)
    if gt_uv is not None:
        for p, c in BONES:
            draw.line(
                [tuple(map(float, gt_uv[p])), tuple(map(float, gt_uv[c]))],
                fill=(255, 255, 255),
                width=width,
            )
    for p, c in BONES:
        draw.line(
            [tuple(map(float, uv[p])), tuple(map(float, uv[c]))], fill=_bone_colour(c), width=width
        )
    return np.asarray(img)


def draw_3d(pred_mm, gt_mm=None, size: int = 256, extent_mm: float = 1100.0) -> np.ndarray:
    """Front (x-y) and side (z-y) orthographic views of root-relative skeletons.

    Returns:
      [size, 2 * size, 3] uint8.
    """
    panel = Image.new("RGB", (2 * size, size), (250, 250, 250))
    draw = ImageDraw.Draw(panel)
    scale = size / (2 * extent_mm)

    def to_px(p, view):
        h = p[0] if view == 0 else p[2]
        return (view * size + size / 2 + h * scale, size / 2 + p[1] * scale)

    for view in (0, 1):
        draw.line([(view * size, 0), (view * size, size)], fill=(180, 180, 180))
        draw.text(
            (view * size + 4, 4), "front (x, y)" if view == 0 else "side (z, y)", fill=(0, 0, 0)
        )
        for joints, colour in ((gt_mm, (150, 150, 150)), (pred_mm, None)):
            if joints is None:
                continue
            for p, c in BONES:
                fill = colour or _bone_colour(c)
                draw.line([to_px(joints[p], view), to_px(joints[c], view)], fill=fill, width=3)
    return np.asarray(panel)


def sample_figure(image, uv, gt_uv, pred_mm, gt_mm, min_size: int = 192) -> np.ndarray:
    """One row: the crop with 2D skeletons, then the 3D views, at least ``min_size`` px high."""
    zoom = max(1, -(-min_size // image.shape[0]))
    if zoom > 1:  # small demo crops: enlarge so the skeletons are legible
        size = image.shape[0] * zoom
        image = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
        uv = (np.asarray(uv) + 0.5) * zoom - 0.5
        gt_uv = None if gt_uv is None else (np.asarray(gt_uv) + 0.5) * zoom - 0.5
    size = image.shape[0]
    left = draw_2d(image, uv, gt_uv)
    right = draw_3d(pred_mm, gt_mm, size=size)
    return np.concatenate([left, right], axis=1)


def depth_slice(volume, size: int) -> np.ndarray:
    """A heatmap's slice through its peak: [J, D, H, W] -> [size, size * 3, 3] uint8.

    Three joints (head, left wrist, right ankle); each panel is the H x W slice at the depth of
    that joint's maximum, scaled to [0, 255] and enlarged to ``size`` px.
    """
    panels = []
    for joint in (10, 13, 3):
        v = np.asarray(volume[joint], np.float32)
        d = np.unravel_index(np.argmax(v), v.shape)[0]
        s = v[d]
        s = (255 * (s - s.min()) / max(float(s.max() - s.min()), 1e-9)).astype(np.uint8)
        img = Image.fromarray(s).resize((size, size), Image.Resampling.NEAREST)
        panels.append(np.asarray(img.convert("RGB")))
    return np.concatenate(panels, axis=1)


_FORWARD = {}


def figure(cfg, graphdef, state, source, indices, mesh=None, heatmap: bool = False) -> np.ndarray:
    """Rows of :func:`sample_figure` for samples ``indices`` of a dataset, predicted by a model.

    With ``heatmap``, a last row shows depth slices of the first sample's finest volume.
    """
    import jax

    from c2f.train.evaluate import test_loader
    from c2f.train.sharding import make_mesh, shard_batch
    from c2f.train.steps import make_eval_step

    mesh = mesh or make_mesh()
    loader, _ = test_loader(cfg, source)
    n = len(indices)
    size = -(-n // mesh.size) * mesh.size
    batch = loader.batch_of(np.resize(np.asarray(indices), size))
    key = ("eval", graphdef, cfg.train.decode)
    if key not in _FORWARD:  # compiled once per model graph, not at every call
        _FORWARD[key] = make_eval_step(cfg, graphdef, how=cfg.train.decode)
    out = jax.device_get(_FORWARD[key](state, shard_batch(batch, mesh, size)))
    scale = cfg.model.input_res / cfg.model.output_res
    rows = []
    for i in range(n):
        uv = (out["coords"][i, :, :2] + 0.5) * scale - 0.5
        rows.append(
            sample_figure(
                batch["image"][i],
                uv,
                batch["uv_input"][i],
                out["pred_mm"][i],
                batch["joints_rel_mm"][i],
            )
        )
    return np.concatenate(rows, axis=0)


def main(argv=None) -> int:
    import argparse
    import pathlib

    from c2f.data import H5Source
    from c2f.train.checkpoint import load_run

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--checkpoint", type=int, help="step (default: the latest)")
    p.add_argument("--data", help="dataset file (default: the run's test split)")
    p.add_argument("--n", type=int, default=4, help="samples to draw")
    p.add_argument("--out", help="PNG path (default: WORKDIR/predictions.png)")
    args = p.parse_args(argv)
    cfg, graphdef, state, _ = load_run(args.workdir, step=args.checkpoint)
    data = args.data or str(pathlib.Path(cfg.data.root) / cfg.data.test_file)
    source = H5Source(data)
    indices = np.linspace(0, len(source) - 1, args.n).astype(int)
    out = pathlib.Path(args.out or pathlib.Path(args.workdir) / "predictions.png")
    Image.fromarray(figure(cfg, graphdef, state, source, indices)).save(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
