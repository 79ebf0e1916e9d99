"""Explorer latency in a real browser: keypress -> Bokeh data change, and first render.

Starts Voila on a free port, opens the explorer (default 12 x 12 RBM) in headless Chromium
(/usr/bin/chromium, Playwright) and measures in the page's own clock:

* keypress latency: ArrowRight on the focused temperature slider -> the change event of
  the Bokeh sources. "first" is the first source to change, "all" the last of the
  per-temperature sources on screen (cursor, F(λ) curves, the shown Cumulants tab): every
  linked plot on screen updated. Presses come a few per second and each goes to a temperature not shown
  before; the app computes the neighbouring temperatures while idle, so these are mostly
  served from that prefetch (what a student pressing an arrow key sees);
* cold jumps: a temperature typed into the slider's readout, never visited, so nothing is
  cached or prefetched (the worst case of a single move);
* drag: a burst of presses without waiting, then the time from the last press until the
  plots show the last value, and how many updates the kernel actually made (coalescing);
* first render: page request -> widgets and Bokeh sources present, over fresh page loads.

Usage (repository root): .venv/bin/python -m benchmarks.app_latency [--presses 40] [--loads 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks._timing import load_average
from harness.voila import (
    INSTALL_KEY_CLOCK_JS,
    READ_SOURCE_JS,
    WATCH_SOURCES_JS,
    chromium_path,
    launch_browser,
    new_page,
    open_explorer,
    open_tab,
    voila_server,
)

#: The per-temperature sources on screen: the first screen's cursor and F(λ) curves, and the
#: cumulants of the Cumulants tab, which is shown while measuring.
PER_T = ["t_cursor", "lam_curves", "kappa"]
#: Every tab is opened once before measuring (all panels built), the Cumulants tab last, so it is
#: the one shown. A move patches the plots on screen; hidden tabs catch up when shown.
TABS = [("Errors, U, S, C", "thermo"), ("Units", "magnetisation"), ("Sampling", "ais"),
        ("Rescaling", "scaling_line"), ("Cumulants", "kappa")]
#: The ‖W‖ tab is left closed: it recomputes a 61-point sweep along ‖W‖ at each new temperature
#: (~0.2 s), a cost a student opts into by opening it.


WAIT_ALL_JS = """([names, counts]) => names.every((n, i) => (window.__changes[n] || []).length > counts[i])"""


def summary(xs):
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=10) if len(xs) >= 2 else [xs[0]] * 9
    return {"n": len(xs), "median_ms": round(statistics.median(xs), 1), "p10_ms": round(q[0], 1),
            "p90_ms": round(q[-1], 1), "min_ms": round(xs[0], 1), "max_ms": round(xs[-1], 1)}


def measure(presses=40, loads=3, cold=15, query="T=0.2"):
    from playwright.sync_api import sync_playwright

    if chromium_path() is None:
        raise SystemExit("chromium not found (apt-get install -y chromium)")
    # the machine is shared: record how busy it was, so numbers can be judged
    out = {"cpu_count": os.cpu_count(), "load_average_before": load_average()}
    with voila_server() as base, sync_playwright() as p:
        browser = launch_browser(p)
        renders = []
        for _ in range(loads):
            page = new_page(browser, base)
            renders.append(open_explorer(page, base, query) * 1000)
            page.close()
        out["first_render"] = summary(renders)

        page = new_page(browser, base)
        open_explorer(page, base, query)
        for title, source in TABS:
            open_tab(page, "explorer", title, source)
        page.evaluate(WATCH_SOURCES_JS, PER_T)
        page.evaluate(INSTALL_KEY_CLOCK_JS)
        handle = page.locator(".explorer-temperature .noUi-handle")
        handle.focus()
        first, every = [], []
        for _ in range(presses):
            counts = [page.evaluate("n => window.__changes[n].length", n) for n in PER_T]
            page.keyboard.press("ArrowRight")
            page.wait_for_function(WAIT_ALL_JS, arg=[PER_T, counts], timeout=30_000)
            t_key = page.evaluate("() => window.__keys[window.__keys.length - 1]")
            stamps = [page.evaluate("([n, c]) => window.__changes[n][c]", [n, c]) for n, c in zip(PER_T, counts)]
            first.append(min(stamps) - t_key)
            every.append(max(stamps) - t_key)
            time.sleep(0.15)   # a person pressing the arrow key a few times per second
        out["keypress_first_change"] = summary(first)
        out["keypress_all_plots"] = summary(every)

        # cold: jump to temperatures never visited (typed into the slider's readout + Enter),
        # so neither the cache nor the neighbour prefetch can help
        cold_first, cold_every = [], []
        readout = page.locator(".explorer-temperature .widget-readout")
        for k in range(cold):
            target = 10 ** (0.02 + 0.063 * k)   # T = 1.05 .. 8: away from the stepping above
            counts = [page.evaluate("n => window.__changes[n].length", n) for n in PER_T]
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type(f"{target:.4f}")
            page.keyboard.press("Enter")
            page.wait_for_function(WAIT_ALL_JS, arg=[PER_T, counts], timeout=30_000)
            t_key = page.evaluate("() => window.__keys[window.__keys.length - 1]")
            stamps = [page.evaluate("([n, c]) => window.__changes[n][c]", [n, c]) for n, c in zip(PER_T, counts)]
            cold_first.append(min(stamps) - t_key)
            cold_every.append(max(stamps) - t_key)
            time.sleep(0.3)
        out["cold_jump_first_change"] = summary(cold_first)
        out["cold_jump_all_plots"] = summary(cold_every)
        handle.focus()

        # drag: a burst of presses, each 10 ms apart, without waiting for the plots
        burst = 20
        counts = page.evaluate("n => window.__changes[n].length", "t_cursor")
        for _ in range(burst):
            page.keyboard.press("ArrowRight")
            time.sleep(0.01)
        t_last = page.evaluate("() => window.__keys[window.__keys.length - 1]")
        target = float(page.locator(".explorer-temperature .widget-readout").inner_text())
        page.wait_for_function(
            "t => { const x = window.Bokeh.documents.map(d => d.get_model_by_name('t_cursor'))"
            ".filter(Boolean)[0].data.x[0]; return Math.abs(x - t) / t < 5e-3; }",
            arg=target, timeout=30_000)
        settled = page.evaluate("() => performance.now()")
        updates = page.evaluate("n => window.__changes[n].length", "t_cursor") - counts
        out["drag"] = {"presses": burst, "updates_made": updates,
                       "last_press_to_final_plot_ms": round(settled - t_last, 1),
                       "final_T": page.evaluate(READ_SOURCE_JS, "t_cursor")["x"][0]}
        browser.close()
    out["load_average_after"] = load_average()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("--cold", type=int, default=15)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    res = measure(args.presses, args.loads, args.cold)
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
