"""A bare tornado server around a Voila page handler, shared by the tests of
:mod:`explorer.serving.page_handler` (tests/serving/test_page_handler.py and the browser's,
tests/browser/test_browser_early_headers.py).

No Jupyter server: the handler is signed in without Jupyter's login machinery, and the notebooks
come from a dict through a contents manager of a few lines.
"""

from __future__ import annotations

from tornado import httpserver, netutil, web
from voila.configuration import VoilaConfiguration


def notebook(code=True):
    """A notebook: a markdown cell, and a code cell when ``code``."""
    code_cell = {"cell_type": "code", "source": "1", "metadata": {}, "outputs": [], "execution_count": None}
    return {"cells": [{"cell_type": "markdown", "source": "# hi", "metadata": {}}, *([code_cell] if code else [])],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


class Contents:
    """The part of Jupyter's contents manager the page handler uses, over ``{path: notebook}``;
    ``reads`` counts the reads of a notebook's content; ``last_modified`` is every notebook's."""

    def __init__(self, notebooks):
        self.notebooks = notebooks
        self.reads = 0
        self.last_modified = "2026-12-07T00:00:00Z"

    def get(self, path, content=True, type=None):
        if path not in self.notebooks:
            raise web.HTTPError(404)
        model = {"type": "notebook", "path": path, "last_modified": self.last_modified, "content": None}
        if content:
            self.reads += 1
            model["content"] = self.notebooks[path]
        return model


def signed_in(handler_class):
    """``handler_class`` with a signed-in student and no XSRF check (no Jupyter login machinery)."""

    class SignedIn(handler_class):
        async def prepare(self):
            pass

        def get_current_user(self):
            return "student"

    return SignedIn


def page_application(handler_class, contents, base_url="/", notebook_path=None, routes=(), **settings):
    """A tornado application serving ``base_url + "voila/render/<path>"`` with ``handler_class``
    (signed in), and ``routes`` beside it. ``notebook_path``: one notebook at every path, as
    ``voila NOTEBOOK`` serves it."""
    options = {"voila_configuration": VoilaConfiguration(), "config": None, "template_paths": []}
    if notebook_path:
        options["notebook_path"] = notebook_path
    return web.Application([(base_url + "voila/render/(.*)", signed_in(handler_class), options), *routes],
                           contents_manager=contents, base_url=base_url, **settings)


def listen(application):
    """Serve ``application`` on a free loopback port, on the running event loop: (server, port)."""
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    server = httpserver.HTTPServer(application)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]
