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
* :func:`front_end_bundle` (``FREE_ENERGY_EXPLORER_BUNDLE=0`` switches it off, see
  :data:`BUNDLE_ENV`): those ~90 script chunks in one file (``<base_url>explorer/frontend/``,
  named by its content hash, cached for a year). Each chunk only registers its modules with its
  webpack container (``(self.webpackChunk_X ||= []).push(...)``); a container picks up chunks
  registered before it starts and never asks for them again. So the template runs the bundle
  before Voila's ``voila.js``, and the page makes ~8 requests instead of ~100: on a slow link
  each was a round trip, and one file compresses better than its 90 parts. MathJax's 16 chunks
  (~170 kB Brotli), which Voila's front end asks for only once it has started, are a second
  file (:func:`later_bundle`) that the page fetches after the first: not on the first plot's path.
* Brotli (:func:`brotli_compressed`) for browsers that accept it: 26 % fewer bytes than gzip on
  these scripts at quality 11, which is slow (~0.7 MB/s): made once per file version in a
  background thread (gzip is sent until then), kept on disk (:func:`cache_dir`) for every server
  of the machine; ``make app`` makes them at install (``python -m explorer.serving.static_files``).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import logging
import mimetypes
import os
import re
import sys
import tempfile
import threading
from glob import glob
from importlib import metadata
from pathlib import Path

from tornado import web

try:
    import brotli
except ImportError:            # an environment installed without it: gzip only
    brotli = None

from . import bokehjs

#: What a browser may keep without asking again: a year, never revalidated (RFC 8246).
IMMUTABLE = "public, max-age=31536000, immutable"

#: Files smaller than this are sent as they are (gzip's header would eat the gain).
MIN_COMPRESSED_SIZE = 1024
#: Level 6, as tornado and the gzip tool: level 9 saves 0.3 % more on these scripts for 1.4x the CPU.
GZIP_LEVEL = 6
#: At most this much compressed data is kept in memory (Voila's scripts and BokehJS need ~3 MB).
CACHE_LIMIT_BYTES = 64 * 2**20

#: Brotli's best quality: 9 % fewer bytes than quality 9 on these scripts, at ~20x its CPU time.
BROTLI_QUALITY = 11
#: Where compressed copies and the front-end bundle are kept (default: see :func:`cache_dir`).
CACHE_ENV = "FREE_ENERGY_EXPLORER_CACHE"

_compressed: dict[tuple[str, int, int], bytes | None] = {}
_brotli: dict[tuple[str, int, int], bytes | None] = {}
_brotli_pending: set[tuple[str, int, int]] = set()
#: Guards both memory caches (gzip's and Brotli's), their byte count and the pending set.
_cache_lock = threading.Lock()
#: One compression at a time: a server has other work (the class's pages) for its cores.
_brotli_slot = threading.Semaphore(1)
_cached_bytes = 0
log = logging.getLogger(__name__)


def _file_key(path):
    st = os.stat(path)
    return (str(path), st.st_mtime_ns, st.st_size)


def _remember(cache, key, body):
    global _cached_bytes
    with _cache_lock:
        if _cached_bytes + len(body or b"") <= CACHE_LIMIT_BYTES:
            cache[key] = body
            _cached_bytes += len(body or b"")


@functools.cache
def cache_dir() -> Path | None:
    """A folder kept across server starts: ``$FREE_ENERGY_EXPLORER_CACHE``, else
    ``<sys.prefix>/var/cache/free-energy-explorer`` (the environment's own: every server of the
    machine shares it), else one under the system's temporary folder; None if there is none.

    One that exists but cannot be written (an image's, filled when it was built, served by an
    unprivileged user) is used as it is: its copies are read, a missing one is kept in memory."""
    env = os.environ.get(CACHE_ENV)
    candidates = [Path(env)] if env else [
        Path(sys.prefix) / "var" / "cache" / "free-energy-explorer",
        Path(tempfile.gettempdir()) / f"free-energy-explorer-{os.getuid()}"]
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.R_OK | os.X_OK):
            return folder
    return None


