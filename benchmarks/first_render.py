"""First render of each explorer against a minimal Voila page, side by side in one run.

Serves the repository root with Voila (the project's voila.json and template), so the RBM explorer,
the VAE explorer and a minimal reference page (``benchmarks/minimal_page.ipynb``: one FloatSlider and
one BokehModel line plot, the same stack and nothing else) come from one server. Loads the pages in
turn (reference, RBM, VAE, reference, ...; each in a fresh browser context of one headless Chromium)
and reports for each, as medians of ``--loads`` loads with min/max:

* request → first slider (a widget slider handle on screen),
* request → first Bokeh data (a ColumnDataSource with data in the page),
* the ratio of each explorer's median to the reference page's,
* the browser's CPU-seconds per page (all Chromium processes, from the request to the first data
  plus one second of settling).

``--pool`` repeats it on a second Voila with the preheated pool on (``make classroom``), sized so
that every load takes a pooled kernel, after the pool has filled and the machine is quiet again,
with no refill during the measurement; the ratios of that block are to the reference page
*without* pool (issue targets).

Each page's line also says where its time went (the browser's navigation timing): the page's
first byte and last byte (the server: kernel start and the notebook's run) and DOMContentLoaded
(the page's own scripts); from there to the first slider is the widget manager's and BokehJS's
work in the browser.

Usage (repository root)::

    .venv/bin/python -m benchmarks.first_render --loads 5
    .venv/bin/python -m benchmarks.first_render --loads 5 --pool --json artifacts/first_render.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from benchmarks._timing import load_average
from harness.voila import (
    chromium_path,
    launch_browser,
    serve,
    write_preheat_config,
)

PAGES = {
    "reference": "voila/render/benchmarks/minimal_page.ipynb",
    "rbm": "voila/render/notebooks/rbm_explorer.ipynb",
    "vae": "voila/render/notebooks/vae_explorer.ipynb",
}
SLIDER = ".widget-slider .noUi-handle, .widget-slider .slider-container"
#: Data, not only a model: a source whose first column has at least one value.
DATA_JS = """() => {
  const docs = (window.Bokeh && window.Bokeh.documents) || [];
  for (const d of docs) for (const m of d.all_models) {
    if (String(m.type).endsWith('ColumnDataSource')) {
      const cols = Object.values(m.data || {});
      if (cols.length && cols[0] && cols[0].length > 0) return true;
    }
  }
  return false;
}"""


#: Where a load's time goes, from the browser's navigation timing (seconds from the request):
#: the first byte of the page (server: kernel start and the notebook's run up to its first
#: output), its last byte (the notebook has run), DOMContentLoaded (scripts parsed and run).
NAV_JS = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return {first_byte: n.responseStart / 1000, last_byte: n.responseEnd / 1000,
          dom_ready: n.domContentLoadedEventEnd / 1000};
}"""


def browser_cpu_seconds():
    """CPU-seconds so far of every Chromium process started by this process (Playwright's)."""
    import psutil

    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            if "chrom" in p.name().lower() or "headless_shell" in p.name().lower():
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            continue
    return total


