"""Where results go, checked before the work: one rule for every command that writes.

Every command that writes files calls :func:`check_outputs` before it starts, with every file
it will write (the siblings it adds included). Refused, naming the argument:

* an output that exists, unless the user passed ``--overwrite`` (:func:`add_overwrite`);
* an output that is one of the inputs (links resolved), or lies inside an input folder;
* an output inside a run's ``checkpoints/``;
* two outputs that are one file, a folder where a file is expected, a place that cannot be
  written.

Files are then written through :func:`replacing`: a temporary file beside the target, renamed
into place when complete and removed on every failure (a full disk included). Writers whose
libraries do not survive a full disk (HDF5 crashes at teardown, orbax leaves threads writing)
first ask :func:`require_room`.
"""

import contextlib
import errno
import os
import pathlib
import shutil

OVERWRITE_HELP = "replace output files that exist (refused otherwise)"


class OutputError(ValueError):
    """An output refused by the rule above (exit code 2)."""


def add_overwrite(parser) -> None:
    """The one ``--overwrite`` flag of every command that writes."""
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def _same(a: pathlib.Path, b: pathlib.Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def writable_folder(folder) -> str | None:
    """Why ``folder`` (created if missing) cannot receive files; None when it can."""
    folder = pathlib.Path(folder)
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder"
    existing = folder
    while not existing.exists():  # the nearest existing ancestor decides
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    # A real probe: permissions say nothing for root, nor on read-only or special file systems.
    probe = existing / f".c2f-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return f"{existing} is not writable ({e.strerror or e})"
    return None


def _inside(path: pathlib.Path, folder: pathlib.Path) -> bool:
    try:
        return folder.is_dir() and path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def run_checkpoints(path) -> pathlib.Path | None:
    """The ``checkpoints/`` folder of a c2f run that ``path`` is or lies in, or None."""
    path = pathlib.Path(path).resolve()
    for folder in (path, *path.parents):
        if folder.name == "checkpoints" and (folder.parent / "config.json").is_file():
            return folder
    return None


def check_outputs(outputs: dict, inputs: dict | None = None, *, overwrite: bool = False) -> None:
    """Refuse outputs that break the module's rule.

    Args:
      outputs: ``{argument name: file path}`` of every file the command will write.
      inputs: ``{argument name: path}`` of the files and folders it reads.
      overwrite: the user asked to replace existing outputs (``--overwrite``).

    Raises:
      OutputError: naming the argument(s) and the path.
    """
    inputs = {k: pathlib.Path(v) for k, v in (inputs or {}).items() if v is not None}
    seen: dict = {}
    probed: dict = {}  # folder -> problem: one probe per folder, not per file
    for name, path in outputs.items():
        path = pathlib.Path(path)
        for other, source in inputs.items():
            if _same(path, source):
                raise OutputError(f"{name}: {path} is the input {other}; it would be replaced")
            if _inside(path, source):
                raise OutputError(f"{name}: {path} is inside the input folder {other} "
                                  f"({source}); write elsewhere")  # fmt: skip
        for other, earlier in seen.items():
            if _same(path, earlier):
                raise OutputError(f"{name}: {path} is also {other}; one would replace the other")
        if path.is_dir():
            raise OutputError(f"{name}: {path} is a folder; a file path is expected")
        checkpoints = run_checkpoints(path)
        if checkpoints is not None:
            raise OutputError(f"{name}: {path} is inside the run's {checkpoints}; nothing but "
                              "checkpoints goes there")  # fmt: skip
        if path.exists() and not overwrite:
            raise OutputError(f"{name}: {path} exists; pass --overwrite to replace it")
        if path.parent not in probed:
            probed[path.parent] = writable_folder(path.parent)
        problem = probed[path.parent]
        if problem:
            raise OutputError(f"{name}: {problem}")
        seen[name] = path


def check_output_folder(name: str, folder, inputs: dict | None = None) -> None:
    """Refuse an output folder that is, or lies inside, an input folder, or a run's checkpoints.

    (Its files are checked with :func:`check_outputs`.)
    """
    folder = pathlib.Path(folder)
    for other, source in (inputs or {}).items():
        if source is None:
            continue
        source = pathlib.Path(source)
        if _same(folder, source) or _inside(folder, source):
            raise OutputError(f"{name}: {folder} is inside the input {other} ({source}); "
                              "write elsewhere")  # fmt: skip
    if run_checkpoints(folder) is not None:
        raise OutputError(f"{name}: {folder} is inside a run's checkpoints/")
    problem = writable_folder(folder)
    if problem:
        raise OutputError(f"{name}: {problem}")


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside ``path``; renamed onto it on success, removed on failure.

    The temporary name (``.NAME.tmp-PID``, same folder: the rename is atomic) keeps the suffix
    last, so that writers that choose a format by suffix see the right one.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def replacing_all(paths):
    """:func:`replacing` for a set of files written together: all renamed, or none kept.

    Yields the temporary paths in the order of ``paths``. They are renamed only once every
    one was written, so a failure part way (a full disk) leaves no partial set behind.
    """
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(replacing(path)) for path in paths]


# Open files whose close failed on a full disk (HDF5: freeing them crashes the interpreter).
# Writers keep them here; after a full disk the commands then end without teardown
# (c2f.cli.disk_full).
UNCLOSABLE: list = []


def require_room(folder, need_bytes: int, what: str) -> None:
    """Raise ``OSError`` ENOSPC, before writing, when ``folder``'s disk has less free space.

    Args:
      folder: an existing folder on the disk written to.
      need_bytes: what the write needs, margins included.
      what: the write, for the message ("a checkpoint", "the next samples").
    """
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        room = f"{what} needs about {need_bytes / 2**20:.1f} MiB, {free / 2**20:.1f} MiB free"
        raise OSError(errno.ENOSPC, f"No space left on device: {room}", str(folder))
