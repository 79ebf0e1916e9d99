"""Static files a class downloads: compressed once, versioned ones kept by the browser for a year.

The server side of issue 26 ("Bytes"); the numbers are in docs/classroom.md. Used by
``make app`` / ``make classroom`` (:mod:`explorer.serving.voila_app`) and, as a jupyter_server
extension, by the hub's single-user servers (``deploy/hub/jupyter/jupyter_server_config.json``).

* BokehJS is served from Bokeh's own files at ``<base_url>explorer/bokehjs/`` (offline, the
  installed version) instead of travelling inline in every page; a URL with the file's content
  hash (``?v=``, :mod:`explorer.serving.bokehjs`) is cached for a year, ``immutable``.
* :class:`PrecompressedStatic` gzips a static file once and keeps it in memory: a class opening
  the app at once would otherwise have the single server process compress the same 6 MB of
  scripts for every student (~0.2 CPU-s a page at gzip level 6).
* Voila's front-end extensions (``voila/labextensions/<name>/static/``, content-hashed file
  names) are marked immutable, the rule JupyterLab applies to the same files: Voila sends them
  ``no-cache``, so every reload asked for ~19 of them again.
* :func:`prefetch`: the scripts a page will ask for (``prefetch.json``), which the
  explorer's template names in the page's head (``<link rel="prefetch">``) so that the browser
  fetches them while the kernel still runs the notebook (seconds): Voila's front end asks for
  them only once the whole page has arrived, and on a slow link that came on top.
"""

from __future__ import annotations

import functools
import gzip
import json
import mimetypes
import os
from glob import glob
from importlib import metadata
from pathlib import Path

from tornado import web

from . import bokehjs

#: What a browser may keep without asking again: a year, never revalidated (RFC 8246).
IMMUTABLE = "public, max-age=31536000, immutable"

#: Files smaller than this are sent as they are (gzip's header would eat the gain).
MIN_COMPRESSED_SIZE = 1024
#: Level 6, as tornado and the gzip tool: level 9 saves 0.3 % more on these scripts for 1.4x the CPU.
GZIP_LEVEL = 6
#: At most this much compressed data is kept in memory (Voila's scripts and BokehJS need ~3 MB).
CACHE_LIMIT_BYTES = 64 * 2**20

_compressed: dict[tuple[str, int, int], bytes | None] = {}
_cached_bytes = 0


def compressible(path) -> bool:
    mime, encoding = mimetypes.guess_type(str(path))
    return encoding is None and mime is not None and (
        mime.startswith("text/") or mime in web.GZipContentEncoding.CONTENT_TYPES or mime == "application/wasm")


def gzipped(path) -> bytes | None:
    """The file's content gzipped, computed once per (path, mtime, size); None when not worth it."""
    global _cached_bytes
    st = os.stat(path)
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key in _compressed:
        return _compressed[key]
    body = None
    if st.st_size >= MIN_COMPRESSED_SIZE and compressible(path):
        with open(path, "rb") as f:
            # mtime=0: the same bytes on every server start (no time stamp in the header)
            body = gzip.compress(f.read(), compresslevel=GZIP_LEVEL, mtime=0)
    if _cached_bytes + len(body or b"") <= CACHE_LIMIT_BYTES:
        _compressed[key] = body
        _cached_bytes += len(body or b"")
    return body


class _GzippedPath(str):
    """A file's absolute path that also carries its gzipped content.

    tornado's ``StaticFileHandler.get`` reads the file through the class method
    ``get_content(abspath)``, which has no access to the request; the path it is handed is the
    one place to say "send the compressed copy" for this request only.
    """

    body: bytes


class PrecompressedStatic:
    """Mixin for a ``tornado.web.StaticFileHandler`` (sub)class: a client that accepts gzip gets
    the file's gzipped copy (:func:`gzipped`), with ``Content-Encoding: gzip`` and its own length.

    Range requests and HEAD get the file as it is; tornado's ``compress_response`` transform
    leaves a response that already has a ``Content-Encoding`` alone.
    """

    def validate_absolute_path(self, root, absolute_path):
        path = super().validate_absolute_path(root, absolute_path)
        if (path is not None and "gzip" in self.request.headers.get("Accept-Encoding", "")
                and "Range" not in self.request.headers and self.request.method == "GET"):
            body = gzipped(path)
            if body is not None:
                path = _GzippedPath(path)
                path.body = body
        return path

    @classmethod
    def get_content(cls, abspath, start=None, end=None):
        if isinstance(abspath, _GzippedPath):
            return abspath.body
        return super().get_content(abspath, start, end)

    @classmethod
    def get_content_version(cls, abspath):
        # the ETag names the file's version, whichever encoding is sent
        return super().get_content_version(str(abspath))

    def get_content_size(self):
        if isinstance(self.absolute_path, _GzippedPath):
            return len(self.absolute_path.body)
        return super().get_content_size()

    def set_extra_headers(self, path):
        super().set_extra_headers(path)
        if compressible(self.absolute_path) and not any(
                issubclass(t, web.GZipContentEncoding) for t in self.application.transforms):
            self.add_header("Vary", "Accept-Encoding")      # the transform adds it otherwise
        if isinstance(self.absolute_path, _GzippedPath):
            self.set_header("Content-Encoding", "gzip")


