"""Classroom load test: N students open a Voila notebook at the same moment.

Starts Voila on a free loopback port (or targets a running server on 127.0.0.1 / localhost with
``--url``), opens N pages *together* in headless Chromium (one browser context per page, spread
over ``--browsers`` browser processes) and measures:

* first render: from the moment all N page loads are issued until the page holds a BokehJS
  document with a ColumnDataSource (``window.Bokeh.documents``), i.e. the plot is there;
* update latency: after every page has rendered, ArrowRight is pressed on the first
  ``.widget-slider .noUi-handle`` of every page at once; latency is the page's own clock from
  just before the keypress to the first ``change`` of any ColumnDataSource (``ds.change.connect``).
  Notebooks without a slider (``rbm_free_energies.ipynb``) report no update latency;
* memory: RSS and USS of every kernel process (children of the Voila process, via psutil) and
  of the Voila server itself; "MB per session" is the median kernel RSS.

It prints a summary and, as its last line, one JSON object. Exit status 0 when every page
rendered within ``--render-limit`` seconds (default 90) and every slider page answered its
keypress; 1 when not; 2 when the harness itself failed (Voila did not start, timeout).

Safety: loopback only (the URL host must be 127.0.0.1, ::1 or localhost; a started Voila binds
127.0.0.1), at most 60 sessions, a hard overall timeout (``--timeout``, default 420 s) after
which everything it started is killed, and Voila and the browsers it started are stopped on
exit, on Ctrl-C and on SIGTERM (Voila by its process group, browsers via Playwright and then by
their PIDs: only processes this script started).

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.classroom_load -n 10
    .venv/bin/python -m benchmarks.classroom_load -n 30 --json artifacts/load30.json
    .venv/bin/python -m benchmarks.classroom_load -n 30 --preheat            # voila.json's pools, preheating on
    .venv/bin/python -m benchmarks.classroom_load -n 30 --pool-size 32       # ... with this pool for the notebook
    .venv/bin/python -m benchmarks.classroom_load -n 5 --notebook notebooks/rbm_free_energies.ipynb
    .venv/bin/python -m benchmarks.classroom_load -n 5 --url http://127.0.0.1:8866/   # a running `make app`
    .venv/bin/python -m benchmarks.classroom_load -n 30 --nice-browser   # Chromium at nice 10: server first
    .venv/bin/python -m benchmarks.classroom_load -n 30 --http-only      # no browser: the server's share

Results on the project's 2-core machine: docs/classroom.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from tests.browser.voila_server import CHROMIUM_ARGS, READY_JS, chromium_path, free_port, write_preheat_config

ROOT = Path(__file__).resolve().parents[1]

MAX_SESSIONS = 60
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# headless pages must not be throttled as "background" tabs while 30 of them load at once
EXTRA_CHROMIUM_ARGS = ["--disable-renderer-backgrounding", "--disable-background-timer-throttling",
                       "--disable-backgrounding-occluded-windows"]

#: Connects a listener to every ColumnDataSource; window.__lt_changes collects change times.
WATCH_JS = """() => {
  window.__lt_changes = window.__lt_changes || [];
  window.__lt_watched = window.__lt_watched || new Set();
  for (const d of window.Bokeh.documents) {
    for (const m of d.all_models) {
      if (String(m.type).endsWith('ColumnDataSource') && !window.__lt_watched.has(m)) {
        window.__lt_watched.add(m);
        m.change.connect(() => window.__lt_changes.push(performance.now()));
      }
    }
  }
  return window.__lt_watched.size;
}"""

SLIDER = ".widget-slider .noUi-handle"


def default_notebook():
    nb = ROOT / "notebooks" / "rbm_explorer.ipynb"
    return nb if nb.exists() else ROOT / "notebooks" / "rbm_free_energies.ipynb"


def quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def rounded(x, nd=3):
    return None if x is None else round(x, nd)


# ------------------------------------------------------------------ processes we started
class Cleanup:
    """Everything this script started, stopped by PID (never by name)."""

    def __init__(self):
        self.voila = None          # subprocess.Popen, own session/process group
        self.voila_log = None
        self.browsers = []         # playwright Browser objects
        self.lock = threading.Lock()
        self.done = False

    def descendants(self):
        import psutil
        try:
            return psutil.Process(os.getpid()).children(recursive=True)
        except psutil.Error:
            return []

    def kill_all(self, hard=False):
        """Stop Voila (process group) and every remaining descendant of this process."""
        import psutil
        with self.lock:
            if self.voila is not None and self.voila.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.voila.pid, signal.SIGKILL if hard else signal.SIGTERM)
                if not hard:
                    try:
                        self.voila.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(self.voila.pid, signal.SIGKILL)
                        self.voila.wait(timeout=5)
            # browsers (playwright's node driver and Chromium) and anything else still running
            procs = self.descendants()
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    p.kill() if hard else p.terminate()
            if procs:
                _, alive = psutil.wait_procs(procs, timeout=5)
                for p in alive:
                    with contextlib.suppress(psutil.Error):
                        p.kill()
            if self.voila_log is not None:
                with contextlib.suppress(Exception):
                    self.voila_log.close()
            self.done = True


CLEANUP = Cleanup()
PARTIAL = {}        # results so far, printed when the overall timeout strikes


def start_watchdog(seconds):
    """Last resort: if the script is still running ``seconds`` from now, kill what it started and exit."""

    def fire():
        print(f"classroom_load: hard timeout ({seconds:.0f} s) - killing Voila and browsers", file=sys.stderr,
              flush=True)
        with contextlib.suppress(Exception):
            CLEANUP.kill_all(hard=True)
        os._exit(2)

    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def _stop_on_signal(signum, frame):
    """Ctrl-C / SIGTERM: kill what this script started at once (Playwright may be blocked on
    pages that will never answer), then exit."""
    print(f"classroom_load: signal {signum} - stopping Voila and browsers", file=sys.stderr, flush=True)
    with contextlib.suppress(Exception):
        CLEANUP.kill_all(hard=True)
    os._exit(130)


# ------------------------------------------------------------------ Voila
def start_voila(notebook_dir, port, extra_args, log_path):
    voila = Path(sys.executable).with_name("voila")
    cmd = [str(voila) if voila.exists() else "voila", str(notebook_dir), "--no-browser",
           f"--port={port}", "--Voila.ip=127.0.0.1", *extra_args]
    CLEANUP.voila_log = open(log_path, "w") if log_path else subprocess.DEVNULL
    # cwd = repository root: Voila reads the repo's voila.json (culling, sources and tracebacks hidden)
    # as `make app` / `make classroom` start it (Makefile: KERNEL_ENV)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    CLEANUP.voila = subprocess.Popen(cmd, cwd=ROOT, stdout=CLEANUP.voila_log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env)
    return CLEANUP.voila


def wait_for_http(base, proc, timeout):
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"voila exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(base, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                # on a loaded machine this is where a short --timeout runs out: say it is the timeout
                raise RuntimeError(f"timeout: voila did not answer within {timeout:.0f} s") from None
            time.sleep(0.2)


def pid_listening_on(port):
    import psutil
    with contextlib.suppress(psutil.Error, PermissionError):
        for c in psutil.net_connections(kind="tcp"):
            if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid:
                return c.pid
    return None


def kernel_processes(voila_pid):
    """Kernel processes started by Voila (its descendants running ipykernel)."""
    import psutil
    try:
        kids = psutil.Process(voila_pid).children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for p in kids:
        with contextlib.suppress(psutil.Error):
            if any("ipykernel" in part for part in p.cmdline()):
                out.append(p)
    return out


def memory_of(procs):
    import psutil
    rows = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            info = p.memory_full_info()
            cpu = p.cpu_times()
            rows.append({"pid": p.pid, "rss_mb": info.rss / 2**20, "uss_mb": info.uss / 2**20,
                         "cpu_s": cpu.user + cpu.system})
    return rows


#: Niceness of the browsers with --nice-browser: below the server and the kernels serving pages
#: (0), as when students' own laptops render the pages, but above a preheated pool refilling
#: in the background (explorer.serving.preheat.WARM_UP_NICENESS = 19), which in a real class does
#: not compete with the students' browsers either.
BROWSER_NICENESS = 10


def renice_browsers():
    """Low CPU priority for the browsers this script started (our descendants other than Voila's
    tree): on one machine the server then gets the CPU first, as when students' own laptops
    render the pages."""
    import psutil
    voila = CLEANUP.voila.pid if CLEANUP.voila is not None else None
    for p in CLEANUP.descendants():
        with contextlib.suppress(psutil.Error):
            if voila is not None and (p.pid == voila or voila in [a.pid for a in p.parents()]):
                continue
            p.nice(BROWSER_NICENESS)


def browser_processes():
    """The Chromium processes this script started (browser, renderers, GPU, utilities)."""
    import psutil
    for p in CLEANUP.descendants():
        with contextlib.suppress(psutil.Error):
            if "chrom" in p.name().lower():
                yield p


def browser_rss_mb():
    import psutil
    total = 0
    for p in browser_processes():
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20


def cpu_by_role(voila_pid):
    """CPU seconds used so far by the Voila server process, its kernels and the browsers."""
    import psutil
    out = {"server": 0.0, "kernels": 0.0, "browsers": 0.0}

    def add(role, p):
        with contextlib.suppress(psutil.Error):
            c = p.cpu_times()
            out[role] += c.user + c.system

    if voila_pid:
        with contextlib.suppress(psutil.Error):
            add("server", psutil.Process(voila_pid))
        for k in kernel_processes(voila_pid):
            add("kernels", k)
    for p in browser_processes():
        add("browsers", p)
        # which Chromium processes: renderers (one per page) against the shared browser process
        with contextlib.suppress(psutil.Error):
            kind = next((a[len("--type="):] for a in p.cmdline() if a.startswith("--type=")), "main")
            out.setdefault("browser:" + kind, 0.0)
            add("browser:" + kind, p)
    # the Playwright driver that relays every page's messages (not a browser, but on this machine)
    for p in CLEANUP.descendants():
        with contextlib.suppress(psutil.Error):
            if p.name() == "node":
                out.setdefault("playwright", 0.0)
                add("playwright", p)
    return out


# ------------------------------------------------------------------ the sessions
async def one_session(i, page, url, t_open, deadline, render_limit, results):
    loop = asyncio.get_running_loop()
    r = results[i]
    # "load": the streamed HTML is complete, i.e. Voila has executed the notebook in the kernel
    page.once("load", lambda *_: r.setdefault("html_s", loop.time() - t_open))
    try:
        await page.goto(url, wait_until="commit", timeout=max(1.0, deadline - loop.time()) * 1000)
        r["first_byte_s"] = loop.time() - t_open
        await page.wait_for_function(READY_JS, polling=250,
                                     timeout=max(1.0, deadline - loop.time()) * 1000)
        r["render_s"] = loop.time() - t_open
    except Exception as exc:  # timeout or a closed page: recorded, the others go on
        r["error"] = f"render: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


async def slider_move(i, page, deadline, results, key="ArrowRight"):
    loop = asyncio.get_running_loop()
    r = results[i]
    try:
        # widgets may appear shortly after the plot: allow a few seconds for a slider to show up
        try:
            await page.wait_for_selector(SLIDER, timeout=min(5000, max(1.0, deadline - loop.time()) * 1000))
        except Exception:
            r["slider"] = False
            return
        r["slider"] = True
        r["sources"] = await page.evaluate(WATCH_JS)
        handle = page.locator(SLIDER).first
        await handle.focus()
        t_press = await page.evaluate("() => performance.now()")
        await page.keyboard.press(key)
        await page.wait_for_function("t => (window.__lt_changes || []).some(x => x > t)", arg=t_press,
                                     polling=100, timeout=max(1.0, deadline - loop.time()) * 1000)
        first = await page.evaluate("t => Math.min(...window.__lt_changes.filter(x => x > t))", t_press)
        r["update_ms"] = first - t_press
    except Exception as exc:
        r["error"] = f"update: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


async def run(args, base, voila_pid, t_start):
    from playwright.async_api import async_playwright

    loop = asyncio.get_running_loop()
    # every phase ends by this instant; the browsers' close and the report need the last seconds
    hard_end = loop.time() + (args.timeout - (time.monotonic() - t_start)) - 5
    url = urllib.parse.urljoin(base, "voila/render/" + urllib.parse.quote(args.notebook.name))
    if args.query:
        url += "?" + args.query
    out = {"n": args.n, "notebook": args.notebook.name, "url": url, "browsers": args.browsers,
           "voila_args": args.voila_arg, "preheat": args.preheat, "cpus": os.cpu_count()}
    async with async_playwright() as p:
        for _ in range(args.browsers):
            CLEANUP.browsers.append(await p.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS + EXTRA_CHROMIUM_ARGS))
        if args.nice_browser:
            renice_browsers()
        out["nice_browser"] = args.nice_browser
        blocked = []

        async def make_page(i):
            ctx = await CLEANUP.browsers[i % args.browsers].new_context(viewport={"width": 1280, "height": 900})
            page = await ctx.new_page()
            # loopback only: anything off the local server (the template's CDN fonts) is refused
            async def refuse(route):
                blocked.append(route.request.url)
                await route.abort()

            await page.route(lambda u: not u.startswith(base), refuse)
            return page

        if args.warmup:
            # one page first, not counted: disk caches and Voila's templates warm, as when the
            # teacher checks the link before the class opens it
            wpage = await make_page(0)
            t0 = loop.time()
            warm = [{}]
            await one_session(0, wpage, url, t0, min(hard_end, t0 + 60), args.render_limit, warm)
            out["warmup_render_s"] = rounded(warm[0].get("render_s"))
            await wpage.context.close()
            await asyncio.sleep(1.0)
        # kernels that exist now are the warm-up page's and, with preheating, the pool that the
        # sessions are about to take: all of them are counted below (one per session at most + 1)

        pages = [await make_page(i) for i in range(args.n)]
        if args.nice_browser:
            renice_browsers()
        results = [{"session": i} for i in range(args.n)]
        PARTIAL.update(out=out, results=results)
        cpu0 = cpu_by_role(voila_pid)
        t_open = loop.time()
        load_avg0 = os.getloadavg()
        # pages get up to twice the render limit (so a miss is measured, not just flagged), and
        # at least 60 s stay for the slider moves and the memory reading
        render_end = min(t_open + 2 * args.render_limit, hard_end - 20)
        await asyncio.gather(*(one_session(i, pg, url, t_open, render_end, args.render_limit, results)
                               for i, pg in enumerate(pages)))
        out["all_rendered_s"] = rounded(max((r["render_s"] for r in results if "render_s" in r), default=None))
        # where the CPU went while the pages opened (kernels that ended meanwhile are not counted)
        cpu1 = cpu_by_role(voila_pid)
        out["cpu_s_during_render"] = {k: round(cpu1[k] - cpu0.get(k, 0.0), 1) for k in cpu1}
        out["load_avg_1min_after_render"] = round(os.getloadavg()[0], 2)
        # everyone moves a slider at once
        rendered = [i for i, r in enumerate(results) if "render_s" in r]
        out["timed_out"] = len(rendered_now(results)) < args.n and loop.time() >= render_end - 1 \
            and render_end < t_open + 2 * args.render_limit
        slider_end = min(loop.time() + 60, hard_end - 5)
        t_round = loop.time()
        await asyncio.gather(*(slider_move(i, pages[i], slider_end, results) for i in rendered))
        # further rounds: everyone presses again every --slider-every seconds (left and right in
        # turn), so that a lesson's later minutes show, e.g. while the pool refills
        out["slider_rounds"] = [slider_round_summary(0, t_round - t_open, results, rendered)]
        for k in range(1, args.slider_rounds):
            t_round += args.slider_every
            if t_round + 30 > hard_end - 5:
                out["slider_rounds_cut"] = f"stopped after {k} round(s): the --timeout leaves no room"
                break
            await asyncio.sleep(max(0.0, t_round - loop.time()))
            round_results = [{"session": i} for i in range(args.n)]
            end = min(loop.time() + 30, hard_end - 5)
            await asyncio.gather(*(slider_move(i, pages[i], end, round_results,
                                               "ArrowLeft" if k % 2 else "ArrowRight") for i in rendered))
            out["slider_rounds"].append(slider_round_summary(k, t_round - t_open, round_results, rendered))
        await asyncio.sleep(0.5)
        if voila_pid:
            kernels = kernel_processes(voila_pid)
            mem = memory_of(kernels)
            import psutil
            with contextlib.suppress(psutil.Error):
                vm = psutil.Process(voila_pid).memory_full_info()
                out["voila_server_rss_mb"] = round(vm.rss / 2**20, 1)
            out["kernels"] = len(mem)
            if mem:
                rss = [m["rss_mb"] for m in mem]
                uss = [m["uss_mb"] for m in mem]
                out["kernel_rss_mb_median"] = round(statistics.median(rss), 1)
                out["kernel_rss_mb_max"] = round(max(rss), 1)
                out["kernel_uss_mb_median"] = round(statistics.median(uss), 1)
                out["kernels_rss_total_mb"] = round(sum(rss), 1)
                out["kernel_cpu_s_median"] = round(statistics.median([m["cpu_s"] for m in mem]), 2)
        out["browser_rss_total_mb"] = round(browser_rss_mb(), 1)
        out["blocked_offsite_requests"] = len(blocked)
        out["load_avg_before"] = round(load_avg0[0], 2)
        for b in CLEANUP.browsers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(b.close(), 20)
        CLEANUP.browsers.clear()

    return summarise(out, results, args)


def round_summary(k, t_s, ms, pressed, errors=()):
    """One simultaneous slider round: when (seconds after the pages were opened) and how fast."""
    return {"round": k, "t_s": rounded(t_s, 1), "answered": len(ms), "pressed": pressed,
            "median_ms": rounded(statistics.median(ms) if ms else None, 1),
            "p95_ms": rounded(quantile(ms, 0.95), 1), "max_ms": rounded(max(ms) if ms else None, 1),
            "errors": sorted(set(errors))}


def slider_round_summary(k, t_s, results, rendered):
    """:func:`round_summary` of the browser pages' results (error kinds included)."""
    return round_summary(k, t_s, [results[i]["update_ms"] for i in rendered if "update_ms" in results[i]],
                         len(rendered),
                         [results[i]["error"].split(":")[1].strip() for i in rendered if "error" in results[i]])


