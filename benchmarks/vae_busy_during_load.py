"""The VAE explorer's "computing…" mark for a slider move made while the kernel loads torch.

Issue 25: a slow update shows that it is working within 0.2 s. Right after the VAE explorer's page
shows, its kernel loads the session (torch, the checkpoint) in a background thread; a move of the
decoder scale c (which needs the session) is made 0–2.5 s after the page showed its plots, in a
fresh page each time, and the time from the key press to the visible mark is read in the page
(``harness.voila.BUSY_WATCH_JS``). With ``--baseline DIR`` an older checkout is served beside this
one (each with its own code, template and notebooks: ``PYTHONPATH`` and ``JUPYTER_PATH``), and the
pages alternate between the two at every delay, so both see the same machine.

Usage (repository root)::

    git worktree add /tmp/before <older commit>
    .venv/bin/python -m benchmarks.vae_busy_during_load --baseline /tmp/before [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from pathlib import Path

from benchmarks._timing import load_average
from harness.voila import (
    BUSY_WATCH_JS,
    KERNEL_ENV,
    ROOT,
    WAIT_SOURCE_JS,
    launch_browser,
    new_page,
    serve,
)

PAGE = "voila/render/vae_explorer.ipynb"
#: Seconds between the page showing its plots and the key press (the session loads meanwhile).
DELAYS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5)
WITHIN_S = 0.2


def seconds_to_mark(browser, base, delay):
    """Open the VAE explorer, wait ``delay`` s after its plots show, press → on the decoder scale c:
    seconds from the key press until "computing…" is visible."""
    page = new_page(browser, base, width=1280, height=720)
    try:
        page.goto(base + PAGE, wait_until="commit", timeout=180_000)
        page.wait_for_function(WAIT_SOURCE_JS, arg="posterior", timeout=180_000)
        page.wait_for_selector(".vae-scale .noUi-handle", timeout=180_000)
        time.sleep(delay)
        if not page.evaluate(BUSY_WATCH_JS, ".vae-explorer"):
            raise SystemExit("no busy line in the VAE explorer")
        page.locator(".vae-scale .noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => window.__busy.visible !== null", timeout=180_000)
        busy = page.evaluate("() => window.__busy")
        return (busy["visible"] - busy["key"]) / 1000
    finally:
        page.close()


def main(argv=None):
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", type=Path, help="an older checkout, served beside this one")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    roots = {"now": ROOT}
    if args.baseline:
        roots = {"before": args.baseline.resolve(), **roots}
    out = {"cpu_count": os.cpu_count(), "load_average_before": load_average(),
           "delays_s": list(DELAYS), "seconds_to_mark": {k: [] for k in roots}}
    with contextlib.ExitStack() as stack, sync_playwright() as playwright:
        bases = {}
        for name, root in roots.items():
            env = dict(KERNEL_ENV, PYTHONPATH=str(root), JUPYTER_PATH=str(root / "share" / "jupyter"))
            bases[name], _proc = stack.enter_context(serve("notebooks/", None, cwd=root, env=env, timeout=180))
        browser = launch_browser(playwright)
        for delay in DELAYS:
            for name in roots:
                out["seconds_to_mark"][name].append(round(seconds_to_mark(browser, bases[name], delay), 3))
            print(f"move {delay:.2f} s after the plots showed:",
                  {k: v[-1] for k, v in out["seconds_to_mark"].items()}, flush=True)
    out["load_average_after"] = load_average()
    print(f"machine: {out['cpu_count']} CPUs, load average {out['load_average_before']} before, "
          f"{out['load_average_after']} after")
    for name, values in out["seconds_to_mark"].items():
        print(f"{name}: key press -> 'computing…' median {statistics.median(values):.3f} s "
              f"(min {min(values):.3f}, max {max(values):.3f}); over {WITHIN_S} s: "
              f"{sum(v > WITHIN_S for v in values)} of {len(values)}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
