"""Bytes a page costs (issue 26): compressed responses, BokehJS as a versioned file, long caching.

Asserted on the responses of real servers, one per configuration:

* ``make app``: ``explorer.serving.voila_app`` with the repository's voila.json;
* ``make classroom``: the same with the preheated pool (the page comes from a pooled kernel);
* the hub's single-user servers: a Jupyter server with ``deploy/hub/jupyter`` as its
  configuration (JUPYTER_CONFIG_PATH, as the hub and the Kubernetes image set it), Voila as its
  extension, a student's base URL ``/user/alice/`` and a token.

Each serves the RBM explorer's page gzipped, with BokehJS linked (not inline) under the base URL;
the BokehJS file gzipped and cached for a year (``immutable``) when its ``?v=`` is the content
hash; Voila's own script gzipped; a front-end extension's content-hashed script immutable; and
the kernel's websocket (the widget state) with permessage-deflate.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tornado import web

from explorer.serving import bokehjs, static_files
from harness.voila import (
    ROOT,
    free_port,
    serve,
    stop_process_group,
    wait_until_answering,
    write_preheat_config,
)

pytestmark = [pytest.mark.slow]

HUB_CONFIG = ROOT / "deploy" / "hub" / "jupyter"
IMMUTABLE = "public, max-age=31536000, immutable"


# ------------------------------------------------------------------ the pieces, without a server
def test_a_static_file_is_gzipped_once_and_decompresses_to_itself(tmp_path):
    js = tmp_path / "big.js"
    js.write_text("var x = 1;\n" * 2000)
    first = static_files.gzipped(js)
    assert first is static_files.gzipped(js)              # kept, not compressed again
    assert gzip.decompress(first) == js.read_bytes()
    assert len(first) < js.stat().st_size / 10
    small = tmp_path / "small.js"
    small.write_text("var x = 1;")
    assert static_files.gzipped(small) is None            # below MIN_COMPRESSED_SIZE: sent as is
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG" + bytes(5000))
    assert static_files.gzipped(png) is None              # already compressed formats are left alone
    js.write_text("var y = 2;\n" * 3000)                  # a changed file is compressed anew
    assert gzip.decompress(static_files.gzipped(js)) == js.read_bytes()


@pytest.mark.parametrize(("header", "coding", "accepted"), [
    ("gzip, deflate, br, zstd", "br", True),            # Chromium's, also over plain http
    ("gzip, deflate, br, zstd", "gzip", True),
    ("gzip", "br", False),
    ("br;q=0, gzip", "br", False),
    ("BR ; q=0.5", "br", True),
    ("brotli", "br", False),
    ("br;q=x", "br", False),
    ("", "gzip", False),
])
def test_accept_encoding_is_read_by_coding_and_weight(header, coding, accepted):
    class Request:
        headers = {"Accept-Encoding": header}
    assert static_files.accepts(Request, coding) is accepted


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """An empty cache folder of this test's, and no compressed copy in memory."""
    monkeypatch.setenv(static_files.CACHE_ENV, str(tmp_path / "cache"))
    static_files.cache_dir.cache_clear()
    monkeypatch.setattr(static_files, "_brotli", {})
    yield tmp_path / "cache"
    static_files.cache_dir.cache_clear()


def test_a_brotli_copy_is_made_in_the_background_once_and_kept_on_disk(tmp_path, own_cache, monkeypatch):
    import brotli

    js = tmp_path / "big.js"
    js.write_text("var answer = [" + ",".join(str(i * i % 977) for i in range(20000)) + "];\n")
    assert static_files.brotli_compressed(js) is None           # being made: gzip goes out meanwhile
    deadline = time.monotonic() + 60
    while (body := static_files.brotli_compressed(js)) is None:
        assert time.monotonic() < deadline, "no Brotli copy after 60 s"
        time.sleep(0.05)
    assert brotli.decompress(body) == js.read_bytes()
    assert len(body) < len(static_files.gzipped(js))
    assert [f.read_bytes() for f in (own_cache / "br").iterdir()] == [body]   # one file, named by content
    # a new server process (nothing in memory) takes the disk's copy and compresses nothing
    monkeypatch.setattr(static_files, "_brotli", {})
    monkeypatch.setattr(brotli, "compress", lambda *a, **k: pytest.fail("compressed again"))
    assert static_files.brotli_compressed(js) == body
    # a changed file is a new version
    js.write_text("var answer = 42;\n" * 200)
    monkeypatch.undo()
    monkeypatch.setenv(static_files.CACHE_ENV, str(own_cache))
    assert brotli.decompress(static_files.brotli_compressed(js, wait=True)) == js.read_bytes()