def summarise(out, results, args):
    renders = [r["render_s"] for r in results if "render_s" in r]
    htmls = [r["html_s"] for r in results if "html_s" in r]
    out["html_s_median"] = rounded(statistics.median(htmls) if htmls else None)
    out["html_s_max"] = rounded(max(htmls) if htmls else None)
    updates = [r["update_ms"] for r in results if "update_ms" in r]
    sliders = [r for r in results if r.get("slider")]
    out.update({
        "rendered": len(renders),
        "render_s_median": rounded(statistics.median(renders) if renders else None),
        "render_s_max": rounded(max(renders) if renders else None),
        "render_s_min": rounded(min(renders) if renders else None),
        "with_slider": len(sliders),
        "updated": len(updates),
        "update_ms_median": rounded(statistics.median(updates) if updates else None, 1),
        "update_ms_p95": rounded(quantile(updates, 0.95), 1),
        "update_ms_max": rounded(max(updates) if updates else None, 1),
        "errors": [f"session {r['session']}: {r['error']}" for r in results if "error" in r],
        "blocked_offsite_requests": out.get("blocked_offsite_requests", 0),
        "sessions": [{k: rounded(v) if isinstance(v, float) else v for k, v in r.items()} for r in results],
    })
    # how much longer N pages at once take than one page alone (the warm-up page, opened alone
    # just before): 1 would mean the N pages cost nothing extra
    one = out.get("warmup_render_s")
    out["all_rendered_over_one_page"] = (rounded(max(renders) / one, 2)
                                         if renders and len(renders) == args.n and one else None)
    slider_ok = all("update_ms" in r for r in sliders) and (len(sliders) == len(renders) or len(sliders) == 0)
    out["ok"] = (len(renders) == args.n and bool(renders) and max(renders) <= args.render_limit and slider_ok
                 and not out["errors"])
    return out


