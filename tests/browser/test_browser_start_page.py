"""`make app` lands on the start page: the server root redirects to notebooks/index.ipynb."""

import time
import urllib.request

import pytest

from harness.voila import js_errors, new_page, open_explorer

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


def _local_failures(failed, server):
    """Local requests that failed, less those cancelled by leaving a page (a font still loading, the
    page's kernel shutdown request): "net::ERR_ABORTED" is the navigation's doing, not the server's."""
    return [(u, why) for u, why in failed if u.startswith(server) and "ERR_ABORTED" not in (why or "")]


def test_start_here_and_the_documents_open_offline(server, browser, artifacts):
    """The start page's "Start here" path begins at lesson 1, and its documents (the lesson plan, the
    physics reference) open inside the app and render, with every request but the local server's blocked."""
    errors, failed = [], []
    page = new_page(browser, server, errors, width=1280, height=720)
    page.on("requestfailed", lambda r: failed.append((r.url, r.failure)))
    try:
        page.goto(server + "voila/render/index.ipynb", wait_until="commit", timeout=120_000)
        start = page.locator("h2", has_text="Start here")
        start.wait_for(timeout=120_000)
        # the first step of the path is lesson 1
        first = page.locator("h2:has-text('Start here') + p + ol a").first
        assert first.get_attribute("href").endswith("lessons/lesson_1_free_energy_and_bound.ipynb")
        assert "essay's order" not in page.inner_text("body") or "Free Energies and Variational" in \
            page.inner_text("body")
        first.click()
        page.wait_for_url("**/lessons/lesson_1_free_energy_and_bound.ipynb", wait_until="commit", timeout=120_000)
        page.locator("h1", has_text="Lesson 1").wait_for(timeout=120_000)

        for name, heading in (("physics", "The physics"), ("teaching", "Teaching with the explorer")):
            page.goto(server + "voila/render/index.ipynb", wait_until="commit", timeout=120_000)
            link = page.locator(f"a[href$='doc.ipynb?name={name}']").first
            link.wait_for(timeout=120_000)
            link.click()
            page.wait_for_url(f"**/doc.ipynb?name={name}", wait_until="commit", timeout=120_000)
            h1 = page.locator(".explorer-doc h1", has_text=heading)
            h1.wait_for(timeout=180_000)
            text = page.locator(".explorer-doc").first.inner_text()
            assert len(text) > 3000, text[:200]          # the whole document, not an error line
            hrefs = page.eval_on_selector_all(".explorer-doc a[href]", "els => els.map(e => e.getAttribute('href'))")
            # every link stays inside the app: another document, a notebook, or a section of this one
            assert hrefs and all(not h.startswith(("http:", "https:", "//")) for h in hrefs), hrefs
            page.screenshot(path=str(artifacts / f"doc_{name}.png"))
        # a link between documents works: the lesson plan's link to the physics reference
        page.locator(".explorer-doc a[href='doc.ipynb?name=physics']").nth(1).click()
        page.wait_for_url("**/doc.ipynb?name=physics", wait_until="commit", timeout=120_000)
        page.locator(".explorer-doc h1", has_text="The physics").wait_for(timeout=180_000)
        # and a section link lands on its heading
        section = page.locator(".explorer-doc a[href='#signs-that-differ-from-the-essay']").first
        target = section.get_attribute("href")[1:]
        assert page.locator(f".explorer-doc [id='{target}']").count() == 1, target
        section.click()
        page.wait_for_function("id => { const h = document.getElementById(id); if (!h) return false; "
                               "const r = h.getBoundingClientRect(); return r.top >= -2 && r.top < 300; }",
                               arg=target, timeout=30_000)
        assert not _local_failures(failed, server), failed
        urls = [u for u, _ in failed]
        assert not js_errors(errors, urls, server), js_errors(errors, urls, server)
    finally:
        page.close()


def test_the_start_page_fetches_the_linked_pages_scripts_once_shown(server, browser):
    """Once the start page has loaded it asks for the ~1.4 MB of scripts the explorers and lessons
    run (the template's prefetch for linked pages); the explorer opened next finds them in the
    browser's cache: its first visit downloads what a reload does. Network watched through CDP, and
    everything off the server blocked there (Playwright's own routing would switch the cache off)."""
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    # the server is plain http on the loopback; what Voila's template would ask of a CDN is https
    cdp.send("Network.setBlockedURLs", {"urls": ["https://*"]})
    asked, finished, from_cache = {}, set(), set()
    cdp.on("Network.requestWillBeSent", lambda e: asked.setdefault(e["requestId"], e["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: finished.add(e["requestId"]))
    cdp.on("Network.requestServedFromCache", lambda e: from_cache.add(e["requestId"]))
    cdp.on("Network.responseReceived", lambda e: from_cache.add(e["requestId"])
           if e["response"].get("fromPrefetchCache") or e["response"].get("fromDiskCache") else None)
    # the front-end bundle, MathJax's later one, BokehJS
    big = ("/explorer/frontend/chunks-", "/explorer/frontend/later-", "/explorer/bokehjs/bokeh.min.js")
    try:
        page.goto(server + "voila/render/index.ipynb", timeout=120_000)        # until its load event
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = {b for rid, u in asked.items() if rid in finished for b in big if b in u}
            if done == set(big):
                break
            page.wait_for_timeout(200)
        assert done == set(big), f"the start page did not fetch {big}: {sorted(asked.values())}"

        first_explorer_request = len(asked)
        open_explorer(page, server)
        later = {rid: u for rid, u in list(asked.items())[first_explorer_request:] if any(b in u for b in big)}
        # the explorer's page asks for them (its head's prefetch, then its scripts) ...
        assert all(any(b in u for u in later.values()) for b in big)
        assert set(later) <= from_cache, later  # ... and the cache answers each time
        assert all(u.startswith((server, "https://", "data:")) for u in asked.values())
    finally:
        context.close()
