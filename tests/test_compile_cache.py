"""The commands' persistent compilation cache: where it lives, turning it off, and that it fills."""

import os
import pathlib
import subprocess
import sys

from c2f.cli import compile_cache

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_where_the_cache_lives(monkeypatch, tmp_path):
    for name in (compile_cache.ENV, "JAX_COMPILATION_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert compile_cache.cache_dir() == tmp_path / ".cache" / "c2f" / "jax"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_dir() == tmp_path / "xdg" / "c2f" / "jax"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax"))
    assert compile_cache.cache_dir() == tmp_path / "jax"
    monkeypatch.setenv(compile_cache.ENV, str(tmp_path / "mine"))
    assert compile_cache.cache_dir() == tmp_path / "mine"
    for off in ("off", "OFF", "0"):
        monkeypatch.setenv(compile_cache.ENV, off)
        assert compile_cache.cache_dir() is None and compile_cache.enable() is None


def test_small_programs_are_stored_unless_the_user_says(monkeypatch, tmp_path):
    import jax

    name = "jax_persistent_cache_min_compile_time_secs"
    saved = (jax.config.jax_compilation_cache_dir, getattr(jax.config, name))
    monkeypatch.setenv(compile_cache.ENV, str(tmp_path / "cache"))
    try:
        monkeypatch.delenv(name.upper(), raising=False)
        assert compile_cache.enable() == tmp_path / "cache"
        assert getattr(jax.config, name) == compile_cache.MIN_COMPILE_SECONDS
        jax.config.update(name, 0.7)
        monkeypatch.setenv(name.upper(), "0.7")
        compile_cache.enable()
        assert getattr(jax.config, name) == 0.7
    finally:
        jax.config.update("jax_compilation_cache_dir", saved[0])
        jax.config.update(name, saved[1])


def test_a_command_process_fills_it(tmp_path):
    """As a command starts: enabled before jax is imported, compiled programs land there."""
    code = ("from c2f.cli import compile_cache; compile_cache.enable()\n"
            "import jax, jax.numpy as jnp\n"
            "print(jax.config.jax_compilation_cache_dir)\n"
            "jax.jit(lambda x: jnp.sin(x) @ x)(jnp.ones((8, 8))).block_until_ready()\n"
    )  # fmt: skip
    env = {**os.environ, compile_cache.ENV: str(tmp_path / "cache"),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "cache")
    assert any((tmp_path / "cache").iterdir())
    env[compile_cache.ENV] = "off"
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0 and out.stdout.strip() in ("None", "")


def test_commands_collect_less_often():
    import gc

    from c2f import cli

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        table = {"noop": ("tests.test_compile_cache", "")}
        assert cli.dispatch(table, "noop", [], "c2f noop") == 0
        assert gc.get_threshold() == (compile_cache.YOUNG_THRESHOLD, 10, 10)
    finally:
        gc.set_threshold(*saved)


def main(argv):  # the verb of test_commands_collect_less_often
    return 0
