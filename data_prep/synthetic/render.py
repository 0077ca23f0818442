"""A small ray-casting renderer of people as shaded 3D capsules, in numpy.

Every pixel of the output casts a ray through a pinhole camera; the nearest hit among the body's
capsules (limbs, torso) and spheres (head) wins (exact perspective and occlusion by depth). The
body is shaded from its surface normals with a directional light plus ambient, so depth is
visible; limbs have per-part colours that tell left from right. Behind it: a checkered floor
(the world plane z = 0) and a wall gradient, with random colours, plus sensor noise.

The renderer draws any 3D pose through any camera into any crop box (a [2, 3] affine from
original-image pixels to output pixels), so held-out motion can be rendered the same way.
"""

import numpy as np

from c2f.geometry.crop import invert_affine

# (joint a, joint b, radius mm, part) for every capsule; a == b is a sphere.
CAPSULES = (
    (0, 1, 65, "torso"), (0, 4, 65, "torso"), (1, 2, 70, "right_leg"), (2, 3, 50, "right_leg"),
    (4, 5, 70, "left_leg"), (5, 6, 50, "left_leg"), (0, 8, 125, "torso"), (8, 9, 45, "head"),
    (9, 10, 95, "head"), (8, 11, 55, "torso"), (8, 14, 55, "torso"), (11, 12, 45, "left_arm"),
    (12, 13, 38, "left_arm"), (14, 15, 45, "right_arm"), (15, 16, 38, "right_arm"),
)  # fmt: skip
PART_COLOURS = {  # RGB 0..1; left limbs cool, right limbs warm
    "torso": (0.62, 0.36, 0.78),
    "head": (0.93, 0.76, 0.62),
    "left_leg": (0.16, 0.38, 0.92),
    "right_leg": (0.92, 0.24, 0.16),
    "left_arm": (0.20, 0.78, 0.36),
    "right_arm": (0.96, 0.68, 0.12),
}


_CAP_A = np.array([c[0] for c in CAPSULES])
_CAP_B = np.array([c[1] for c in CAPSULES])
_CAP_R = np.array([c[2] for c in CAPSULES], np.float32)
_LIGHT = (np.array([-0.4, -0.7, -0.6]) / np.linalg.norm([-0.4, -0.7, -0.6])).astype(np.float32)
_NOISE = np.random.default_rng(12345).normal(0.5, 0.015 * 255, (640, 640, 3)).astype(np.float32)


def _dot(x, y):
    return np.einsum("ij,ij->i", x, y)


def _hit_capsules(rays, pa, pb, r):
    """Distance along unit ``rays`` [N, 3] (from the camera centre) to capsules; inf if missed.

    Row i tests ray i against the capsule from ``pa[i]`` to ``pb[i]`` of radius ``r[i]``:
    the cylinder's side first, then the sphere at the end the ray is nearest to.
    """
    ba = pb - pa
    oa = -pa
    baba = _dot(ba, ba)
    bard = _dot(rays, ba)
    baoa = _dot(ba, oa)
    rdoa = _dot(rays, oa)
    a = baba - bard * bard
    b = baba * rdoa - baoa * bard
    c = baba * _dot(oa, oa) - baoa * baoa - r * r * baba
    h = b * b - a * c
    ok = (h >= 0) & (a > 1e-6)
    tc = (-b - np.sqrt(np.maximum(h, 0))) / np.where(ok, a, 1.0)
    y = baoa + tc * bard
    side = ok & (y > 0) & (y < baba) & (tc > 0)
    centre = np.where((y <= 0)[:, None], pa, pb)
    bs = -_dot(rays, centre)
    hs = bs * bs - (_dot(centre, centre) - r * r)
    ts = -bs - np.sqrt(np.maximum(hs, 0))
    cap = ~side & (hs > 0) & (ts > 0)
    return np.where(side, tc, np.where(cap, ts, np.float32(np.inf)))


def _capsule_normals(points, pa, pb):
    ba = pb - pa
    s = np.clip(_dot(points - pa, ba) / np.maximum(_dot(ba, ba), 1e-9), 0.0, 1.0)
    n = points - (pa + s[:, None] * ba)
    return n / np.maximum(np.sqrt(_dot(n, n)), 1e-9)[:, None]


def _background(M, R, cam_centre, size, style):
    """Floor checker (world z = 0) below the horizon and a wall gradient above.

    Computed at half resolution from separable ray components (the background is smooth, and
    the body is drawn at full resolution on top).
    """
    half = (size + 1) // 2
    f32 = np.float32
    W = (R.T @ M).astype(f32)  # output px -> world-frame ray direction
    u = np.arange(0, 2 * half, 2, dtype=f32)
    dx, dy, dz = (W[k, 0] * u[None, :] + (W[k, 1] * u + W[k, 2])[:, None] for k in range(3))
    cx, cy, cz = (f32(c) for c in cam_centre)
    down = dz < f32(-1e-6)
    t_floor = -cz / np.where(down, dz, f32(-1e-6))
    hx = (cx + t_floor * dx) * f32(1 / 500)
    hy = (cy + t_floor * dy) * f32(1 / 500)
    checker = ((np.floor(hx) + np.floor(hy)) % 2)[..., None] > 0
    floor = np.where(checker, style["floor"], style["floor2"])
    fade = np.exp(np.minimum(t_floor, f32(1e6)) * f32(-1 / 15000))[..., None]
    rows = np.linspace(0.75, 1.0, half, dtype=f32)[:, None, None]
    wall = style["wall"] * rows
    image = np.where(down[..., None], style["wall"] + fade * (floor - style["wall"]), wall)
    full = np.empty((half, 2, half, 2, 3), f32)
    np.multiply(image[:, None, :, None], f32(255.0), out=full)
    return full.reshape(2 * half, 2 * half, 3)[:size, :size]


