"""A reader of Torch7's binary serialization (``torch.save``), in pure Python and numpy.

The format, from torch/torch7 ``File.lua`` (``writeObject``/``readObject``) and the C
``write``/``read`` methods of ``generic/Tensor.c`` and ``generic/Storage.c``; all integers
little-endian, ``int`` 4 bytes, ``long`` 8 (Linux and macOS builds):

* every value starts with an int tag: 0 nil, 1 number (double), 2 string (int length,
  bytes), 3 table, 4 Torch object, 5 boolean (int 0/1), 6 function, 7/8 closures;
* tables, Torch objects and closures then carry an int reference index: an index seen before
  IS that earlier object (shared tensors, the nodes of a graph that several tables hold);
  otherwise a table is an int count of (key, value) pairs;
* a Torch object is a version string ``"V n"`` (absent in files older than versioning), its
  class name, then for tensors ``int nDimension, long[n] size, long[n] stride, long offset
  (1-based)`` and the storage object, for storages ``long size`` and the raw elements, and for
  every other class (nn modules, nngraph nodes) one table of its fields.

Tensors come back as numpy arrays viewing their storage (a network saved after
``getParameters()`` keeps all its weights in one storage, each tensor a strided window into
it); large storages are not copied: the file is memory-mapped. CUDA tensors are read as the
float32 (or other) data they hold on the host.
"""

import dataclasses
import math
import mmap
import pathlib
import struct
import sys

import numpy as np

NIL, NUMBER, STRING, TABLE, TORCH, BOOLEAN, FUNCTION, LEGACY_CLOSURE, CLOSURE = range(9)
MAX_ELEMENTS = 2**32  # a tensor's elements (the paper network has 5.4e7 parameters in all)
# Objects nest (a table in a table ...) at most this deep: the authors' networks nest a few
# hundred levels; a hostile or corrupt file that nests deeper is refused by name instead of
# exhausting Python's stack. Reading a level takes at most 3 Python frames.
MAX_DEPTH = 2000

_ELEMENT = {
    "Byte": np.uint8,
    "Char": np.int8,
    "Short": np.int16,
    "Int": np.int32,
    "Long": np.int64,
    "Float": np.float32,
    "Double": np.float64,
    "Half": np.float16,
    "Cuda": np.float32,
    "CudaByte": np.uint8,
    "CudaChar": np.int8,
    "CudaShort": np.int16,
    "CudaInt": np.int32,
    "CudaLong": np.int64,
    "CudaDouble": np.float64,
    "CudaHalf": np.float16,
}


class Torch7Error(ValueError):
    """A file that is not a readable Torch7 binary file (names the file and the byte)."""


class Table(dict):
    """A Lua table. Hashed by identity: Lua tables are keys of other tables (nngraph maps)."""

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def array(self) -> list:
        """The array part: values at keys 1, 2, ... up to the first missing one."""
        out, i = [], 1
        while i in self:
            out.append(self[i])
            i += 1
        return out


@dataclasses.dataclass(eq=False)
class TorchObject:
    """An instance of a Torch class other than a tensor or storage (an nn module, a node)."""

    typename: str
    version: int
    fields: Table

    def get(self, key, default=None):
        return self.fields.get(key, default)

    def __getitem__(self, key):
        return self.fields[key]

    @property
    def short_name(self) -> str:
        """The class without its package: ``cudnn.SpatialConvolution`` -> SpatialConvolution."""
        return self.typename.rsplit(".", 1)[-1]


@dataclasses.dataclass(eq=False)
class LuaFunction:
    """A serialized Lua function: its bytecode is kept, never run."""

    bytecode: bytes
    upvalues: object


def _element_type(typename: str, suffix: str):
    """Numpy dtype of ``torch.<Prefix><suffix>`` (suffix Tensor or Storage), else None."""
    if not typename.startswith("torch.") or not typename.endswith(suffix):
        return None
    return _ELEMENT.get(typename[len("torch.") : -len(suffix)])


