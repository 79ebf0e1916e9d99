"""The lessons offline, in Voila and JupyterLab: math typeset, live plots with data, reveal buttons.

Each lesson (notebooks/lessons/) is opened in Voila with every request but the local server
blocked (harness.voila.new_page), so MathJax and BokehJS must come from the server
itself: Voila 0.5 bundles MathJax 3 and typesets markdown cells and HTMLMath widgets in the page;
BokehJS comes from the server (explorer.views.resources.load_bokehjs in lessons.setup(): a versioned
file of make app's server in Voila, inline in JupyterLab). Lesson 1 is also
run in the pip-installed JupyterLab (offline harness of harness.jupyterlab), whose
MathJax 3 extension typesets the same markdown; the lessons share every widget, so one is enough.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from harness.jupyterlab import jupyterlab_server
from harness.voila import ROOT, SOURCES_HAVE_DATA_JS, js_errors, new_page
from tests.browser.test_browser_jupyterlab import KERNEL_IDLE_JS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LESSONS = ROOT / "notebooks" / "lessons"

#: Named Bokeh sources each lesson must fill (one per live figure).
SOURCES = {
    "lesson_1_free_energy_and_bound.ipynb": ["trial_laws", "bound_exact", "lesson_thermo"],
    "lesson_2_corrections_tap_and_cumulants.ipynb": ["diff_mean_field", "diff_tap2", "lam_curves", "kappa"],
    "lesson_3_vae_elbo_and_importance_sampling.ipynb": ["posterior", "lam_exact", "elbo_bars", "iwae"],
    "lesson_4_learning_cd_pcd_tap.ipynb": ["ll_exact", "ll_cd1", "cd_bias_exact"],
}

#: Markdown math typeset: MathJax's elements are in the markdown cells and no "$" is left in their text.
MATH_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-RenderedMarkdown, .jp-MarkdownOutput')];
  if (!cells.length) return false;
  const typeset = cells.reduce((n, c) => n + c.querySelectorAll('mjx-container').length, 0);
  const raw = cells.some(c => c.innerText.includes('$'));
  return typeset > 0 && !raw;
}"""


