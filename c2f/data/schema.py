"""The one dataset format of c2f: an HDF5 file per split (documented in docs/data.md).

Every converter (the Human3.6M release, the authors' annotation files, the synthetic default)
writes it through :class:`DatasetWriter`; every reader opens it through :func:`open_dataset`,
which checks the schema version and the required fields and names the file and field on error.
Writes are atomic: samples go to a temporary file beside the target, renamed into place only
by :meth:`DatasetWriter.close`, so an interrupted run never leaves a half-written dataset.
"""

import json
import os
import pathlib

import h5py
import numpy as np

from c2f.archives import MAX_RATIO
from c2f.h36m import ACTIONS, CAMERAS
from c2f.outputs import UNCLOSABLE, require_room
from c2f.skeleton import H36M17, Skeleton

SCHEMA_VERSION = 3
# version 1: no validity fields (every joint valid), no joint map; versions 1 and 2: no
# skeleton attribute (Human3.6M's 17 joints)
READABLE_VERSIONS = (1, 2, 3)

# name: (dtype, per-sample shape); "image" is variable-length JPEG bytes; J: the skeleton's
# joint count (field_shape).
FIELDS: dict[str, tuple[str, tuple[int, ...]]] = {
    "image": ("vlen_uint8", ()),
    "joints_cam": ("float32", ("J", 3)),  # camera frame, mm
    "joints_2d": ("float32", ("J", 2)),  # px in the stored crop
    "center": ("float32", (2,)),  # person box centre, original-image px
    "scale": ("float32", ()),  # person box side / 200 px
    "crop_center": ("float32", (2,)),  # stored crop's box centre, original-image px
    "crop_scale": ("float32", ()),  # stored crop's box side / 200 px
    "intrinsics": ("float32", (4,)),  # fx, fy, cx, cy of the original image, px
    "distortion": ("float32", (5,)),  # k1, k2, k3, p1, p2 (Human3.6M's model)
    "image_size": ("int32", (2,)),  # original image width, height, px
    "subject": ("int16", ()),  # n of "S<n>"
    "action": ("int16", ()),  # index into the file's action_names
    "subaction": ("int16", ()),
    "camera": ("int16", ()),  # index into the file's camera_names
    "frame": ("int32", ()),  # 0-based frame index in the original video
    "valid_2d": ("uint8", ("J",)),  # 1: joints_2d holds this joint (version 2)
    "valid_3d": ("uint8", ("J",)),  # 1: joints_cam holds this joint (version 2)
}
VALIDITY_FIELDS = ("valid_2d", "valid_3d")  # absent from version-1 files: read as all ones
# Optional (version 3): the body model's parameters of each sample, so that its mesh can be
# rebuilt (c2f.body.model.pose(model, body_shape, rotations(body_pose), body_root) gives the
# camera-frame vertices, mm). B: the model's bones, stated by the attribute BODY_ATTR.
BODY_FIELDS: dict[str, tuple[str, tuple]] = {
    "body_shape": ("float32", (6,)),  # phenotype, c2f.body.model.PHENOTYPE order
    "body_pose": ("float32", ("B", 3)),  # local rotations, axis-angle, rad; root: camera frame
    "body_root": ("float32", (3,)),  # the root bone's head, camera frame, mm
    "body_expression": ("float32", ("E",)),  # face expression weights, 0..1
}
BODY_ATTR = "body_model"  # JSON: {"model": "anny", "version", "bones", "expressions", ...}
BODY_REQUIRED = ("body_shape", "body_pose", "body_root")  # body_expression: where "expressions"


def body_fields(info: dict) -> tuple[str, ...]:
    """The body fields a file with body model ``info`` holds.

    Files written before face expressions (2026-12-04) have no ``body_expression``.
    """
    return BODY_REQUIRED + (("body_expression",) if info.get("expressions") else ())


REQUIRED_ATTRS = (
    "schema_version",
    "joint_names",
    "action_names",
    "camera_names",
    "source",
    "args",
    "crop_res",
)
CROP_RES_ATTR = "crop_res"
SKELETON_ATTR = "skeleton"  # version 3: the skeleton's JSON (c2f.skeleton.Skeleton.to_json)
BENCHMARK_ATTR = "benchmark"  # version 3, optional: the benchmark that evaluates the file