KERNEL_ID = __import__("re").compile(r'"kernelId": "([0-9a-f-]+)"')


def kernel_ws_url(base, kernel_id, session):
    """The kernel's websocket on the Voila server at ``base``, as a page opens it."""
    return base.replace("http://", "ws://", 1) + f"api/kernels/{kernel_id}/channels?session_id={session}"


def kernel_message(session, msg_type, content, metadata=None, msg_id=None):
    """A Jupyter message for the kernel's websocket (shell channel), as JSON text."""
    import uuid

    return json.dumps({"header": {"msg_id": msg_id or uuid.uuid4().hex, "username": "load-test",
                                  "session": session, "msg_type": msg_type, "version": "5.3",
                                  "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                       "parent_header": {}, "metadata": metadata or {}, "content": content,
                       "channel": "shell", "buffers": []})


def fetch_widget_states(base, kernel_id, timeout, headers=None):
    """Ask a page's kernel for every widget's state, as the page's widget manager does.

    ``headers``: extra HTTP headers of the websocket handshake (e.g. a hub login's cookies).
    Opens the kernel's websocket, a ``jupyter.widget.control`` comm and sends
    ``request_states``; returns ``(widgets, bytes, states)`` of the ``update_states`` reply.
    """
    import uuid

    from websockets.sync.client import connect

    session = uuid.uuid4().hex
    comm_id = uuid.uuid4().hex
    end = time.monotonic() + timeout
    with connect(kernel_ws_url(base, kernel_id, session), open_timeout=timeout, max_size=None,
                 additional_headers=headers) as ws:
        # ipywidgets' control comm checks the protocol version (ipywidgets 8: 1.0.0)
        ws.send(kernel_message(session, "comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget.control",
                                                      "data": {}}, metadata={"version": "1.0.0"}))
        ws.send(kernel_message(session, "comm_msg", {"comm_id": comm_id, "data": {"method": "request_states"}}))
        while True:
            raw = ws.recv(timeout=max(0.1, end - time.monotonic()))
            msg = json.loads(raw) if isinstance(raw, str) else None
            if msg and msg.get("msg_type") == "comm_msg" and msg["content"].get("comm_id") == comm_id:
                data = msg["content"].get("data", {})
                if data.get("method") == "update_states":
                    return len(data.get("states", {})), len(raw), data.get("states", {})


