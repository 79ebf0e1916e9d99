"""BokehJS goes into the page once and only with the bundles the views use: linked to the server's
versioned file in a Voila page of this project's servers, inline everywhere else."""

from __future__ import annotations

from pathlib import Path

import IPython.display
import pytest
from bokeh.io import notebook

from explorer.serving import bokehjs
from explorer.views.resources import BOKEHJS_LINK_MIME, BOKEHJS_MIME, SYNC_GUARD_JS, load_bokehjs

TEMPLATE = Path(__file__).resolve().parents[2] / "share/jupyter/voila/templates/explorer/index.html.j2"


@pytest.fixture
def published(monkeypatch):
    """Everything published as display data (Bokeh imports IPython's publisher at call time);
    outside a server that serves BokehJS (the inline case)."""
    monkeypatch.delenv(bokehjs.ENV, raising=False)
    calls = []
    monkeypatch.setattr(IPython.display, "publish_display_data",
                        lambda data, metadata=None, **kw: calls.append(data))
    return calls


def test_bokehjs_is_published_once_under_one_mime_type(published):
    load_bokehjs()
    with_js = [d for d in published if any("Bokeh" in str(v) for v in d.values())]
    assert len(with_js) == 1
    assert list(with_js[0]) == [BOKEHJS_MIME]
    js = with_js[0][BOKEHJS_MIME]
    # inline (offline): the library's own code is in the page, nothing is fetched from a CDN
    assert len(js) > 1_000_000
    assert "cdn.bokeh.org" not in js
    # each bundle the views use is in it exactly once; tables and WebGL are left out
    for component, count in [("bokeh", 1), ("bokeh-widgets", 1), ("bokeh-tables", 0), ("bokeh-gl", 0)]:
        assert js.count(_middle_of(component)) == count, component


def _middle_of(component):
    """A stretch from the middle of a BokehJS bundle's source, to find the bundle by."""
    from bokeh.resources import Resources

    source = Resources(mode="inline", components=[component]).js_raw[0]
    return source[len(source) // 2: len(source) // 2 + 200]


def test_bokehjs_page_output_is_about_half_of_what_output_notebook_sends(published):
    from bokeh.io import output_notebook
    from bokeh.resources import Resources

    load_bokehjs()
    ours = sum(len(v) for d in published for v in d.values())
    published.clear()
    output_notebook(resources=Resources(mode="inline", components=["bokeh", "bokeh-widgets"]), hide_banner=True)
    theirs = sum(len(v) for d in published for v in d.values())
    assert ours < 0.55 * theirs


def test_the_publisher_is_restored_after_loading_even_on_error(published, monkeypatch):
    original = notebook.publish_display_data
    load_bokehjs()
    assert notebook.publish_display_data is original

    def boom(*args, **kwargs):
        raise RuntimeError("publish failed")

    monkeypatch.setattr(IPython.display, "publish_display_data", boom)
    with pytest.raises(RuntimeError):
        load_bokehjs()
    assert notebook.publish_display_data is original


@pytest.mark.parametrize("env, linked", [
    ({bokehjs.ENV: bokehjs.ROUTE, "VOILA_BASE_URL": "/"}, True),       # make app, classroom, the hub
    ({bokehjs.ENV: bokehjs.ROUTE}, False),      # JupyterLab in the hub: no explorer template there
    ({"VOILA_BASE_URL": "/"}, False),           # a Voila without this project's server code
])
def test_a_voila_page_of_our_servers_links_to_the_versioned_file(published, monkeypatch, env, linked):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    load_bokehjs()
    (bundle,) = [d for d in published if BOKEHJS_MIME in d]
    if not linked:
        assert list(bundle) == [BOKEHJS_MIME] and len(bundle[BOKEHJS_MIME]) > 1_000_000
        # the kernel's patches are not sent back to it (issue 25): the guard runs right after BokehJS
        assert bundle[BOKEHJS_MIME].endswith(SYNC_GUARD_JS)
        return
    assert bundle[BOKEHJS_LINK_MIME] == {"scripts": bokehjs.script_paths(), "after": SYNC_GUARD_JS}
    # a small loader for other templates, no library code (it runs the guard once BokehJS is loaded)
    assert len(bundle[BOKEHJS_MIME]) < 4_000 and "window.Bokeh" in bundle[BOKEHJS_MIME]
    assert SYNC_GUARD_JS in bundle[BOKEHJS_MIME]


def test_the_template_names_the_linked_scripts_to_its_loader():
    """The explorer's template knows the link's MIME type and the route it may point to, and names
    the scripts to its head's loader (the served pages: tests/serving/test_static_files.py and the
    browser tests)."""
    text = TEMPLATE.read_text()
    assert BOKEHJS_LINK_MIME in text
    assert f"src.startswith('{bokehjs.ROUTE}')" in text
    assert "window.explorerBokehJS && window.explorerBokehJS.named({" in text