def _write_atomically(path: Path, data: bytes):
    """Readers see the whole file or none (other servers may read the same cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)               # mkstemp makes it private; every server may read it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def compressible(path) -> bool:
    mime, encoding = mimetypes.guess_type(str(path))
    return encoding is None and mime is not None and (
        mime.startswith("text/") or mime in web.GZipContentEncoding.CONTENT_TYPES or mime == "application/wasm")


def gzipped(path) -> bytes | None:
    """The file's content gzipped, computed once per (path, mtime, size); None when not worth it."""
    key = _file_key(path)
    if key in _compressed:
        return _compressed[key]
    body = None
    if key[2] >= MIN_COMPRESSED_SIZE and compressible(path):
        with open(path, "rb") as f:
            # mtime=0: the same bytes on every server start (no time stamp in the header)
            body = gzip.compress(f.read(), compresslevel=GZIP_LEVEL, mtime=0)
    _remember(_compressed, key, body)
    return body


def brotli_compressed(path, wait=False) -> bytes | None:
    """The file's content compressed with Brotli (quality :data:`BROTLI_QUALITY`), or None.

    None also while it is being made: the first request for a file version starts the
    compression in a background thread (seconds for the bundle) and is sent gzip; ``wait=True``
    compresses in the caller instead. The result is kept in memory and on disk, named by the
    content's SHA-256 (``<cache_dir>/br/``), so the next server start finds it.
    """
    key = _file_key(path)
    with _cache_lock:
        if key in _brotli:
            return _brotli[key]
        if key in _brotli_pending and not wait:
            return None
    if brotli is None or key[2] < MIN_COMPRESSED_SIZE or not compressible(path):
        _remember(_brotli, key, None)
        return None
    data = Path(path).read_bytes()
    folder = cache_dir()
    stored = folder / "br" / f"{hashlib.sha256(data).hexdigest()}.br" if folder else None
    if stored is not None and stored.is_file():
        body = stored.read_bytes()
        _remember(_brotli, key, body)
        return body
    if wait:
        return _make_brotli(key, data, stored)
    with _cache_lock:
        if key in _brotli_pending:
            return None
        _brotli_pending.add(key)
    # a daemon thread: a server that stops does not wait for it (the file is written atomically)
    threading.Thread(target=_make_brotli, args=(key, data, stored), name="brotli", daemon=True).start()
    return None


def _make_brotli(key, data, stored):
    try:
        with _brotli_slot:                 # brotli releases the GIL: the server goes on meanwhile
            body = brotli.compress(data, quality=BROTLI_QUALITY)
        if stored is not None:
            try:
                _write_atomically(stored, body)
            except OSError as e:           # a full or read-only disk: memory only
                log.warning("could not keep the Brotli copy in %s: %s", stored.parent, e)
        _remember(_brotli, key, body)
        return body
    except Exception:                      # never an error page for a compression: gzip goes on
        log.exception("Brotli compression failed for %s", key[0])
        _remember(_brotli, key, None)
        return None
    finally:
        with _cache_lock:
            _brotli_pending.discard(key)