def _clear_bundles():
    for cached in (static_files.front_end_bundle, static_files.later_bundle, static_files._later_chunk_urls,
                   static_files._webpack_script_prefix):
        cached.cache_clear()


def _holds_in_order(content, urls):
    position = 0
    for url in urls:
        source = static_files.front_end_file(url).read_bytes()
        first_line = source.split(b"\n//# sourceMappingURL=")[0]
        found = content.find(first_line, position)
        assert found >= position, url                          # all of it, in the recorded order
        position = found + len(first_line)


def test_the_front_end_bundles_hold_the_recorded_chunks_in_order_and_no_entry_script(own_cache, monkeypatch):
    monkeypatch.delenv(static_files.BUNDLE_ENV, raising=False)
    _clear_bundles()
    try:
        name, later = static_files.front_end_bundle(), static_files.later_bundle()
        content = (own_cache / "frontend" / name).read_bytes()
        later_content = (own_cache / "frontend" / later["src"].removeprefix(static_files.BUNDLE_ROUTE)).read_bytes()
    finally:
        _clear_bundles()
    assert name == f"chunks-{hashlib.sha256(content).hexdigest()[:20]}.js"
    assert later["src"] == f"{static_files.BUNDLE_ROUTE}later-{hashlib.sha256(later_content).hexdigest()[:20]}.js"
    recorded = static_files.recorded_front_end_files()
    chunks = [u for u in recorded if "remoteEntry." not in u and u != "voila/static/voila.js"]
    assert 50 < len(chunks) < len(recorded)
    # MathJax's chunks (the ones Voila's MathJax loader asks for) in the later file, the rest in the first
    mathjax = [c["src"] for c in later["chunks"]]
    assert 10 < len(mathjax) < 30 and set(mathjax) < set(chunks)
    loader = next(static_files.front_end_file(u).read_bytes() for u in chunks
                  if b"ensureMathDocument" in static_files.front_end_file(u).read_bytes())
    for url in mathjax:
        assert f".e({url.rsplit('/', 1)[-1].split('.')[0]})".encode() in loader, url
        assert static_files.front_end_file(url).read_bytes()[:3000] not in content
    _holds_in_order(content, [c for c in chunks if c not in mathjax])
    _holds_in_order(later_content, mathjax)
    # webpack's name for a script loading chunk N (its runtime in voila.js: data-webpack)
    entry = static_files.front_end_file("voila/static/voila.js").read_bytes()
    for chunk in later["chunks"]:
        prefix, number = chunk["key"].rsplit("chunk-", 1)
        assert chunk["src"] == f"voila/static/{number}.voila.js"
        assert f'"{prefix}"'.encode() in entry and b'"chunk-"' in entry
    # a source-map comment would name files beside the bundle that are not there
    for bundle in (content, later_content):
        assert not re.search(rb"^//# sourceMappingURL=", bundle, re.M)
        assert entry[:2000] not in bundle


def test_no_bundle_where_switched_off(monkeypatch):
    monkeypatch.setenv(static_files.BUNDLE_ENV, "0")
    _clear_bundles()
    try:
        assert static_files.front_end_bundle() is None and static_files.later_bundle() is None
        monkeypatch.setenv(bokehjs.ENV, bokehjs.ROUTE)
        assert static_files.prefetch_paths() == bokehjs.script_paths() + list(static_files.recorded_front_end_files())
        assert static_files.later_scripts({"cells": [{"cell_type": "code"}]}) == []
    finally:
        _clear_bundles()


def test_only_static_file_handlers_get_the_precompressed_variant():
    class Page(web.RequestHandler):
        pass

    assert static_files.precompressed(Page) is Page
    wrapped = static_files.precompressed(web.StaticFileHandler)
    assert issubclass(wrapped, static_files.PrecompressedStatic) and issubclass(wrapped, web.StaticFileHandler)
    assert static_files.precompressed(wrapped) is wrapped


