"""A z-buffered triangle rasteriser on the CPU (numba), and per-pixel shading in numpy.

:func:`rasterize` draws triangles given by their vertices' output pixels and camera depths:
for every pixel centre (integer coordinates, as the capsule renderer's rays) inside a triangle,
the nearest triangle wins by its interpolated inverse depth, and the barycentric weights are
perspective-correct (divided by depth before normalising), so colours and normals interpolate
as on the 3D surface. No GPU and no OpenGL. :func:`shade` lights the visible surface. Used by
the synthetic default's bodies and by the mesh drawn over a prediction.
"""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def rasterize(px, depth, faces, bias, height, width):
    """Visible triangle and perspective-correct barycentrics of each pixel.

    Args:
      px: [V, 2] float32 output pixel coordinates (x right, y down) of the vertices.
      depth: [V] float32 camera-frame depth (mm, > 0) of the vertices.
      faces: [F, 3] int32 triangles.
      bias: [F] float32 depth bias (mm) subtracted from a triangle's depth: a clothing shell
        drawn over the skin it lies on wins where the two nearly touch.
      height: output rows, px.
      width: output columns, px.

    Returns:
      face: [height, width] int32 visible triangle, -1 where none.
      bary: [height, width, 3] float32 its perspective-correct barycentric weights.
    """
    face = np.full((height, width), -1, np.int32)
    bary = np.zeros((height, width, 3), np.float32)
    inv_z = np.zeros((height, width), np.float32)
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        za, zb, zc = depth[a] - bias[f], depth[b] - bias[f], depth[c] - bias[f]
        if za < 1.0 or zb < 1.0 or zc < 1.0:
            continue  # behind or at the camera
        ax, ay, bx, by, cx, cy = px[a, 0], px[a, 1], px[b, 0], px[b, 1], px[c, 0], px[c, 1]
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if abs(area) < 1e-9:
            continue
        x0 = max(int(np.ceil(min(ax, bx, cx))), 0)
        x1 = min(int(np.floor(max(ax, bx, cx))), width - 1)
        y0 = max(int(np.ceil(min(ay, by, cy))), 0)
        y1 = min(int(np.floor(max(ay, by, cy))), height - 1)
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                w0 = ((bx - x) * (cy - y) - (by - y) * (cx - x)) / area
                w1 = ((cx - x) * (ay - y) - (cy - y) * (ax - x)) / area
                w2 = 1.0 - w0 - w1
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0:
                    continue
                p0, p1, p2 = w0 / za, w1 / zb, w2 / zc
                iz = p0 + p1 + p2
                if iz > inv_z[y, x]:
                    inv_z[y, x] = iz
                    face[y, x] = f
                    bary[y, x, 0] = p0 / iz
                    bary[y, x, 1] = p1 / iz
                    bary[y, x, 2] = p2 / iz
    return face, bary


def vertex_normals(vertices, faces):
    """[V, 3] unit normals: area-weighted sums of the adjacent triangles' normals."""
    v = vertices[faces]
    n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    out = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(out, faces[:, k], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def shade(face, bary, faces, vertices_cam, normals_cam, albedo, light, ambient):
    """Lit colours (0..255) of the visible pixels, and where they are.

    Args:
      face: [H, W] from :func:`rasterize`.
      bary: [H, W, 3] from :func:`rasterize`.
      faces: [F, 3] the triangles rasterised.
      vertices_cam: [V, 3] camera-frame vertices, mm.
      normals_cam: [V, 3] camera-frame unit normals.
      albedo: [V, 3] colour of each vertex, 0..1.
      light: [3] unit direction towards the light, camera frame.
      ambient: share of light that comes from everywhere, 0..1.

    Returns:
      (flat pixel indices [N], colours [N, 3] float32 0..255).
    """
    pix = np.flatnonzero(face.ravel() >= 0)
    tri = faces[face.ravel()[pix]]
    w = bary.reshape(-1, 3)[pix]
    n = np.einsum("nk,nkd->nd", w, normals_cam[tri])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    point = np.einsum("nk,nkd->nd", w, vertices_cam[tri])
    view = -point / np.maximum(np.linalg.norm(point, axis=1, keepdims=True), 1e-9)
    n = np.where((np.sum(n * view, axis=1) < 0)[:, None], -n, n)  # the side facing the camera
    diffuse = np.clip(n @ light, 0.0, 1.0)
    half = light + view
    half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-9)
    specular = 0.12 * np.clip(np.sum(n * half, axis=1), 0.0, 1.0) ** 24
    colour = np.einsum("nk,nkd->nd", w, albedo[tri])
    lit = colour * (ambient + (1.0 - ambient) * diffuse)[:, None] + specular[:, None]
    return pix, (255.0 * np.clip(lit, 0.0, 1.0)).astype(np.float32)