def accepts(request, coding) -> bool:
    """True when the request's ``Accept-Encoding`` names ``coding`` with a weight above zero."""
    for part in request.headers.get("Accept-Encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == coding:
            weight = re.search(r"q\s*=\s*([^;\s]*)", params)
            try:
                return weight is None or float(weight.group(1)) > 0
            except ValueError:
                return False
    return False


class _CompressedPath(str):
    """A file's absolute path that also carries its compressed content and that content's coding.

    tornado's ``StaticFileHandler.get`` reads the file through the class method
    ``get_content(abspath)``, which has no access to the request; the path it is handed is the
    one place to say "send the compressed copy" for this request only.
    """

    body: bytes
    coding: str


class PrecompressedStatic:
    """Mixin for a ``tornado.web.StaticFileHandler`` (sub)class: a client that accepts Brotli
    gets the file's Brotli copy once it is made (:func:`brotli_compressed`), else one that accepts
    gzip gets the gzipped copy (:func:`gzipped`), with its ``Content-Encoding`` and its own length.

    Range requests and HEAD get the file as it is; tornado's ``compress_response`` transform
    leaves a response that already has a ``Content-Encoding`` alone.
    """

    def validate_absolute_path(self, root, absolute_path):
        path = super().validate_absolute_path(root, absolute_path)
        if path is None or "Range" in self.request.headers or self.request.method != "GET":
            return path
        for coding, compress in (("br", brotli_compressed), ("gzip", gzipped)):
            if accepts(self.request, coding):
                body = compress(path)
                if body is not None:
                    path = _CompressedPath(path)
                    path.body, path.coding = body, coding
                    break
        return path

    @classmethod
    def get_content(cls, abspath, start=None, end=None):
        if isinstance(abspath, _CompressedPath):
            return abspath.body
        return super().get_content(abspath, start, end)

    @classmethod
    def get_content_version(cls, abspath):
        # the ETag names the file's version, whichever encoding is sent
        return super().get_content_version(str(abspath))

    def get_content_size(self):
        if isinstance(self.absolute_path, _CompressedPath):
            return len(self.absolute_path.body)
        return super().get_content_size()

    def set_extra_headers(self, path):
        super().set_extra_headers(path)
        if compressible(self.absolute_path) and not any(
                issubclass(t, web.GZipContentEncoding) for t in self.application.transforms):
            self.add_header("Vary", "Accept-Encoding")      # the transform adds it otherwise
        if isinstance(self.absolute_path, _CompressedPath):
            self.set_header("Content-Encoding", self.absolute_path.coding)


def precompressed(handler_class):
    """``handler_class`` with :class:`PrecompressedStatic` mixed in (other handlers unchanged)."""
    if not (isinstance(handler_class, type) and issubclass(handler_class, web.StaticFileHandler)):
        return handler_class
    if issubclass(handler_class, PrecompressedStatic):
        return handler_class
    return type(f"Precompressed{handler_class.__name__}", (PrecompressedStatic, handler_class), {})


class _VersionedStatic(PrecompressedStatic, web.StaticFileHandler):
    """A static file named by its content: cached for a year when :meth:`versioned` says the URL
    names this very content, revalidated (``no-cache``) otherwise; never tornado's own max-age."""

    def get_cache_time(self, path, modified, mime_type):
        return 0

    def versioned(self) -> bool:
        raise NotImplementedError

    def set_extra_headers(self, path):
        super().set_extra_headers(path)
        self.set_header("Cache-Control", IMMUTABLE if self.versioned() else "no-cache")


class BokehJSHandler(_VersionedStatic):
    """Bokeh's minified bundles (``bokeh/server/static/js``), compressed once; a URL whose ``v``
    is the file's content hash is cached for a year (any other ``v``, or none, is revalidated)."""

    def versioned(self):
        version = self.get_query_argument("v", None)
        return version is not None and version == bokehjs.content_hash(str(self.absolute_path))

    def validate_absolute_path(self, root, absolute_path):
        if not absolute_path.endswith(".js"):
            raise web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)


class FrontEndBundleHandler(_VersionedStatic):
    """The front-end bundle (:func:`front_end_bundle`): only the current one, named by its content
    hash, so cached for a year."""

    def versioned(self):
        return True

    def validate_absolute_path(self, root, absolute_path):
        if os.path.basename(absolute_path) not in bundle_files():
            raise web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)


def static_handlers(base_url):
    """The routes of this module under ``base_url`` (``/`` or ``/user/<name>/``): BokehJS, and
    the front-end bundle when it could be made."""
    prefix = base_url.rstrip("/") + "/"
    handlers = [(prefix + bokehjs.ROUTE + r"(.*)", BokehJSHandler, {"path": str(bokehjs.js_dir())})]
    if front_end_bundle():
        handlers.append((prefix + BUNDLE_ROUTE + r"(.*)", FrontEndBundleHandler, {"path": str(_bundle_dir())}))
    return handlers


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
    front_end = list(recorded_front_end_files())
    bundle = front_end_bundle() if served and front_end else None
    if bundle:
        # MathJax's chunks are not named: where they are not in the bundle, the later bundle has them
        later = [] if later_bundle() else _later_chunk_urls()
        front_end = [BUNDLE_ROUTE + bundle] + [url for url in front_end if not _bundled(url) or url in later]
    return (bokehjs.script_paths() if served else []) + front_end


@functools.cache
def recorded_front_end_files():
    """``prefetch.json``'s files, or none when a package differs from the version recorded."""
    recorded = json.loads(PREFETCH_FILE.read_text())
    try:
        same = all(metadata.version(p) == v for p, v in recorded["versions"].items())
    except metadata.PackageNotFoundError:
        same = False
    return tuple(recorded["files"]) if same else ()


