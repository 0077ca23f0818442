"""Shared fixtures: the persistent compilation cache and the real reference data."""

import fcntl
import os
import pathlib
import shutil

import jax
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Compile time dominates a CPU suite; a persistent cache makes re-runs cheap.
jax.config.update("jax_compilation_cache_dir", str(ROOT / ".cache" / "jax"))
# ... and the commands run in-process use the same one (c2f/cli/compile_cache.py)
os.environ.setdefault("C2F_COMPILATION_CACHE", str(ROOT / ".cache" / "jax"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")  # the commands' too
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# The body model's built arrays (c2f.body.build) are cached beside the compilation cache.
os.environ.setdefault("C2F_CACHE_DIR", str(ROOT / ".cache" / "c2f"))


# The longest files first: with workers (make test's pytest-xdist), the last file to start
# then is a short one, not a 90 s one that leaves the other worker idle.
SLOW_FIRST = ("test_multihost.py", "test_bench_gpu.py", "test_body_e2e.py", "test_train.py",
              "test_model.py", "test_interhand.py", "test_resume.py", "test_reliability.py",
              "test_temporal_run.py", "test_lowering.py", "test_temporal_model.py",
              "test_torch7.py", "test_losses.py", "test_cli.py", "test_packaging.py")  # fmt: skip


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the order within each file is kept


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


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """A tiny synthetic dataset folder: train (S1) and test (S9), 1 pose per sequence, 96 px."""
    from data_prep.synthetic.generate import write_split

    def build(root):
        write_split(root / "train.h5", ["S1"], poses=1, crop_res=96, seed=0, workers=1, args={})
        write_split(root / "test.h5", ["S9"], poses=1, crop_res=96, seed=1, workers=1, args={})

    # One folder for all workers: the micro run (built once) records it as its data.root.
    return built_once(tmp_path_factory, "tiny_data", build)


@pytest.fixture(scope="session")
def tiny_cfg(tiny_data):
    """configs/tiny.py on the tiny dataset, logging every step."""
    from c2f.config import apply_overrides, load_config

    return apply_overrides(
        load_config("tiny"),
        [f"data.root={str(tiny_data)!r}", "train.log_every=1", "train.steps=6"],
    )


@pytest.fixture(scope="session")
def micro_cfg(tiny_cfg):
    """tiny_cfg with a smaller network (tests/small.py)."""
    from c2f.config import apply_overrides
    from tests.small import MICRO

    return apply_overrides(tiny_cfg, MICRO)


def built_once(tmp_path_factory, name: str, build) -> pathlib.Path:
    """A session fixture's folder, built by the first xdist worker that asks, read by all.

    Twelve test files use the micro run, so each of ``make test``'s two workers would train it
    (about 15 s cold); the second now waits for the first's and reuses it. Tests that change a
    run copy it first (as they did).
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this run
    folder, done = root / name, root / f"{name}.built"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def micro_run(micro_cfg, tmp_path_factory):
    """A finished micro run (tests/small.py MICRO_RUN): its workdir. Tests copy it to change it."""
    from c2f.config import apply_overrides
    from c2f.train.loop import train
    from tests.small import MICRO_RUN

    def build(workdir):
        train(apply_overrides(micro_cfg, MICRO_RUN), workdir, progress=False)

    return built_once(tmp_path_factory, "micro_run", build)


@pytest.fixture(scope="session")
def tiny_run(tiny_cfg, tmp_path_factory):
    """A finished tiny training run (6 steps): its workdir."""
    from c2f.train.loop import train

    workdir = tmp_path_factory.mktemp("tiny_run")
    train(tiny_cfg, workdir, progress=False)
    return workdir


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """A 12-frame 25 fps clip: a bright block moving over a gradient."""
    import av
    import numpy as np

    path = tmp_path_factory.mktemp("clip") / "in.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 80, "yuv420p"
        y, x = np.mgrid[0:80, 0:96]
        for t in range(12):
            image = np.stack([x * 2, y * 3, np.full_like(x, 60)], -1).astype(np.uint8)
            image[20:60, 10 + 4 * t : 30 + 4 * t] = 230
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