def precompressed(handler_class):
    """``handler_class`` with :class:`PrecompressedStatic` mixed in (other handlers unchanged)."""
    if not (isinstance(handler_class, type) and issubclass(handler_class, web.StaticFileHandler)):
        return handler_class
    if issubclass(handler_class, PrecompressedStatic):
        return handler_class
    return type(f"Precompressed{handler_class.__name__}", (PrecompressedStatic, handler_class), {})


class BokehJSHandler(PrecompressedStatic, web.StaticFileHandler):
    """Bokeh's minified bundles (``bokeh/server/static/js``), compressed once; a URL whose ``v``
    is the file's content hash is cached for a year (any other ``v``, or none, is revalidated)."""

    def get_cache_time(self, path, modified, mime_type):
        return 0

    def set_extra_headers(self, path):
        super().set_extra_headers(path)
        version = self.get_query_argument("v", None)
        if version is not None and version == bokehjs.content_hash(str(self.absolute_path)):
            self.set_header("Cache-Control", IMMUTABLE)
        else:
            self.set_header("Cache-Control", "no-cache")

    def validate_absolute_path(self, root, absolute_path):
        if not absolute_path.endswith(".js"):
            raise web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)


def bokehjs_handlers(base_url):
    """The route that serves BokehJS under ``base_url`` (``/`` or ``/user/<name>/``)."""
    prefix = base_url.rstrip("/") + "/" + bokehjs.ROUTE
    return [(prefix + r"(.*)", BokehJSHandler, {"path": str(bokehjs.js_dir())})]


def labextension_static_prefixes(base_url, labextensions_path):
    """``<base_url>voila/labextensions/<name>/static/`` for every installed front-end extension:
    JupyterLab marks the same folders immutable (jupyterlab_server's ``static_immutable_cache``);
    their scripts are named by content hash."""
    prefixes = set()
    for root in labextensions_path:
        for static in glob(os.path.join(root, "**", "static"), recursive=True):
            rel = os.path.relpath(static, root).replace(os.sep, "/")
            prefixes.add(base_url.rstrip("/") + "/voila/labextensions/" + rel + "/")
    return sorted(prefixes)


#: The Voila front-end files the RBM explorer's page loads (recorded, see :func:`prefetch_paths`).
PREFETCH_FILE = Path(__file__).with_name("prefetch.json")


def prefetch_paths():
    """URLs (relative to the base URL) a page that runs code will load: BokehJS (when this server
    serves it), and the Voila front-end files of ``prefetch.json`` when the installed packages are
    the versions they were recorded with (other versions have other files: then none of them).

    Recorded from a real page load: ``python -m benchmarks.network --pages rbm --repeats 1
    --record-prefetch explorer/serving/prefetch.json`` (after a change of those packages).
    """
    served = os.environ.get(bokehjs.ENV) == bokehjs.ROUTE
    return (bokehjs.script_paths() if served else []) + list(recorded_front_end_files())


@functools.cache
def recorded_front_end_files():
    """``prefetch.json``'s files, or none when a package differs from the version recorded."""
    recorded = json.loads(PREFETCH_FILE.read_text())
    try:
        same = all(metadata.version(p) == v for p, v in recorded["versions"].items())
    except metadata.PackageNotFoundError:
        same = False
    return tuple(recorded["files"]) if same else ()


def prefetch(nb):
    """The template's ``explorer_prefetch`` filter (configured as ``VoilaExporter.filters`` in
    voila.json and the hub's jupyter_server_config.json): what to name for notebook ``nb``.

    Nothing for a notebook without code (the start page): it starts no kernel and shows no plots.
    """
    if not any(cell.get("cell_type") == "code" for cell in nb.get("cells", [])):
        return []
    return prefetch_paths()


def announce_bokehjs_route():
    """Tell the kernels this server starts (they inherit its environment) that pages may link to
    BokehJS (:func:`explorer.serving.bokehjs.served_here`)."""
    os.environ[bokehjs.ENV] = bokehjs.ROUTE


# ---------------------------------------------------------------- jupyter_server extension (hub)
def _jupyter_server_extension_points():
    return [{"module": "explorer.serving.static_files"}]


def _load_jupyter_server_extension(serverapp):
    """In a Jupyter server (the hub's single-user servers): the BokehJS route, immutable caching
    of Voila's extension scripts, and the link to BokehJS for the Voila pages' kernels.

    Compression itself is configuration there (``ServerApp.tornado_settings.compress_response``,
    ``ServerApp.websocket_compression_options``): jupyter_server applies ``tornado_settings``
    when it builds its web application.
    """
    from voila.configuration import VoilaConfiguration
    from voila.utils import get_voila_labextensions_path

    web_app = serverapp.web_app
    base_url = web_app.settings.get("base_url", "/")
    web_app.add_handlers(".*$", bokehjs_handlers(base_url))
    extra = VoilaConfiguration(parent=serverapp).extra_labextensions_path
    immutable = set(web_app.settings.get("static_immutable_cache", []))
    immutable.update(labextension_static_prefixes(base_url, get_voila_labextensions_path(extra)))
    web_app.settings["static_immutable_cache"] = sorted(immutable)
    announce_bokehjs_route()
    serverapp.log.info("explorer: BokehJS served at %s%s", base_url, bokehjs.ROUTE)
