"""BokehJS goes into the page once, inline, and only with the bundles the views use."""

from __future__ import annotations

import IPython.display
import pytest
from bokeh.io import notebook

from explorer.views.resources import BOKEHJS_MIME, load_bokehjs


@pytest.fixture
def published(monkeypatch):
    """Everything published as display data (Bokeh imports IPython's publisher at call time)."""
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
