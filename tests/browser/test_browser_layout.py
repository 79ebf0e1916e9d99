"""In Voila at 1280 × 720 both explorers fit the window: nothing is cut off sideways, and the
readout (the numbers under the cursor) is always shown whole."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.browser.layout_checks import clipping, report, wait_for_layout
from tests.browser.voila_server import WAIT_SOURCE_JS, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTH, HEIGHT = 1280, 720


@dataclass(frozen=True)
class Explorer:
    notebook: str
    root: str        # the explorer's root widget
    readout: str     # the readout's HTML element
    ready: str       # exists once the widgets are drawn
    source: str      # a Bokeh source that exists once the plots have their data
    query: str = ""  # the page's URL query


EXPLORERS = {
    "rbm": Explorer("rbm_explorer.ipynb", ".rbm-explorer", ".explorer-readout", ".explorer-temperature .noUi-handle",
                    "t_cursor"),
    "vae": Explorer("vae_explorer.ipynb", ".vae-explorer", ".vae-readout", ".vae-temperature .noUi-handle",
                    "lam_series"),
    # the projector size (teacher mode): larger fonts must still fit
    "rbm-projector": Explorer("rbm_explorer.ipynb", ".rbm-explorer", ".explorer-readout",
                              ".explorer-temperature .noUi-handle", "t_cursor", "teacher=1&size=large"),
}


@pytest.fixture(scope="module", params=sorted(EXPLORERS))
def explorer_page(request, server, browser, artifacts):
    """One explorer opened at 1280 × 720, its widgets and plots drawn and the layout settled."""
    name, ex = request.param, EXPLORERS[request.param]
    page = new_page(browser, server, width=WIDTH, height=HEIGHT)
    # first render: the VAE imports torch and integrates the first digit; generous on a shared machine
    page.goto(server + "voila/render/" + ex.notebook + ("?" + ex.query if ex.query else ""), wait_until="commit",
              timeout=240_000)
    page.wait_for_selector(ex.ready, timeout=240_000)
    page.wait_for_function(WAIT_SOURCE_JS, arg=ex.source, timeout=240_000)
    page.wait_for_selector(ex.readout, state="attached", timeout=60_000)
    wait_for_layout(page, ex.root)
    page.screenshot(path=str(artifacts / f"layout_voila_{name}_{WIDTH}x{HEIGHT}.png"))
    yield page, ex
    page.close()


def test_nothing_clipped_horizontally(explorer_page):
    page, ex = explorer_page
    problems = clipping(page, ex.root)
    assert problems == [], report(problems)


def test_readout_never_clipped(explorer_page):
    page, ex = explorer_page
    problems = clipping(page, ex.root, readouts=[ex.readout], fit=False)
    assert problems == [], report(problems)
