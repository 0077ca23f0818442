"""A checkpoint save that fails whole: room checked first, a full disk named, nothing left over.

orbax writes a checkpoint's parts (model, optimizer, meta) from several threads into a temporary
folder; when one part fails (a full disk), the others run on. :func:`saving` waits for them and
removes the folder, and gives tensorstore's full-disk error as ``OSError`` ENOSPC, which every
command turns into its own exit code (c2f.cli.DISK_FULL).
"""

import contextlib
import errno
import logging
import pathlib
import shutil
import threading
import time

import jax

from c2f.outputs import require_room


@contextlib.contextmanager
def saving(manager, step: int):
    """A failed save leaves no temporary folder; a full disk is raised as ``OSError`` ENOSPC.

    orbax reports a full disk as a ``ValueError`` from tensorstore (RESOURCE_EXHAUSTED, with
    ``os_error_code='28'``), and logs each of its writer threads' tracebacks besides: the
    error raised here is the one report (the commands' exit code 4, c2f.cli.DISK_FULL).
    """
    log = logging.getLogger("absl")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    except BaseException as e:
        # The other parts' writer threads run on after one part failed: joined (they raise
        # their own errors again) before the clean-up, or they write into it.
        with contextlib.suppress(Exception):
            manager.wait_until_finished()
        for thread in threading.enumerate():
            if (
                type(thread).__module__.startswith("orbax")
                and thread is not threading.current_thread()
            ):
                with contextlib.suppress(Exception):
                    thread.join(timeout=60)
        remove_partial(manager.directory, step)
        text = str(e)
        if not isinstance(e, OSError) and ("os_error_code='28'" in text
                                           or "No space left on device" in text):  # fmt: skip
            raise OSError(errno.ENOSPC, "No space left on device", str(manager.directory)) from e
        raise
    finally:
        log.setLevel(level)


def remove_partial(directory, step: int, patience_s: float = 5.0) -> None:
    """Remove a failed save's temporary folders, until tensorstore's last writes have landed."""
    deadline = time.monotonic() + patience_s
    while True:
        left = list(pathlib.Path(directory).glob(f"{step}.orbax-checkpoint-tmp*"))
        for tmp in left:
            shutil.rmtree(tmp, ignore_errors=True)
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.25)


def check_room(directory, state, margin: float = 1.2) -> None:
    """Raise ``OSError`` ENOSPC before a save that cannot fit on ``directory``'s disk.

    A save that fails part way leaves orbax's writer threads behind; refusing it up front, from
    the state's bytes, is the clean way out in the usual case.
    """
    need = int(margin * sum(leaf.nbytes for leaf in jax.tree.leaves(state))) + (1 << 20)
    require_room(directory, need, "writing a checkpoint")