def run_http_only(args, base, voila_pid, t_start):
    """Server capacity without browsers: N sessions at once, each as the page would do it.

    Each session GETs the page (complete when Voila has executed the notebook in a kernel and
    rendered the HTML) and then asks that kernel over its websocket for every widget's state,
    as the page's widget manager does: together the server's whole share of a first render.
    The client's share (BokehJS, drawing) is not included.
    """
    from concurrent.futures import ThreadPoolExecutor

    url = urllib.parse.urljoin(base, "voila/render/" + urllib.parse.quote(args.notebook.name))
    if args.query:
        url += "?" + args.query
    deadline = t_start + args.timeout - 10
    out = {"n": args.n, "notebook": args.notebook.name, "url": url, "browsers": 0, "http_only": True,
           "voila_args": args.voila_arg, "cpus": os.cpu_count()}
    results = [{"session": i} for i in range(args.n)]
    t_open = time.monotonic()

    def get(i):
        r = results[i]
        try:
            with urllib.request.urlopen(url, timeout=max(1.0, deadline - time.monotonic())) as resp:
                r["first_byte_s"] = time.monotonic() - t_open
                page = resp.read()
            r["bytes"] = len(page)
            r["html_s"] = time.monotonic() - t_open
        except Exception as exc:
            r["error"] = f"http: {type(exc).__name__}: {exc}"[:200]
            return
        # then what the page's widget manager asks the kernel for: every widget's state
        try:
            kernel_id = KERNEL_ID.search(page.decode("utf-8", "replace")).group(1)
            n_widgets, n_bytes, states = fetch_widget_states(base, kernel_id, max(1.0, deadline - time.monotonic()))
            r.update(widgets=n_widgets, state_mb=round(n_bytes / 2**20, 2),
                     state_s=time.monotonic() - t_open)
            session_kernels[i] = (kernel_id, states)
        except Exception as exc:
            r["error"] = f"widget state: {type(exc).__name__}: {exc}"[:200]

    session_kernels = {}
    with ThreadPoolExecutor(max_workers=args.n) as pool:
        list(pool.map(get, range(args.n)))
        if args.slider_rounds > 1 and session_kernels:
            # every session moves the temperature slider at the same moments, as in the browser
            # mode's rounds, over its kernel's websocket: server and kernel latency, no drawing
            t0 = time.monotonic() + 1.0
            times = [t0 + k * args.slider_every for k in range(args.slider_rounds)]
            times = [x for x in times if x + 30 < deadline - 5]
            per_session = list(pool.map(lambda i: move_slider_rounds(base, *session_kernels[i], times, deadline),
                                        sorted(session_kernels)))
            out["slider_rounds"] = [round_summary(k, at - t_open, [s[k] for s in per_session if s[k] is not None],
                                                  len(per_session))
                                    for k, at in enumerate(times)]
    kernels = kernel_processes(voila_pid)
    mem = memory_of(kernels)
    out["kernels"] = len(mem)
    if mem:
        rss = [m["rss_mb"] for m in mem]
        out["kernel_rss_mb_median"] = round(statistics.median(rss), 1)
        out["kernel_uss_mb_median"] = round(statistics.median([m["uss_mb"] for m in mem]), 1)
        out["kernel_rss_mb_max"] = round(max(rss), 1)
        out["kernels_rss_total_mb"] = round(sum(rss), 1)
        out["kernel_cpu_s_median"] = round(statistics.median([m["cpu_s"] for m in mem]), 2)
    htmls = [r["html_s"] for r in results if "html_s" in r]
    states = [r["state_s"] for r in results if "state_s" in r]
    out.update({
        "state_s_median": rounded(statistics.median(states) if states else None),
        "state_s_max": rounded(max(states) if states else None),
        "widgets_median": statistics.median([r["widgets"] for r in results if "widgets" in r]) if states else None,
        "state_mb_median": statistics.median([r["state_mb"] for r in results if "state_mb" in r]) if states else None,
        "rendered": len(htmls), "page_mb": rounded(statistics.median([r["bytes"] for r in results if "bytes" in r])
                                                   / 2**20 if htmls else None, 2),
        "html_s_median": rounded(statistics.median(htmls) if htmls else None),
        "html_s_max": rounded(max(htmls) if htmls else None),
        "html_s_min": rounded(min(htmls) if htmls else None),
        "errors": [f"session {r['session']}: {r['error']}" for r in results if "error" in r],
        "sessions": results,
    })
    out["ok"] = (len(states) == args.n and max(states) <= args.render_limit and not out["errors"])
    print(f"load test (HTTP only, no browser): {args.n} simultaneous GETs of {out['notebook']} "
          f"({out['cpus']} CPUs, Voila args {args.voila_arg or 'none'})")
    print(f"  complete pages: {len(htmls)}/{args.n}, {out['page_mb']} MB each; time to the full page "
          f"median {out['html_s_median']} s, min {out['html_s_min']} s, max {out['html_s_max']} s")
    print(f"  widget state from every kernel (as a page asks for it): {len(states)}/{args.n}, "
          f"{out['widgets_median']} widgets, {out['state_mb_median']} MB each; done median "
          f"{out['state_s_median']} s, max {out['state_s_max']} s (limit {args.render_limit:.0f} s)")
    if mem:
        print(f"  memory: {out['kernels']} kernels, {out['kernel_rss_mb_median']} MB RSS per session (median; "
              f"USS {out['kernel_uss_mb_median']} MB); CPU per kernel so far {out['kernel_cpu_s_median']} s")
    for r in out.get("slider_rounds", []):
        print(f"  slider round {r['round']} at {r['t_s']} s (over the websocket): {r['answered']}/{r['pressed']} "
              f"answered; median {r['median_ms']} ms, p95 {r['p95_ms']} ms, max {r['max_ms']} ms")
    for e in out["errors"][:10]:
        print("  ERROR", e)
    print(f"  result: {'OK' if out['ok'] else 'FAILED'}")
    return out


