"""The reproduction of issue 25's "widget model not found", served by Voila in
tests/browser/test_browser_widget_timing.py (not a test module itself).

The page shows a box with one child and, beside it, a widget that a change may replace. A worker
thread then changes the widgets the way the app hands a thread's results to them
(:func:`explorer.app.core.scheduling.loop_poster`), at the moment the page's URL names:

* ``when=display``: right after the cell displayed them, i.e. before the page has reached the
  browser and long before its front end asks for the widgets' state;
* ``when=state``: just after the kernel answered the front end's request for every widget's state
  (the request is watched here by wrapping ipywidgets' handler), while the front end builds the
  widget models from that answer.

and ``kind`` says what the thread's result does:

* ``value``: a new value for the box's child (a plain trait);
* ``child``: a new widget appended to the box's children;
* ``replace``: the widget beside the box is closed and a new one is put in the box.

The page's URL reaches the kernel as ``QUERY_STRING`` (Voila's request environment).
"""

from __future__ import annotations

import os
import threading
import time
from urllib.parse import parse_qsl

import ipywidgets as W
from IPython.display import display

from explorer.app.core.scheduling import loop_poster

QUERY = dict(parse_qsl(os.environ.get("QUERY_STRING", "")))
WHEN = QUERY.get("when", "state")
KIND = QUERY.get("kind", "value")

box = W.VBox([W.HTML("first value")])
box.add_class("timing-box")
beside = W.HTML("the widget beside the box")
beside.add_class("timing-beside")
#: What happened, in order (kernel-side), for a failing test's message.
events = []


def change():
    events.append(f"{time.monotonic():.3f} change {KIND}")
    if KIND == "value":
        box.children[0].value = "late value"
    elif KIND == "child":
        late = W.HTML("late child")
        late.add_class("timing-late")
        box.children = (*box.children, late)
    elif KIND == "replace":
        late = W.HTML("late child")
        late.add_class("timing-late")
        box.children = (late,)
        beside.close()


def start_thread():
    """A worker thread whose result reaches the widgets as the app's threads' results do."""
    post = loop_poster()
    threading.Thread(target=lambda: post(change), name="late-change", daemon=True).start()


_answer_states = W.Widget._handle_control_comm_msg.__func__


def _watched(cls, msg):
    events.append(f"{time.monotonic():.3f} state requested")
    _answer_states(cls, msg)
    events.append(f"{time.monotonic():.3f} state sent")
    if WHEN == "state" and msg["content"]["data"].get("method") == "request_states":
        start_thread()


W.Widget._handle_control_comm_msg = classmethod(_watched)


def show():
    display(box)
    display(beside)
    if WHEN == "display":
        start_thread()
