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


_NOISE = np.random.default_rng(12345).normal(0.5, 0.015 * 255, (640, 640, 3)).astype(np.float32)


def _hit_capsule(rays, pa, pb, r):
    """Distance along unit ``rays`` [N, 3] (from the origin) to a capsule; inf where missed."""
    ba = pb - pa
    oa = -pa
    baba = ba @ ba
    bard = rays @ ba
    baoa = ba @ oa
    rdoa = rays @ oa
    oaoa = oa @ oa
    t = np.full(len(rays), np.inf, np.float32)
    if baba > 1e-9:
        a = baba - bard * bard
        b = baba * rdoa - baoa * bard
        c = baba * oaoa - baoa * baoa - r * r * baba
        h = b * b - a * c
        ok = (h >= 0) & (a > 1e-12)
        tc = np.where(ok, (-b - np.sqrt(np.maximum(h, 0))) / np.where(a > 1e-12, a, 1.0), np.inf)
        y = baoa + tc * bard
        body = ok & (y > 0) & (y < baba) & (tc > 0)
        t = np.where(body, tc, t)
        cap_a = np.where(body, False, True) & (y <= 0)
    else:
        cap_a = np.ones(len(rays), bool)
    for centre, use in ((pa, cap_a), (pb, ~cap_a)):
        oc = -centre
        b = rays @ oc
        h = b * b - (oc @ oc - r * r)
        ts = -b - np.sqrt(np.maximum(h, 0))
        hit = use & (h > 0) & (ts > 0) & (ts < t)
        t = np.where(hit, ts, t)
    return t


def _capsule_normals(points, pa, pb):
    ba = pb - pa
    denom = max(ba @ ba, 1e-9)
    s = np.clip((points - pa) @ ba / denom, 0.0, 1.0)
    n = points - (pa + s[:, None] * ba)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)


def _rays(M, x0, x1, y0, y1):
    """Unit camera-frame rays [(y1 - y0) * (x1 - x0), 3] through output pixels x0:x1, y0:y1.

    ``M`` = K^-1 A^-1 maps output pixels (u, v, 1) to (unnormalised) rays.
    """
    u = np.arange(x0, x1, dtype=np.float32)
    v = np.arange(y0, y1, dtype=np.float32)
    rays = (v[:, None] * M[:, 1] + M[:, 2])[:, None, :] + (u[:, None] * M[:, 0])[None, :, :]
    rays = rays.reshape(-1, 3)
    return rays / np.sqrt(np.einsum("ij,ij->i", rays, rays))[:, None]


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
    full = np.broadcast_to(image[:, None, :, None], (half, 2, half, 2, 3))
    return full.reshape(2 * half, 2 * half, 3)[:size, :size] * f32(255.0)


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

    depth = np.full((size, size), np.inf, np.float32)
    light = np.array([-0.4, -0.7, -0.6])
    light /= np.linalg.norm(light)
    joints = joints_cam.astype(np.float32)
    for a, b, radius, part in CAPSULES:
        pa, pb = joints[a], joints[b]
        pad = radius * max(px_per_mm[a], px_per_mm[b]) + 2
        x0 = max(int(min(uv[a, 0], uv[b, 0]) - pad), 0)
        x1 = min(int(max(uv[a, 0], uv[b, 0]) + pad) + 2, size)
        y0 = max(int(min(uv[a, 1], uv[b, 1]) - pad), 0)
        y1 = min(int(max(uv[a, 1], uv[b, 1]) + pad) + 2, size)
        if x1 <= x0 or y1 <= y0:
            continue
        lo, hi = (x0, y0), (x1, y1)
        sub_rays = _rays(M, x0, x1, y0, y1)
        t = _hit_capsule(sub_rays, pa, pb, np.float32(radius))
        region = (slice(lo[1], hi[1]), slice(lo[0], hi[0]))
        win = np.isfinite(t) & (t < depth[region].reshape(-1))
        if not win.any():
            continue
        points = sub_rays[win] * t[win, None]
        normals = _capsule_normals(points, pa, pb)
        shade = 0.35 + 0.65 * np.clip(normals @ light.astype(np.float32), 0.0, 1.0)
        rows, cols = np.divmod(np.flatnonzero(win), hi[0] - lo[0])
        image[lo[1] + rows, lo[0] + cols] = shade[:, None] * style["parts255"][part]
        depth[lo[1] + rows, lo[0] + cols] = t[win]

    # Sensor noise: a random window of a fixed noise tile (drawing fresh normals costs more
    # than the rest of the image).
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
