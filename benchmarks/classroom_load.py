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

Results on the project's 2-core machine: docs/classroom.md. The pieces: benchmarks/classroom/ (browser mode, HTTP
mode, report), harness/processes.py (what it started, psutil accounting), harness/kernel_client.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from benchmarks.classroom.browser_mode import run
from benchmarks.classroom.http_mode import run_http_only
from benchmarks.classroom.report import print_summary, summarise
from harness.processes import (
    CLEANUP,
    PARTIAL,
    kernel_processes,
    pid_listening_on,
    start_voila,
    start_watchdog,
    stop_on_signal,
    wait_for_http,
)
from harness.voila import chromium_path, free_port, write_preheat_config

ROOT = Path(__file__).resolve().parents[1]

MAX_SESSIONS = 60
LOOPBACK = {"127.0.0.1", "::1", "localhost"}




def default_notebook():
    nb = ROOT / "notebooks" / "rbm_explorer.ipynb"
    return nb if nb.exists() else ROOT / "notebooks" / "rbm_free_energies.ipynb"
























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
    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
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