#: Where the front-end bundle is served, under the base URL.
BUNDLE_ROUTE = "explorer/frontend/"
#: Set to "0" in a server's environment to serve Voila's chunks one by one instead of the bundle.
#: (Off by default until 2026-12-07: with the bundle Voila's front end starts sooner, and ipywidgets
#: 8.1's ``get_model`` race -- a widget output that waited 2 s for its model gave up without a last
#: look while the browser was busy drawing the first plots -- showed "Error displaying widget: model
#: not found" in 6 of 12 lesson-3 pages opened three at a time beside a busy CPU, 1 of 6 without
#: the bundle. The explorer's template now renders widget outputs once the widgets are restored:
#: tests/browser/test_browser_widget_timing.py, test_browser_widget_stress.py.)
BUNDLE_ENV = "FREE_ENERGY_EXPLORER_BUNDLE"
_SOURCE_MAP = re.compile(rb"^//# sourceMappingURL=.*$", re.M)


def _bundled(url) -> bool:
    """A script chunk (registers modules, runs nothing), as opposed to an entry point: Voila's
    ``voila.js`` and each extension's ``remoteEntry``, which Voila's front end loads itself."""
    name = url.split("?")[0].rsplit("/", 1)[-1]
    return name != "voila.js" and not name.startswith("remoteEntry.")


def front_end_file(url) -> Path | None:
    """The installed file behind a recorded front-end URL (``voila/static/...`` or
    ``voila/labextensions/...``), as Voila's own handlers find it; None if there is none."""
    from voila.paths import collect_static_paths
    from voila.utils import get_voila_labextensions_path

    path = url.split("?")[0]
    if path.startswith("voila/static/"):
        roots, rel = collect_static_paths(["voila", "nbconvert"], "explorer"), path.removeprefix("voila/static/")
    elif path.startswith("voila/labextensions/"):
        roots, rel = get_voila_labextensions_path(), path.removeprefix("voila/labextensions/")
    else:
        return None
    for root in roots:
        candidate = Path(root) / rel
        if candidate.is_file():
            return candidate
    return None


def _bundle_dir() -> Path:
    return cache_dir() / "frontend"


def _join_chunks(urls, prefix) -> str | None:
    """Script chunks ``urls`` joined in one file ``<prefix>-<content hash>.js`` in the bundle
    folder (made where it is not there yet); its name, or None when a chunk is missing or there
    is no writable folder.

    The chunks keep their order; ``;`` between them (a chunk may end without one) and no
    source-map comments (they would name files beside the bundle that do not exist).
    """
    if not urls or cache_dir() is None:
        return None
    files = [front_end_file(url) for url in urls]
    if any(f is None for f in files):
        log.warning("front-end bundle not made: %s missing", urls[files.index(None)])
        return None
    content = b"\n;\n".join(_SOURCE_MAP.sub(b"", f.read_bytes()) for f in files) + b"\n"
    name = f"{prefix}-{hashlib.sha256(content).hexdigest()[:20]}.js"
    target = _bundle_dir() / name
    try:
        if not (target.is_file() and target.read_bytes() == content):
            _write_atomically(target, content)
    except OSError as e:
        log.warning("front-end bundle not made: %s", e)
        return None
    return name


def _bundle_on() -> bool:
    return os.environ.get(BUNDLE_ENV, "") != "0"


@functools.cache
def front_end_bundle() -> str | None:
    """The file name (``chunks-<hash>.js``) of the recorded script chunks a page needs before
    its first plot, joined in one file in :func:`cache_dir`, made once per process; None where
    :data:`BUNDLE_ENV` is "0", and when there are no recorded files for the installed versions,
    one is missing, or there is no writable folder. MathJax's chunks are not in it: they are
    :func:`later_bundle`'s.
    """
    if not _bundle_on():
        return None
    later = set(_later_chunk_urls())
    return _join_chunks([url for url in recorded_front_end_files() if _bundled(url) and url not in later],
                        "chunks")