def move_slider_rounds(base, kernel_id, states, times, deadline):
    """Move the page's temperature slider at each of ``times`` over the kernel's websocket.

    Returns, per round, milliseconds from the update to the first message of a Bokeh model
    that the kernel sent in reply to it (the plots' new data on its way), or None when none
    came within 30 s.
    """
    import uuid

    from websockets.sync.client import connect

    sliders = [k for k, v in states.items() if v.get("model_name", "").endswith("SliderModel")]
    slider = next((k for k in sliders if "T" in str(states[k]["state"].get("description", ""))),
                  sliders[0] if sliders else None)
    bokeh = {k for k, v in states.items() if "Bokeh" in v.get("model_name", "")}
    if slider is None or not bokeh:
        return [None] * len(times)
    value = states[slider]["state"]["value"]
    session = uuid.uuid4().hex
    out = []
    with connect(kernel_ws_url(base, kernel_id, session), open_timeout=30, max_size=None, ping_interval=None) as ws:
        for k, at in enumerate(times):
            time.sleep(max(0.0, at - time.monotonic()))
            new = value * (1.1 if k % 2 == 0 else 1.0)   # right, back, right, ...
            msg_id = uuid.uuid4().hex
            ws.send(kernel_message(session, "comm_msg",
                                   {"comm_id": slider, "data": {"method": "update", "state": {"value": new},
                                                                "buffer_paths": []}}, msg_id=msg_id))
            t_sent, answer = time.monotonic(), None
            end = min(t_sent + 30, deadline)
            while answer is None and time.monotonic() < end:
                try:
                    msg = json.loads(ws.recv(timeout=max(0.1, end - time.monotonic())))
                except TimeoutError:
                    break
                # the plots' update for this move (not a late one from the move before)
                if (msg.get("msg_type") == "comm_msg" and msg["content"].get("comm_id") in bokeh
                        and msg.get("parent_header", {}).get("msg_id") == msg_id):
                    answer = (time.monotonic() - t_sent) * 1000
            out.append(answer)
    return out


