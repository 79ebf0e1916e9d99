"""End to end: Voila's preheated kernel pool (``make classroom``) serves the URL's view.

A pooled kernel builds the explorer before any request; the page's query string, teacher
mode and page address must still reach it (explorer.serving.preheat). Runs the repository's
voila.json with preheating on and a pool of two kernels.
"""

from __future__ import annotations

import re

import pytest

from harness.voila import EXPLORER, js_errors, new_page, open_explorer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def readout(page, cls):
    return page.locator(f".{cls} .widget-readout").first.inner_text()


def test_pooled_kernel_opens_the_view_of_the_url(pooled_server, browser):
    base, log = pooled_server
    messages, failed = [], []
    page = new_page(browser, base, errors=messages)
    page.on("requestfailed", lambda r: failed.append(r.url))
    open_explorer(page, base, "T=0.5&order=6&teacher=1&hide=norm", timeout=240_000)
    # the request was served by a kernel of the pool, which built the explorer beforehand
    assert re.search(r"Using pre-heated kernel: \S+ for rbm_explorer\.ipynb", log.read_text())
    assert readout(page, "explorer-temperature") == "0.5012"
    assert page.locator(".widget-slider", has_text="Cumulant order K").locator(".widget-readout") \
        .inner_text() == "6"
    assert not page.locator(".explorer-norm").is_visible()
    # "link to this view" names this page (rebuilt from the request, not the pool's start)
    link = page.locator(".explorer-link code").inner_text()
    assert link.startswith(base + EXPLORER + "?")
    for part in ("T=0.501187", "order=6", "teacher=1", "hide=norm"):
        assert part in link
    # the plots carry the URL's state too: the cursor sits at T = 0.501
    cursor = page.evaluate("""() => {
      for (const d of window.Bokeh.documents) { const s = d.get_model_by_name('t_cursor');
        if (s) return Array.from(s.data.x); }
      return null; }""")
    assert cursor is not None and cursor[0] == pytest.approx(0.501187, rel=1e-5)
    # one explorer in the page: the warm-up built no second set of widgets
    assert page.evaluate("() => window.Bokeh.documents.length") == 1
    assert js_errors(messages, failed, base) == []
    page.close()


def test_pooled_kernel_without_query_shows_the_default_view(pooled_server, browser):
    base, log = pooled_server
    page = new_page(browser, base)
    open_explorer(page, base, "", timeout=240_000)
    assert len(re.findall(r"Using pre-heated kernel", log.read_text())) >= 2
    assert readout(page, "explorer-temperature") == "1.000"
    assert page.locator(".explorer-norm").is_visible()
    link = page.locator(".explorer-link code").inner_text()
    assert link.startswith(base + EXPLORER)
    page.close()
