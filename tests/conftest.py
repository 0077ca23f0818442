"""Shared fixtures: the persistent compilation cache and the real reference data."""

import os
import pathlib

import jax
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Compile time dominates a CPU suite; a persistent cache makes re-runs cheap.
jax.config.update("jax_compilation_cache_dir", str(ROOT / ".cache" / "jax"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """../shared/data (real Human3.6M samples); skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real reference data not found at {SHARED_DATA} (a user's clone)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_split(tmp_path_factory):
    """A small synthetic split: subject S1, one pose per sequence, 4 cameras (120 images)."""
    from data_prep.synthetic.generate import write_split

    path = tmp_path_factory.mktemp("synthetic") / "train.h5"
    write_split(path, ["S1"], poses=1, crop_res=128, seed=0, workers=1, args={"test": True})
    return path
