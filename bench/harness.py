"""Interleaved timing: every contender runs a few calls per round, round after round.

Machine drift (other tenants, thermal state) then hits all contenders alike, and the medians
compare. A short pause before each contender's turn lets the previous contender's spinning
worker threads (OpenMP, Eigen) go idle, so one contender's threads do not tax the next.
"""

import dataclasses
import statistics
import time
from collections.abc import Callable


@dataclasses.dataclass
class Contender:
    """One timed callable.

    Attributes:
      name: row label.
      call: runs one measured call and blocks until its results exist.
      items: images per call (throughput = items / median seconds).
      flops: floating-point operations per call, if known (for achieved FLOP/s).
      peak_bytes: memory the call needs at its peak, if known.
      group: rows with the same group are compared with each other.
      torch: a PyTorch contender (the ratio column divides by the fastest of these).
    """

    name: str
    call: Callable
    items: int
    flops: float | None = None
    peak_bytes: int | None = None
    group: str = ""
    torch: bool = False


def interleave(contenders: list[Contender], rounds: int, calls: int, settle_s: float = 0.2):
    """Warm each contender up once, then time them round-robin; returns rows (dicts)."""
    for c in contenders:
        c.call()  # compilation, autotuning and first-touch are not timed
    times = {c.name: [] for c in contenders}
    for _ in range(rounds):
        for c in contenders:
            time.sleep(settle_s)
            for _ in range(calls):
                start = time.perf_counter()
                c.call()
                times[c.name].append(time.perf_counter() - start)
    torch_best = min(
        (statistics.median(times[c.name]) for c in contenders if c.torch), default=None
    )
    rows = []
    for c in contenders:
        t = times[c.name]
        med = statistics.median(t)
        rows.append({
            "group": c.group, "contender": c.name, "items": c.items, "median_s": med,
            "min_s": min(t), "max_s": max(t), "n": len(t), "items_per_s": c.items / med,
            "vs_fastest_torch": torch_best / med if torch_best else None,
            "gflops_per_s": c.flops / med / 1e9 if c.flops else None,
            "peak_mib": c.peak_bytes / 2**20 if c.peak_bytes else None,
        })  # fmt: skip
    return rows


def median_seconds(fn, repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``fn`` (warm it up first where it compiles)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def print_rows(rows) -> None:
    for r in rows:
        ratio = f"x{r['vs_fastest_torch']:.2f} vs fastest torch" if r["vs_fastest_torch"] else ""
        print(f"{r['group']:28s} {r['contender']:34s} {1000 * r['median_s']:9.2f} ms "
              f"[{1000 * r['min_s']:.1f}-{1000 * r['max_s']:.1f}] "
              f"{r['items_per_s']:9.1f} img/s  {ratio}", flush=True)  # fmt: skip
