"""Start Voila on a free local port and drive its pages with Playwright + Debian's Chromium.

Shared by the browser tests (tests/browser/conftest.py) and the benchmarks (app_latency, network, ...).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
EXPLORER = "voila/render/rbm_explorer.ipynb"
#: The server of ``make app`` / ``make classroom`` (the Makefile runs the same module).
VOILA_COMMAND = [sys.executable, "-m", "explorer.serving.voila_app"]
#: The stock ``voila`` command (what ``make app`` ran before explorer.serving.voila_app), for baselines.
STOCK_VOILA_COMMAND = [sys.executable, "-m", "voila"]
#: As the Makefile runs the kernels: one BLAS thread each.
KERNEL_ENV = {"OPENBLAS_NUM_THREADS": "1"}


def chromium_path():
    """The Chromium executable, or None when it is not installed."""
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(notebook_dir, log_path=None, *extra_args, timeout=120, command=None, cwd=ROOT, env=None):
    """Voila on a free loopback port serving ``notebook_dir``; yields ``(base_url, Popen)``.

    The server ``make app`` runs (``explorer.serving.voila_app``: Voila with compression and
    BokehJS as a cached file), in ``cwd`` (the repository root), so it reads that voila.json;
    ``extra_args`` override it. ``command`` replaces the server command (e.g.
    :data:`STOCK_VOILA_COMMAND` for a baseline); ``env`` is added to this process's environment.
    Stopped by its own process group (it started the kernels), never by name.
    """
    port = free_port()
    cmd = [*(command or VOILA_COMMAND), str(notebook_dir), "--no-browser",
           f"--port={port}", "--Voila.ip=127.0.0.1", *extra_args]
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_until_answering(proc, base, timeout, log_path, "voila")
        yield base, proc
    finally:
        stop_process_group(proc, timeout=15)
        if hasattr(log, "close"):
            log.close()


def wait_until_answering(proc, url, timeout, log_path=None, name="server"):
    """Wait until ``url`` answers; a server that exits first raises with the end of its log."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = Path(log_path).read_text()[-3000:] if log_path else ""
            raise RuntimeError(f"{name} exited with code {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer within {timeout} s") from None
            time.sleep(0.2)


