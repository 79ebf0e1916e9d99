"""Benchmark: the Learning tab's race (issue 16's target).

Exact, CD-1, PCD and TAP3 on 3×3 bars and stripes with 12 hidden units, the tab's defaults
(learning rate 0.2, momentum 0.9, full batch, 300 epochs), every epoch scored exactly.

Targets: >= 20 epochs per second for the four together; the race plot updated >= 2 times
per second; the kernel's event loop (which answers the other controls) late by <= 200 ms.

1. The engine alone (:class:`explorer.rbm.learning.Race`): epochs per second over the whole
   run and over its first and second half (TAP3's solve gets slower once the couplings are
   strong: past ||W|| ~ 8 the TAP equations have several solutions and the branch a lane
   follows can end; :func:`explorer.rbm.tap.tap_follow` then reaches a nearby solution by the
   damped iteration in a few ms, and only the rare update where that fails solves from mean
   field, ~0.3 s), median/min/max over repeats, and the lane's cold solves.
2. The controller with its thread (:class:`explorer.app.rbm.learning.LearningTab` in an
   :class:`~explorer.app.RBMExplorer`, the Learning tab open) on an asyncio loop standing in
   for the kernel's: the intervals between plot updates, and how late a 50 ms heartbeat on
   that loop runs while the race trains (what a slider's message would wait).

Run (repository root): .venv/bin/python -m benchmarks.rbm_learning_race
"""

import asyncio
import os
import statistics
import time

from explorer.rbm.learning import Race, learning_dataset

METHODS = ["exact", "cd1", "pcd", "tap3"]
EPOCHS = 300
REPEATS = 3
TARGET_EPOCHS_PER_S = 20.0
TARGET_UPDATES_PER_S = 2.0
TARGET_LATENESS_S = 0.2


def engine_run():
    race = Race(learning_dataset("bars-stripes-3"), 12, METHODS, learning_rate=0.2, momentum=0.9, seed=0)
    t0 = time.perf_counter()
    half = None
    for rec in race.run(EPOCHS):
        if rec.epoch == EPOCHS // 2:
            half = time.perf_counter() - t0
    total = time.perf_counter() - t0
    return EPOCHS / total, (EPOCHS // 2) / half, (EPOCHS - EPOCHS // 2) / (total - half), race


def _stats(values):
    return f"median {statistics.median(values):.1f} (min {min(values):.1f}, max {max(values):.1f})"


def controller_run():
    from explorer.app import RBMExplorer

    app = RBMExplorer(query="", run_ais=False, prefetch=False)
    app.open_panel("learning")
    tab = app.learning
    updates, lateness = [], []
    original = tab._progress

    def progress(snap):
        updates.append(time.perf_counter())
        original(snap)

    tab._progress = progress

    async def main():
        tab.w_epochs.value = EPOCHS
        for k, w in tab.w_methods.items():
            w.value = k in ("exact", "cd", "pcd", "tap3")
        t0 = time.perf_counter()
        thread = tab.start()
        while thread.is_alive():
            before = time.perf_counter()
            await asyncio.sleep(0.05)
            lateness.append(time.perf_counter() - before - 0.05)
        await asyncio.sleep(0.1)          # the last posted update runs
        return time.perf_counter() - t0, tab.race.epoch

    seconds, epochs = asyncio.run(main())
    gaps = [b - a for a, b in zip(updates, updates[1:])]
    return seconds, epochs, gaps, lateness


def main():
    print(f"load average before: {os.getloadavg()}")
    rates, first, second, restarts = [], [], [], []
    for _ in range(REPEATS):
        r, f, s, race = engine_run()
        rates.append(r)
        first.append(f)
        second.append(s)
        restarts.append(race.lanes["tap3"].tap_restarts)
    print(f"engine, {'+'.join(METHODS)}, 3x3 bars and stripes, 12 hidden, {EPOCHS} epochs, {REPEATS} runs:")
    print(f"  epochs/s over the run:      {_stats(rates)}; target >= {TARGET_EPOCHS_PER_S:.0f} -> "
          f"{'OK' if statistics.median(rates) >= TARGET_EPOCHS_PER_S else 'UNDER'}")
    print(f"  epochs/s, first half:       {_stats(first)}")
    print(f"  epochs/s, second half:      {_stats(second)}  (TAP3 cold solves per run: {restarts})")
    print("  final mean ln p: " + ", ".join(f"{m} {c['train'][-1]:.3f}" for m, c in race.curves().items())
          + f"; best possible {race.data.optimum:.3f}")
    seconds, epochs, gaps, late = controller_run()
    print(f"controller with its thread: {epochs} epochs in {seconds:.2f} s = {epochs / seconds:.1f} epochs/s")
    if gaps:
        print(f"  plot updates: {len(gaps) + 1}, interval median {statistics.median(gaps) * 1e3:.0f} ms "
              f"(min {min(gaps) * 1e3:.0f}, max {max(gaps) * 1e3:.0f}; "
              f"{sum(g > 1 / TARGET_UPDATES_PER_S for g in gaps)} over {1e3 / TARGET_UPDATES_PER_S:.0f} ms) "
              f"= {1 / statistics.median(gaps):.1f} per s; "
              f"target >= {TARGET_UPDATES_PER_S:.0f} per s -> "
              f"{'OK' if 1 / statistics.median(gaps) >= TARGET_UPDATES_PER_S else 'UNDER'}")
    print(f"  event loop late by: median {statistics.median(late) * 1e3:.1f} ms (min {min(late) * 1e3:.1f}, "
          f"max {max(late) * 1e3:.1f}); target <= {TARGET_LATENESS_S * 1e3:.0f} ms -> "
          f"{'OK' if max(late) <= TARGET_LATENESS_S else 'OVER'}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