class _Reader:
    def __init__(self, buffer, name: str, long_size: int):
        self.buf, self.pos, self.name = buffer, 0, name
        self.long_fmt = {8: "q", 4: "i"}[long_size]
        self.long_size = long_size
        self.objects = {}
        self.depth = 0

    def fail(self, message: str, at: int | None = None):
        where = self.pos if at is None else at
        raise Torch7Error(f"{self.name}: at byte {where}: {message}")

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            self.fail(
                f"the file ends inside {what} (needs {n} bytes, "
                f"{len(self.buf) - self.pos} left): truncated?"
            )
        view = memoryview(self.buf)[self.pos : self.pos + n]
        self.pos += n
        return view

    def int(self, what="an int") -> int:
        return struct.unpack("<i", self.take(4, what))[0]

    def long(self, what="a long") -> int:
        return struct.unpack("<" + self.long_fmt, self.take(self.long_size, what))[0]

    def longs(self, n: int, what: str) -> list:
        return list(struct.unpack(f"<{n}{self.long_fmt}", self.take(n * self.long_size, what)))

    def string(self, what="a string") -> str:
        n = self.int(f"the length of {what}")
        return bytes(self.take(n, what)).decode("latin-1")

    def value(self, path: str = "<top>"):
        start = self.pos
        tag = self.int("a type tag")
        if tag == NIL:
            return None
        if tag == NUMBER:
            return struct.unpack("<d", self.take(8, f"number {path}"))[0]
        if tag == STRING:
            return self.string(f"string {path}")
        if tag == BOOLEAN:
            return self.int(f"boolean {path}") == 1
        if tag not in (FUNCTION, TABLE, TORCH, LEGACY_CLOSURE, CLOSURE):
            self.fail(
                f"unknown type tag {tag} at {path} (not a Torch7 binary file, or corrupt)", start
            )
        # Every path that recurses (tables, objects, functions and closures with their
        # upvalues) counts one level: a file cannot reach Python's recursion limit.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                self.fail(f"objects nested deeper than {MAX_DEPTH} levels at {path[:200]} "
                          "(corrupt, or not a network file)", start)  # fmt: skip
            return self.nested(tag, path, start)
        finally:
            self.depth -= 1

    def nested(self, tag: int, path: str, start: int):
        """A function, closure, table or Torch object (the tag read at ``start``)."""
        if tag == FUNCTION:
            return LuaFunction(bytes(self.take(self.int(), "bytecode")), self.value(path))
        index = self.int("a reference index")
        if index in self.objects:
            return self.objects[index]
        if tag in (LEGACY_CLOSURE, CLOSURE):
            function = LuaFunction(bytes(self.take(self.int(), "bytecode")), None)
            self.objects[index] = function
            function.upvalues = self.value(path + ".<upvalues>")
            return function
        if tag == TABLE:
            return self.table(index, path, start)
        return self.torch(index, path, start)

    def table(self, index: int, path: str, start: int) -> Table:
        count = self.int(f"the size of table {path}")
        left = len(self.buf) - self.pos
        if count < 0 or count * 8 > left:  # each entry takes at least two 4-byte tags
            self.fail(
                f"table {path} claims {count} entries, more than the {left} bytes left "
                "hold (truncated?)",
                start,
            )
        out = Table()
        self.objects[index] = out
        for _ in range(count):
            key = self.value(path + ".<key>")
            if isinstance(key, float) and key.is_integer():
                key = int(key)  # Lua numbers are doubles; array keys are integers
            out[key] = self.value(f"{path}.{key}" if isinstance(key, (str, int)) else path)
        return out

    def torch(self, index: int, path: str, start: int):
        version_or_class = self.string(f"the class of {path}")
        if version_or_class.startswith("V "):
            try:
                version = int(version_or_class[2:])
            except ValueError:
                self.fail(f"bad version string {version_or_class!r} at {path}", start)
            typename = self.string(f"the class of {path}")
        else:
            version, typename = 0, version_or_class
        if not typename.replace(".", "").replace("_", "").isalnum():
            self.fail(f"bad class name {typename[:40]!r} at {path} (corrupt)", start)
        if (dtype := _element_type(typename, "Storage")) is not None:
            size = self.long(f"the size of {typename}")
            itemsize = np.dtype(dtype).itemsize
            data = self.take(size * itemsize, f"{typename} of {size} elements at {path}")
            array = np.frombuffer(data, dtype)
            self.objects[index] = array
            return array
        if (dtype := _element_type(typename, "Tensor")) is not None:
            array = self.tensor(typename, dtype, path, start)
            self.objects[index] = array
            return array
        obj = TorchObject(typename, version, Table())
        self.objects[index] = obj  # before its fields: they may refer back to it
        fields = self.value(f"{path}<{typename}>")
        if not isinstance(fields, Table):
            self.fail(
                f"{typename} at {path}: expected a table of fields, got {type(fields).__name__}",
                start,
            )
        obj.fields.update(fields)
        return obj

    def tensor(self, typename: str, dtype, path: str, start: int) -> np.ndarray:
        ndim = self.int(f"the dimension count of {typename} at {path}")
        if not 0 <= ndim <= 64:
            self.fail(f"{typename} at {path} claims {ndim} dimensions (corrupt)", start)
        size = self.longs(ndim, f"the sizes of {typename} at {path}")
        stride = self.longs(ndim, f"the strides of {typename} at {path}")
        offset = self.long(f"the offset of {typename} at {path}") - 1
        storage = self.value(path + ".<storage>")
        if ndim == 0 or storage is None:
            return np.zeros((0,), dtype)
        if not isinstance(storage, np.ndarray) or storage.dtype != dtype:
            self.fail(f"{typename} at {path}: its storage is not a matching storage", start)
        if any(n < 0 for n in size) or offset < 0:
            self.fail(f"{typename} at {path}: negative size {size} or offset {offset}", start)
        if min(size) == 0:
            return np.zeros(size, dtype)
        elements = math.prod(size)
        if elements > MAX_ELEMENTS:  # zero strides can make a view of any size from 1 element
            self.fail(f"{typename} at {path}: sizes {size} make {elements:,} elements, more "
                      f"than the {MAX_ELEMENTS:,} a tensor may have (corrupt?)", start)  # fmt: skip
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        lowest = offset + sum((n - 1) * s for n, s in zip(size, stride) if s < 0)
        if last >= storage.size or lowest < 0:
            self.fail(
                f"{typename} at {path}: sizes {size} and strides {stride} at offset "
                f"{offset} reach outside its storage of {storage.size} elements",
                start,
            )
        item = storage.itemsize
        return np.lib.stride_tricks.as_strided(
            storage[offset:], shape=size, strides=[s * item for s in stride], writeable=False
        )