def benchmark_of(f: h5py.File) -> str:
    """The benchmark an open file names (c2f.evaluation.benchmarks); earlier files by source."""
    if BENCHMARK_ATTR in f.attrs:
        return str(f.attrs[BENCHMARK_ATTR])
    return "mpi-inf-3dhp" if str(f.attrs["source"]) == "mpi_inf_3dhp" else "h36m"


def field_shape(name: str, joints: int, bones: int = 0, expressions: int = 0) -> tuple:
    """The per-sample shape of field ``name``.

    For ``joints`` joints, and a body's ``bones`` and ``expressions``.
    """
    shape = FIELDS[name][1] if name in FIELDS else BODY_FIELDS[name][1]
    sizes = {"J": joints, "B": bones, "E": expressions}
    return tuple(sizes.get(d, d) for d in shape)


def body_model_of(f: h5py.File, path="dataset") -> dict | None:
    """The body model an open file's body fields follow, or None when it has none."""
    if BODY_ATTR not in f.attrs:
        return None
    try:
        info = json.loads(f.attrs[BODY_ATTR])
        int(info["bones"])
    except (TypeError, ValueError, KeyError) as e:
        raise DatasetError(f"{path}: attribute {BODY_ATTR!r} is not a body model ({e})") from e
    return info


def skeleton_of(f: h5py.File, path="dataset") -> Skeleton:
    """The skeleton an open file's joints follow (version 3 states it; earlier: h36m17)."""
    if SKELETON_ATTR not in f.attrs:
        return H36M17
    try:
        return Skeleton.from_json(f.attrs[SKELETON_ATTR])
    except (TypeError, ValueError) as e:
        raise DatasetError(f"{path}: attribute 'skeleton' is not a skeleton ({e})") from e


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or not in the c2f format."""


def _h5_dtype(kind: str):
    return h5py.vlen_dtype(np.uint8) if kind == "vlen_uint8" else np.dtype(kind)


# Chunks HDF5 holds in memory before writing them (1 MiB per field, about 20 fields), and its
# metadata: the room kept free beyond a batch's own bytes.
HDF5_CACHE_BYTES = 32 << 20


class DatasetWriter:
    """Append samples to a new dataset file, published atomically on :meth:`close`.

    Args:
      path: the final file path.
      source: where the samples come from ("h36m", "c2f_annot", "synthetic", ...).
      args: the arguments that made the file (stored as JSON).
      crop_res: side of the stored crops, px.
      chunk: samples per HDF5 chunk.
      action_names, camera_names: the tables that ``action`` and ``camera`` index (default
        Human3.6M's).
      source_joint_names: the dataset's own joint names (default: the skeleton's).
      joint_sources: for each joint of the skeleton, how it comes from the source's joints (a
        source name, a rule such as ``"mid(left_hip, right_hip)"``, or ``""`` when the source
        does not have it); default: the same names as the skeleton's.
      skeleton: the keypoint set of every per-joint field (default Human3.6M's 17 joints,
        which the Human3.6M-shaped converters write).
      benchmark: the benchmark that evaluates this file (a name of
        :data:`c2f.evaluation.benchmarks.BENCHMARKS`); default: by its ``source``.
      body_model: the body model whose parameters every sample carries (:data:`BODY_FIELDS`):
        a dict with at least ``bones``; None (default): no body fields.
    """

    def __init__(self, path, *, source: str, args: dict, crop_res: int, chunk: int = 256,
                 action_names=ACTIONS, camera_names=CAMERAS, source_joint_names=None,
                 joint_sources=None, skeleton: Skeleton = H36M17,
                 benchmark: str | None = None, body_model: dict | None = None):  # fmt: skip
        self.skeleton = skeleton
        self.bones = int(body_model["bones"]) if body_model else 0
        self.expressions = int(body_model.get("expressions", 0)) if body_model else 0
        names = skeleton.joint_names
        joint_sources = list(names if joint_sources is None else joint_sources)
        if len(joint_sources) != skeleton.num_joints:
            raise ValueError(
                f"joint_sources: {skeleton.num_joints} entries, got {len(joint_sources)}"
            )
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.file = h5py.File(self.tmp, "w")
        self.file.attrs.update(
            schema_version=SCHEMA_VERSION,
            joint_names=json.dumps(list(names)),
            action_names=json.dumps(list(action_names)),
            camera_names=json.dumps(list(camera_names)),
            source_joint_names=json.dumps(list(source_joint_names or names)),
            joint_sources=json.dumps(joint_sources),
            source=source,
            args=json.dumps(args, default=str),
            **{CROP_RES_ATTR: int(crop_res), SKELETON_ATTR: skeleton.to_json()},
        )
        if benchmark is not None:
            self.file.attrs[BENCHMARK_ATTR] = benchmark
        if body_model:
            self.file.attrs[BODY_ATTR] = json.dumps(body_model)
        for name, (kind, _) in self.fields.items():
            shape = field_shape(name, skeleton.num_joints, self.bones, self.expressions)
            self.file.create_dataset(
                name, (0, *shape), _h5_dtype(kind), maxshape=(None, *shape), chunks=(chunk, *shape)
            )
        self.count = 0

    @property
    def fields(self) -> dict:
        """The fields this file holds: the schema's, and the body's when it has a body model."""
        if not self.bones:
            return FIELDS
        body = {"bones": self.bones, "expressions": self.expressions}
        return {**FIELDS, **{k: BODY_FIELDS[k] for k in body_fields(body)}}

    def append(self, batch: dict) -> None:
        """Append samples: a dict of every field with a leading sample axis of equal length.

        ``valid_2d`` and ``valid_3d`` may be left out: every joint is then valid.
        """
        n = len(batch["image"])
        j = self.skeleton.num_joints
        batch = {**{k: np.ones((n, j), np.uint8) for k in VALIDITY_FIELDS}, **batch}
        missing = set(self.fields) - set(batch)
        if missing:
            raise ValueError(f"DatasetWriter.append: missing field(s) {sorted(missing)}")
        # HDF5 does not survive a full disk (its file cannot be closed, and the process crashes
        # at exit): refuse the write before it starts, with room for the chunks it caches.
        values = [x for v in batch.values() for x in (v if isinstance(v, list) else [v])]
        size = sum(len(x) if isinstance(x, bytes) else np.asarray(x).nbytes for x in values)
        require_room(self.tmp.parent, 2 * size + HDF5_CACHE_BYTES, "writing the next samples")
        for name, (kind, _) in self.fields.items():
            shape = field_shape(name, j, self.bones, self.expressions)
            value = batch[name]
            if kind != "vlen_uint8":
                value = np.asarray(value, kind)
                if value.shape != (n, *shape):
                    raise ValueError(f"{name}: expected shape {(n, *shape)}, got {value.shape}")
                if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                    raise ValueError(f"{name}: contains NaN or Inf values")
            elif len(value) != n:
                raise ValueError(f"image: {len(value)} images for {n} samples")
            ds = self.file[name]
            ds.resize(self.count + n, axis=0)
            if kind == "vlen_uint8":
                for i, jpeg in enumerate(value):
                    ds[self.count + i] = np.frombuffer(jpeg, np.uint8)
            else:
                ds[self.count :] = value
        self.count += n

    def close(self) -> pathlib.Path:
        """Finish the file and move it into place."""
        try:  # a full disk may show only here, when HDF5 flushes its last chunks
            self.file.attrs["num_samples"] = self.count
            self.file.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            if self.file.id.valid:
                UNCLOSABLE.append(self.file)
            self.tmp.unlink(missing_ok=True)
            raise
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the target path is left untouched."""
        try:
            self.file.close()
        except (OSError, RuntimeError):  # HDF5 met a full disk: its objects cannot be freed
            UNCLOSABLE.append(self.file)
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(path) -> list[pathlib.Path]:
    """Delete the partial files of ``path`` left by writers that were killed.

    A writer's temporary file is ``.<name>.tmp-<PID>``; those whose process no longer exists
    are removed (a live writer's are kept). Returns the removed paths.
    """
    path = pathlib.Path(path)
    removed = []
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
            print(f"removed {tmp}: the partial file of a writer that was killed")
    return removed


