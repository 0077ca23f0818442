"""One writer per workdir: an exclusive lock that the operating system releases with its holder.

``c2f train`` takes it before writing anything; a second run on the same workdir is told who
holds it and stops (exit code 2). The lock is ``fcntl.flock`` on ``WORKDIR/.lock``, released by
the kernel when the process ends in any way (kill -9 included), so no stale lock is left to
clean up; the file's text (pid, host, time, command) only says who holds it. Several processes
of one multi-host run: process 0 holds it. Evaluations do not take it: they write under
``WORKDIR/eval/`` only, never what training writes.
"""

import datetime
import fcntl
import os
import pathlib
import socket
import sys

LOCK_FILE = ".lock"


class WorkdirError(RuntimeError):
    """The workdir cannot be used: a file, not writable, or held by another process."""


class WorkdirBusy(WorkdirError):
    """Another live process holds the workdir's lock."""


class WorkdirLock:
    """``with WorkdirLock(workdir):`` holds the workdir exclusively (see the module docstring).

    Raises:
      WorkdirBusy: another process holds it (its pid, host, start time and command named).
      WorkdirError: the workdir is a file, or cannot be created or written.
    """

    def __init__(self, workdir):
        self.workdir = pathlib.Path(workdir)
        self.path = self.workdir / LOCK_FILE
        self._fd = None

    def __enter__(self):
        if self.workdir.exists() and not self.workdir.is_dir():
            raise WorkdirError(f"--workdir: {self.workdir} is a file, not a folder")
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise WorkdirError(
                f"--workdir: {self.workdir} is not writable ({e.strerror or e})"
            ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WorkdirBusy(
                f"{self.workdir} is being trained by another process ({holder}); wait for it or "
                "use another --workdir"
            ) from None
        info = (f"pid {os.getpid()} on {socket.gethostname()} since "
                f"{datetime.datetime.now().isoformat(timespec='seconds')}: "
                f"{' '.join(sys.argv)}")  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *_):
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