def print_summary(out, limit):
    print(f"load test: {out['n']} sessions of {out['notebook']} ({out['cpus']} CPUs, "
          f"{out['browsers']} browser process(es){f' at nice {BROWSER_NICENESS}' if out.get('nice_browser') else ''}, "
          f"Voila args {out['voila_args'] or 'none'})")
    if "warmup_render_s" in out:
        print(f"  warm-up page (not counted; one page alone): {out['warmup_render_s']} s")
    print(f"  rendered: {out['rendered']}/{out['n']}; first render median {out['render_s_median']} s, "
          f"max {out['render_s_max']} s (limit {limit:.0f} s); notebook executed (HTML complete) "
          f"median {out['html_s_median']} s, max {out['html_s_max']} s")
    if out.get("all_rendered_over_one_page") is not None:
        print(f"  all {out['n']} rendered in {out['all_rendered_over_one_page']} x the time of one page alone")
    if out.get("with_slider"):
        print(f"  slider keypress -> Bokeh source change: {out['updated']}/{out['with_slider']} answered; "
              f"median {out['update_ms_median']} ms, p95 {out['update_ms_p95']} ms, max {out['update_ms_max']} ms")
        for r in out.get("slider_rounds", [])[1:]:
            print(f"    round {r['round']} at {r['t_s']} s: {r['answered']}/{r['pressed']} answered; "
                  f"median {r['median_ms']} ms, p95 {r['p95_ms']} ms, max {r['max_ms']} ms")
        if out.get("slider_rounds_cut"):
            print(f"    {out['slider_rounds_cut']}")
    else:
        print("  no .widget-slider in this notebook: no update latency")
    if "kernel_rss_mb_median" in out:
        print(f"  memory: {out['kernels']} kernels, {out['kernel_rss_mb_median']} MB RSS per session "
              f"(median; USS {out['kernel_uss_mb_median']} MB, max RSS {out['kernel_rss_mb_max']} MB), "
              f"kernels total {out['kernels_rss_total_mb']} MB, Voila server {out.get('voila_server_rss_mb')} MB; "
              f"CPU per kernel {out.get('kernel_cpu_s_median')} s")
    print(f"  browsers (client side, same machine): {out.get('browser_rss_total_mb')} MB RSS total")
    if "cpu_s_during_render" in out:
        print(f"  CPU seconds while the pages opened: {out['cpu_s_during_render']} ({out['cpus']} cores x "
              f"{out.get('all_rendered_s')} s = {out['cpus'] * (out.get('all_rendered_s') or 0):.0f} CPU-s available)")
    for e in out["errors"][:10]:
        print("  ERROR", e)
    print(f"  result: {'OK' if out['ok'] else 'FAILED'}")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10, help=f"simultaneous sessions, 1..{MAX_SESSIONS} (default 10)")
    ap.add_argument("--notebook", type=Path, default=None,
                    help="notebook to open (default notebooks/rbm_explorer.ipynb, else rbm_free_energies.ipynb)")
    ap.add_argument("--query", default="", help="query string for the page (e.g. T=0.5)")
    ap.add_argument("--url", default=None,
                    help="base URL of a running Voila (loopback only) instead of starting one")
    ap.add_argument("--voila-pid", type=int, default=None,
                    help="PID of the running Voila for memory (default: the process listening on the port)")
    ap.add_argument("--voila-arg", action="append", default=[],
                    help="extra Voila argument, repeatable (e.g. --voila-arg=--preheat_kernel=True)")
    ap.add_argument("--preheat", action="store_true",
                    help="preheated kernel pool as `make classroom` runs it (pool sizes from voila.json); "
                         "the pool fills before the pages are opened")
    ap.add_argument("--pool-size", type=int, default=None,
                    help="preheat with a pool of this many kernels for the notebook (implies --preheat)")
    ap.add_argument("--fill-delay", type=float, default=None,
                    help="seconds before the pool refills after a kernel is taken (default: voila.json's)")
    ap.add_argument("--browsers", type=int, default=1, help="Chromium processes to spread pages over (default 1)")
    ap.add_argument("--slider-rounds", type=int, default=1,
                    help="simultaneous slider moves by every page, 1..20 (default 1: once, when all rendered); "
                         "with --http-only, 2 or more move the temperature slider over each kernel's websocket")
    ap.add_argument("--slider-every", type=float, default=20.0,
                    help="seconds between slider rounds, 1..300 (default 20)")
    ap.add_argument("--render-limit", type=float, default=90.0, help="seconds every page must render in (90)")
    ap.add_argument("--timeout", type=float, default=420.0, help="hard overall limit in seconds (default 420)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the single uncounted warm-up page")
    ap.add_argument("--nice-browser", action="store_true",
                    help="run Chromium at nice 10 so that Voila and its kernels get the CPU first "
                         "(emulates students whose own machines render the pages)")
    ap.add_argument("--http-only", action="store_true",
                    help="no browser: N plain HTTP GETs at once, timing the server's share of the render")
    ap.add_argument("--json", type=Path, default=None, help="also write the JSON result to this file")
    ap.add_argument("--log", type=Path, default=None, help="Voila's log file (default: discarded)")
    args = ap.parse_args(argv)
    if not 1 <= args.n <= MAX_SESSIONS:
        ap.error(f"-n must be between 1 and {MAX_SESSIONS}")
    if not 1 <= args.browsers <= min(args.n, 8):
        ap.error("--browsers must be between 1 and min(n, 8)")
    if not 1 <= args.slider_rounds <= 20:
        ap.error("--slider-rounds must be between 1 and 20")
    if not 1 <= args.slider_every <= 300:
        ap.error("--slider-every must be between 1 and 300 seconds")
    if not 10 <= args.timeout <= 1800:
        ap.error("--timeout must be between 10 and 1800 seconds")
    if args.pool_size is not None and not 1 <= args.pool_size <= MAX_SESSIONS + 4:
        ap.error(f"--pool-size must be between 1 and {MAX_SESSIONS + 4}")
    args.preheat = args.preheat or args.pool_size is not None or args.fill_delay is not None
    if args.preheat and args.url:
        ap.error("--preheat/--pool-size configure the Voila this script starts; not with --url")
    if args.url:
        u = urllib.parse.urlsplit(args.url)
        if u.scheme != "http" or u.hostname not in LOOPBACK:
            ap.error("--url must be http:// on 127.0.0.1, ::1 or localhost (loopback only)")
        if not args.url.endswith("/"):
            args.url += "/"
    nb = args.notebook or default_notebook()
    if not nb.is_absolute():
        nb = (Path.cwd() / nb) if (Path.cwd() / nb).exists() else ROOT / nb
    if not nb.exists() and not args.url:
        ap.error(f"no such notebook: {nb}")
    args.notebook = nb
    return args


