"""Reading pickled data files without running code from them.

Datasets come from the internet; several ship pickles (camera ``.pkl`` files, ``.npz`` files of
object arrays such as H3WB's). :func:`loads` unpickles with a restricted unpickler that admits
only plain data: dicts, lists, tuples, strings, bytes, numbers, booleans, None (pickle's own
opcodes) and numpy arrays, dtypes and scalars (the few numpy globals below). Any other global
(``os.system``, ``builtins.eval``, a class) is refused with an error naming the file and the
global, before anything is called.
"""

import io
import pathlib
import pickle
import zipfile

import numpy as np

from c2f.archives import check_members

# (module, name) that rebuild numpy arrays, dtypes and scalars; numpy 2 names its core
# "numpy._core", numpy 1 "numpy.core": files written by either must read.
ALLOWED = frozenset(
    (module, name)
    for core in ("numpy.core", "numpy._core")
    for module, name in (
        (f"{core}.multiarray", "_reconstruct"),
        (f"{core}.multiarray", "scalar"),
        (f"{core}.numeric", "_frombuffer"),
    )
) | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class UnsafePickle(ValueError):
    """A pickle names something other than plain data."""


class _Restricted(pickle.Unpickler):
    def __init__(self, file, where: str):
        super().__init__(file)
        self.where = where

    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise UnsafePickle(
                f"{self.where}: refused to unpickle {module}.{name} (only plain data and numpy "
                "arrays are read from data files)"
            )
        return super().find_class(module, name)


def loads(data: bytes, where: str = "pickle"):
    """Unpickle ``data`` admitting plain data and numpy arrays only.

    Raises:
      UnsafePickle: the pickle names another global (``where`` and the global are named).
      ValueError: the bytes are not a pickle.
    """
    try:
        return _Restricted(io.BytesIO(data), where).load()
    except UnsafePickle:
        raise
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError,
            TypeError, ValueError) as e:  # fmt: skip
        raise ValueError(f"{where}: not a readable pickle ({e})") from e


def load(path):
    """:func:`loads` of a file."""
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: unreadable ({e.strerror or e})") from e
    return loads(data, str(path))


def load_npz(path) -> dict:
    """``{name: array or object}`` of an ``.npz``; object arrays through :func:`loads`.

    ``np.load(..., allow_pickle=True)`` would run any code a member's pickle names; here a
    member of dtype object is unpickled by the restricted unpickler and a 0-d one is unwrapped
    (as ``.item()`` would).
    """
    path = pathlib.Path(path)
    out = {}
    check_members(path)  # declared sizes first: a small file can declare a huge member
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not an .npz archive ({e})") from e
    with archive:
        for member in archive.namelist():
            where = f"{path}: {member}"
            with archive.open(member) as fh:
                stream = io.BytesIO(fh.read())
            try:
                version = np.lib.format.read_magic(stream)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)  # fmt: skip
                shape, fortran, dtype = read_header(stream)
            except ValueError as e:
                raise ValueError(f"{where}: not a .npy member ({e})") from e
            name = member[:-4] if member.endswith(".npy") else member
            if dtype.hasobject:
                value = loads(stream.read(), where)
                out[name] = (
                    value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
                )
            else:
                stream.seek(0)
                out[name] = np.load(stream, allow_pickle=False)
    return out
