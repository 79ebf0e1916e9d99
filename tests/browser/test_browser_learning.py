"""End to end: the RBM explorer's Learning tab in Voila (headless Chromium): a two-method race
grows both exact curves, stops, and "Explore this model" redraws the free-energy plot."""

from __future__ import annotations

import re

import pytest

from harness.voila import (
    READ_SOURCE_JS,
    WATCH_SOURCES_JS,
    change_count,
    console_text,
    js_errors,
    new_page,
    open_explorer,
    open_tab,
    wait_for_change,
)
from tests.browser.layout_checks import assert_fits_at_1280x720

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(server, browser):
    messages, failed = [], []
    page = new_page(browser, server)
    page.on("console", lambda m: messages.append(console_text(m)) if m.type == "error" else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda r: failed.append(r.url))
    open_explorer(page, server)
    open_tab(page, "explorer", "Learning", "learning_ll_exact")
    page.evaluate(WATCH_SOURCES_JS, ["learning_ll_exact", "learning_ll_cd", "f_exact"])
    yield page
    assert js_errors(messages, failed, server) == []
    page.close()


def points(page, name):
    return len(page.evaluate(READ_SOURCE_JS, name)["epoch"])


def test_race_grows_stops_and_explore_this_model_redraws_the_free_energy(page, artifacts):
    # many epochs: the race runs until Stop (the default two methods: exact and CD-1)
    epochs = page.locator(".learning-epochs input")
    epochs.fill("100000")
    epochs.press("Enter")
    page.locator(".learning-start button, button.learning-start").first.click()
    for name in ("learning_ll_exact", "learning_ll_cd"):
        page.wait_for_function("n => (window.__changes[n] || []).length >= 2", arg=name, timeout=120_000)
    first = points(page, "learning_ll_exact")
    # both curves keep growing while the race runs
    wait_for_change(page, "learning_ll_exact", change_count(page, "learning_ll_exact"), timeout=120_000)
    wait_for_change(page, "learning_ll_cd", change_count(page, "learning_ll_cd"), timeout=120_000)
    assert points(page, "learning_ll_exact") > first >= 1
    assert points(page, "learning_ll_cd") >= 1
    page.locator("button.learning-stop, .learning-stop button").first.click()
    page.wait_for_function("() => (document.querySelector('.learning-status') || {}).innerText"
                           "?.includes('— stopped')", timeout=120_000)
    n = int(re.search(r"Epoch (\d+)", page.locator(".learning-status").inner_text()).group(1))
    assert 2 <= n < 100_000
    # the last patches travel apart from the status text: wait until both curves have every epoch
    page.wait_for_function("n => ['learning_ll_exact', 'learning_ll_cd'].every(name => window.Bokeh.documents"
                           ".some(d => { const s = d.get_model_by_name(name);"
                           " return s && s.data.epoch.length === n; }))", arg=n, timeout=60_000)
    assert page.locator("button.learning-start, .learning-start button").first.is_enabled()
    assert page.locator("a.learning-csv").count() == 1

    # the trained model becomes the explorer's model: the exact F(T) curve is redrawn
    before = change_count(page, "f_exact")
    page.locator("button.learning-explore, .learning-explore button").first.click()
    wait_for_change(page, "f_exact", before, timeout=120_000)
    assert "cannot carry" in page.locator(".explorer-message").inner_text()
    # the shown model's plots: decomposition, pattern probabilities, samples, weights (9 x 12 tiles)
    assert len(page.evaluate(READ_SOURCE_JS, "learning_decomposition")["x"]) == 8
    assert len(page.evaluate(READ_SOURCE_JS, "learning_weights")["x"]) == 9 * 12
    page.screenshot(path=str(artifacts / "explorer_learning_tab.png"))

    assert_fits_at_1280x720(page, ".rbm-explorer", ".learning-controls", artifacts / "explorer_learning_1280x720.png")