#: The chunk of Voila's front end that loads MathJax (JupyterLab's mathjax extension): the chunk
#: ids its ``ensureMathDocument`` asks webpack for follow it, up to where it registers MathJax.
_MATHJAX_LOADER = re.compile(rb"ensureMathDocument=async function(.*?)handlers\.register", re.S)
_CHUNK_ID = re.compile(rb"\.e\((\d+)\)")
#: In webpack's runtime (voila.js): the prefix of the ``data-webpack`` attribute by which it finds a
#: script element already loading a chunk (``<prefix>chunk-<id>``).
_WEBPACK_SCRIPT_PREFIX = re.compile(rb'="([^"]+:)",\w+\.l=\(')


@functools.cache
def _later_chunk_urls() -> tuple[str, ...]:
    """The recorded chunks of MathJax, in their recorded order: Voila's front end asks for them
    only once it has started (its markdown plugin then typesets the page), none of them is needed
    for the first plot, and they are a fifth of the chunks' bytes (~170 kB Brotli). Found in the
    installed Voila's own code (its MathJax loader); none where it or webpack's script prefix
    (:func:`_webpack_script_prefix`) is not found, or the bundle is off."""
    if not _bundle_on() or _webpack_script_prefix() is None:
        return ()
    recorded = recorded_front_end_files()
    ids = set()
    for url in recorded:
        if not url.startswith("voila/static/") or not _bundled(url):
            continue
        path = front_end_file(url)
        found = _MATHJAX_LOADER.search(path.read_bytes()) if path is not None else None
        if found:
            ids.update(m.decode() for m in _CHUNK_ID.findall(found.group(1)))
    return tuple(url for url in recorded if url.startswith("voila/static/") and _chunk_id(url) in ids)


def _chunk_id(url) -> str:
    """Webpack's id of Voila's chunk ``voila/static/<id>.voila.js``."""
    return url.rsplit("/", 1)[-1].split(".", 1)[0]


@functools.cache
def _webpack_script_prefix() -> str | None:
    entry = front_end_file(VOILA_ENTRY) if recorded_front_end_files() else None
    found = _WEBPACK_SCRIPT_PREFIX.search(entry.read_bytes()) if entry is not None else None
    return found.group(1).decode() if found else None


@functools.cache
def later_bundle() -> dict | None:
    """MathJax's chunks in a second file, which a page fetches once the first bundle has run
    (the template), so that on a slow link they do not share the bandwidth with what the first
    plot needs. ``{"src": its path under the base URL, "chunks": [{"key": webpack's data-webpack
    name for the chunk, "src": the chunk's own path}]}``; None where there is no such bundle.

    The template puts an inert ``<script type="text/plain" data-webpack=key>`` in the page for each
    chunk: webpack, asked for a chunk that is not registered yet, finds that element and waits
    for its ``load`` instead of fetching the chunk on its own; the template fires it once the
    bundle has run (the chunk is then registered).
    """
    urls = list(_later_chunk_urls())
    name = _join_chunks(urls, "later") if urls and front_end_bundle() else None
    if name is None:
        return None
    key = _webpack_script_prefix() + "chunk-"
    return {"src": BUNDLE_ROUTE + name,
            "chunks": [{"key": key + _chunk_id(url), "src": url} for url in urls]}


def _runs_bundle(paths) -> bool:
    return any(path.startswith(BUNDLE_ROUTE) for path in paths)


def bundle_files() -> list[str]:
    """The names of the bundle files made (:func:`front_end_bundle`, :func:`later_bundle`), in
    the bundle folder: what :class:`FrontEndBundleHandler` serves."""
    later = later_bundle()
    return [name for name in (front_end_bundle(), later and later["src"].removeprefix(BUNDLE_ROUTE)) if name]


def later_scripts(nb) -> list[dict]:
    """The template's ``explorer_later_scripts`` filter: :func:`later_bundle` for a page that runs
    the front-end bundle (:func:`prefetch` names it), else nothing."""
    later = later_bundle()
    return [later] if later and _runs_bundle(prefetch(nb)) else []


#: Voila's entry script: every page with code runs it from its HTML (Voila's template).
VOILA_ENTRY = "voila/static/voila.js"


def always_run(paths):
    """Of :func:`prefetch`'s ``paths``, those every page with code runs from its own HTML: the
    front-end bundle (the template's body_footer) and Voila's entry script."""
    return [p for p in paths if p.startswith(BUNDLE_ROUTE) or p == VOILA_ENTRY]


