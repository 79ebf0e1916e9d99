"""The kernel's answer to a page that already holds its widgets: only what changed.

A Voila page with the explorer template is drawn from the widget states the server wrote into it
(:mod:`explorer.serving.widget_snapshot`). Voila's widget manager still asks the kernel for every
widget's state (ipywidgets' control comm, ``request_states``); ipywidgets answers with all of
them, ~75 kB deflated for the RBM explorer, the same states a second time. The template's script
adds ``explorer_known`` to that request: ``{model_id: digest}`` for each model of the page's
snapshot (the template builds every one the manager lacks), the digests the server computed
(:func:`~explorer.serving.widget_snapshot.state_digest`).
:func:`answer_request_states` leaves out every widget whose state has that digest now: the page
holds exactly that state. Any other widget, one whose state changed since the page was rendered
included, is sent as ipywidgets would send it, and the manager sets it on its model as before.

A request without ``explorer_known`` (JupyterLab, Voila's own template, a page whose script did
not add it) gets ipywidgets' own answer.
"""

from __future__ import annotations

import base64
import json

from ...serving.widget_snapshot import state_digest

#: The key of the page's digests in its ``request_states`` message (the template's script).
KNOWN_KEY = "explorer_known"

_ipywidgets_answer = None


def wire_digest(widget, state=None) -> str:
    """:func:`state_digest` of ``widget``'s state as the kernel would send it now (``state``: that
    state, when the caller already has it): buffers removed as ipywidgets removes them, the rest
    through the kernel's own JSON packer."""
    from ipywidgets.widgets.widget import _remove_buffers
    from jupyter_client.session import json_packer

    if state is None:
        state = widget.get_state(drop_defaults=False)
    state, paths, buffers = _remove_buffers(state)
    wire = json.loads(json_packer(state))
    return state_digest(wire, [(path, base64.b64encode(buffer).decode("ascii"))
                               for path, buffer in zip(paths, buffers, strict=True)])


def answer_request_states(cls, msg):
    """ipywidgets' control-comm handler (``Widget._handle_control_comm_msg``), answering a
    ``request_states`` that names what the page holds with the other widgets' states only."""
    data = msg["content"]["data"]
    known = data.get(KNOWN_KEY)
    if data.get("method") != "request_states" or not isinstance(known, dict):
        return _ipywidgets_answer(cls, msg)
    from ipywidgets.widgets.widget import _instances, _remove_buffers

    states = {}
    # a copy: a worker thread may create or close a widget while this runs
    for widget in list(_instances.values()):
        state = widget.get_state(drop_defaults=False)
        if widget.model_id in known and known[widget.model_id] == wire_digest(widget, state):
            continue
        states[widget.model_id] = {"model_name": widget._model_name, "model_module": widget._model_module,
                                   "model_module_version": widget._model_module_version, "state": state}
    states, buffer_paths, buffers = _remove_buffers(states)
    cls._control_comm.send({"method": "update_states", "states": states, "buffer_paths": buffer_paths},
                           buffers=buffers)


def install():
    """Answer ``request_states`` with :func:`answer_request_states` in this kernel (idempotent).
    ipywidgets looks the handler up when the page opens its control comm: call before that, i.e.
    while the page's cells run."""
    global _ipywidgets_answer
    from ipywidgets import Widget

    if _ipywidgets_answer is None:
        _ipywidgets_answer = Widget.__dict__["_handle_control_comm_msg"].__func__
        Widget._handle_control_comm_msg = classmethod(answer_request_states)
