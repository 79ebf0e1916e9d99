"""A real browser fetches a page's scripts from its early ``Link`` header, before the page's body
(explorer.serving.page_handler; the timing it buys is measured in docs/classroom.md).

Deterministic: Voila's part of the page is replaced by one that writes the page only once the
browser has asked for the page's script. With the header, Chromium asks as soon as the headers
arrive and the page completes; without it (Voila's own handler), Chromium could only ask after
reading the body, which waits for that request: the page then says "too late" after 15 s.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from tornado import web
from voila.tornado.handler import TornadoVoilaHandler

from explorer.serving import page_handler, static_files
from tests.serving.page_server import Contents, listen, notebook, page_application

SCRIPT = "explorer/frontend/chunks-test.js"


class _Script(web.RequestHandler):
    def get(self, _name):
        self.application.settings["script_asked"].set()
        self.set_header("Content-Type", "application/javascript")
        self.write("window.__scriptRan = true;")


async def _voila_writes_the_page_once_the_script_was_asked_for(self, path=None):
    asked = self.application.settings["script_asked"]
    try:
        await asyncio.wait_for(asked.wait(), timeout=15)
        verdict = "in time"
    except TimeoutError:
        verdict = "too late"
    self.set_header("Content-Type", "text/html")
    self.write(f'<html><head></head><body><p id="verdict">{verdict}</p>'
               f'<script src="/{SCRIPT}"></script></body></html>')


@pytest.fixture
def held_page_server(monkeypatch, request):
    """A server whose page handler is ``request.param`` (the early one, or Voila's own)."""
    monkeypatch.setattr(TornadoVoilaHandler, "get", _voila_writes_the_page_once_the_script_was_asked_for)
    monkeypatch.setattr(static_files, "prefetch", lambda nb, after_bundle=None: [] if after_bundle else [SCRIPT])
    monkeypatch.setattr(page_handler, "_LINKS_BY_NOTEBOOK", {})
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box = {}

    async def serve():
        app = page_application(request.param, Contents({"explorer.ipynb": notebook(code=True)}),
                               routes=[(r"/explorer/frontend/(.*)", _Script)], script_asked=asyncio.Event())
        box["server"], box["port"] = listen(app)
        box["stop"] = asyncio.Event()
        started.set()
        await box["stop"].wait()
        box["server"].stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10)
    yield f"http://127.0.0.1:{box['port']}/voila/render/explorer.ipynb"
    loop.call_soon_threadsafe(box["stop"].set)
    thread.join(10)
    loop.close()


@pytest.mark.parametrize("held_page_server", [page_handler.EarlyHeadersVoilaHandler], indirect=True)
def test_chromium_asks_for_the_linked_script_before_the_page_body_arrives(browser, held_page_server):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(held_page_server, wait_until="load", timeout=30_000)
        assert page.inner_text("#verdict") == "in time"
        assert page.evaluate("() => window.__scriptRan === true")
    finally:
        context.close()
