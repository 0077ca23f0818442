"""The ``c2f`` command: one verb per task, each a thin parser over a library function.

``VERBS`` is the table of verbs (name -> module, one line of help); ``c2f --help`` lists it.
A verb's module is imported only when that verb runs: importing jax alone takes seconds
(measured 2.7 s cold on the 2-core CI machine), which ``c2f --help`` should not pay.

Exit codes, the same for every verb: 0 done; 1 a run diverged (train); 2 bad input or a
refused run (named in the message); 3 partial output (``video``: a frame did not decode, the
frames before it are written; ``predict``: an image did not decode, the others are written);
4 a full disk (``OSError`` ENOSPC: named, the partial output removed); 130 interrupted
(SIGINT) and 143 terminated (SIGTERM), at any moment (:mod:`c2f.signals`; ``train`` saves
first once it has started and resumes when re-run).
"""

import errno
import importlib
import sys
import threading

from c2f import __version__, outputs, signals
from c2f.cli import compile_cache

VERBS = {
    "train": ("c2f.cli.train", "train a recipe into a workdir (resumes; --set overrides)"),
    "train-temporal": ("c2f.cli.temporal", "learn a temporal model over a run's predictions"),
    "eval": ("c2f.cli.eval", "evaluate a run under a protocol: per-action tables"),
    "predict": ("c2f.cli.predict", "pose your own images: joints to JSON/NPZ, drawn pictures"),
    "video": ("c2f.serving.video", "pose a video: drawn MP4, joints, optional filter"),
    "export": ("c2f.serving.export", "export a run as a StableHLO or ONNX artifact"),
    "data": ("c2f.cli.data", "convert a dataset to c2f's format (c2f data SOURCE --help)"),
    "model": ("c2f.cli.model", "a recipe's network: parameters, volumes, FLOPs, memory"),
    "draw": ("c2f.cli.draw", "draw a run's predictions on test samples to a PNG"),
    "floor": ("c2f.evaluation.floor", "a protocol's error floor with perfect volumes"),
    "bench": ("c2f.cli.bench", "the speed suite (from a checkout; BENCHMARKS.md)"),
}


def table_lines(table: dict) -> str:
    """One line per entry of a ``{name: (module, help)}`` table, aligned."""
    width = max(map(len, table))
    return "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in table.items())


def dispatch(table: dict, name: str, rest: list, prog: str) -> int:
    """Import ``table[name]``'s module and run its ``main(rest)`` as ``prog`` (argparse's).

    Every verb runs with the persistent compilation cache and a slower-paced cycle collector
    (:mod:`c2f.cli.compile_cache`).
    """
    compile_cache.enable()
    compile_cache.collect_less()
    with signals.deferred():  # a signal during jax's import: raised after it (signals.py)
        module = importlib.import_module(table[name][0])
    saved, sys.argv = sys.argv, [prog, *rest]
    try:
        return int(module.main(rest) or 0)
    finally:
        sys.argv = saved


def usage() -> str:
    return (
        "usage: c2f VERB [ARGS...]   (c2f VERB --help for a verb's arguments)\n\n"
        "Coarse-to-fine volumetric 3D keypoint estimation in JAX.\n\nverbs:\n"
        + table_lines(VERBS)
        + "\n\nexit codes: 0 done, 1 diverged, 2 bad input, 3 partial output, 4 disk full,"
        " 130 interrupted, 143 terminated"
    )


def main(argv=None) -> int:
    """Run ``c2f VERB ARGS...``; returns the verb's exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"c2f {__version__}")
        return 0
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"c2f: unknown verb {verb!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        code = dispatch(VERBS, verb, rest, f"c2f {verb}")
    except KeyboardInterrupt as e:
        return interrupted(e)
    except OSError as e:
        return disk_full(e)
    late = signals.exit_code()
    if late is not None and code < 128:  # a signal that a library swallowed
        print("interrupted", file=sys.stderr)
        return late
    return code


DISK_FULL = 4
_ENDED_BY: list = []  # a failure after which the process ends without teardown


def disk_full(e: OSError) -> int:
    """The one line and exit code (4) of a full disk; any other ``OSError`` is raised again.

    Where a library was left broken, the process then ends without teardown (:func:`finish`):
    HDF5 crashes when it frees a file that met a full disk, and orbax's writer threads may run
    on. (The writers check the room first, so that this is rare.)
    """
    if e.errno != errno.ENOSPC:
        raise e
    writers = [t for t in threading.enumerate() if type(t).__module__.startswith("orbax")]
    if outputs.UNCLOSABLE or any(t.is_alive() for t in writers):
        _ENDED_BY.append("disk full")
    where = f"{e.filename}: {e.strerror}" if e.filename else str(e)
    print(f"error: the disk is full ({where}); nothing partial was kept",
          file=sys.stderr)  # fmt: skip
    return DISK_FULL


def interrupted(e: KeyboardInterrupt) -> int:
    """The one line and exit code of a SIGINT (130) or SIGTERM (143)."""
    signum = signals.signum_of(e)
    print(signals.word(signum), file=sys.stderr)
    return 128 + signum


def finish(run) -> int:
    """``run()``'s exit code, with the signal rule.

    A process that a signal stopped ends without interpreter teardown (XLA's threads may be
    mid-compile: exit 139 otherwise). For the ``c2f`` console script, ``python -m c2f``,
    ``train.py`` and ``eval.py``, which install the handlers (:func:`c2f.signals.install`)
    before jax is imported.
    """
    try:
        code = run()
    except Exception as e:
        # A signal raised inside a library may come out as its own error (a class definition
        # wraps it in a RuntimeError when the signal lands during an import): the signal's.
        if signals.received() is not None:
            code = interrupted(None)
        elif isinstance(e, OSError):  # train.py and eval.py, which do not go through main
            code = disk_full(e)
        else:
            raise
    except KeyboardInterrupt as e:
        code = interrupted(e)
    if signals.received() is not None or _ENDED_BY:
        signals.exit_now(code)
    return code


def entry() -> int:
    """The ``c2f`` console script and ``python -m c2f``: :func:`main` with the signal rule."""
    signals.install()
    return finish(main)
