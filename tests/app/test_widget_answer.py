"""The kernel's answer to a page that holds its widgets' states (explorer/app/core/widget_answer.py):
the digest the server writes into the page for a widget equals the one the kernel computes from
the same widget while its state is unchanged, and the answer leaves out exactly those widgets.
The page's side (its request names the digests, the answer is small, the page works) is tested in
Chromium (tests/browser/test_browser_widget_snapshot.py)."""

from __future__ import annotations

import functools
import json

import ipywidgets as W
import pytest
from ipywidgets.widgets.widget import _remove_buffers
from jupyter_client.session import json_packer
from nbclient import NotebookClient
from nbformat.v4 import new_notebook

from explorer.app.core import widget_answer
from explorer.serving.widget_snapshot import page_snapshot


class _Renderer:
    def __init__(self, executor):
        self.executor = executor

    def _jinja_kernel_start(self, nb, kernel_id, kernel_future):
        return kernel_id


def _recorded(widgets):
    """What Voila's notebook runner records of these widgets' opening messages (nbclient's own
    handler, fed the messages as they cross the wire), as the page's snapshot."""
    runner = NotebookClient(new_notebook())
    for widget in widgets:
        state, paths, buffers = _remove_buffers(widget.get_state())
        data = json.loads(json_packer({"state": state, "buffer_paths": paths}))
        msg = {"msg_type": "comm_open", "content": {"comm_id": widget.model_id, "data": data},
               "buffers": [bytes(b) for b in buffers]}
        runner.handle_comm_msg([], msg, 0)
    renderer = _Renderer(runner)
    start = functools.partial(renderer._jinja_kernel_start, nb=None, kernel_id="k", kernel_future=None)
    return json.loads(page_snapshot(start))


@pytest.fixture
def widgets():
    made = [W.FloatSlider(value=0.5, description="Temperature T"),
            W.Image(value=b"\x00\x01\x02binary", format="png"),           # a binary buffer
            W.HTML(value="<b>F</b> = −T ln Z"),                            # non-ASCII text
            W.Dropdown(options=[("one", 1), ("two", 2)], value=2)]          # tuples on the kernel's side
    yield made
    for w in made:
        w.close()


def test_the_server_and_the_kernel_agree_on_an_unchanged_state_and_not_on_a_changed_one(widgets):
    snapshot = _recorded(widgets)
    for widget in widgets:
        assert snapshot[widget.model_id]["digest"] == widget_answer.wire_digest(widget)
    slider, image, html, dropdown = widgets
    slider.value = 0.75
    image.value = b"\x00\x01\x02other"
    html.value = "<b>F</b>"
    dropdown.value = 1
    for widget in widgets:
        assert snapshot[widget.model_id]["digest"] != widget_answer.wire_digest(widget)


class _ControlComm:
    def __init__(self):
        self.sent = []

    def send(self, data, buffers=None):
        self.sent.append((data, buffers))


def _ask(known=None):
    data = {"method": "request_states"}
    if known is not None:
        data[widget_answer.KNOWN_KEY] = known
    comm = _ControlComm()
    saved = W.Widget._control_comm
    W.Widget._control_comm = comm
    try:
        W.Widget._handle_control_comm_msg({"content": {"data": data}})
    finally:
        W.Widget._control_comm = saved
    (answer, buffers), = comm.sent
    assert answer["method"] == "update_states"
    return answer, buffers


def test_the_answer_leaves_out_what_the_page_holds_and_nothing_else(widgets):
    widget_answer.install()
    widget_answer.install()             # idempotent: still one wrapper around ipywidgets' handler
    snapshot = _recorded(widgets)
    slider, image, html, dropdown = widgets
    slider.value = 0.9                  # changed since the page was rendered: sent again
    known = {mid: entry["digest"] for mid, entry in snapshot.items() if mid != html.model_id}
    answer, buffers = _ask(known)
    assert set(answer["states"]) >= {slider.model_id, html.model_id}      # html: the page did not name it
    assert image.model_id not in answer["states"] and dropdown.model_id not in answer["states"]
    assert answer["states"][slider.model_id]["state"]["value"] == 0.9
    assert answer["states"][slider.model_id]["model_name"] == "FloatSliderModel"

    # an unchanged image is not sent, so its buffer is not either; a changed one comes with it
    image.value = b"new bytes"
    answer, buffers = _ask(known)
    assert image.model_id in answer["states"]
    assert [bytes(b) for b in buffers] == [b"new bytes"]
    assert answer["buffer_paths"] == [[image.model_id, "state", "value"]]


def test_a_request_without_digests_gets_every_widget_as_ipywidgets_sends_them(widgets):
    widget_answer.install()
    answer, _buffers = _ask()
    assert {w.model_id for w in widgets} <= set(answer["states"])
    answer, _buffers = _ask({"not a model": "0000000000000000"})
    assert {w.model_id for w in widgets} <= set(answer["states"])