def main(argv=None):
    args = parse_args(argv)
    if chromium_path() is None and not args.http_only:
        print("classroom_load: chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    t_start = time.monotonic()
    watchdog = start_watchdog(args.timeout + 15)     # last resort; the phases end by args.timeout
    # our own handlers (asyncio.run then leaves SIGINT alone)
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    try:
        if args.url:
            base = args.url
            wait_for_http(base, None, 10)
            voila_pid = args.voila_pid or pid_listening_on(urllib.parse.urlsplit(base).port or 80)
        else:
            port = free_port()
            base = f"http://127.0.0.1:{port}/"
            extra, pool = list(args.voila_arg), 0
            if args.preheat:
                conf_dir, pool = preheat_config(args)
                extra += [f"--Voila.config_file_paths={conf_dir}"]
                print(f"  preheated pool: {pool} kernel(s) for {args.notebook.name} (config {conf_dir})")
            proc = start_voila(args.notebook.parent, port, extra, args.log)
            wait_for_http(base, proc, min(60.0, args.timeout - 5))
            voila_pid = proc.pid
            if pool:
                # let the pool fill (each pooled kernel builds the explorer) before the class arrives
                wait_pool(voila_pid, pool, args, t_start)
        left = args.timeout - (time.monotonic() - t_start)
        if left < 5:
            raise TimeoutError
        if args.http_only:
            out = run_http_only(args, base, voila_pid, t_start)
            out["wall_s"] = round(time.monotonic() - t_start, 1)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(out, indent=1) + "\n")
            print(json.dumps({k: v for k, v in out.items() if k != "sessions"}))
            return 0 if out["ok"] else 1
        out = asyncio.run(asyncio.wait_for(run(args, base, voila_pid, t_start), timeout=left))
    except KeyboardInterrupt:
        print("classroom_load: interrupted - stopping Voila and browsers", file=sys.stderr)
        return 130
    except TimeoutError:
        print(f"classroom_load: overall timeout ({args.timeout:.0f} s) reached; partial results:", file=sys.stderr)
        if PARTIAL:
            out = summarise(PARTIAL["out"], PARTIAL["results"], args)
            out["ok"] = False
            out["errors"].append("overall timeout")
            print_summary(out, args.render_limit)
            print(json.dumps({k: v for k, v in out.items() if k != "sessions"}))
        return 2
    except RuntimeError as exc:
        print(f"classroom_load: {exc}", file=sys.stderr)
        return 2
    finally:
        CLEANUP.kill_all()
        watchdog.cancel()
    out["wall_s"] = round(time.monotonic() - t_start, 1)
    print_summary(out, args.render_limit)
    line = json.dumps({k: v for k, v in out.items() if k != "sessions"})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(line)
    if out.get("timed_out"):
        print(f"classroom_load: overall timeout ({args.timeout:.0f} s) cut the run short", file=sys.stderr)
        return 2
    return 0 if out["ok"] else 1


