"""The explorer is drawn from the widget snapshot the server writes into its page, before the
kernel's own widget states arrive (explorer/serving/widget_snapshot.py and the template's script).

Deterministic: the kernel's websocket goes through Playwright, which holds back the kernel's answer
with every widget's state (ipywidgets' ``update_states``), and everything the kernel sends after
it, in order, until the test lets them through. The page must be drawn meanwhile, take a student's
move, and keep it when the kernel's answer -- sent before the kernel heard of the move -- arrives:
never showing the old value again, and agreeing with the kernel in the end. Without the snapshot
(Voila's own front end) nothing would be drawn while the answer is held; without the template's
guard the moved control would jump back until the kernel's echo of the move.
"""

from __future__ import annotations

import re
import time

import pytest

from harness.voila import (
    READ_SOURCE_JS,
    WATCH_SOURCES_JS,
    change_count,
    js_errors,
    new_page,
    open_explorer,
    serve,
    wait_for_change,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RESTORED_JS = "() => !!(window.jupyterapp && window.jupyterapp.widgetManager && " \
              "window.jupyterapp.widgetManager.restoredStatus)"


def _route_kernel_socket(page, from_page, from_kernel):
    """Every message between the page and its kernel through ``from_page(message, to_kernel)`` and
    ``from_kernel(message, to_page)`` (Playwright's websocket route), which pass it on or not."""

    def route(socket):
        server = socket.connect_to_server()
        socket.on_message(lambda message: from_page(message, server.send))
        server.on_message(lambda message: from_kernel(message, socket.send))

    page.route_web_socket(re.compile(r"/api/kernels/[^/]+/channels"), route)


def _hold_the_widget_states(page):
    held = {"messages": [], "to_page": None, "holding": True}

    def from_page(message, to_kernel):
        # the page's digests renamed to a key the kernel does not know (same length: the binary
        # frame's offsets stay right): the kernel answers with every widget's state, as one
        # without explorer/app/core/widget_answer.py would, the moved slider's old value included
        if isinstance(message, bytes):
            message = message.replace(b'"explorer_known"', b'"explorer_k_nwn"')
        else:
            message = message.replace('"explorer_known"', '"explorer_k_nwn"')
        to_kernel(message)

    def from_kernel(message, to_page):
        held["to_page"] = to_page
        raw = message if isinstance(message, bytes) else message.encode()
        if held["holding"] and (held["messages"] or b'"update_states"' in raw):
            held["messages"].append(message)        # the answer, and all after it, in order
        else:
            to_page(message)

    _route_kernel_socket(page, from_page, from_kernel)
    return held


def _release(held):
    held["holding"] = False
    for message in held["messages"]:
        held["to_page"](message)


def test_the_explorer_is_drawn_and_usable_before_the_kernel_sends_its_widgets(server, browser):
    errors, failed = [], []
    # the kernel's full answer (see _hold_the_widget_states): the slider is in it
    page = new_page(browser, server, errors)
    page.on("requestfailed", lambda r: failed.append(r.url))
    try:
        held = _hold_the_widget_states(page)
        open_explorer(page, server, "T=0.5")
        deadline = time.monotonic() + 60
        while not held["messages"] and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert held["messages"], "the kernel never answered the page's request for its widgets"
        # drawn without the kernel's answer: controls, plots with their data, the readout
        assert not page.evaluate(RESTORED_JS)
        assert page.locator(".explorer-controls .widget-slider", has_text="Temperature T").is_visible()
        assert len(page.evaluate(READ_SOURCE_JS, "f_exact")["x"]) == 201
        readout = page.locator(".explorer-temperature .widget-readout").first
        assert readout.inner_text() == "0.5012"

        # a student moves the temperature: the page takes it at once (the kernel's replies queue
        # behind its held answer, as on a slow link)
        page.evaluate(WATCH_SOURCES_JS, ["t_cursor"])
        before = change_count(page, "t_cursor")
        page.evaluate("""el => { window.__shownT = [];
            new MutationObserver(() => window.__shownT.push(el.textContent)).observe(
                el, {childList: true, characterData: true, subtree: true}); }""",
                      readout.element_handle())
        page.locator(".explorer-temperature .noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => window.__shownT.length > 0")
        moved = readout.inner_text()
        assert moved != "0.5012"

        # the kernel's answer (the older value) arrives, then its replies to the move
        _release(held)
        page.wait_for_function(RESTORED_JS, timeout=60_000)
        wait_for_change(page, "t_cursor", before)
        page.wait_for_timeout(500)
        assert readout.inner_text() == moved
        assert "0.5012" not in page.evaluate("() => window.__shownT"), "the moved control jumped back"
        assert float(moved) == pytest.approx(page.evaluate(READ_SOURCE_JS, "t_cursor")["x"][0], rel=1e-3)
        assert js_errors(errors, failed, server) == []
    finally:
        page.close()


def _watch_the_control_channel(page):
    """Every websocket frame between the page and its kernel that belongs to ipywidgets' control
    comm's request and answer, as text (the answer's binary frames decoded loosely)."""
    seen = {"request": [], "answer": []}

    def from_page(message, to_kernel):
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        if '"request_states"' in text:
            seen["request"].append((text, isinstance(message, str)))
        to_kernel(message)

    def from_kernel(message, to_page):
        raw = message if isinstance(message, bytes) else message.encode()
        if b'"update_states"' in raw:
            seen["answer"].append(raw)
        to_page(message)

    _route_kernel_socket(page, from_page, from_kernel)
    return seen


def _answered_states(raw):
    """The model ids in an ``update_states`` message (Jupyter's websocket frame: JSON parts, maybe
    after a binary header)."""
    start = raw.index(b'"states"')
    return set(re.findall(rb'"([0-9a-f]{32})": ?\{"model_name"', raw[start:]))


@pytest.fixture(scope="module")
def legacy_protocol_server(chromium, tmp_path_factory):
    """The same server speaking Jupyter's older websocket protocol (JSON text frames), which a
    server may choose instead of the binary v1.kernel.websocket.jupyter.org."""
    log = tmp_path_factory.mktemp("legacy-ws") / "voila.log"
    with serve("notebooks/", log, "--ZMQChannelsWebsocketConnection.kernel_ws_protocol=") as (base, _proc):
        yield base


@pytest.mark.parametrize("protocol", ["v1", "legacy"])
def test_the_kernel_sends_again_only_the_widgets_whose_state_the_page_does_not_hold(
        protocol, request, browser):
    """explorer/app/core/widget_answer.py: the page's request for every widget's state names the
    models it built from its snapshot with their digests; the kernel leaves out those whose state
    is unchanged. The page then works as before: a move reaches the kernel and redraws the plots.
    With either of Jupyter's websocket protocols (the request is amended in its frame)."""
    server = request.getfixturevalue("server" if protocol == "v1" else "legacy_protocol_server")
    errors, failed = [], []
    page = new_page(browser, server, errors)
    page.on("requestfailed", lambda r: failed.append(r.url))
    try:
        seen = _watch_the_control_channel(page)
        open_explorer(page, server, "T=0.5")
        page.wait_for_function(RESTORED_JS, timeout=60_000)
        assert len(seen["request"]) == 1 and len(seen["answer"]) == 1
        ask, is_text = seen["request"][0]
        assert is_text == (protocol == "legacy")
        known = dict(re.findall(r'"([0-9a-f]{32})":"([0-9a-f]{16})"', ask.split('"explorer_known"', 1)[1]))
        shown = set(page.evaluate("() => Object.keys(window.jupyterapp.widgetManager._models)"))
        assert len(known) > 50 and set(known) <= shown          # every model built from the page, named
        answered = _answered_states(seen["answer"][0])
        # the explorer's kernel changes nothing between the page's rendering and its request: at
        # most a handful of widgets come again, not the page's ~110 (the full answer is ~300 kB)
        assert len(answered) <= 5, sorted(answered)
        assert len(seen["answer"][0]) < 30_000

        page.evaluate(WATCH_SOURCES_JS, ["t_cursor"])
        before = change_count(page, "t_cursor")
        page.locator(".explorer-temperature .noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        wait_for_change(page, "t_cursor", before)
        readout = page.locator(".explorer-temperature .widget-readout").first
        assert float(readout.inner_text()) == pytest.approx(page.evaluate(READ_SOURCE_JS, "t_cursor")["x"][0],
                                                             rel=1e-3)
        if protocol == "legacy":
            # the front end asks for the binary protocol first; this server's refusal is logged
            errors = [e for e in errors if "Sent non-empty 'Sec-WebSocket-Protocol' header" not in e]
        assert js_errors(errors, failed, server) == []
    finally:
        page.close()