def render(joints_cam, K, R, cam_centre, A, size: int, rng: np.random.Generator, style=None):
    """Render one person.

    Args:
      joints_cam: [17, 3] camera-frame joints, mm.
      K: [3, 3] intrinsics of the (pinhole) camera.
      R: [3, 3] world-to-camera rotation.
      cam_centre: [3] camera centre in world mm (the floor is the world plane z = 0).
      A: [2, 3] affine from original-image px to output px (e.g. a crop box).
      size: output side, px.
      rng: randomness of the background and noise.
      style: optional colours as made by :func:`random_style`; random if None.

    Returns:
      [size, size, 3] uint8 RGB image.
    """
    style = style or random_style(rng)
    Ainv = np.vstack([invert_affine(A), [0.0, 0.0, 1.0]])
    M = (np.linalg.inv(K) @ Ainv).astype(np.float32)  # output px (u, v, 1) -> camera ray
    image = _background(M, R, cam_centre, size, style)
    # Output-pixel position and apparent size of every joint, for the capsules' boxes.
    uvw = joints_cam @ (np.vstack([A, [0.0, 0.0, 1.0]]) @ K).T
    uv = uvw[:, :2] / uvw[:, 2:]
    px_per_mm = K[0, 0] * np.abs(A[:, :2]).sum(1).max() / np.maximum(joints_cam[:, 2], 1.0)

    # Every (pixel, capsule) pair inside a capsule's bounding box, tested in one pass; per pixel
    # the nearest hit wins (a z-buffer by sorting).
    joints = joints_cam.astype(np.float32)
    pixels, caps = [], []
    for k, (a, b, radius, _) in enumerate(CAPSULES):
        pad = radius * max(px_per_mm[a], px_per_mm[b]) + 2
        x0 = max(int(min(uv[a, 0], uv[b, 0]) - pad), 0)
        x1 = min(int(max(uv[a, 0], uv[b, 0]) + pad) + 2, size)
        y0 = max(int(min(uv[a, 1], uv[b, 1]) - pad), 0)
        y1 = min(int(max(uv[a, 1], uv[b, 1]) + pad) + 2, size)
        if x1 > x0 and y1 > y0:
            box = (np.arange(y0, y1)[:, None] * size + np.arange(x0, x1)).ravel()
            pixels.append(box)
            caps.append(np.full(box.size, k))
    if pixels:
        pix, cap = np.concatenate(pixels), np.concatenate(caps)
        v, u = (x.astype(np.float32) for x in np.divmod(pix, size))
        rays = u[:, None] * M[:, 0] + v[:, None] * M[:, 1] + M[:, 2]
        rays /= np.sqrt(_dot(rays, rays))[:, None]
        pa, pb = joints[_CAP_A[cap]], joints[_CAP_B[cap]]
        t = _hit_capsules(rays, pa, pb, _CAP_R[cap])
        hit = np.flatnonzero(np.isfinite(t))
        order = hit[np.lexsort((t[hit], pix[hit]))]
        first = np.ones(order.size, bool)
        first[1:] = pix[order[1:]] != pix[order[:-1]]
        win = order[first]
        points = rays[win] * t[win, None]
        normals = _capsule_normals(points, pa[win], pb[win])
        shade = 0.35 + 0.65 * np.clip(normals @ _LIGHT, 0.0, 1.0)
        colours = np.stack([style["parts255"][part] for *_, part in CAPSULES])
        image.reshape(-1, 3)[pix[win]] = shade[:, None] * colours[cap[win]]

    return add_sensor_noise(image, rng)


def add_sensor_noise(image, rng: np.random.Generator) -> np.ndarray:
    """[S, S, 3] float 0..255 plus sensor noise -> uint8.

    The noise is a random window of a fixed noise tile (drawing fresh normals costs more than
    the rest of the image).
    """
    size = len(image)
    tile = _NOISE if size <= len(_NOISE) else np.pad(_NOISE, ((0, size), (0, size), (0, 0)), "wrap")
    oy, ox = rng.integers(0, len(tile) - size + 1, 2)
    image += tile[oy : oy + size, ox : ox + size]
    return np.clip(image, 0.0, 255.0).astype(np.uint8)


def random_style(rng: np.random.Generator) -> dict:
    """Random background colours (low saturation) and slightly varied part colours."""
    grey = rng.uniform(0.25, 0.8)
    tint = rng.uniform(-0.03, 0.03, 3)  # backgrounds stay greyish: body parts stand out
    floor = np.clip(grey + tint, 0, 1)
    floor2 = np.clip(floor * rng.uniform(0.6, 0.9), 0, 1)
    wall = np.clip(rng.uniform(0.35, 0.9) + rng.uniform(-0.03, 0.03, 3), 0, 1)
    parts = {
        k: np.clip(np.array(c) * rng.uniform(0.85, 1.1), 0, 1) for k, c in PART_COLOURS.items()
    }
    parts255 = {k: (c * 255).astype(np.float32) for k, c in parts.items()}
    floor, floor2, wall = (x.astype(np.float32) for x in (floor, floor2, wall))
    return {"floor": floor, "floor2": floor2, "wall": wall, "parts": parts, "parts255": parts255}