def rendered_now(results):
    return [r for r in results if "render_s" in r]


def preheat_config(args):
    """A config directory holding the repo's voila.json with preheating on (and the pool asked for).

    Returns ``(directory, pool size of the notebook)``.
    """
    import tempfile
    conf_dir = Path(tempfile.mkdtemp(prefix="load-test-voila-"))
    pools = {args.notebook.name: args.pool_size} if args.pool_size is not None else None
    conf = write_preheat_config(conf_dir, pools, args.fill_delay)
    configured = conf["VoilaKernelManager"]["kernel_pools_config"]
    size = configured.get(args.notebook.name, configured.get("default", {})).get("pool_size", 1)
    return conf_dir, int(size)


def wait_pool(voila_pid, size, args, t_start):
    """Wait until the preheated pool holds ``size`` kernels that have stopped using CPU."""
    import psutil
    deadline = t_start + args.timeout / 2
    quiet = 0
    seen = {}                   # the same Process objects across polls: cpu_percent needs two readings
    while time.monotonic() < deadline:
        ks = [seen.setdefault(k.pid, k) for k in kernel_processes(voila_pid)]
        busy = 0.0
        for k in ks:
            with contextlib.suppress(psutil.Error):
                busy += k.cpu_percent(interval=None)
        # at least pool_size kernels (Voila preheats a pool per notebook it serves) and all idle
        quiet = quiet + 1 if len(ks) >= size and busy < 20 else 0
        if quiet >= 5:
            print(f"  preheated pool ready: {len(ks)} kernels after {time.monotonic() - t_start:.0f} s")
            return
        time.sleep(1.0)
    print("  preheated pool not settled; measuring anyway", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
