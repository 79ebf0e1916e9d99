"""Preheated Voila kernels: build an explorer before anyone asks for its page.

With ``preheat_kernel`` on (``make classroom``; pool sizes in ``voila.json``) Voila keeps a
pool of kernels that have already run the notebook, so a class opening the page at the same
moment skips kernel start, imports and the first sweeps. Such a kernel runs *before* the
request: the page's URL (``?T=0.5``, teacher mode, theme, the page address for "link to this
view") reaches it only later, through a websocket (``voila.utils.wait_for_request()``). So the explorers build the
default view first, wait for the request, then adopt what its URL asks for
(:func:`explorer.app.core.request.show_when_requested`). Without preheating nothing changes:
the explorer is built from the request's environment as before.

The warm-up (from the import of :mod:`explorer.app` until the request) runs at low CPU
priority: a pool refilling while a class is opening its pages must not take the CPU from the
pages being served.
"""

from __future__ import annotations

import contextlib
import json
import os
from urllib.parse import urlsplit, urlunsplit

#: Niceness of a pooled kernel while it builds the default view.
WARM_UP_NICENESS = 19


def preheated():
    """True inside a kernel of Voila's preheated pool (Voila sets ``VOILA_PREHEAT``)."""
    return os.environ.get("VOILA_PREHEAT", "False") == "True"


def page_base(url):
    """``scheme://host/path`` of a page URL (query and fragment dropped), or None."""
    parts = urlsplit(url) if url else None
    if parts is None or not parts.path:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _can_restore_priority(niceness):
    """Whether this process may go back to ``niceness`` after lowering its priority."""
    if os.geteuid() == 0:
        return True
    try:
        import resource
        # RLIMIT_NICE r lets an unprivileged process raise its priority up to niceness 20 - r
        return 20 - resource.getrlimit(resource.RLIMIT_NICE)[0] <= niceness
    except (ImportError, AttributeError, ValueError, OSError):
        return False


_saved_priority = None


def enter_background(niceness=WARM_UP_NICENESS):
    """Lower this process's CPU priority until :func:`leave_background` (idempotent).

    Only where the priority can be restored (root, or ``RLIMIT_NICE`` allows it): otherwise the
    kernel would serve its student at low priority for its whole life, so it stays as it is.
    Returns whether the priority is lowered.
    """
    global _saved_priority
    if _saved_priority is not None:
        return True
    try:
        before = os.getpriority(os.PRIO_PROCESS, 0)
    except (AttributeError, OSError):
        return False
    if before >= niceness or not _can_restore_priority(before):
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except OSError:
        return False
    _saved_priority = before
    return True


def _thread_ids():
    """Native ids of this process's threads (Linux: /proc/self/task), or just this thread."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def leave_background():
    """Return to the priority :func:`enter_background` saved (no-op when it lowered nothing).

    On Linux a niceness belongs to a thread, and threads started during the warm-up (the
    physics layer's worker pool) inherited the low one: every thread of the process goes back.
    """
    global _saved_priority
    if _saved_priority is not None:
        for tid in _thread_ids():
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, _saved_priority)
        _saved_priority = None


def _request_info_url():
    """Voila's websocket that hands a pooled kernel its request (as ``voila.utils`` builds it)."""
    env = os.environ
    kernel_id = env.get("VOILA_KERNEL_ID")
    if not kernel_id:
        return None
    base = env.get("VOILA_WS_BASE_URL", env.get("VOILA_SERVER_URL", "/"))
    return (f"{env.get('VOILA_WS_PROTOCOL', 'ws')}://{env.get('VOILA_APP_IP', '127.0.0.1')}:"
            f"{env.get('VOILA_APP_PORT', '8866')}{base}voila/query/{kernel_id}")


def wait_for_request():
    """Block until Voila sends this pooled kernel its request; put the request in ``os.environ``.

    What ``voila.utils.wait_for_request`` does, with the websockets client Voila itself uses,
    but without importing ``voila``: that package import costs a pooled kernel about one
    CPU-second (measured). Like Voila's helper, a failed connection leaves the environment as
    it is (the default view is shown).
    """
    url = _request_info_url()
    if url is None:
        return
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    try:
        with connect(url, open_timeout=30, max_size=None) as ws:
            info = ws.recv()
    except (OSError, TimeoutError, WebSocketException):
        return
    for key, value in json.loads(info).items():
        os.environ[key] = str(value)


def wait_for_page_request():
    """Block until Voila hands this pooled kernel a page request; return ``(query, page_url)``.

    ``page_url`` is rebuilt from the request (``SERVER_NAME``, ``SERVER_PORT``,
    ``SCRIPT_NAME``): the pool's ``VOILA_REQUEST_URL`` belongs to an earlier request.
    """
    wait_for_request()
    env = os.environ
    query = env.get("QUERY_STRING", "")
    host, port, path = env.get("SERVER_NAME", ""), env.get("SERVER_PORT", ""), env.get("SCRIPT_NAME", "")
    page_url = f"http://{host}{':' + port if port else ''}{path}" if host and path else ""
    return query, page_url