def prefetch(nb, linked=False, after_bundle=None):
    """The template's ``explorer_prefetch`` filter (configured as ``VoilaExporter.filters`` in
    voila.json and the hub's jupyter_server_config.json): what to name for notebook ``nb``.

    Nothing for a notebook without code (the start page): it starts no kernel and shows no plots.
    With ``linked``, the other way round: what a page *without* code fetches once it is shown, for
    the pages with code it links to (the start page's explorers and lessons), their later bundle
    (:func:`later_bundle`) included, and nothing for a page with code (it names its scripts itself).

    ``after_bundle`` True: only what a page fetches once the front-end bundle has arrived
    (:func:`fetched_after_bundle`); False: only the rest; None: all.
    """
    has_code = any(cell.get("cell_type") == "code" for cell in nb.get("cells", []))
    if has_code == bool(linked):
        return []
    paths = prefetch_paths()
    later = later_bundle() if linked and _runs_bundle(paths) else None
    paths = paths + ([later["src"]] if later else [])
    if after_bundle is None:
        return paths
    after = fetched_after_bundle(paths)
    return [path for path in paths if (path in after) == bool(after_bundle)]


def fetched_after_bundle(paths):
    """Of :func:`prefetch`'s ``paths``, those a page with code asks for only once the front-end
    bundle has arrived: BokehJS, where the page runs the bundle.

    Voila's front end starts at the window's load event, which waits for the bundle; on a slow
    link every byte fetched beside the bundle delays that event. BokehJS (0.37 MB Brotli) is
    needed only for the plots, which Voila's front end draws a second or more after it has started
    (connecting to the kernel, building the widgets): fetched after the bundle, it arrives during
    that second. The template's head asks for it when its prefetch of the bundle has loaded, and
    runs it once it is in the browser's cache, else at the load event (index.html.j2,
    ``window.explorerBokehJS``).
    """
    return [path for path in paths if path.startswith(bokehjs.ROUTE)] if _runs_bundle(paths) else []


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
    web_app.add_handlers(".*$", static_handlers(base_url))
    extra = VoilaConfiguration(parent=serverapp).extra_labextensions_path
    immutable = set(web_app.settings.get("static_immutable_cache", []))
    immutable.update(labextension_static_prefixes(base_url, get_voila_labextensions_path(extra)))
    web_app.settings["static_immutable_cache"] = sorted(immutable)
    announce_bokehjs_route()
    serverapp.log.info("explorer: BokehJS served at %s%s", base_url, bokehjs.ROUTE)


async def _start_jupyter_server_extension(serverapp):
    """Once every extension has added its routes (Voila's is loaded after this one): a notebook
    page's headers go out before its kernel starts (:mod:`explorer.serving.page_handler`)."""
    from . import page_handler

    swapped = page_handler.swap_into(serverapp.web_app)
    serverapp.log.info("explorer: %d Voila page route(s) send their headers early", swapped)


# ---------------------------------------------------------------- made at install (make app)
def precompress() -> list[tuple[str, int, int | None]]:
    """Make the Brotli copies of what a page loads (BokehJS, Voila's scripts of ``prefetch.json``,
    the front-end bundle unless it is switched off), so that no server makes them while a class
    waits. Returns (file, its size, its Brotli size or None) for each."""
    folder = cache_dir()
    paths = [bokehjs.js_dir() / f"{c}.min.js" for c in bokehjs.COMPONENTS]
    paths += [_bundle_dir() / name for name in bundle_files()]
    paths += [f for f in map(front_end_file, recorded_front_end_files()) if f is not None]
    done = []
    for path in paths:
        body = brotli_compressed(path, wait=True) if folder is not None else None
        done.append((str(path), path.stat().st_size, None if body is None else len(body)))
    return done


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m explorer.serving.static_files",
                                     description=precompress.__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    folder = cache_dir()
    if brotli is None or folder is None:
        print("explorer: no Brotli copies made (" + ("brotli is not installed" if brotli is None
              else "no writable cache folder") + "); pages are sent gzipped")
        return 0
    rows = precompress()
    total, compressed = sum(r[1] for r in rows), sum(r[2] or r[1] for r in rows)
    print(f"explorer: {len(rows)} scripts for the pages ({total / 1e6:.2f} MB) kept Brotli-compressed "
          f"({compressed / 1e6:.2f} MB) in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
