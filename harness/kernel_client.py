"""A Jupyter kernel's websocket, spoken as a page's widget manager speaks it: what a load
benchmark needs to open a page's widgets without a browser (the server's share of a class).
"""

from __future__ import annotations

import json
import re
import time

#: The kernel a rendered Voila page names in its jupyter-config-data.
KERNEL_ID = re.compile(r'"kernelId": "([0-9a-f-]+)"')


def kernel_ws_url(base, kernel_id, session):
    """The kernel's websocket on the Voila server at ``base``, as a page opens it."""
    return base.replace("http://", "ws://", 1) + f"api/kernels/{kernel_id}/channels?session_id={session}"


def kernel_message(session, msg_type, content, metadata=None, msg_id=None):
    """A Jupyter message for the kernel's websocket (shell channel), as JSON text."""
    import uuid

    return json.dumps({"header": {"msg_id": msg_id or uuid.uuid4().hex, "username": "load-test",
                                  "session": session, "msg_type": msg_type, "version": "5.3",
                                  "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                       "parent_header": {}, "metadata": metadata or {}, "content": content,
                       "channel": "shell", "buffers": []})


def fetch_widget_states(base, kernel_id, timeout, headers=None):
    """Ask a page's kernel for every widget's state, as the page's widget manager does.

    ``headers``: extra HTTP headers of the websocket handshake (e.g. a hub login's cookies).
    Opens the kernel's websocket, a ``jupyter.widget.control`` comm and sends
    ``request_states``; returns ``(widgets, bytes, states)`` of the ``update_states`` reply.
    """
    import uuid

    from websockets.sync.client import connect

    session = uuid.uuid4().hex
    comm_id = uuid.uuid4().hex
    end = time.monotonic() + timeout
    with connect(kernel_ws_url(base, kernel_id, session), open_timeout=timeout, max_size=None,
                 additional_headers=headers) as ws:
        # ipywidgets' control comm checks the protocol version (ipywidgets 8: 1.0.0)
        ws.send(kernel_message(session, "comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget.control",
                                                      "data": {}}, metadata={"version": "1.0.0"}))
        ws.send(kernel_message(session, "comm_msg", {"comm_id": comm_id, "data": {"method": "request_states"}}))
        while True:
            raw = ws.recv(timeout=max(0.1, end - time.monotonic()))
            msg = json.loads(raw) if isinstance(raw, str) else None
            if msg and msg.get("msg_type") == "comm_msg" and msg["content"].get("comm_id") == comm_id:
                data = msg["content"].get("data", {})
                if data.get("method") == "update_states":
                    return len(data.get("states", {})), len(raw), data.get("states", {})
