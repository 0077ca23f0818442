"""The persistent compilation cache of every ``c2f`` command (on by default).

A command that compiles (train, eval, predict, video, export, bench, ...) stores XLA's compiled
programs on disk, so that running it again (a resumed run, another evaluation of the same run,
``predict --mesh`` on more images) skips most of its compilation. Where:

* ``$C2F_COMPILATION_CACHE``: a folder, or ``off`` to turn the cache off;
* else ``$JAX_COMPILATION_CACHE_DIR`` if you set it (jax's own setting);
* else ``$XDG_CACHE_HOME/c2f/jax``, by default ``~/.cache/c2f/jax``.

Programs that compile in under a second are not stored (jax's default threshold).
"""

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


def enable() -> pathlib.Path | None:
    """Point jax at :func:`cache_dir` (before or after jax is imported); returns the folder."""
    folder = cache_dir()
    if folder is None:
        return None
    if "jax" in sys.modules:  # jax reads its environment at import: set the live config too
        sys.modules["jax"].config.update("jax_compilation_cache_dir", str(folder))
    else:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder)
    return folder
