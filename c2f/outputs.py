"""Where results go, checked before the work: outputs never replace inputs or each other.

Every command that writes files calls :func:`check_outputs` before it starts: an output that
is one of its inputs (the same file, links resolved), two outputs that are one file, an output
that is a folder where a file is expected, or a folder that cannot be written is an error naming
the argument, raised before any work is done.
"""

import os
import pathlib


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


def check_outputs(outputs: dict, inputs: dict | None = None) -> None:
    """Refuse outputs that would replace an input or each other, or cannot be written.

    Args:
      outputs: ``{argument name: file path}`` of the files the command will write.
      inputs: ``{argument name: path}`` of the files it reads.

    Raises:
      ValueError: naming the argument(s) and the path.
    """
    inputs = {k: pathlib.Path(v) for k, v in (inputs or {}).items() if v is not None}
    seen: dict = {}
    for name, path in outputs.items():
        path = pathlib.Path(path)
        for other, source in inputs.items():
            if _same(path, source):
                raise ValueError(f"{name}: {path} is the input {other}; it would be replaced")
        for other, earlier in seen.items():
            if _same(path, earlier):
                raise ValueError(f"{name}: {path} is also {other}; one would replace the other")
        if path.is_dir():
            raise ValueError(f"{name}: {path} is a folder; a file path is expected")
        problem = writable_folder(path.parent)
        if problem:
            raise ValueError(f"{name}: {problem}")
        seen[name] = path
