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
from tornado import httpserver, netutil, web
from voila.configuration import VoilaConfiguration
from voila.tornado.handler import TornadoVoilaHandler

from explorer.serving import page_handler, static_files

SCRIPT = "explorer/frontend/chunks-test.js"
NOTEBOOK = {"cells": [{"cell_type": "code", "source": "1", "metadata": {}, "outputs": [], "execution_count": None}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


class _Contents:
    def get(self, path, content=True, type=None):
        if path != "explorer.ipynb":
            raise web.HTTPError(404)
        return {"content": NOTEBOOK, "type": "notebook"}


def _page_handler(base_class):
    class Handler(base_class):
        """A page handler without Jupyter's login machinery (a signed-in user, no XSRF check)."""

        async def prepare(self):
            pass

        def get_current_user(self):
            return "student"

    return Handler


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
    monkeypatch.setattr(static_files, "prefetch", lambda nb: [SCRIPT])
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box = {}

    async def serve():
        options = {"voila_configuration": VoilaConfiguration(), "config": None, "template_paths": []}
        app = web.Application([(r"/voila/render/(.*)", _page_handler(request.param), options),
                               (r"/explorer/frontend/(.*)", _Script)],
                              contents_manager=_Contents(), base_url="/", script_asked=asyncio.Event())
        sockets = netutil.bind_sockets(0, "127.0.0.1")
        box["server"] = httpserver.HTTPServer(app)
        box["server"].add_sockets(sockets)
        box["port"] = sockets[0].getsockname()[1]
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