def load_once(browser, base, path, timeout_s=240):
    """One fresh page load; seconds to the first slider and to the first Bokeh data, browser CPU-s."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.route(lambda url: not url.startswith(base), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    cpu0 = browser_cpu_seconds()
    t0 = time.monotonic()
    try:
        page.goto(base + path, wait_until="commit")
        page.wait_for_selector(SLIDER, state="attached")
        t_slider = time.monotonic() - t0
        page.wait_for_function(DATA_JS, polling=50)
        t_data = time.monotonic() - t0
        nav = page.evaluate(NAV_JS)
        page.wait_for_timeout(1000)
        cpu = browser_cpu_seconds() - cpu0
    finally:
        context.close()     # Voila's template frees the kernel when the page goes
    return t_slider, t_data, cpu, nav


def stats(xs):
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3)}


def measure(browser, base, loads, pages=tuple(PAGES), warmup=True):
    results = {k: {"first_byte": [], "last_byte": [], "dom_ready": [], "slider": [], "data": [], "cpu": []}
               for k in pages}
    if warmup:   # first imports and template compilation on the server: not what a student sees
        for key in pages:
            load_once(browser, base, PAGES[key])
    for _ in range(loads):
        for key in pages:
            path = PAGES[key]      # interleaved: load drifts reach every page alike
            s, d, c, nav = load_once(browser, base, path)
            for name, value in nav.items():
                results[key][name].append(value)
            results[key]["slider"].append(s)
            results[key]["data"].append(d)
            results[key]["cpu"].append(c)
    return {k: {m: stats(v) for m, v in r.items()} | {"raw": r} for k, r in results.items()}


def wait_quiet(seconds=5, threshold=0.5, timeout=300):
    """Wait until the CPUs stay under ``threshold`` (a fraction) busy for ``seconds`` one-second
    readings in a row (the preheated pool has filled), at most ``timeout`` seconds."""
    import psutil

    end = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < end:
        busy = psutil.cpu_percent(interval=1.0)
        quiet = quiet + 1 if busy < 100 * threshold else 0
        if quiet >= seconds:
            return True
    return False


def print_block(title, res, reference):
    ref = reference["data"]["median"]
    print(title)
    for key in res:
        r = res[key]
        sl = r["slider"]
        print(f"  {key:9s} first slider {sl['median']:6.2f} s [{sl['min']:.2f}–{sl['max']:.2f}]"
              f"  first data {r['data']['median']:6.2f} s [{r['data']['min']:.2f}–{r['data']['max']:.2f}]"
              f"  ratio {r['data']['median'] / ref:4.2f}  browser {r['cpu']['median']:.2f} CPU-s"
              f" (ratio {r['cpu']['median'] / reference['cpu']['median']:.2f})")
        print(f"  {'':9s} first byte {r['first_byte']['median']:5.2f} s, last byte {r['last_byte']['median']:5.2f} s,"
              f" DOM ready {r['dom_ready']['median']:5.2f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loads", type=int, default=5, help="loads per page (default 5)")
    ap.add_argument("--pool", action="store_true", help="also measure with the preheated pool (make classroom)")
    ap.add_argument("--json", default=None, help="write the results to this file")
    ap.add_argument("--pages", default=",".join(PAGES),
                    help="comma-separated pages to load, among " + ", ".join(PAGES) + " (default: all)")
    args = ap.parse_args(argv)
    if not 1 <= args.loads <= 50:
        ap.error("--loads must be between 1 and 50")
    pages = tuple(p.strip() for p in args.pages.split(",") if p.strip())
    if "reference" not in pages or not set(pages) <= set(PAGES):
        ap.error("--pages must name the reference page and pages among " + ", ".join(PAGES))
    if chromium_path() is None:
        print("first_render: Chromium not found (/usr/bin/chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "loads": args.loads,
           "load_before": load_average()}
    with sync_playwright() as p:
        browser = launch_browser(p)
        with serve(".", None, "--strip_sources=True", timeout=180) as (base, _):
            out["no_pool"] = measure(browser, base, args.loads, pages)
        out["load_after_no_pool"] = load_average()
        if args.pool:
            conf = tempfile.mkdtemp(prefix="first-render-pool-")
            size = args.loads + 2
            # pools are keyed by the notebook's path relative to the served root
            # "With the pool filled": every load takes a kernel that is ready, and no refill runs
            # during the measurement (a refill starts a kernel that builds an explorer, which
            # competes with the page being measured; make classroom delays refills by 90 s for the
            # same reason). The pool holds a kernel for every load, so none is needed.
            write_preheat_config(conf, {"notebooks/rbm_explorer.ipynb": size, "notebooks/vae_explorer.ipynb": size,
                                        "benchmarks/minimal_page.ipynb": size}, fill_delay=3600)
            with serve(".", None, "--strip_sources=True", f"--Voila.config_file_paths={conf}",
                       timeout=180) as (base, _):
                wait_quiet()
                out["pool"] = measure(browser, base, args.loads, pages, warmup=False)
            out["load_after_pool"] = load_average()
        browser.close()
    ref = out["no_pool"]["reference"]
    print(f"first render, {args.loads} loads per page, {out['cpus']} CPUs, load before {out['load_before']}")
    print_block("without pool (make app):", out["no_pool"], ref)
    if args.pool:
        print_block("with the preheated pool (make classroom); ratios to the reference WITHOUT pool:", out["pool"], ref)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