def test_extension_folders_marked_immutable_are_their_static_folders(tmp_path):
    for ext in ("@scope/one", "two"):
        (tmp_path / ext / "static").mkdir(parents=True)
        (tmp_path / ext / "package.json").write_text("{}")
    assert static_files.labextension_static_prefixes("/user/alice/", [str(tmp_path)]) == [
        "/user/alice/voila/labextensions/@scope/one/static/", "/user/alice/voila/labextensions/two/static/"]


def test_bokehjs_urls_name_the_files_by_content():
    paths = bokehjs.script_paths()
    assert [p.split("?")[0] for p in paths] == [f"{bokehjs.ROUTE}{c}.min.js" for c in bokehjs.COMPONENTS]
    for path in paths:
        name, version = path.removeprefix(bokehjs.ROUTE).split("?v=")
        assert version == bokehjs.content_hash(bokehjs.js_dir() / name)


def test_the_recorded_front_end_files_exist_in_the_installed_packages():
    """prefetch.json names what the RBM explorer's page loaded with the installed versions of Voila
    and the front-end extensions; after an upgrade it names nothing (the versions differ) until
    it is recorded again (benchmarks.network --record-prefetch)."""
    from voila.paths import collect_static_paths
    from voila.utils import get_voila_labextensions_path

    files = static_files.recorded_front_end_files()
    assert len(files) > 50 and files[0] == "voila/static/voila.js"
    static_dirs = collect_static_paths(["voila", "nbconvert"], "explorer")
    ext_dirs = get_voila_labextensions_path()
    for url in files:
        path = url.split("?")[0]
        if path.startswith("voila/static/"):
            roots, rel = static_dirs, path.removeprefix("voila/static/")
        else:
            roots, rel = ext_dirs, path.removeprefix("voila/labextensions/")
        assert any((Path(r) / rel).is_file() for r in roots), url


def test_prefetch_names_bokehjs_only_where_served_and_nothing_for_a_page_without_code(monkeypatch):
    code = {"cells": [{"cell_type": "markdown"}, {"cell_type": "code"}]}
    monkeypatch.delenv(bokehjs.ENV, raising=False)
    monkeypatch.setenv(static_files.BUNDLE_ENV, "0")          # first Voila's chunks one by one
    _clear_bundles()
    assert static_files.prefetch({"cells": [{"cell_type": "markdown"}]}) == []
    assert static_files.prefetch(code, linked=True) == []       # a page with code names its own
    # a server without this project's routes: Voila's own files only
    assert static_files.prefetch(code) == list(static_files.recorded_front_end_files())
    monkeypatch.setenv(bokehjs.ENV, bokehjs.ROUTE)
    assert static_files.prefetch(code) == [*bokehjs.script_paths(), *static_files.recorded_front_end_files()]
    assert static_files.prefetch(code, after_bundle=True) == []
    assert static_files.prefetch(code, after_bundle=False) == static_files.prefetch(code)
    # the front-end bundle (unless switched off) instead of the chunks
    assert static_files.later_scripts(code) == []
    monkeypatch.delenv(static_files.BUNDLE_ENV, raising=False)
    _clear_bundles()
    bundle, later = static_files.front_end_bundle(), static_files.later_bundle()
    assert bundle and later
    entries = [u for u in static_files.recorded_front_end_files() if not static_files._bundled(u)]
    assert entries[0] == "voila/static/voila.js" and len(entries) == 5     # + 4 extensions' remoteEntry
    assert static_files.prefetch(code) == [*bokehjs.script_paths(), static_files.BUNDLE_ROUTE + bundle, *entries]
    # BokehJS asked for once the bundle has arrived; without a bundle with the rest
    assert static_files.prefetch(code, after_bundle=True) == bokehjs.script_paths()
    assert static_files.prefetch(code, after_bundle=False) == [static_files.BUNDLE_ROUTE + bundle, *entries]
    # MathJax's chunks: fetched by the page once the first bundle has run, not named in its head
    assert static_files.later_scripts(code) == [later]
    assert static_files.later_scripts({"cells": [{"cell_type": "markdown"}]}) == []
    # the start page, for the pages it links to: the same list and the later bundle, once it has loaded
    assert static_files.prefetch({"cells": [{"cell_type": "markdown"}]}, linked=True) == [
        *static_files.prefetch(code), later["src"]]
    static_files.recorded_front_end_files.cache_clear()
    monkeypatch.setattr(static_files.metadata, "version", lambda name: "0.0.0")   # an upgraded Voila
    try:
        _clear_bundles()
        assert static_files.prefetch(code) == bokehjs.script_paths()
        assert static_files.later_scripts(code) == []
    finally:
        static_files.recorded_front_end_files.cache_clear()
        _clear_bundles()


