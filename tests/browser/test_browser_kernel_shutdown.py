"""End to end: a page that goes (closed, reloaded, left for another notebook) frees its kernel at once.

Voila's page posts ``voila/api/shutdown/<kernel id>`` when it goes; the explorer template makes
that request pass jupyter_server's XSRF check (the page fetches the ``_xsrf`` cookie Voila's
notebook pages never set) and sends it on ``pagehide`` (see the template's first script). Before,
every such request was refused with 403 and the kernel (~150 MB) lived on until the idle culler.
With the preheated pool (``make classroom``) only the page's own kernel goes; the pool's stay.

These pages are opened without Playwright's request routing (``harness.voila.new_page`` blocks
non-local requests with ``page.route``): a request that a page sends while it is being closed
is held by the routing and never reaches the server, which is not what a browser does. Instead,
every request is recorded and must be local (the template loads nothing from elsewhere).
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import pytest

from harness.voila import WAIT_SOURCE_JS, WATCH_SOURCES_JS, change_count, wait_for_change

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START = "voila/render/index.ipynb"
RBM = "voila/render/rbm_explorer.ipynb"
#: The kernel a Voila page talks to (Voila writes its page config into every notebook page).
KERNEL_ID_JS = "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
#: Seconds a page's kernel may take to go once the page is gone. The server's idle culler
#: (voila_server: 120 s idle, checked every 30 s) cannot be what removes it within this.
GONE_WITHIN = 10.0


def kernel_status(base, kernel_id):
    """HTTP status of Voila's ``api/kernels/<id>``: 200 while the kernel runs, 404 once it is gone."""
    try:
        with urllib.request.urlopen(f"{base}api/kernels/{kernel_id}", timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def wait_until_gone(base, kernel_id, within=GONE_WITHIN):
    """Seconds until the kernel was gone; fails when it is still there after ``within`` s."""
    t0 = time.monotonic()
    while True:
        status = kernel_status(base, kernel_id)
        elapsed = time.monotonic() - t0
        if status == 404:
            return elapsed
        assert status == 200, f"api/kernels/{kernel_id}: unexpected HTTP {status}"
        if elapsed > within:
            pytest.fail(f"kernel {kernel_id} still running {elapsed:.1f} s after its page went")
        time.sleep(0.2)


class Recorder:
    """A page in its own browser context (fresh cookies, as a new visitor) that records problems."""

    def __init__(self, browser, base):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        # generous: the machine running these tests is shared and sometimes oversubscribed
        self.page.set_default_timeout(180_000)
        self.bad_responses, self.foreign_requests, self.errors = [], [], []
        self.context.on("response", self._response)
        self.context.on("request", self._request)
        self.page.on("console", lambda m: self.errors.append(f"console.error: {m.text} {m.location}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _response(self, response):
        if response.status >= 400:
            self.bad_responses.append(f"{response.status} {response.request.method} {response.url}")

    def _request(self, request):
        if not request.url.startswith(self.base):
            self.foreign_requests.append(request.url)

    def kernel_id(self):
        kernel_id = self.page.evaluate(KERNEL_ID_JS)
        assert re.fullmatch(r"[0-9a-f-]{36}", kernel_id), kernel_id
        assert kernel_status(self.base, kernel_id) == 200
        return kernel_id

    def open_start_page(self):
        self.page.goto(self.base + START, wait_until="commit")
        self.page.get_by_role("link", name="RBM explorer", exact=True).first.wait_for()
        return self.kernel_id()

    def open_rbm_explorer(self, query=""):
        self.page.goto(self.base + RBM + (("?" + query) if query else ""), wait_until="commit")
        self.page.wait_for_function(WAIT_SOURCE_JS, arg="t_cursor")
        return self.kernel_id()

    def close(self):
        """Close the page as a browser tab is closed (its unload events run)."""
        self.page.close(run_before_unload=True)

    def assert_clean(self):
        assert self.bad_responses == []
        assert self.foreign_requests == []
        assert self.errors == []

    def dispose(self):
        self.context.close()


@pytest.fixture
def visitor(server, browser):
    v = Recorder(browser, server)
    yield v
    v.dispose()


def test_closed_page_frees_its_kernel(visitor, server):
    kernel_id = visitor.open_rbm_explorer()
    visitor.close()
    wait_until_gone(server, kernel_id)
    visitor.assert_clean()


def test_reloaded_page_frees_its_old_kernel(visitor, server):
    first = visitor.open_start_page()
    visitor.page.reload(wait_until="commit")
    visitor.page.get_by_role("link", name="RBM explorer", exact=True).first.wait_for()
    second = visitor.kernel_id()
    assert second != first
    wait_until_gone(server, first)
    assert kernel_status(server, second) == 200
    visitor.assert_clean()


def test_page_left_for_another_notebook_frees_its_kernel(visitor, server):
    start = visitor.open_start_page()
    visitor.page.get_by_role("link", name="RBM explorer", exact=True).first.click()
    visitor.page.wait_for_function(WAIT_SOURCE_JS, arg="t_cursor")
    explorer = visitor.kernel_id()
    wait_until_gone(server, start)
    assert kernel_status(server, explorer) == 200
    visitor.close()
    wait_until_gone(server, explorer)
    visitor.assert_clean()


def test_a_navigation_that_does_not_happen_leaves_the_page_working(visitor, server):
    """``beforeunload`` comes before the browser knows that the page goes (a download, a cancelled
    prompt, or seconds of waiting for the next page on a loaded server). Voila's page disposed of its
    kernel connection there: what the page sent afterwards (a plot telling the kernel its new size,
    a slider) was an uncaught "Cannot send" error and never reached the kernel. The connection now
    goes on ``pagehide``, and the kernel with it."""
    kernel_id = visitor.open_rbm_explorer()
    visitor.page.evaluate("() => window.dispatchEvent(new Event('beforeunload'))")
    visitor.page.evaluate(WATCH_SOURCES_JS, ["t_cursor"])
    before = change_count(visitor.page, "t_cursor")
    visitor.page.locator(".explorer-temperature .noUi-handle").first.focus()
    visitor.page.keyboard.press("ArrowRight")
    wait_for_change(visitor.page, "t_cursor", before)          # the kernel answered the slider
    assert kernel_status(server, kernel_id) == 200
    visitor.close()
    wait_until_gone(server, kernel_id)
    visitor.assert_clean()


# The preheated pool (make classroom) ---------------------------------------------------------

def started_kernels(log):
    return set(re.findall(r"Kernel started: ([0-9a-f-]{36})", log.read_text()))


def pooled_for_pages(log):
    return re.findall(r"Using pre-heated kernel: ([0-9a-f-]{36}) for rbm_explorer\.ipynb", log.read_text())


def shut_down_kernels(log):
    return re.findall(r"Kernel shutdown: ([0-9a-f-]{36})", log.read_text())


def server_errors(log, polled):
    """4xx/5xx lines of the server's access log, but for this test's own polls of gone kernels."""
    lines = re.findall(r"^([45]\d\d) (\S+) (\S+) .*$", log.read_text(), flags=re.M)
    return [line for line in lines
            if not (line[0] == "404" and line[1] == "GET" and any(k in line[2] for k in polled))]


def test_closed_pooled_page_frees_only_its_own_kernel(pooled_server, browser):
    base, log = pooled_server
    first = Recorder(browser, base)
    try:
        kernel_id = first.open_rbm_explorer("T=0.5")
        assert kernel_id in pooled_for_pages(log), "the page was not served by a pooled kernel"
        pool = started_kernels(log) - set(pooled_for_pages(log))
        assert pool, "the pool should hold kernels for the next pages"
        first.close()
        wait_until_gone(base, kernel_id)
        # the pool's kernels are untouched: only the page's kernel was shut down
        assert shut_down_kernels(log) == [kernel_id]
        for pooled in pool:
            assert kernel_status(base, pooled) == 200, f"pooled kernel {pooled} was shut down"
        first.assert_clean()
    finally:
        first.dispose()

    # the next page is still served by the pool, and its kernel goes with it too
    second = Recorder(browser, base)
    try:
        other = second.open_rbm_explorer()
        assert other in pooled_for_pages(log) and other != kernel_id
        second.close()
        wait_until_gone(base, other)
        assert sorted(shut_down_kernels(log)) == sorted([kernel_id, other])
        second.assert_clean()
    finally:
        second.dispose()
    assert server_errors(log, polled=[kernel_id, other]) == []
