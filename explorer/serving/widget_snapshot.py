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

A preheated kernel's page (``make classroom``, a hub student's first page) carries one too: its
notebook waits for the page's request before it shows the explorer
(:func:`explorer.app.core.request.show_when_requested`), so the end of the page, where the record is
written, is rendered after the request's State was applied, and the record holds it.

The kernel's answer leaves out what the page already has. Each model in the record carries a
digest of its state (:func:`state_digest`, of the state as it crossed the wire); the template's
script sends the digests of the models it built with its ``request_states`` message, and the
kernel (:mod:`explorer.app.core.widget_answer`) answers with the states of only those widgets whose
state now differs, or which the page did not name. For the RBM explorer that answer held all 113
widgets again (~300 kB, 75 kB deflated); now, unless something changed, none (under 1 kB). A page
without digests (JupyterLab, another template) gets the whole answer.

The script element (its type and id) is the template's: this module gives only its content.
"""

from __future__ import annotations

import hashlib
import json


def page_snapshot(kernel_start) -> str:
    """The widget states recorded while this page's cells ran, as JSON that is safe inside a
    ``<script>`` element; "" when there is none to give (see the module docstring).

    ``kernel_start`` is the page template's ``kernel_start`` (a ``functools.partial`` of Voila's
    ``NotebookRenderer._jinja_kernel_start``), the only way to the renderer the template has.
    Returns ``{model_id: {"model_name", "model_module", "model_module_version", "state"[,
    "buffers"], "digest"}}``, the format of ipywidgets' saved widget state (binary buffers
    base64-encoded with their paths in the state) and the state's :func:`state_digest`.
    """
    renderer = getattr(getattr(kernel_start, "func", None), "__self__", None)
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
        encoded = list((buffers.get(model_id) or {}).values())
        if encoded:
            entry["buffers"] = encoded
        entry["digest"] = state_digest(state, [(b["path"], b["data"]) for b in encoded])
        snapshot[model_id] = entry
    if not snapshot:
        return ""
    # "<" escaped: no "</script>" or "<!--" can end or change the element it is written in
    return json.dumps(snapshot, separators=(",", ":")).replace("<", "\\u003c")


def state_digest(state, buffers=()) -> str:
    """A short digest of one widget's state as it crossed the wire: the same on the server (from
    the notebook runner's record) and in the kernel (from the widget), when the states are equal.

    Parameters
    ----------
    state : dict
        The state as JSON gave it (binary buffers removed, as ipywidgets sends them).
    buffers : iterable of (path, base64 text)
        Each removed buffer: its path in the state (a list of keys and indices) and its bytes,
        base64-encoded.

    Unequal states give unequal digests (up to a 2^-64 chance); equal ones written differently
    (key order) give the same digest. A mismatch only costs bytes: the kernel then sends the state.
    """
    canonical = json.dumps({"state": state, "buffers": sorted(["/".join(map(str, path)), data]
                                                              for path, data in buffers)},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()
