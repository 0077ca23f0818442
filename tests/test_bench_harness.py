import time

import pytest

from bench.harness import Contender, interleave


def test_interleave_order_medians_and_ratios():
    order = []

    def sleeper(name, seconds):
        def call():
            order.append(name)
            time.sleep(seconds)

        return call

    rows = interleave(
        [
            Contender("ours", sleeper("ours", 0.004), items=2, flops=1e6),
            Contender("theirs", sleeper("theirs", 0.008), items=2, torch=True),
        ],
        rounds=2,
        calls=3,
        settle_s=0.0,
    )
    # Round-robin after one warm-up call each: ours x3, theirs x3, then again.
    assert order == ["ours", "theirs"] + (["ours"] * 3 + ["theirs"] * 3) * 2
    ours, theirs = rows
    assert ours["n"] == 6 and 0.004 <= ours["median_s"] < theirs["median_s"]
    assert ours["vs_fastest_torch"] > 1.0 and theirs["vs_fastest_torch"] == 1.0
    assert ours["gflops_per_s"] == 1e6 / ours["median_s"] / 1e9
    assert ours["items_per_s"] == 2 / ours["median_s"]


def test_the_twin_runs_where_c2f_runs():
    """The PyTorch twin is placed on c2f's device: the CPU here, CUDA beside a GPU, and a GPU
    run without torch's CUDA is refused rather than timed on the host."""
    from bench.models import twin_device

    assert twin_device("cpu", cuda_available=False) == "cpu"
    assert twin_device("cpu", cuda_available=True) == "cpu"
    assert twin_device("gpu", cuda_available=True) == "cuda"
    with pytest.raises(RuntimeError, match="torch has no CUDA"):
        twin_device("gpu", cuda_available=False)
