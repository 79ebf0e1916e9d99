"""The page's widgets as its cells left them, written into the page: its plots are drawn without
waiting for the kernel's own copy.

A Voila page's front end asks the kernel for the state of every widget (ipywidgets' control comm,
``request_states``) only once it has started and connected to the kernel, and draws nothing
before the answer: four round trips after the page's scripts have arrived, then ~270 kB (the RBM
explorer; Bokeh's documents are most of it). The server already holds the same states: Voila's
notebook runner (nbclient) records every widget message of the cells it runs
(``NotebookClient.widget_state``, the record nbclient writes into a notebook's metadata when it
executes one). :func:`page_snapshot`, the explorer template's ``explorer_widget_snapshot`` filter,
writes that record at the end of the page; the template's script builds the widget models from it
as soon as Voila's widget manager exists, each with its comm to the kernel, and draws the page.
When the kernel's answer arrives, Voila's widget manager finds each model already there and sets
the kernel's state on it (ipywidgets 8's ``_loadFromKernel``): whatever changed in between is
brought up to date, nothing is built twice.

Not written for a page rendered ahead of its request (Voila's preheated kernels, ``make
classroom``): the request's own State is applied to the widgets after the page was rendered
(:meth:`explorer.app.core.page.ExplorerPage.adopt_request`), so that record would show another
view first.
"""

from __future__ import annotations

import json

#: The script element's type and id in the page (the template's script reads it).
MIME_TYPE = "application/x-explorer-widget-snapshot+json"


def page_snapshot(kernel_start) -> str:
    """The widget states recorded while this page's cells ran, as JSON that is safe inside a
    ``<script>`` element; "" when there is none to give (see the module docstring).

    ``kernel_start`` is the page template's ``kernel_start`` (a ``functools.partial`` of Voila's
    ``NotebookRenderer._jinja_kernel_start``), the only way to the renderer the template has.
    Returns ``{model_id: {"model_name", "model_module", "model_module_version", "state"[,
    "buffers"]}}``, the format of ipywidgets' saved widget state (binary buffers base64-encoded
    with their paths in the state).
    """
    renderer = getattr(getattr(kernel_start, "func", None), "__self__", None)
    if renderer is None or getattr(renderer, "request_handler", None) is None:
        return ""           # no renderer, or a pooled kernel's page rendered before its request
    executor = getattr(renderer, "executor", None)
    states = getattr(executor, "widget_state", None)
    if not states:
        return ""
    buffers = getattr(executor, "widget_buffers", {}) or {}
    snapshot = {}
    for model_id, state in states.items():
        if "_model_name" not in state:
            continue            # only updates seen, never the widget's opening: not buildable
        entry = {"model_name": state["_model_name"], "model_module": state.get("_model_module"),
                 "model_module_version": state.get("_model_module_version"), "state": state}
        if buffers.get(model_id):
            entry["buffers"] = list(buffers[model_id].values())
        snapshot[model_id] = entry
    if not snapshot:
        return ""
    # "<" escaped: no "</script>" or "<!--" can end or change the element it is written in
    return json.dumps(snapshot, separators=(",", ":")).replace("<", "\\u003c")
