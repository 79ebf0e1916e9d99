"""End to end: the start page leads to both explorers; teacher mode and the dark theme in Chromium."""

from __future__ import annotations

import pytest

from harness.voila import WAIT_SOURCE_JS, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START = "voila/render/index.ipynb"
DARK_MINIMAL_BACKGROUND = "#20262B"   # bokeh.themes dark_minimal: Plot.background_fill_color

FIG_ATTR_JS = """([name, attr]) => {
  for (const d of window.Bokeh.documents) { const m = d.get_model_by_name(name); if (m) return m[attr]; }
  return null;
}"""


@pytest.fixture(scope="module")
def page(server, browser):
    """One page for the whole module: it goes from page to page as a student would.

    Every page it leaves shuts its kernel down (voila/api/shutdown, see the template); those
    requests, like every other, must succeed. Recorded: each error response of the server
    (status >= 400) and each console error with the URL it names, so that only the failed loads
    of what this test itself blocks (anything not on the local server) are set aside, whatever
    else a navigation happened to cut short.
    """
    messages, bad_responses = [], []
    p = new_page(browser, server)
    p.on("console", lambda m: messages.append((f"console.{m.type}: {m.text}", m.location.get("url", "")))
         if m.type == "error" else None)
    p.on("pageerror", lambda exc: messages.append((f"pageerror: {exc}", "")))
    p.on("response", lambda r: bad_responses.append(f"{r.status} {r.request.method} {r.url}")
         if r.status >= 400 else None)
    p.messages, p.bad_responses, p.base = messages, bad_responses, server
    yield p
    p.close()


@pytest.mark.parametrize("link, ready, source", [
    ("RBM explorer", ".explorer-temperature .noUi-handle", "t_cursor"),
    ("VAE explorer", ".vae-temperature .noUi-handle", "lam_series"),
])
def test_start_page_opens_both_explorers(page, artifacts, link, ready, source):
    page.goto(page.base + START, wait_until="commit", timeout=180_000)
    page.get_by_role("link", name=link, exact=True).first.wait_for(timeout=180_000)
    assert page.get_by_text("A guided tour").is_visible()
    page.screenshot(path=str(artifacts / "start_page.png"), full_page=True)
    page.get_by_role("link", name=link, exact=True).first.click()
    page.wait_for_selector(ready, timeout=240_000)
    page.wait_for_function(WAIT_SOURCE_JS, arg=source, timeout=240_000)
    assert page.url.startswith(page.base + "voila/render/")
    page.screenshot(path=str(artifacts / f"start_page_to_{source}.png"), full_page=True)


def test_vae_explorer_in_teacher_mode_and_dark_theme(page, artifacts):
    page.goto(page.base + "voila/render/vae_explorer.ipynb?theme=dark&teacher=1&hide=order,samples&index=5",
              wait_until="commit", timeout=240_000)
    page.wait_for_selector(".vae-temperature .noUi-handle", timeout=240_000)
    page.wait_for_function(WAIT_SOURCE_JS, arg="lam_series", timeout=240_000)
    # the page is dark (Voila's JupyterLab dark theme) and so are the Bokeh figures
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
    assert page.evaluate(FIG_ATTR_JS, ["fig_lambda", "background_fill_color"]) == DARK_MINIMAL_BACKGROUND
    # teacher mode: the hidden controls are gone, the others are there
    assert not page.locator(".vae-order").is_visible()
    assert not page.locator(".vae-samples").is_visible()
    assert page.locator(".vae-lambda .noUi-handle").is_visible()
    assert page.locator(".vae-index input").input_value() == "5"
    page.screenshot(path=str(artifacts / "vae_explorer_dark_teacher.png"), full_page=True)


def test_rbm_explorer_in_teacher_mode_and_dark_theme(page, artifacts):
    page.goto(page.base + "voila/render/rbm_explorer.ipynb?theme=dark&teacher=1&hide=norm,model",
              wait_until="commit", timeout=240_000)
    page.wait_for_selector(".explorer-temperature .noUi-handle", timeout=240_000)
    page.wait_for_function(WAIT_SOURCE_JS, arg="t_cursor", timeout=240_000)
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
    assert page.evaluate(FIG_ATTR_JS, ["fig_free_energy", "background_fill_color"]) == DARK_MINIMAL_BACKGROUND
    assert not page.locator(".explorer-norm").is_visible()
    assert not page.locator(".explorer-controls .widget-dropdown", has_text="RBM").is_visible()
    assert page.locator(".explorer-lambda .noUi-handle").is_visible()
    page.screenshot(path=str(artifacts / "rbm_explorer_dark_teacher.png"), full_page=True)


def test_no_javascript_errors(page):
    def blocked_by_this_test(text, url):
        return text.startswith("console.error: Failed to load resource") and url and not url.startswith(page.base)

    assert [text for text, url in page.messages if not blocked_by_this_test(text, url)] == []
    assert page.bad_responses == []
