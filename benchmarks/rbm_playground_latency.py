"""Benchmark: a drag in the RBM explorer's "Hold q" tab, 12 x 12 RBM. Target: <= 100 ms per move.

Measured in the kernel (no browser): the handles' source receives the data BokehJS sends while a
handle is dragged, and the clock stops when the drag handler has updated q, F[q], the readout and
every source of the tab (bars, handles, the path's first point). Each move goes to a new value, so
nothing is served from a cache. Moves alternate between visible and hidden units, at several
temperatures (low T: several mean-field minima).

With ``--browser``: the same in a real page (Voila, headless Chromium): a handle dragged with the
mouse, timed in the page's clock from the mouse's release (when the tool sends the moved handle
to the kernel) to the moment the readout's F[q] shows a new value (BokehJS -> kernel -> page).

Run (repository root): .venv/bin/python -m benchmarks.rbm_playground_latency [--moves 40] [--browser]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from benchmarks._timing import load_average


def _summary(seconds):
    return {"median_ms": round(1e3 * statistics.median(seconds), 2), "min_ms": round(1e3 * min(seconds), 2),
            "max_ms": round(1e3 * max(seconds), 2), "moves": len(seconds), "target_ms": 100,
            "ok": statistics.median(seconds) <= 0.1}


def measure(moves=40, temperatures=(0.2, 0.5, 1.0)):
    from explorer.app import RBMExplorer

    app = RBMExplorer(query="nv=12&nh=12&seed=0", page_url="", run_ais=False, prefetch=False)
    out = {"cpu_count": os.cpu_count(), "load_average_before": load_average()}
    rng = np.random.default_rng(0)
    per_t = {}
    for t in temperatures:
        app.w_temperature.value = t
        app.flush()
        app.open_panel("hold_q")
        tab = app.hold_q
        handles = app.source("pg_handles")
        times = []
        for k in range(moves):
            unit = int(k % 24)
            x, y = list(handles.data["x"]), list(handles.data["y"])
            x[unit] += 0.1
            y[unit] = float(rng.uniform())
            before = tab.w_readout.value
            t0 = time.perf_counter()
            handles.data = {"x": x, "y": y}          # what a drag event sets
            times.append(time.perf_counter() - t0)
            assert tab.w_readout.value != before and app.source("pg_bars").data["m"][unit] == y[unit]
        per_t[f"T={app.state.T:.3g}"] = times
    out["drag_to_readout"] = {k: _summary(v) for k, v in per_t.items()}
    out["all"] = _summary([x for v in per_t.values() for x in v])
    out["load_average_after"] = load_average()
    return out


READ_FQ_JS = "() => document.querySelector('.pg-readout .pg-fq').innerText"
#: Resolves with the page time at which the readout's F[q] differs from ``old``.
WAIT_FQ_JS = """old => new Promise((resolve, reject) => {
  setTimeout(() => reject(new Error('F[q] did not change within 30 s')), 30000);
  const el = document.querySelector('.pg-readout');
  let obs = null;
  const done = () => { const t = performance.now();
    if (el.querySelector('.pg-fq').innerText !== old) { if (obs) obs.disconnect(); resolve(t); return true; }
    return false; };
  if (!done()) { obs = new MutationObserver(done); obs.observe(el, {subtree: true, childList: true,
                                                                     characterData: true}); }
})"""


def measure_browser(moves=30):
    from playwright.sync_api import sync_playwright

    from harness.voila import (
        DATA_TO_CLIENT_JS,
        READ_SOURCE_JS,
        SOURCES_HAVE_DATA_JS,
        launch_browser,
        new_page,
        open_explorer,
        open_tab,
        voila_server,
    )

    out = {"cpu_count": os.cpu_count(), "load_average_before": load_average()}
    rng = np.random.default_rng(0)
    times = []
    with voila_server() as base, sync_playwright() as p:
        browser = launch_browser(p)
        page = None
        for k in range(moves):
            unit = k % 24
            if page is None:
                page = new_page(browser, base)
                open_explorer(page, base, "T=0.5")
                open_tab(page, "explorer", "Hold q", "pg_handles")
                page.wait_for_function(SOURCES_HAVE_DATA_JS, arg=["pg_handles", "pg_path"], timeout=120_000)
            m = page.evaluate(READ_SOURCE_JS, "pg_handles")["y"][unit]
            target = m
            while abs(target - m) < 0.15:        # a move of a few pixels is no drag (pan threshold)
                target = float(rng.uniform(0.05, 0.95))
            x0, y0 = page.evaluate(DATA_TO_CLIENT_JS, ["fig_pg_bars", unit, m])
            x1, y1 = page.evaluate(DATA_TO_CLIENT_JS, ["fig_pg_bars", unit, target])
            page.mouse.move(x0, y0)
            page.mouse.down()
            page.mouse.move(x1, y1, steps=4)
            old = page.evaluate(READ_FQ_JS)
            # BokehJS's PointDrawTool moves the handle on screen while the mouse moves and sends the
            # new data when the drag ends: the clock starts at the release
            t_up = page.evaluate("() => performance.now()")
            page.mouse.up()
            t_done = page.evaluate(WAIT_FQ_JS, old)
            times.append((t_done - t_up) / 1e3)
            time.sleep(0.3)      # let the release's own update settle before the next move
        browser.close()
    out["drag_release_to_readout"] = _summary(times)
    out["load_average_after"] = load_average()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=40, help="moves per temperature (default 40)")
    ap.add_argument("--browser", action="store_true", help="drag with the mouse in a Voila page instead")
    args = ap.parse_args(argv)
    if args.browser:
        res = measure_browser(args.moves)
        b = res["drag_release_to_readout"]
        print(f"browser: mouse release -> F[q] readout: median {b['median_ms']} ms (min {b['min_ms']}, max "
              f"{b['max_ms']}, {b['moves']} moves); target 100 ms -> {'OK' if b['ok'] else 'OVER'}")
    else:
        res = measure(args.moves)
        for k, v in res["drag_to_readout"].items():
            print(f"drag -> F[q] readout and plots, {k}: median {v['median_ms']} ms (min {v['min_ms']}, "
                  f"max {v['max_ms']}, {v['moves']} moves)")
        a = res["all"]
        print(f"all: median {a['median_ms']} ms (min {a['min_ms']}, max {a['max_ms']}); target 100 ms -> "
              f"{'OK' if a['ok'] else 'OVER'}")
    print(f"cpus {res['cpu_count']}, load average before {res['load_average_before']}, "
          f"after {res['load_average_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