def load(path, long_size: int = 8):
    """The object saved in a Torch7 binary file (``torch.save(path, object)``).

    Lua tables become :class:`Table`, Torch classes :class:`TorchObject`, tensors and
    storages numpy arrays (read-only views of the memory-mapped file), numbers float,
    booleans bool, functions :class:`LuaFunction`. References are kept: an object saved once
    and referred to from several places is one Python object.

    Args:
      path: the ``.t7`` file.
      long_size: bytes of a C long in the saving machine (8 on Linux/macOS, 4 on Windows).

    Raises:
      FileNotFoundError: no such file.
      Torch7Error: the file is truncated, corrupt or not a Torch7 binary file (names the file
        and the byte where reading failed).
    """
    path = pathlib.Path(path)
    if long_size not in (4, 8):
        raise ValueError(f"long_size: 4 or 8, got {long_size!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as fh:
        if path.stat().st_size == 0:
            raise Torch7Error(f"{path}: empty file")
        buffer = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    reader = _Reader(buffer, str(path), long_size)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH + 1000))  # room for MAX_DEPTH levels
    try:
        out = reader.value()
    finally:
        sys.setrecursionlimit(limit)
    if reader.pos != len(buffer):
        raise Torch7Error(
            f"{path}: {len(buffer) - reader.pos} bytes follow the saved object "
            "(not one torch.save file?)"
        )
    return out
