"""What a viewer of the Voila app can and cannot do (Voila + Playwright + Chromium).

(a) The page cannot run code: an ``execute_request`` sent over the kernel websocket the page
    uses is dropped by standalone Voila (its kernel manager allows only comm and info
    messages). Control: the same payload sent straight to the kernel creates the marker file.
(b) Tracebacks and server paths are not shown: a notebook whose cell raises renders without
    traceback, exception text or absolute paths under the repo's voila.json. Control: the same
    notebook with ``--show_tracebacks=True`` does show them (the checks can see a leak).
(c) No network access at run time: every request a rendered page makes is recorded (not
    blocked) and must go to the local server.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid

import nbformat
import pytest

from harness.voila import READY_JS, serve
from tests.security.voila_security import NOTEBOOKS, ROOT, default_notebook

pytestmark = [pytest.mark.browser]

#: Opens a second websocket to the page's kernel from the page itself (what any viewer can do
#: in the browser console), sends an execute_request and then a kernel_info_request on the
#: shell channel, and collects every reply until the kernel_info_reply arrives (shell messages
#: are handled in order: had the execute_request reached the kernel, its reply came first).
ATTACK_JS = """async ([url, code, execId, infoId, channel]) => {
  const ws = new WebSocket(url);
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error('ws error')); });
  const got = [];
  let done;
  const finished = new Promise(r => { done = r; });
  ws.onmessage = ev => {
    const m = JSON.parse(ev.data);
    const parent = (m.parent_header || {}).msg_id || null;
    got.push({type: m.header.msg_type, parent, channel: m.channel,
              state: (m.content || {}).execution_state || null});
    if (m.header.msg_type === 'kernel_info_reply' && parent === infoId) done();
  };
  const msg = (id, type, content, ch) => JSON.stringify({
    header: {msg_id: id, msg_type: type, username: 'viewer', session: 'viewer-session',
             version: '5.3', date: new Date().toISOString()},
    parent_header: {}, metadata: {}, content, channel: ch, buffers: []});
  ws.send(msg(execId, 'execute_request', {code, silent: false, store_history: false,
              user_expressions: {}, allow_stdin: false, stop_on_error: true}, channel));
  ws.send(msg(infoId, 'kernel_info_request', {}, 'shell'));
  await Promise.race([finished, new Promise(r => setTimeout(r, 20000))]);
  await new Promise(r => setTimeout(r, 1000));   // anything late still arrives here
  ws.close();
  return got;
}"""


def open_rendered(page, url, timeout=90_000):
    page.goto(url, wait_until="commit", timeout=timeout)
    page.wait_for_function(READY_JS, polling=200, timeout=timeout)


def render_url(base, notebook):
    return f"{base}voila/render/{notebook.name}"


# ------------------------------------------------------------------------------ (a)
def test_page_cannot_execute_code_over_the_kernel_websocket(repo_server, browser, tmp_path):
    marker = tmp_path / "executed-by-viewer"
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    base = repo_server["base"]
    page = browser.new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        open_rendered(page, render_url(base, default_notebook()))
        kernel_ws = [u for u in sockets if "/api/kernels/" in u and "/channels" in u]
        assert kernel_ws, f"the page opened no kernel websocket: {sockets}"
        kernel_id = re.search(r"/api/kernels/([0-9a-f-]+)/channels", kernel_ws[0]).group(1)
        url = f"{base.replace('http', 'ws', 1)}api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
        for channel in ("shell", "control"):
            exec_id, info_id = uuid.uuid4().hex, uuid.uuid4().hex
            got = page.evaluate(ATTACK_JS, [url, code, exec_id, info_id, channel])
            # the websocket works and the kernel answers (else the test would prove nothing) ...
            assert any(m["type"] == "kernel_info_reply" and m["parent"] == info_id for m in got), got
            # ... but nothing at all came back for the execute_request: it never reached the kernel
            assert [m for m in got if m["parent"] == exec_id] == [], got
        time.sleep(0.5)
        assert not marker.exists(), "a viewer ran code in the kernel"
        log = repo_server["log"].read_text()
        assert 'Received message of type "execute_request", which is not allowed' in log
        # control, while the page is still open (a closed page's kernel is shut down at once):
        # the same payload, sent straight to that kernel (not through Voila), does run
        reply = _execute_directly(repo_server["proc"], kernel_id, code)
    finally:
        page.close()
    assert reply["content"]["status"] == "ok"
    assert marker.read_text() == "pwned"


def _execute_directly(voila_proc, kernel_id, code):
    """Run ``code`` in the kernel through its connection file, as its owner on this machine can."""
    import psutil
    from jupyter_client import BlockingKernelClient

    conn = None
    for p in psutil.Process(voila_proc.pid).children(recursive=True):
        for arg in p.cmdline():
            if kernel_id in arg and arg.endswith(".json"):
                conn = arg
    assert conn is not None, "kernel connection file not found"
    client = BlockingKernelClient(connection_file=conn)
    client.load_connection_file()
    client.start_channels()
    try:
        return client.execute_interactive(code, timeout=30, output_hook=lambda msg: None)
    finally:
        client.stop_channels()


# ------------------------------------------------------------------------------ (b)
SECRET = "secret-token-5e1f"
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:tmp|home|root|work|usr|opt|var|etc|srv|mnt|private)/")


def _failing_notebook(directory):
    (directory / "failing_helper.py").write_text(
        "import os\n\n"
        "def explode():\n"
        f"    raise RuntimeError('{SECRET} while reading ' + os.path.abspath('settings.ini'))\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A notebook that fails"),
                nbformat.v4.new_code_cell("print('before the failure')"),
                nbformat.v4.new_code_cell("import failing_helper\nfailing_helper.explode()")]
    nbformat.write(nb, directory / "broken.ipynb")


def _leaks(text, directory):
    found = []
    for needle in (SECRET, "Traceback", "RuntimeError", "failing_helper.py", str(directory), str(ROOT)):
        if needle in text:
            found.append(needle)
    found += ABSOLUTE_PATH.findall(text)
    return found


def _render_text(browser, base, name):
    page = browser.new_page()
    try:
        page.goto(f"{base}voila/render/{name}", wait_until="load", timeout=60_000)
        page.wait_for_selector("text=before the failure", timeout=60_000)
        page.wait_for_timeout(500)
        return page.inner_text("body"), page.content()
    finally:
        page.close()


def test_tracebacks_and_paths_are_not_shown(browser, tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _failing_notebook(nbdir)
    with serve(nbdir, tmp_path / "voila.log") as (base, _), \
            serve(nbdir, tmp_path / "voila-debug.log", "--show_tracebacks=True") as (debug_base, _):
        text, html = _render_text(browser, base, "broken.ipynb")
        debug_text, _ = _render_text(browser, debug_base, "broken.ipynb")
        with urllib.request.urlopen(f"{base}voila/render/broken.ipynb", timeout=60) as r:
            raw = r.read().decode()
        missing = {}
        for path in ("voila/render/no_such_notebook.ipynb", "voila/files/no_such_file.txt", "voila/tree/nowhere"):
            try:
                with urllib.request.urlopen(base + path, timeout=30) as r:
                    missing[path] = r.read().decode()
            except urllib.error.HTTPError as exc:
                missing[path] = exc.read().decode(errors="replace")
    # the failing cell ran and the viewer is told, in general terms
    assert "There was an error when executing cell" in text
    assert _leaks(text, nbdir) == [], text
    assert _leaks(html, nbdir) == []
    assert _leaks(raw, nbdir) == []
    for path, body in missing.items():
        assert str(nbdir) not in body and str(ROOT) not in body, path
    # control: with tracebacks switched on, the same checks do see the leak
    leaked = _leaks(debug_text, nbdir)
    assert SECRET in leaked and "Traceback" in debug_text and str(nbdir) in debug_text, debug_text


def test_repo_voila_settings_hide_tracebacks_and_sources():
    cfg = json.loads((ROOT / "voila.json").read_text())
    assert cfg["VoilaConfiguration"]["show_tracebacks"] is False
    assert cfg["VoilaConfiguration"]["strip_sources"] is True
    assert cfg["Voila"]["ip"] in ("127.0.0.1", "localhost")


# ------------------------------------------------------------------------------ (c)
NETWORK_NOTEBOOKS = [nb for nb in ("rbm_free_energies.ipynb", "rbm_explorer.ipynb", "vae_explorer.ipynb")
                     if (NOTEBOOKS / nb).exists()]


@pytest.fixture(scope="module")
def requests_by_notebook(repo_server, browser):
    """Every URL each rendered page requested (recorded, never blocked), after a slider move."""
    base = repo_server["base"]
    out = {}
    for name in NETWORK_NOTEBOOKS:
        urls = []
        page = browser.new_page()
        page.on("request", lambda req, urls=urls: urls.append(req.url))
        page.on("websocket", lambda ws, urls=urls: urls.append(ws.url))
        try:
            open_rendered(page, f"{base}voila/render/{name}")
            handle = page.locator(".widget-slider .noUi-handle").first
            if handle.count():
                handle.focus()
                page.keyboard.press("ArrowRight")
            page.wait_for_timeout(1500)
        finally:
            page.close()
        out[name] = urls
    return base, out


def _off_server(base, urls):
    ws_base = base.replace("http", "ws", 1)
    return [u for u in urls
            if not (u.startswith(base) or u.startswith(ws_base) or u.startswith(("data:", "blob:")))]


@pytest.mark.parametrize("name", NETWORK_NOTEBOOKS)
def test_pages_request_nothing_off_server(requests_by_notebook, name):
    """The repo's Voila template drops the lab template's CDN stylesheets: nothing leaves the server."""
    base, recorded = requests_by_notebook
    urls = recorded[name]
    assert len(urls) > 5 and any(u.startswith(base) for u in urls)    # the recorder works
    assert _off_server(base, urls) == [], f"{name} requested off the server"
