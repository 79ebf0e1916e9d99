"""The page's headers go out before Voila starts its kernel (explorer.serving.page_handler).

Voila's own handler is replaced by one that waits: the test's client must receive the response's
headers, ``Link`` included, while Voila's part of the request has not even begun -- with Voila's
handler alone this waits for ever (the test times out), since Voila writes nothing before its
kernel has started.
"""

from __future__ import annotations

import asyncio

import pytest
from tornado import httpclient, web
from voila.tornado.handler import TornadoVoilaHandler

from explorer.serving import page_handler, static_files
from tests.serving.page_server import Contents, listen, notebook, page_application

SCRIPTS = ["explorer/bokehjs/bokeh.min.js?v=abc", "explorer/frontend/chunks-abc.js", "voila/static/voila.js",
           "voila/labextensions/x/static/remoteEntry.abc.js"]


@pytest.fixture
def voila_waits(monkeypatch):
    """Voila's handler replaced: it records the headers sent so far and waits for ``release``."""
    state = {"release": None, "headers_sent_before_voila": None}

    async def voilas_get(self, path=None):
        state["headers_sent_before_voila"] = self._headers_written
        await state["release"].wait()
        if state.get("fail"):
            raise RuntimeError(state["fail"])
        self.write("<html>the page</html>")

    monkeypatch.setattr(TornadoVoilaHandler, "get", voilas_get)
    def prefetch(nb, after_bundle=None):       # static_files.prefetch's split, of SCRIPTS
        paths = SCRIPTS if any(c["cell_type"] == "code" for c in nb["cells"]) else []
        after = static_files.fetched_after_bundle(paths)
        return [p for p in paths if after_bundle is None or (p in after) == after_bundle]

    monkeypatch.setattr(static_files, "prefetch", prefetch)
    monkeypatch.setattr(page_handler, "_LINKS_BY_NOTEBOOK", {})
    return state


async def _serve_and_get(state, path, expect_early, base_url="/user/alice/", notebook_path=None, contents=None):
    state["release"] = asyncio.Event()
    if not expect_early:
        state["release"].set()          # nothing to wait for: Voila's part runs at once
    contents = contents or Contents({"explorer.ipynb": notebook(code=True), "index.ipynb": notebook(code=False)})
    server, port = listen(page_application(page_handler.EarlyHeadersVoilaHandler, contents, base_url, notebook_path))
    got_headers = asyncio.Event()
    lines = []

    def header_line(line):
        lines.append(line)
        if line in ("\r\n", "\n"):
            got_headers.set()
            state["release"].set()      # Voila may go on now

    client = httpclient.AsyncHTTPClient(force_instance=True)
    try:
        fetch = client.fetch(f"http://127.0.0.1:{port}{base_url}voila/render/{path}", header_callback=header_line,
                             raise_error=False, request_timeout=20)
        done, _pending = await asyncio.wait([asyncio.ensure_future(got_headers.wait())], timeout=10)
        if not done:
            state["release"].set()       # no headers before Voila's part: let it finish, then fail
        response = await fetch
    finally:
        client.close()
        server.stop()
    return bool(done), lines, response


def test_the_headers_with_the_link_arrive_before_voila_has_started_anything(voila_waits):
    early, lines, response = asyncio.run(_serve_and_get(voila_waits, "explorer.ipynb", True))
    assert early and voila_waits["headers_sent_before_voila"] is True
    link = next(line for line in lines if line.lower().startswith("link:"))
    # preloaded: what every page with code runs from its HTML; prefetched: the rest (quiet if unused);
    # BokehJS not named: the page asks for it once the bundle has arrived, not to share the link
    assert link.split(":", 1)[1].strip() == ", ".join([
        "</user/alice/explorer/frontend/chunks-abc.js>; rel=preload; as=script",
        "</user/alice/voila/static/voila.js>; rel=preload; as=script",
        "</user/alice/voila/labextensions/x/static/remoteEntry.abc.js>; rel=prefetch"])
    assert response.code == 200 and response.body == b"<html>the page</html>"
    assert "no-store" in response.headers["Cache-Control"]


def test_a_notebook_is_read_once_per_version_not_once_per_page(voila_waits):
    """Voila reads the notebook to render it; the early headers need its content only when it
    has changed (its ``last_modified``), so a class asking for one page reads it once here."""
    contents = Contents({"explorer.ipynb": notebook(code=True)})
    for _ in range(3):
        early, lines, _response = asyncio.run(_serve_and_get(voila_waits, "explorer.ipynb", True, contents=contents))
        assert early and any(line.lower().startswith("link:") for line in lines)
    assert contents.reads == 1
    contents.notebooks["explorer.ipynb"] = notebook(code=False)        # edited: no code any more
    contents.last_modified = "2026-12-08T00:00:00Z"
    _early, lines, _response = asyncio.run(_serve_and_get(voila_waits, "explorer.ipynb", False, contents=contents))
    assert contents.reads == 2 and voila_waits["headers_sent_before_voila"] is False
    assert not any(line.lower().startswith("link:") for line in lines)


@pytest.mark.parametrize("path", ["index.ipynb", "missing.ipynb", "data.csv", "explorer.ipynb?template=lab"])
def test_pages_it_cannot_vouch_for_are_voilas_alone(voila_waits, path):
    """No code (the start page), not found, not a notebook, another template: nothing sent early."""
    _early, lines, response = asyncio.run(_serve_and_get(voila_waits, path, False))
    assert voila_waits["headers_sent_before_voila"] is False
    assert not any(line.lower().startswith("link:") for line in lines)
    assert response.body == b"<html>the page</html>"


def test_swap_into_replaces_voilas_page_route_in_a_running_application():
    """The hub's single-user servers: Voila's extension added its routes; the swap finds them."""
    app = web.Application()
    app.add_handlers(".*$", [("/user/alice/voila/render/(.*)", TornadoVoilaHandler, {}),
                             ("/user/alice/other", web.RequestHandler)])
    assert page_handler.swap_into(app) == 1
    targets = [r.target for host in app.default_router.rules for r in getattr(host.target, "rules", [])]
    assert page_handler.EarlyHeadersVoilaHandler in targets and TornadoVoilaHandler not in targets
    assert page_handler.swap_into(app) == 0


def test_a_single_notebook_server_sends_early_headers_for_its_notebook_only(voila_waits):
    """``voila NOTEBOOK`` serves the notebook at its root and redirects other paths to files:
    a redirect cannot follow headers already sent."""
    early, _lines, _response = asyncio.run(_serve_and_get(voila_waits, "", True, notebook_path="explorer.ipynb"))
    assert early and voila_waits["headers_sent_before_voila"] is True
    _early, lines, _response = asyncio.run(_serve_and_get(voila_waits, "data.csv", False,
                                                          notebook_path="explorer.ipynb"))
    assert voila_waits["headers_sent_before_voila"] is False
    assert not any(line.lower().startswith("link:") for line in lines)


def test_a_failure_after_the_early_headers_is_said_in_the_page(voila_waits):
    """The 200 has gone out: Voila's failure (a kernel that cannot start) cannot become an error
    page any more, so the page ends with one line saying so, never an empty page."""
    voila_waits["fail"] = "Kernel died before replying\nTraceback ..."
    early, _lines, response = asyncio.run(_serve_and_get(voila_waits, "explorer.ipynb", True))
    assert early and response.code == 200
    body = response.body.decode()
    assert "This page could not be started (Kernel died before replying)" in body
    assert "Reload the page" in body and "Traceback" not in body
