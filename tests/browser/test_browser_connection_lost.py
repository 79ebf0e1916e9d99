"""Kernel death or a lost connection shows a clear message in the page (issue 7).

The repo's Voila template watches the page's kernel websocket and polls the kernel; these tests
kill the kernel, or stop the server, under a rendered page and wait for the banner.
"""

import os
import signal
import time

import psutil
import pytest

from harness.voila import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NOTEBOOK = "voila/render/rbm_free_energies.ipynb"
BANNER = "#explorer-connection-lost"


def _open(browser, base, notebook=NOTEBOOK):
    page = browser.new_page()
    page.route(lambda url: not url.startswith(base), lambda route: route.abort())
    page.goto(base + notebook, wait_until="commit", timeout=120_000)
    page.wait_for_function("window.Bokeh && Bokeh.documents.length > 0", timeout=120_000)
    return page


def _kernels(proc):
    return [k for k in psutil.Process(proc.pid).children(recursive=True)
            if "ipykernel" in " ".join(k.cmdline())]


def test_kernel_death_shows_a_banner(browser, tmp_path):
    with serve("notebooks/", tmp_path / "voila.log") as (base, proc):
        page = _open(browser, base, "voila/render/rbm_explorer.ipynb")
        try:
            handle = page.locator(".widget-slider .noUi-handle").first
            handle.wait_for(timeout=120_000)
            handle.focus()
            for _ in range(5):                                 # a working explorer...
                page.keyboard.press("ArrowRight")
                page.wait_for_timeout(300)
            assert page.locator(BANNER).count() == 0          # ...raises no false alarm
            kernels = _kernels(proc)
            assert kernels, "the page's kernel should be a child of Voila"
            for k in kernels:
                k.kill()
            page.wait_for_selector(BANNER, timeout=60_000)
            assert "Reload the page" in page.locator(BANNER).inner_text()
        finally:
            page.close()


def test_lost_server_shows_a_banner(browser, tmp_path):
    with serve("notebooks/", tmp_path / "voila.log") as (base, proc):
        page = _open(browser, base)
        try:
            os.killpg(proc.pid, signal.SIGKILL)             # the server vanishes, kernels too
            proc.wait()
            t0 = time.monotonic()
            page.wait_for_selector(BANNER, timeout=60_000)
            assert time.monotonic() - t0 < 60
            assert "connection" in page.locator(BANNER).inner_text()
        finally:
            page.close()
