"""`make app` lands on the start page: the server root redirects to notebooks/index.ipynb."""

import urllib.request

import pytest

from tests.browser.voila_server import new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_root_redirects_to_the_start_page_and_keeps_the_query(server):
    with urllib.request.urlopen(server + "?theme=dark", timeout=30) as resp:
        body = resp.read().decode()
    assert 'http-equiv="refresh"' in body and "voila/render/index.ipynb?theme=dark" in body
    # the file list stays reachable
    with urllib.request.urlopen(server + "voila/tree/?files=1", timeout=30) as resp:
        assert "http-equiv=\"refresh\"" not in resp.read().decode()


def test_browser_lands_on_the_start_page(server, browser):
    page = browser.new_page()
    page.route(lambda url: not url.startswith(server), lambda route: route.abort())
    try:
        page.goto(server, wait_until="commit", timeout=120_000)
        page.wait_for_url("**/voila/render/index.ipynb", timeout=120_000)
        page.wait_for_selector("a[href*='rbm_explorer.ipynb']", timeout=120_000)
        assert page.locator("a[href*='vae_explorer.ipynb']").count() >= 1
    finally:
        page.close()


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_start_page_links_keep_a_dark_theme(server, browser, theme):
    page = new_page(browser, server)
    try:
        page.goto(server + f"voila/render/index.ipynb?theme={theme}", wait_until="commit", timeout=120_000)
        page.wait_for_selector("a[href$='rbm_explorer.ipynb?order=6']", timeout=120_000)
        plain = page.query_selector("a[href$='rbm_explorer.ipynb']")
        with_query = page.query_selector("a[href$='rbm_explorer.ipynb?order=6']")
        plain.dispatch_event("pointerdown")  # what comes before a click (or middle click) follows it
        with_query.focus()  # what happens before Enter follows it
        hrefs = [plain.get_attribute("href"), with_query.get_attribute("href")]
        if theme == "dark":
            assert hrefs[0].endswith("/rbm_explorer.ipynb?theme=dark")
            assert hrefs[1].endswith("/rbm_explorer.ipynb?order=6&theme=dark")
        else:
            assert hrefs == ["rbm_explorer.ipynb", "rbm_explorer.ipynb?order=6"]
    finally:
        page.close()
