"""VAE explorer latency in a real browser: slider keypress -> Bokeh data change, digit selection,
first render.

Starts Voila on a free port, opens the VAE explorer in headless Chromium (/usr/bin/chromium,
Playwright) and measures in the page's own clock:

* slider moves (the issue's target: median under 250 ms): ArrowRight/ArrowLeft alternately on
  the focused Temperature, Perturbation λ, Cumulant order and IWAE K sliders, each press timed
  until the Bokeh source that slider drives has changed (t_cursor, lam_cursor, lam_series,
  iwae_cursor). The digit's curves are cached, so these are the cost of a move;
* digit selection: a new test index typed into the "Test digit #" box -> the digit image and
  the F(λ) curve changed (a fresh quadrature per digit: seconds, not a slider);
* first render: page request -> widgets and Bokeh sources present.

Usage (repository root): .venv/bin/python -m benchmarks.vae_app_latency [--presses 20] [--digits 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchmarks._timing import load_average
from benchmarks.app_latency import summary  # the RBM benchmark's median/p10/p90 summary
from harness.voila import (
    INSTALL_KEY_CLOCK_JS,
    WAIT_SOURCE_JS,
    WATCH_SOURCES_JS,
    chromium_path,
    launch_browser,
    new_page,
    voila_server,
)

PAGE = "voila/render/vae_explorer.ipynb"
SLIDERS = {"vae-temperature": "t_cursor", "vae-lambda": "lam_cursor", "vae-order": "lam_series",
           "vae-k": "iwae_cursor"}


def open_vae(page, base, query=""):
    t0 = time.monotonic()
    page.goto(base + PAGE + ("?" + query if query else ""), wait_until="commit", timeout=300_000)
    page.wait_for_selector(".vae-temperature .noUi-handle", timeout=300_000)
    page.wait_for_function(WAIT_SOURCE_JS, arg="lam_series", timeout=300_000)
    return time.monotonic() - t0


def count(page, name):
    return page.evaluate("n => (window.__changes[n] || []).length", name)


def measure(presses=20, digits=3, query="index=3"):
    from playwright.sync_api import sync_playwright

    if chromium_path() is None:
        raise SystemExit("chromium not found (apt-get install -y chromium)")
    out = {"cpu_count": os.cpu_count(), "load_average_before": load_average()}
    with voila_server() as base, sync_playwright() as p:
        browser = launch_browser(p)
        page = new_page(browser, base)
        out["first_render"] = summary([open_vae(page, base, query) * 1000])
        page.evaluate(WATCH_SOURCES_JS, list(SLIDERS.values()) + ["digit", "lam_exact"])
        page.evaluate(INSTALL_KEY_CLOCK_JS)
        every = []
        for cls, source in SLIDERS.items():
            handle = page.locator(f".{cls} .noUi-handle")
            handle.focus()
            lat = []
            for k in range(presses):
                c = count(page, source)
                page.keyboard.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
                page.wait_for_function("([n, c]) => (window.__changes[n] || []).length > c", arg=[source, c],
                                       timeout=60_000)
                t_key = page.evaluate("() => window.__keys[window.__keys.length - 1]")
                t_change = page.evaluate("([n, c]) => window.__changes[n][c]", [source, c])
                lat.append(t_change - t_key)
                time.sleep(0.15)   # a person pressing an arrow key a few times per second
            out[f"slider_{cls}"] = summary(lat)
            every += lat
        out["slider_all"] = summary(every)

        sel = []
        box = page.locator(".vae-index input")
        for k in range(digits):
            c1, c2 = count(page, "digit"), count(page, "lam_exact")
            t0 = time.monotonic()
            box.fill(str(100 + 17 * k))
            box.press("Enter")
            page.wait_for_function("([a, b]) => window.__changes.digit.length > a && "
                                   "window.__changes.lam_exact.length > b", arg=[c1, c2], timeout=300_000)
            sel.append((time.monotonic() - t0) * 1000)
        out["new_digit_selected"] = summary(sel)
        browser.close()
    out["load_average_after"] = load_average()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=20)
    ap.add_argument("--digits", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    res = measure(args.presses, args.digits)
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