INCOMPLETE_MARKER = ".c2f-incomplete"
"""A multi-file writer (``c2f data synthetic``) puts this file in the folder first and removes it
last; :func:`open_dataset` refuses the folder's files while it is there."""


def open_dataset(path) -> h5py.File:
    """Open a dataset file for reading after checking its schema.

    Raises:
      DatasetError: naming the file and the field when the file is missing, not HDF5, of
        another schema version, or lacks a required field or attribute.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file")
    if (path.parent / INCOMPLETE_MARKER).exists():
        raise DatasetError(f"{path}: its folder holds {INCOMPLETE_MARKER}: the set of files was "
                           "being written and did not finish (its files may be of two "
                           "generations); write it again with --overwrite")  # fmt: skip
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DatasetError(f"{path}: not a readable HDF5 file ({e})") from e
    try:
        for attr in REQUIRED_ATTRS:
            if attr not in f.attrs:
                raise DatasetError(f"{path}: missing attribute {attr!r}")
        try:
            version = int(f.attrs["schema_version"])
        except (ValueError, TypeError) as e:
            raise DatasetError(
                f"{path}: attribute 'schema_version' is not a number "
                f"({f.attrs['schema_version']!r})"
            ) from e
        if version not in READABLE_VERSIONS:
            raise DatasetError(
                f"{path}: schema_version {version}, this c2f reads {list(READABLE_VERSIONS)}; "
                "re-run the converter"
            )
        skeleton = skeleton_of(f, path)
        try:
            names = json.loads(f.attrs["joint_names"])
        except (TypeError, ValueError) as e:
            raise DatasetError(f"{path}: attribute 'joint_names' is not a JSON list") from e
        if list(names) != list(skeleton.joint_names):
            raise DatasetError(
                f"{path}: attribute 'joint_names' ({len(names)} names) does not match its "
                f"skeleton {skeleton.name!r} ({skeleton.num_joints} joints)"
            )
        n = None
        for name in FIELDS:
            shape = field_shape(name, skeleton.num_joints)
            if version == 1 and name in VALIDITY_FIELDS:
                continue
            if name not in f:
                raise DatasetError(f"{path}: missing field {name!r}")
            if f[name].shape[1:] != shape:
                raise DatasetError(
                    f"{path}: field {name!r} has shape {f[name].shape[1:]}, expected {shape}"
                )
            kind = FIELDS[name][0]
            if kind != "vlen_uint8" and f[name].dtype != np.dtype(kind):
                raise DatasetError(
                    f"{path}: field {name!r} is stored as {f[name].dtype}, the schema says {kind}"
                )
            n = f[name].shape[0] if n is None else n
            if f[name].shape[0] != n:
                raise DatasetError(
                    f"{path}: field {name!r} has {f[name].shape[0]} samples, not {n}"
                )
        body = body_model_of(f, path)
        for name in body_fields(body) if body else ():
            shape = field_shape(name, skeleton.num_joints, int(body["bones"]),
                                int(body.get("expressions", 0)))  # fmt: skip
            if name not in f or f[name].shape != (n, *shape):
                got = f[name].shape if name in f else "nothing"
                raise DatasetError(f"{path}: field {name!r} has {got}, expected {(n, *shape)}")
        _check_declared_size(f, path)
        stated = f.attrs.get("num_samples")
        if stated is not None and int(stated) != n:
            raise DatasetError(
                f"{path}: attribute 'num_samples' says {int(stated)}, the fields hold {n}"
            )
    except Exception:
        f.close()
        raise
    return f


def _check_declared_size(f: h5py.File, path: pathlib.Path) -> None:
    """Refuse fields that declare far more bytes than the file holds, before any is read.

    c2f's writers store fields uncompressed, so a file holds at least its fields' bytes; one
    that declares more than ``MAX_RATIO`` times its size (compressed or unallocated chunks) would
    fill memory when a column is read.
    """
    declared = sum(ds.size * ds.dtype.itemsize for ds in f.values()
                   if isinstance(ds, h5py.Dataset) and ds.dtype.kind != "O")  # fmt: skip
    size = path.stat().st_size
    if declared > MAX_RATIO * size + (1 << 20):
        raise DatasetError(f"{path}: its fields declare {declared:,} bytes in a {size:,}-byte "
                           f"file (over {MAX_RATIO}x); refused before reading")  # fmt: skip


def read(f: h5py.File, name: str, rows=slice(None)) -> np.ndarray:
    """``f[name][rows]``; a validity field of a version-1 file reads as ones."""
    if name in VALIDITY_FIELDS and name not in f:
        return np.ones((*np.shape(f["subject"][rows]), f["joints_cam"].shape[1]), np.uint8)
    return f[name][rows]


def crop_res(f: h5py.File) -> int:
    """Side of the stored crops of an open dataset, px."""
    return int(f.attrs[CROP_RES_ATTR])