# ------------------------------------------------------------------ real servers
def _get(url, headers=None):
    """(status, headers, body) with gzip accepted; the body as it came over the wire."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=240) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _body(headers, raw):
    return gzip.decompress(raw) if headers.get("Content-Encoding") == "gzip" else raw


@contextlib.contextmanager
def _hub_single_user_server(log_path, extra_env=None):
    """A Jupyter server configured as the hub's single-user servers (JUPYTER_CONFIG_PATH =
    deploy/hub/jupyter), serving a student's copy of the notebooks under ``/user/alice/``."""
    home = Path(tempfile.mkdtemp(prefix="fee-hub-"))     # short: kernels' IPC socket paths
    shutil.copytree(ROOT / "notebooks", home / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for d in ("config", "data", "runtime"):
        (home / d).mkdir()
    token, port = secrets.token_hex(16), free_port()
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(HUB_CONFIG), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "OPENBLAS_NUM_THREADS": "1", **(extra_env or {})}
    env.pop(bokehjs.ENV, None)
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
           "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", "--ServerApp.base_url=/user/alice/",
           f"--ServerApp.root_dir={home}", f"--IdentityProvider.token={token}"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}/user/alice/"
        try:
            wait_until_answering(proc, base + "api/status?token=" + token, 120, log_path, "jupyter server")
            yield base, {"Authorization": f"token {token}"}, "voila/render/notebooks/rbm_explorer.ipynb"
        finally:
            stop_process_group(proc, timeout=20)
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module", params=["app", "classroom", "hub"])
def served(request, tmp_path_factory):
    """(configuration, base URL, headers to send, the RBM explorer's path, the page's response)."""
    kind = request.param
    folder = tmp_path_factory.mktemp(f"bytes-{kind}")
    if kind == "app":
        server = serve("notebooks/", folder / "voila.log")
    elif kind == "classroom":
        write_preheat_config(folder, {"rbm_explorer.ipynb": 1, "vae_explorer.ipynb": 0})
        server = serve("notebooks/", folder / "voila.log", f"--Voila.config_file_paths={folder}", timeout=180)
    else:
        server = _hub_single_user_server(folder / "server.log")
    with server as started:
        if kind == "hub":
            base, headers, page = started
        else:
            (base, _proc), headers, page = started, {}, "voila/render/rbm_explorer.ipynb"
        if kind == "classroom":
            # Voila gives a request the pool's kernel only once that kernel has started (its
            # notebook is registered in the same step as jupyter_client's "Kernel started" line);
            # a request before that gets a kernel of its own: wait, as a class arrives after the start
            _wait_for_line(folder / "voila.log", "Kernel started: ", timeout=120)
        # the classroom's page with a State in its URL: the pooled kernel adopts it after the request
        response = _get(base + page + ("?T=0.7" if kind == "classroom" else ""), headers)
        if kind == "classroom":
            # the page came from a kernel of the pool, which was started before any request
            assert re.search(r"Using pre-heated kernel: \S+ for rbm_explorer\.ipynb",
                             (folder / "voila.log").read_text())
        yield kind, base, headers, page, response


def _wait_for_line(log, text, timeout):
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in {log} after {timeout} s")
        time.sleep(0.2)


