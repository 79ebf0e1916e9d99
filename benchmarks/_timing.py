"""Timing helper for the benchmark scripts: medians over repeats (the machines are shared and noisy)."""

import os
import statistics
import time


def median_seconds(fn, repeats=7, warmup=1):
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times; return (median, min, max) seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times)


def report(name, timing, target=None):
    med, lo, hi = timing
    line = f"{name}: median {med * 1e3:.1f} ms (min {lo * 1e3:.1f}, max {hi * 1e3:.1f})"
    if target is not None:
        line += f"; target {target * 1e3:.0f} ms -> {'OK' if med <= target else 'OVER'} (ratio {med / target:.2f})"
    print(line)
    return med


def load_average():
    """The machine's load average over 1, 5 and 15 minutes, rounded: printed beside every timing
    (a number measured on a busy machine is not comparable with one measured on a quiet one)."""
    return [round(x, 2) for x in os.getloadavg()]
