"""``make app`` / ``make classroom``: Voila, with its ``tornado_settings`` applied in time and the
static files of :mod:`explorer.serving.static_files`.

Run as ``python -m explorer.serving.voila_app NOTEBOOKS [voila options]``: the same command line,
the same ``voila.json`` as ``voila``.

Why a subclass: Voila's ``start()`` builds its tornado ``Application`` first and copies
``Voila.tornado_settings`` into it afterwards. tornado decides on ``compress_response`` (its
gzip transform) inside the constructor, so that setting in ``voila.json`` did nothing (pages
and scripts went out uncompressed); settings read per request (``websocket_compression_options``,
``static_immutable_cache``) did work. Here they are all part of the settings the application is
built with. Its page handler sends a page's headers before the kernel starts
(:mod:`explorer.serving.page_handler`). Nothing else of Voila changes.
"""

from __future__ import annotations

import os
import re
import secrets

import tornado.web
from voila.app import Voila
from voila.utils import get_voila_labextensions_path

from . import page_handler, static_files

#: The anonymous id of a student's browser in a class (classroom mode, issue 27): a random cookie
#: the class service counts answers by (one per student, changeable), never a name.
STUDENT_COOKIE = "fee_student"
_HAS_STUDENT_COOKIE = re.compile(r"(?:^|;)\s*" + STUDENT_COOKIE + r"=[A-Za-z0-9_-]{16,64}\s*(?:;|$)")


class StudentCookie(tornado.web.OutputTransform):
    """Give a browser that opens a page without one its anonymous student cookie.

    The id is put into the request too (before any handler reads its cookies), so the very first
    page's kernel already knows it: Voila hands the request's ``Cookie`` header to the kernel
    (``VoilaConfiguration.http_header_envs``), where :mod:`explorer.app.core.class_mode` reads it.
    Only page requests (``Accept: text/html``) get one: a page's parallel script requests must not
    race to set different ids.
    """

    def __init__(self, request):
        self._new_id = None
        cookie = request.headers.get("Cookie", "")
        if (request.method == "GET" and "text/html" in request.headers.get("Accept", "")
                and not _HAS_STUDENT_COOKIE.search(cookie)):
            self._new_id = secrets.token_urlsafe(18)
            pair = f"{STUDENT_COOKIE}={self._new_id}"
            request.headers["Cookie"] = f"{cookie}; {pair}" if cookie.strip() else pair

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if self._new_id is not None:
            headers.add("Set-Cookie", f"{STUDENT_COOKIE}={self._new_id}; Path=/; Max-Age=31536000; "
                                      "SameSite=Lax; HttpOnly")
        return status_code, headers, chunk

    def transform_chunk(self, chunk, finishing):
        return chunk


def class_mode():
    """True when a class service serves this class (``EXPLORER_CLASS_URL``, set by ``make classroom``)."""
    return bool(os.environ.get("EXPLORER_CLASS_URL"))


class ExplorerVoila(Voila):
    """Voila whose ``tornado_settings`` take effect, serving BokehJS and long-cached static files."""

    def init_settings(self):
        # before the kernel manager exists: pooled kernels start from this environment too
        static_files.announce_bokehjs_route()
        if class_mode():
            # the kernel learns whose page it shows from the request's cookies (see StudentCookie)
            headers = list(self.voila_configuration.http_header_envs)
            if "cookie" not in {h.lower() for h in headers}:
                self.voila_configuration.http_header_envs = [*headers, "Cookie"]
        settings = super().init_settings()
        labextensions = get_voila_labextensions_path(self.voila_configuration.extra_labextensions_path)
        immutable = set(self.tornado_settings.get("static_immutable_cache", []))
        immutable.update(static_files.labextension_static_prefixes(self.server_url, labextensions))
        self.tornado_settings = {**self.tornado_settings, "static_immutable_cache": sorted(immutable)}
        settings.update(self.tornado_settings)
        return settings

    def init_handlers(self):
        handlers = super().init_handlers()
        app = getattr(self, "app", None)       # Voila's start() builds the Application, then asks for handlers
        if class_mode() and app is not None and StudentCookie not in app.transforms:
            app.transforms.insert(0, StudentCookie)   # each request's transforms are made from this list
        if self.tornado_settings.get("compress_response"):
            # Voila's static files (its scripts, the template's CSS, the extensions) compressed once
            handlers = [(h[0], static_files.precompressed(h[1]), *h[2:]) for h in handlers]
        # first: a single-notebook Voila ends its list with a catch-all route
        return static_files.static_handlers(self.server_url) + handlers

    def listen(self):
        # Voila's start() has added its routes: the page's headers before its kernel starts (page_handler)
        page_handler.swap_into(self.app)
        super().listen()


main = ExplorerVoila.launch_instance

if __name__ == "__main__":
    main()
