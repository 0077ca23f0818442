"""The persistent compilation cache of every ``c2f`` command (on by default).

A command that compiles (train, eval, predict, video, export, bench, ...) stores XLA's compiled
programs on disk, so that running it again (a resumed run, another evaluation of the same run,
``predict --mesh`` on more images) skips most of its compilation. Where:

* ``$C2F_COMPILATION_CACHE``: a folder, or ``off`` to turn the cache off;
* else ``$JAX_COMPILATION_CACHE_DIR`` if you set it (jax's own setting);
* else ``$XDG_CACHE_HOME/c2f/jax``, by default ``~/.cache/c2f/jax``.

Programs that compile in 10 ms or more are stored (jax's own default is a second): a new run
of the paper recipe compiles 78 small programs for its random initialisation, 6.5 s in all,
which a later run reads back in 1.7 s (docs/speed.md).

The commands also run Python's cycle collector less often (:func:`collect_less`): tracing a
large network creates millions of objects that live until it ends, and the collector's young
generations went over them again and again. The paper step's tracing and lowering took 6.0 s
with Python's default thresholds and 4.6 s with these (docs/speed.md).
"""

import gc
import os
import pathlib
import sys

ENV = "C2F_COMPILATION_CACHE"
OFF = ("off", "0", "none", "false")


def cache_dir() -> pathlib.Path | None:
    """The folder the commands cache compiled programs in; None when turned off."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in OFF:
        return None
    if value:
        return pathlib.Path(value).expanduser()
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return pathlib.Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return pathlib.Path(base) / "c2f" / "jax"


# Seconds of compilation from which a program is stored.
MIN_COMPILE_SECONDS = 0.01


def enable() -> pathlib.Path | None:
    """Point jax at :func:`cache_dir` (before or after jax is imported); returns the folder."""
    folder = cache_dir()
    if folder is None:
        return None
    settings = {"jax_compilation_cache_dir": str(folder)}
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:  # the user's own wins
        settings["jax_persistent_cache_min_compile_time_secs"] = MIN_COMPILE_SECONDS
    for name, value in settings.items():
        if "jax" in sys.modules:  # jax reads its environment at import: set the live config
            sys.modules["jax"].config.update(name, value)
        else:
            os.environ[name.upper()] = str(value)
    return folder


# Python's default is 700 allocations between collections of the youngest generation.
YOUNG_THRESHOLD = 10_000


def collect_less() -> None:
    """Collect the youngest generation every 10,000 allocations instead of every 700."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