def stop_process_group(proc, timeout=15):
    """SIGTERM the process group ``proc`` leads (a server and the kernels it started); SIGKILL
    what is left after ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def write_preheat_config(directory, pools=None, fill_delay=None, source=ROOT / "voila.json"):
    """Write ``directory/voila.json``: the settings of ``source`` (the repository's) with the
    preheated pool on.

    ``pools`` maps notebook names to pool sizes (the other notebooks keep voila.json's); pass
    ``--Voila.config_file_paths=<directory>`` to Voila. Returns the configuration written.
    """
    conf = json.loads(Path(source).read_text())
    conf.setdefault("VoilaConfiguration", {})["preheat_kernel"] = True
    manager = conf.setdefault("VoilaKernelManager", {})
    configured = manager.setdefault("kernel_pools_config", {"default": {"pool_size": 0}})
    for name, size in (pools or {}).items():
        configured.setdefault(name, {})["pool_size"] = int(size)
    if fill_delay is not None:
        manager["fill_delay"] = fill_delay
    (Path(directory) / "voila.json").write_text(json.dumps(conf, indent=1))
    return conf


@contextlib.contextmanager
def voila_server(timeout=120):
    """Serve ``notebooks/`` with Voila as documented; yields the base URL ``http://127.0.0.1:PORT/``."""
    artifacts = ROOT / "artifacts"
    log_path = artifacts / f"voila-{os.getpid()}-{time.monotonic_ns()}.log" if artifacts.is_dir() else None
    with serve("notebooks/", log_path, "--strip_sources=True",
               # pages free their kernels on close (the template); culling is the fallback
               "--MappingKernelManager.cull_interval=30", "--MappingKernelManager.cull_idle_timeout=120",
               timeout=timeout) as (base, _proc):
        yield base


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def new_page(browser, base, errors=None, width=1500, height=2700):
    """A page that can reach only the local server; JS errors are appended to ``errors``.

    Tall by default: Voila scrolls inside its own container, so a screenshot shows only
    the viewport; 2700 px holds every plot of the explorer.
    """
    page = browser.new_page(viewport={"width": width, "height": height})
    # generous: the machine running these tests is shared and sometimes oversubscribed
    page.set_default_timeout(90_000)
    # Voila's template asks a CDN for fonts: everything but the local server is blocked
    page.route(lambda url: not url.startswith(base), lambda route: route.abort())
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: errors.append(console_text(msg)) if msg.type == "error" else None)
    return page


#: Separates a console message from the URL it was reported for (see :func:`console_text`).
AT_URL = " @ "


def console_text(msg):
    """A console message as text, with the URL it names: for "Failed to load resource" that is the
    resource that failed, which tells a request the test blocked from a real failure."""
    return f"console.{msg.type}: {msg.text}{AT_URL}{(msg.location or {}).get('url', '')}"


# JavaScript helpers run in the page --------------------------------------------------

#: Resolves when a Bokeh source with this name exists in any BokehJS document.
#: True once a BokehJS document holds a ColumnDataSource (the plot's data is in the page).
READY_JS = """() => {
  const docs = (window.Bokeh && window.Bokeh.documents) || [];
  for (const d of docs) {
    for (const m of d.all_models) { if (String(m.type).endsWith('ColumnDataSource')) return true; }
  }
  return false;
}"""

#: Records the time of every keydown (the start of a keypress -> plot latency).
INSTALL_KEY_CLOCK_JS = """() => {
  window.__keys = [];
  document.addEventListener('keydown', () => window.__keys.push(performance.now()), true);
}"""

WAIT_SOURCE_JS = """name => {
  const docs = (window.Bokeh && window.Bokeh.documents) || [];
  for (const d of docs) { if (d.get_model_by_name(name)) return true; }
  return false;
}"""

#: True once every named source exists in a BokehJS document and has a non-empty column.
SOURCES_HAVE_DATA_JS = """names => {
  const docs = (window.Bokeh && window.Bokeh.documents) || [];
  return names.every(n => docs.some(d => {
    const s = d.get_model_by_name(n);
    return s && Object.values(s.data).some(c => c && c.length > 0);
  }));
}"""

#: Returns the columns of a named source as plain arrays.
READ_SOURCE_JS = """name => {
  for (const d of window.Bokeh.documents) {
    const s = d.get_model_by_name(name);
    if (s) {
      const out = {};
      for (const [k, v] of Object.entries(s.data)) out[k] = Array.from(v);
      return out;
    }
  }
  return null;
}"""

#: Installs change counters on named sources: window.__changes[name] = [timestamps].
WATCH_SOURCES_JS = """names => {
  window.__changes = window.__changes || {};
  for (const d of window.Bokeh.documents) {
    for (const name of names) {
      const s = d.get_model_by_name(name);
      if (s && !window.__changes[name]) {
        window.__changes[name] = [];
        s.change.connect(() => window.__changes[name].push(performance.now()));
      }
    }
  }
  return Object.keys(window.__changes);
}"""


#: Installs the watch on the explorer's busy line (issue 25; explorer/app/core/updater.py) under
#: ``root``: from the next keydown, every animation frame notes when "computing…" becomes visible and
#: when it goes again (window.__busy).
BUSY_WATCH_JS = """root => {
  const line = document.querySelector(root + ' .explorer-busy-line');
  const label = line && line.querySelector('.widget-html-content');
  if (!label) return false;
  const w = window.__busy = {key: null, visible: null, hidden: null, marks: 0};
  new MutationObserver(() => { if (line.classList.contains('explorer-busy')) w.marks += 1; })
    .observe(line, {attributes: true, attributeFilter: ['class']});
  document.addEventListener('keydown', () => {
    if (w.key !== null) return;
    w.key = performance.now();
    const tick = () => {
      const t = performance.now();
      const shown = getComputedStyle(label).visibility === 'visible'
        && label.getClientRects().length > 0 && label.innerText.includes('computing');
      if (shown && w.visible === null) w.visible = t;
      if (!shown && w.visible !== null) { w.hidden = t; return; }
      if (t - w.key < 300000) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }, true);
  return true;
}"""


def open_explorer(page, base, query="", timeout=180_000):
    """Open the explorer and wait until its widgets and Bokeh sources exist."""
    t0 = time.monotonic()
    page.goto(base + EXPLORER + (("?" + query) if query else ""), wait_until="commit", timeout=timeout)
    page.wait_for_selector(".explorer-temperature .noUi-handle", timeout=timeout)
    page.wait_for_function(WAIT_SOURCE_JS, arg="t_cursor", timeout=timeout)
    return time.monotonic() - t0

#: Client (page) coordinates of a data point in a named figure, or null.
DATA_TO_CLIENT_JS = """([name, x, y]) => {
  function* walk(v) { yield v; for (const c of (v.child_views || [])) yield* walk(c); }
  for (const root of window.Bokeh.index.roots) {
    for (const v of walk(root)) {
      if (v.model && v.model.name === name && v.frame) {
        const r = v.canvas_view.el.getBoundingClientRect();
        return [r.left + v.frame.x_scale.compute(x), r.top + v.frame.y_scale.compute(y)];
      }
    }
  }
  return null;
}"""


def wait_for_change(page, name, count_before, timeout=60_000):
    """Wait until source ``name`` changed more often than ``count_before`` times."""
    page.wait_for_function("([n, c]) => (window.__changes[n] || []).length > c",
                           arg=[name, count_before], timeout=timeout)


def change_count(page, name):
    return page.evaluate("n => (window.__changes[n] || []).length", name)


#: Records in the page when each readout shows each value (Date.now(): one clock for every page of
#: the machine), so that the lag is the pages' own, not the test's polling of them one by one.
RECORD_READOUTS_JS = """() => {
  window.__shown = window.__shown || {};
  for (const el of document.querySelectorAll('.widget-readout')) {
    if (el.__recorded) continue;
    el.__recorded = true;
    new MutationObserver(() => { window.__shown[el.innerText] = window.__shown[el.innerText] || Date.now(); })
      .observe(el, {childList: true, characterData: true, subtree: true});
  }
}"""


def shown_at(page, value):
    """When (``Date.now()``, ms) a readout recorded by :data:`RECORD_READOUTS_JS` first showed ``value``."""
    return page.evaluate("v => (window.__shown || {})[v] || null", value)


#: The console warnings of every Voila page about its bundled JupyterLab 4.2.5 packages (13 per
#: page: the widgets' front end asks for ^4.6.2). Known and harmless (docs/app.md, "Tests"): the
#: tests count them by this exact text and report the count; any other warning is not matched.
VERSION_WARNING = re.compile(r"(Unsatisfied version \S+ from \S+ of shared singleton module|No satisfying version "
                             r"\S+ of shared module) @(jupyterlab|lumino)/")


def js_errors(messages, failed_urls, base):
    """The real JavaScript errors among the collected console messages.

    Left out, and counted (printed: pytest shows it with the test's output): the known version
    warnings of Voila's bundled JupyterLab (:data:`VERSION_WARNING`), and "Failed to load
    resource" for requests that the test itself blocked (anything not on the local server, e.g.
    the template's CDN fonts). Messages collected with :func:`console_text` name their URL, so
    the decision is made per message; for messages without a URL it falls back to "no local
    request failed".
    """
    only_external_failed = all(not u.startswith(base) for u in failed_urls)
    real = []
    versions = sum(1 for m in messages if VERSION_WARNING.search(m))
    if versions:
        print(f"js_errors: {versions} known version warnings of Voila's bundled JupyterLab left out (docs/app.md)")
    for m in messages:
        if VERSION_WARNING.search(m):
            continue
        if "Failed to load resource" in m:
            url = m.rsplit(AT_URL, 1)[1] if AT_URL in m else None
            if (url is not None and url and not url.startswith(base)) or (url is None and only_external_failed):
                continue
        real.append(m)
    return real


def open_tab(page, prefix, title, source, timeout=120_000):
    """Click the explorer's tab ``title`` (tabs of ``.{prefix}-tabs``) and wait until its Bokeh
    source ``source`` exists: a tab's plots are built and computed when it is first opened."""
    page.locator(f".{prefix}-tabs .lm-TabBar-tab", has_text=title).first.click()
    page.wait_for_function(WAIT_SOURCE_JS, arg=source, timeout=timeout)
