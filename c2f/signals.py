"""SIGINT and SIGTERM at any moment: the command stops with 130 or 143, never 0, 1 or 139.

:func:`install` (the ``c2f`` entry point, before jax is imported) replaces Python's handlers
with one that records the signal and raises :class:`Interrupted`, a ``KeyboardInterrupt``.
Three things made the old handling unreliable, and each has its answer here:

* jax raises inside callbacks (its garbage-collection hook) swallow the exception ("Exception
  ignored in _xla_gc_callback"), and backend initialisation turns it into "Unable to initialize
  backend": the signal is recorded, so :func:`exit_code` still reports it, and the training
  loop, which takes the signals over once it starts, sees one that came earlier
  (:func:`received`) and stops at once.
* returning normally after an interrupt tears the interpreter down while XLA's threads may
  still be compiling (exit 139): the entry point ends such a process with ``os._exit``
  (:func:`exit_now`), after the exception has run every ``finally`` on its way up.
* a second signal while the first is being handled is recorded and ignored.
"""

import contextlib
import os
import signal
import sys

_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_deferring = [0]


def _handle(signum, frame):
    first = not _received
    _received.append(signum)
    if first and not _deferring[0]:
        raise Interrupted(signum)


@contextlib.contextmanager
def deferred():
    """Record a signal inside, raise it on the way out.

    For imports of native extensions (jax, jaxlib): their module set-up runs Python from C++
    (nanobind), and an exception raised there aborts the process (SIGABRT, exit 134) instead of
    unwinding. Measured: a SIGINT 0.3 s into ``c2f train`` landed in jaxlib's enum set-up.
    """
    _deferring[0] += 1
    try:
        yield
    finally:
        _deferring[0] -= 1
    if not _deferring[0]:
        raise_if_received()


def _unraisable(hook):
    def quiet(unraisable):
        # Our own Interrupted, swallowed by a callback: recorded already, not a crash to print.
        if isinstance(unraisable.exc_value, Interrupted):
            return
        hook(unraisable)

    quiet.c2f = True
    return quiet


def install() -> None:
    """Handle SIGINT and SIGTERM as above (main thread only; elsewhere nothing changes).

    Installing again keeps what was received.
    """
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _handle)
    except ValueError:  # not the main thread
        return
    if not getattr(sys.unraisablehook, "c2f", False):
        sys.unraisablehook = _unraisable(sys.unraisablehook)


def raise_if_received() -> None:
    """Raise :class:`Interrupted` for a signal that came earlier and was swallowed on its way."""
    if _received:
        raise Interrupted(_received[0])


def received() -> int | None:
    """The first signal received since :func:`install`, or None."""
    return _received[0] if _received else None


def record(signum: int) -> None:
    """Note a signal that another handler (the training loop's) took."""
    _received.append(signum)


def exit_code() -> int | None:
    """128 + the signal received (130 SIGINT, 143 SIGTERM), or None when none came."""
    return None if not _received else 128 + _received[0]


def signum_of(e: KeyboardInterrupt | None = None) -> int:
    """The signal behind ``e`` (or the one recorded); SIGINT for a plain KeyboardInterrupt."""
    return getattr(e, "signum", None) or received() or signal.SIGINT


def word(signum: int) -> str:
    """The word of the commands' one line: "terminated" (SIGTERM) or "interrupted"."""
    return "terminated" if signum == signal.SIGTERM else "interrupted"


def exit_now(code: int) -> None:
    """Flush and end the process without interpreter teardown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
