"""The widget snapshot written into a page (explorer/serving/widget_snapshot.py): what it gives, and
when it gives nothing. The page drawn from it is tested in Chromium
(tests/browser/test_browser_widget_snapshot.py)."""

from __future__ import annotations

import functools
import json

from explorer.serving.widget_snapshot import page_snapshot

SLIDER = {"_model_name": "FloatSliderModel", "_model_module": "@jupyter-widgets/controls",
          "_model_module_version": "2.0.0", "value": 0.5, "description": "Temperature T"}


class _Executor:
    def __init__(self, states, buffers=None):
        self.widget_state = states
        self.widget_buffers = buffers or {}


class _Renderer:
    """The part of Voila's NotebookRenderer the filter reads: its notebook runner. A preheated
    kernel's renderer has no request handler; its page gets a snapshot all the same (the pooled
    page's is checked with a real server in tests/serving/test_static_files.py)."""

    def __init__(self, executor):
        self.executor = executor
        self.request_handler = None

    async def _jinja_kernel_start(self, nb, kernel_id, kernel_future):
        return kernel_id


def _kernel_start(renderer):
    # what Voila puts into the template's context
    return functools.partial(renderer._jinja_kernel_start, kernel_id="k", kernel_future=None)


def test_the_snapshot_holds_each_widget_as_ipywidgets_saves_it():
    states = {"a" * 32: dict(SLIDER), "b" * 32: {"value": 3}}       # b: only an update was seen
    buffers = {"a" * 32: {("data",): {"data": "AAE=", "encoding": "base64", "path": ["data"]}}}
    snapshot = json.loads(page_snapshot(_kernel_start(_Renderer(_Executor(states, buffers)))))
    assert list(snapshot) == ["a" * 32]
    entry = snapshot["a" * 32]
    assert entry["model_name"] == "FloatSliderModel" and entry["model_module"] == "@jupyter-widgets/controls"
    assert entry["model_module_version"] == "2.0.0" and entry["state"] == SLIDER
    assert entry["buffers"] == [{"data": "AAE=", "encoding": "base64", "path": ["data"]}]


def test_nothing_in_it_can_end_the_script_element_it_is_written_in():
    html = dict(SLIDER, _model_name="HTMLModel", value="<b>x</b></script><!-- <script>alert(1)</script>")
    text = page_snapshot(_kernel_start(_Renderer(_Executor({"c" * 32: html}))))
    assert "<" not in text
    assert json.loads(text)["c" * 32]["state"]["value"] == html["value"]


def test_no_snapshot_for_a_page_without_buildable_widgets():
    assert page_snapshot(_kernel_start(_Renderer(_Executor({})))) == ""
    assert page_snapshot(_kernel_start(_Renderer(None))) == ""
    assert page_snapshot(_kernel_start(_Renderer(_Executor({"b" * 32: {"value": 1}})))) == ""
    assert page_snapshot(None) == "" and page_snapshot("not a kernel_start") == ""
