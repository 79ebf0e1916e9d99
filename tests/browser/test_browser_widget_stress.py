"""Issue 25: "Error displaying widget: model not found" (console "Error: widget model not found") was seen
once in lesson 3. Every lesson and both explorers are loaded ROUNDS times (2 in `make test`, about 3 minutes
on the project's 2-core machine; the issue's 20 rounds, ~27 minutes there: FEE_STRESS_ROUNDS=20),
several pages at once, beside a process that keeps one CPU busy (the load of a classroom server), and no page
may show a widget error: no "Error displaying widget" in the page, no "model not found" in its console, and
every widget of the page drawn ("Loading widget..." gone).

Runtime: each page starts its own kernel (the VAE pages import torch), so the test takes minutes; the pages
are loaded CONCURRENT at a time to keep it so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from harness.voila import ROOT, console_text, new_page, stop_process_group

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROUNDS = int(os.environ.get("FEE_STRESS_ROUNDS", "2"))
CONCURRENT = int(os.environ.get("FEE_STRESS_CONCURRENT", "3"))
NOTEBOOKS = [f"lessons/{p.name}" for p in sorted((ROOT / "notebooks" / "lessons").glob("lesson_*.ipynb"))] + [
    "rbm_explorer.ipynb", "vae_explorer.ipynb"]

#: "ok" once the page's widgets are all drawn (and its plots have data), "error: ..." for a widget error,
#: None while it loads.
STATE_JS = """() => {
  const text = document.body ? document.body.innerText : '';
  const m = text.match(/Error displaying widget[^\\n]*/);
  if (m) return 'error: ' + m[0];
  if (!document.querySelector('.jupyter-widgets')) return null;
  if (text.includes('Loading widget...')) return null;
  const docs = (window.Bokeh && window.Bokeh.documents) || [];
  const filled = docs.some(d => [...d.all_models].some(x => String(x.type).endsWith('ColumnDataSource')
                                                      && Object.values(x.data).some(c => c && c.length)));
  return filled ? 'ok' : null;
}"""


@pytest.fixture(scope="module")
def cpu_burner():
    """One busy CPU beside the server (stopped by its own process group)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    yield proc
    stop_process_group(proc, timeout=5)


def test_every_lesson_and_explorer_loads_without_widget_errors(server, browser, cpu_burner, artifacts):
    todo = [nb for _ in range(ROUNDS) for nb in NOTEBOOKS]
    running, problems, done, t0 = [], [], 0, time.monotonic()

    def start(nb):
        messages = []
        page = new_page(browser, server, width=1280, height=1600)
        page.on("console", lambda m: messages.append(console_text(m)) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
        page.goto(server + "voila/render/" + nb, wait_until="commit", timeout=300_000)
        return {"nb": nb, "page": page, "messages": messages, "t0": time.monotonic()}

    while todo or running:
        while todo and len(running) < CONCURRENT:
            running.append(start(todo.pop(0)))
        time.sleep(0.5)
        for r in list(running):
            page = r["page"]
            try:
                state = page.evaluate(STATE_JS)
            except Exception as exc:  # a page still navigating
                state = None if time.monotonic() - r["t0"] < 600 else f"error: {exc}"
            widget_console = [m for m in r["messages"] if "model not found" in m or "Could not create a model" in m
                              or "Error displaying widget" in m]
            if state is None and time.monotonic() - r["t0"] > 600:
                state = "error: not drawn within 600 s"
            if state is None and not widget_console:
                continue
            if state != "ok" or widget_console:
                problems.append((r["nb"], state, widget_console))
                page.screenshot(path=str(artifacts / f"widget_stress_{len(problems)}.png"), full_page=True)
            page.close()
            running.remove(r)
            done += 1
    print(f"{done} pages ({ROUNDS} rounds of {len(NOTEBOOKS)}) in {time.monotonic() - t0:.0f} s, "
          f"{CONCURRENT} at a time, one CPU kept busy")
    assert problems == [], problems