def test_every_lesson_is_covered():
    assert sorted(p.name for p in LESSONS.glob("lesson_*.ipynb")) == sorted(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_lesson_renders_math_plots_and_reveals(server, browser, artifacts, name):
    errors, failed = [], []
    page = new_page(browser, server, errors, width=1400, height=2400)
    page.on("requestfailed", lambda r: failed.append(r.url))
    try:
        page.goto(server + f"voila/render/lessons/{name}", wait_until="commit", timeout=180_000)
        page.wait_for_selector(".lesson-figure", timeout=180_000)
        page.wait_for_function(MATH_JS, timeout=60_000)
        page.wait_for_function(SOURCES_HAVE_DATA_JS, arg=SOURCES[name], timeout=120_000)

        # an exercise: its answer is hidden until the button is clicked, then shown and typeset
        exercise = page.locator(".lesson-exercise").first
        answer = exercise.locator(".lesson-answer")
        assert answer.is_hidden()
        exercise.locator(".lesson-reveal-button").click()
        answer.wait_for(state="visible", timeout=60_000)
        assert answer.inner_text().strip()
        answer.locator("mjx-container").first.wait_for(state="attached", timeout=60_000)

        # a prediction: choose an option, check it, and a verdict appears
        predict = page.locator(".lesson-predict").first
        verdict = predict.locator(".lesson-answer")
        assert verdict.is_hidden()
        predict.locator(".lesson-choices input[type=radio]").first.check()
        predict.locator(".lesson-reveal-button").click()
        verdict.wait_for(state="visible", timeout=60_000)
        assert ("Right" in verdict.inner_text()) or ("Not quite" in verdict.inner_text())

        page.screenshot(path=str(artifacts / f"{Path(name).stem}.png"), full_page=True)
        assert not js_errors(errors, failed, server), js_errors(errors, failed, server)
        assert all(not u.startswith(server) for u in failed), failed
    finally:
        page.close()


def test_lesson_1_in_jupyterlab(chromium, browser, artifacts):
    name = "lesson_1_free_energy_and_bound.ipynb"
    log = artifacts / f"jupyterlab-lessons-{os.getpid()}-{time.monotonic_ns()}.log"
    with jupyterlab_server(log_path=log) as lab:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.set_default_timeout(90_000)
        external, errors = [], []

        def block(route):
            external.append(route.request.url)
            route.abort()

        page.route(lambda url: not url.startswith(lab.base), block)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        try:
            page.goto(lab.url(f"lab/workspaces/lessons/tree/lessons/{name}?reset"), wait_until="domcontentloaded")
            page.wait_for_function(KERNEL_IDLE_JS, timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel",
                         has_text=re.compile(r"^Run All Cells$")).click()
            page.wait_for_selector(".jp-NotebookPanel .lesson-figure", timeout=120_000)
            page.wait_for_function(SOURCES_HAVE_DATA_JS, arg=SOURCES[name], timeout=120_000)
            # JupyterLab's markdown: typeset, no raw "$" left
            cells = page.evaluate("""() => [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell .jp-RenderedMarkdown')]
                .map(c => [c.querySelectorAll('mjx-container').length, c.innerText.includes('$')])""")
            assert sum(n for n, _ in cells) > 10 and not any(raw for _, raw in cells), cells
            exercise = page.locator(".lesson-exercise").first
            exercise.scroll_into_view_if_needed()
            exercise.locator(".lesson-reveal-button").click()
            exercise.locator(".lesson-answer").wait_for(state="visible", timeout=60_000)
            exercise.locator(".lesson-answer mjx-container").first.wait_for(state="attached", timeout=60_000)
            # the answers' code cells are collapsed: a student sees the widget, not the answer's source
            assert page.locator(".jp-NotebookPanel .jp-InputPlaceholder").count() == 4   # 3 predictions, 1 exercise
            page.screenshot(path=str(artifacts / "jupyterlab_lesson_1.png"))
            assert external == [] and errors == [], (external, errors)
        finally:
            context.close()


#: Webpack waits on a placeholder of the template's for a MathJax chunk (it has bound its handlers).
WEBPACK_WAITS_JS = """() => [...document.querySelectorAll('script[type="text/plain"][data-webpack]')]
  .some(s => typeof s.onload === 'function')"""
LATER_BUNDLE = re.compile(r"/explorer/frontend/later-[0-9a-f]+\.js$")
VOILA_CHUNK = re.compile(r"/voila/static/\d+\.voila\.js$")


@pytest.mark.parametrize("later", ["as served", "held until webpack waits", "lost"])
def test_mathjax_comes_in_a_file_of_its_own_after_what_the_first_plot_needs(server, browser, later):
    """MathJax's chunks are not in the first bundle (explorer/serving/static_files.py: later_bundle):
    the page asks for them once that has run. Voila's front end asks webpack for them when it has
    started; webpack then waits for the template's placeholders, which fire once the later file has
    run (held here until webpack is waiting). Either way the lesson's math is typeset and no chunk
    is fetched on its own; without the later file, webpack fetches the chunks itself."""
    name = "lesson_1_free_energy_and_bound.ipynb"
    errors, failed, requested, held = [], [], [], []
    page = new_page(browser, server, errors, width=1400, height=2400)
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("request", lambda r: requested.append(r.url.split("?")[0]))
    if later == "held until webpack waits":
        released = []

        def hold(route):
            route.continue_() if released else held.append(route)

        page.route(LATER_BUNDLE, hold)
    elif later == "lost":
        page.route(LATER_BUNDLE, lambda route: route.abort())
    try:
        page.goto(server + f"voila/render/lessons/{name}", wait_until="commit", timeout=180_000)
        if later == "held until webpack waits":
            page.wait_for_function(WEBPACK_WAITS_JS, timeout=120_000)
            assert not page.evaluate("() => document.querySelectorAll('mjx-container').length")
            assert held
            released.append(True)
            for route in held:      # the prefetch and the script element (Playwright's routing: no cache)
                route.continue_()
        page.wait_for_function(MATH_JS, timeout=120_000)
        page.wait_for_function(SOURCES_HAVE_DATA_JS, arg=SOURCES[name], timeout=120_000)
        page.wait_for_timeout(500)
        bundles = [u for u in requested if LATER_BUNDLE.search(u)]
        chunks = [u for u in requested if VOILA_CHUNK.search(u)]
        assert bundles, requested
        local_failed = [u for u in failed if u.startswith(server)]
        if later == "lost":
            assert chunks, requested                          # webpack's own requests instead
            assert set(local_failed) == set(bundles)
            errors = [e for e in errors if bundles[0] not in e]
            failed = [u for u in failed if u not in bundles]
        else:
            assert chunks == [] and local_failed == [], (chunks, local_failed)
        assert not js_errors(errors, failed, server), errors
        # no placeholder left behind
        assert page.evaluate("() => document.querySelectorAll('script[type=\"text/plain\"][data-webpack]').length") == 0
    finally:
        page.close()