def _page_config(html):
    m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_the_page_is_gzipped_and_links_to_bokehjs_instead_of_carrying_it(served):
    _kind, base, _headers, _page, (status, headers, raw) = served
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "no-store" in headers["Cache-Control"]         # a page starts a kernel: never cached
    html = _body(headers, raw).decode()
    path = "/" + base.split("/", 3)[3]
    # named for the head's loader, which runs it at the load event: no script tag, which would hold
    # that event (and Voila's front end, which starts there) back until BokehJS had arrived
    named = re.search(r"window\.explorerBokehJS\.named\(\{\s*scripts: (\[.*?\]),", html)
    assert json.loads(named.group(1)) == [path + src for src in bokehjs.script_paths()]
    assert not re.search(r"<script[^>]* src=\"[^\"]*/bokehjs/", html)
    source = (bokehjs.js_dir() / "bokeh.min.js").read_text()
    assert source[len(source) // 2:len(source) // 2 + 200] not in html
    assert len(html) < 400_000          # 1.8 MB with BokehJS inline
    # ~16 kB gzipped, ~70 kB with the widget snapshot (explorer/serving/widget_snapshot.py); BokehJS
    # inline would add ~0.5 MB
    assert len(raw) < 120_000
    # the scripts Voila's front end will ask for are named in the head, to come while the kernel runs;
    # BokehJS once the head's prefetch of the front-end bundle has loaded
    head = html.split("</head>")[0]
    assert f'<link rel="prefetch" href="{path}voila/static/voila.js">' in head
    bundle = static_files.BUNDLE_ROUTE + static_files.front_end_bundle()
    assert (f'<link rel="prefetch" href="{path}{bundle}" onload="explorerBokehJS.afterBundle()" '
            f'onerror="explorerBokehJS.afterBundle()">') in head
    after = re.search(r"window\.explorerBokehJS = .*?afterBundle = (\[.*?\]);", head, re.S)
    assert json.loads(after.group(1)) == bokehjs.script_paths()
    assert "bokehjs/" not in "".join(re.findall(r"<link[^>]*>", head))


def test_the_page_carries_its_widgets_as_its_cells_left_them(served):
    """explorer/serving/widget_snapshot.py: the page is drawn from these before the kernel's own copy
    arrives. A preheated kernel's page (make classroom; the hub's first page, from its server's pool
    of one) included: its notebook waits for the request before it shows the explorer, so the
    snapshot holds what the request's URL asked for (the classroom page is asked for with ?T=0.7)."""
    kind, _base, _headers, _page, (_status, headers, raw) = served
    html = _body(headers, raw).decode()
    m = re.search(r'<script type="application/x-explorer-widget-snapshot\+json" id="explorer-widget-snapshot">'
                  r'(.*?)</script>', html, re.S)
    snapshot = json.loads(m.group(1))
    names = [entry["model_name"] for entry in snapshot.values()]
    assert len(snapshot) > 50 and "BokehModel" in names and "FloatSliderModel" in names
    displayed = set(re.findall(r'\\?"model_id\\?": ?\\?"([0-9a-f]{32})', html))
    assert displayed and displayed <= set(snapshot)        # every widget the page shows is in it
    assert "explorer-csv-pending" in m.group(1) and "data:text/csv" not in m.group(1)   # the link comes later
    assert all(len(entry["digest"]) == 16 for entry in snapshot.values())   # explorer/app/core/widget_answer.py
    temperature = [e["state"]["value"] for e in snapshot.values()
                   if e["state"].get("description") == "Temperature T"]
    assert len(temperature) == 1
    if kind == "classroom":     # a log slider: the nearest of its steps to 0.7
        assert temperature[0] == pytest.approx(0.7, rel=0.02)
    else:
        assert temperature[0] == pytest.approx(1.0)


def test_the_page_names_its_scripts_in_a_link_header_sent_before_its_kernel_starts(served):
    """The same list as the head's prefetch links, as a ``Link`` header (explorer.serving.page_handler):
    a browser starts fetching when the headers arrive, not when Voila writes the head."""
    _kind, base, _headers, _page, (status, headers, raw) = served
    path = "/" + base.split("/", 3)[3]
    links = dict((url, rel) for url, rel in re.findall(r"<([^>]+)>; (rel=[^,]+)", headers["Link"]))
    head = _body(headers, raw).decode().split("</head>")[0]
    assert list(links) == re.findall(r'<link rel="prefetch" href="([^"]+)"', head)
    for src in bokehjs.script_paths():
        assert path + src not in links           # asked for once the bundle has arrived (the head's script)
    assert links[path + "voila/static/voila.js"] == "rel=preload; as=script"    # every page with code does
    bundle = [url for url in links if "/explorer/frontend/" in url]
    assert len(bundle) == 1 and links[bundle[0]] == "rel=preload; as=script"


def test_the_start_page_names_nothing_before_it_is_shown_and_the_linked_pages_scripts_after(served):
    """The start page runs no code: no kernel to wait for, no plots (no BokehJS), so nothing in its
    head or headers competes with it. Once loaded, it asks for the scripts of the pages it links to:
    exactly those an explorer's page names (the browser test: they come from the cache then)."""
    _kind, base, headers, page, (_status, explorer_headers, explorer_raw) = served
    status, h, raw = _get(base + page.replace("rbm_explorer.ipynb", "index.ipynb"), headers)
    assert status == 200 and h["Content-Encoding"] == "gzip"
    html = _body(h, raw).decode()
    assert '<link rel="prefetch"' not in html
    assert "Link" not in h
    later = json.loads(re.search(r"urls = (\[.*?\]);", html).group(1))
    explorer = _body(explorer_headers, explorer_raw).decode()
    explorer_head = explorer.split("</head>")[0]
    named = re.findall(r'<link rel="prefetch" href="[^"]*?((?:explorer|voila)/[^"]+)"', explorer_head)
    after_bundle = json.loads(re.search(r"afterBundle = (\[.*?\]);", explorer_head).group(1))      # BokehJS
    fetched_later = json.loads(re.search(r"later = (\{.*?\});\n", explorer).group(1))["src"]     # MathJax's
    assert named and after_bundle and later == [*after_bundle, *named, fetched_later]


def test_a_missing_notebook_is_still_voilas_404(served):
    """Headers sent early cannot be taken back: a page the early handler cannot vouch for is Voila's."""
    _kind, base, headers, page, _response = served
    status, h, _raw = _get(base + page.replace("rbm_explorer.ipynb", "no_such_notebook.ipynb"), headers)
    assert status == 404 and "Link" not in h


def test_bokehjs_is_a_gzipped_file_cached_for_a_year_when_versioned(served):
    _kind, base, headers, _page, _response = served
    for src in bokehjs.script_paths():
        status, h, raw = _get(base + src, headers)
        assert status == 200
        assert h["Content-Encoding"] == "gzip"
        assert h["Cache-Control"] == IMMUTABLE
        assert int(h["Content-Length"]) == len(raw)
        name = src.removeprefix(bokehjs.ROUTE).split("?")[0]
        assert gzip.decompress(raw) == (bokehjs.js_dir() / name).read_bytes()
    unversioned = bokehjs.script_paths()[0].split("?")[0]
    for url in (unversioned, unversioned + "?v=0123456789abcdef0123"):
        status, h, _raw = _get(base + url, headers)
        assert status == 200 and h["Cache-Control"] == "no-cache"    # revalidated: no promise made
    status, _h, _raw = _get(base + bokehjs.ROUTE + "../../__init__.py", headers)
    assert status in (403, 404)


@pytest.fixture(scope="module")
def unbundled(tmp_path_factory):
    """``make app``'s server with the front-end bundle switched off: (base URL, the RBM explorer's
    page response)."""
    folder = tmp_path_factory.mktemp("unbundled")
    with serve("notebooks/", folder / "voila.log", env={static_files.BUNDLE_ENV: "0"}) as (base, _proc):
        yield base, _get(base + "voila/render/rbm_explorer.ipynb", {})


def test_switched_off_no_bundle_is_named_or_served_and_voila_loads_its_chunks(unbundled):
    base, (status, page_headers, raw) = unbundled
    html = _body(page_headers, raw).decode()
    assert status == 200 and "explorer/frontend/" not in html
    # Voila's chunks are prefetched one by one instead
    assert re.search(r'rel="prefetch" href="[^"]*/\d+\.voila\.js"', html)
    status, _h, _b = _get(base + static_files.BUNDLE_ROUTE + "chunks-0123456789abcdef0123.js", {})
    assert status == 404


def test_voilas_chunks_come_as_one_brotli_file_before_voilas_script(served, monkeypatch):
    """The front-end bundle: named in the page before voila.js (so its chunks are
    registered before Voila's front end would ask for them), Brotli for a browser that accepts it
    (gzip otherwise), cached for a year; only the current bundle is served."""
    import brotli

    monkeypatch.delenv(static_files.BUNDLE_ENV, raising=False)
    _clear_bundles()
    _kind, base, headers, _page, (_s, page_headers, raw) = served
    html = _body(page_headers, raw).decode()
    path = "/" + base.split("/", 3)[3]
    bundle = static_files.BUNDLE_ROUTE + static_files.front_end_bundle()
    tag = f'<script src="{path}{bundle}"></script>'
    assert tag in html
    assert html.index(tag) < html.index(f'src="{path}voila/static/voila.js"')
    assert f'<link rel="prefetch" href="{path}{bundle}" onload=' in html.split("</head>")[0]
    assert not re.search(r'rel="prefetch" href="[^"]*/\d+\.voila\.js"', html)       # no chunk on its own
    file = static_files.cache_dir() / "frontend" / static_files.front_end_bundle()
    static_files.brotli_compressed(file, wait=True)       # as make app does at install
    status, h, body = _get(base + bundle, {**headers, "Accept-Encoding": "gzip, deflate, br, zstd"})
    assert status == 200 and h["Content-Encoding"] == "br" and h["Cache-Control"] == IMMUTABLE
    assert brotli.decompress(body) == file.read_bytes()
    assert int(h["Content-Length"]) == len(body) < 0.25 * file.stat().st_size
    assert "Accept-Encoding" in h["Vary"]
    status, h, body = _get(base + bundle, headers)
    assert status == 200 and h["Content-Encoding"] == "gzip" and gzip.decompress(body) == file.read_bytes()
    status, _h, _body_ = _get(base + static_files.BUNDLE_ROUTE + "chunks-0123456789abcdef0123.js", headers)
    assert status == 404
    # MathJax's chunks: a second file, which the page asks for once the first has run (not in its head)
    later = static_files.later_bundle()
    script = re.search(r"later = (\{.*?\});\n", html)
    assert script and json.loads(script.group(1)) == later
    assert html.index(tag) < script.start() < html.index(f'src="{path}voila/static/voila.js"')
    assert later["src"] not in html.split("</head>")[0] and later["src"] not in page_headers.get("Link", "")
    status, h, body = _get(base + later["src"], headers)
    assert status == 200 and h["Content-Encoding"] == "gzip" and h["Cache-Control"] == IMMUTABLE
    later_file = static_files.cache_dir() / "frontend" / static_files.bundle_files()[1]
    assert gzip.decompress(body) == later_file.read_bytes()
    _clear_bundles()


def test_voilas_script_is_gzipped(served):
    _kind, base, headers, _page, (_s, page_headers, raw) = served
    static = _page_config(_body(page_headers, raw).decode())["fullStaticUrl"]
    assert static == "/" + base.split("/", 3)[3] + "voila/static"       # where the page loads it from
    status, h, body = _get(base + "voila/static/voila.js", headers)
    assert status == 200
    assert h["Content-Encoding"] == "gzip"
    assert len(body) < 0.4 * len(gzip.decompress(body))
    assert "immutable" not in h.get("Cache-Control", "")      # not versioned: revalidated


def test_front_end_extension_scripts_are_immutable_and_gzipped(served):
    _kind, base, headers, _page, (_s, page_headers, raw) = served
    config = _page_config(_body(page_headers, raw).decode())
    extensions = {e["name"]: e["load"] for e in config["federated_extensions"]}
    assert "@bokeh/jupyter_bokeh" in extensions and "@jupyter-widgets/jupyterlab-manager" in extensions
    for name in ("@bokeh/jupyter_bokeh", "@jupyter-widgets/jupyterlab-manager"):
        status, h, body = _get(f"{base}voila/labextensions/{name}/{extensions[name]}", headers)
        assert status == 200
        assert h["Cache-Control"] == IMMUTABLE
        assert h["Content-Encoding"] == "gzip"


def test_the_widget_state_websocket_is_compressed(served):
    """Voila sends every widget's state over the kernel's websocket: permessage-deflate is on."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    _kind, base, headers, _page, (_s, page_headers, raw) = served
    kernel = _page_config(_body(page_headers, raw).decode())["kernelId"]
    url = base.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels"

    async def handshake():
        conn = await websocket_connect(HTTPRequest(url, headers=headers), compression_options={})
        try:
            return conn.headers.get("Sec-WebSocket-Extensions", "")
        finally:
            conn.close()

    assert "permessage-deflate" in asyncio.run(handshake())
