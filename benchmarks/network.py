"""What a page costs on the network: bytes, requests and time to the first plot, fast and on a slow link.

Opens each page in a fresh browser context (empty cache) of one headless Chromium, once on the
unthrottled loopback and once over Chromium's network emulation (CDP
``Network.emulateNetworkConditions``: 4 Mbit/s down, 1 Mbit/s up, 100 ms round trip, a school
Wi-Fi shared by a class), and reloads it in the same context. For each load it reports, as
medians with min/max over ``--repeats``:

* **bytes**: what crossed the network for HTTP (CDP ``Network.loadingFinished``
  ``encodedDataLength``: compressed bodies and headers), and the widget state's websocket
  payload (CDP reports the payload after decompression; ``ws deflated`` estimates what
  permessage-deflate sends when the server negotiated it);
* **requests**: HTTP requests and websockets (a file the page's head names for prefetching
  counts twice: the prefetch, and the page's own request that the cache then answers);
  **to server**: those the browser cache did not answer (revalidations that end in 304 count:
  they cost a round trip);
* **first plot**: from the request to a Bokeh plot drawn with its data (a ColumnDataSource with
  values and every plot view finished rendering), on the page's own clock; for the start page
  (no plots), to the page shown (Voila's loading screen gone);
* the ratio slow / fast of the first-plot times;
* **browser CPU**: the page's main-thread busy time up to the first plot (CDP
  ``Performance.getMetrics`` ``TaskDuration``: scripts, style, layout, paint; what one student's
  laptop must do, here on this machine's faster core), with the share spent in scripts.

Pages: the RBM explorer, the VAE explorer, the start page (``/``) and lesson 1, served as
``make app`` serves them (``--preheat``: as ``make classroom``, pools of 4 per page, filled
before measuring, each taken kernel replaced after 1 s). ``--baseline DIR`` also serves an older
checkout with the stock ``voila`` command, side by side (interleaved: drifts of the machine's
load hit both alike); ``--server LABEL=URL`` measures running servers instead. The machine's
load average is printed with the results; the last line is one JSON object (``--json FILE``).

``--from-start-page SECONDS``: each page's first load follows the start page, shown for that long
in the same context (a student reading it, then following its link): the start page fetches the
linked pages' scripts once it has loaded, so the first load then finds them in the cache.

Also: the bytes a class of 30 needs through one access point when everybody opens the RBM
explorer (first load), and the time that takes at a few effective Wi-Fi rates.

``--wire`` also measures the same slow link as a second model: the page through a proxy that
paces the bytes the server really sent (compressed bodies, deflated websocket frames) through one
pipe each way shared by all of the page's connections, with the round trip and a round trip per
new connection (``benchmarks/_wire.py``), with Chromium's emulation off. Chromium's emulation
throttles each request on its own and charges a websocket's messages as they are after
decompression. They are two models of the same link, not bounds on a real Wi-Fi (neither was
compared with one).

Usage (repository root)::

    .venv/bin/python -m benchmarks.network --repeats 3
    .venv/bin/python -m benchmarks.network --preheat --pages rbm,start
    .venv/bin/python -m benchmarks.network --baseline /tmp/before     # a checkout of an older commit, side by side
    .venv/bin/python -m benchmarks.network --pages rbm,lesson1 --wire  # also the slow link on the wire
    .venv/bin/python -m benchmarks.network --pages rbm,lesson1 --from-start-page 8   # after the start page
    .venv/bin/python -m benchmarks.network --server before=http://127.0.0.1:8866/ --server after=http://127.0.0.1:8867/
    .venv/bin/python -m benchmarks.network --pages rbm --repeats 1 --record-prefetch explorer/serving/prefetch.json

The last one records what the RBM explorer's page loads (after an upgrade of Voila or a front-end
extension): the list the explorer's template names for prefetching.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import zlib
from pathlib import Path

from explorer.serving.static_files import BUNDLE_ENV
from harness.voila import KERNEL_ENV, ROOT, STOCK_VOILA_COMMAND, serve, write_preheat_config

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Nothing leaves the machine: every host name but the loopback resolves to nothing. (Playwright's
# request interception would do it too, but it turns the browser's HTTP cache off: no reloads.)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"]

PAGES = {
    "rbm": "voila/render/rbm_explorer.ipynb",
    "vae": "voila/render/vae_explorer.ipynb",
    "start": "",
    "lesson1": "voila/render/lessons/lesson_1_free_energy_and_bound.ipynb",
}
#: Pages without Bokeh plots: "ready" is the page shown.
NO_PLOTS = {"start"}

#: 4 Mbit/s down, 1 Mbit/s up, 100 ms round trip (CDP wants bytes per second and milliseconds).
SLOW = {"offline": False, "latency": 100, "downloadThroughput": 4e6 / 8, "uploadThroughput": 1e6 / 8}
FAST = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}

#: Runs in every document before its own scripts: notes the page's clock when the first plot is
#: drawn (window.__firstPlot) and when the page is shown (window.__shown).
CLOCK_JS = """(() => {
  function plotDrawn() {
    const B = window.Bokeh;
    if (!B || !B.documents || !B.index) return false;
    let data = false;
    for (const d of B.documents) for (const m of d.all_models) {
      if (String(m.type).endsWith('ColumnDataSource')) {
        const cols = Object.values(m.data || {});
        if (cols.length && cols[0] && cols[0].length > 0) data = true;
      }
    }
    if (!data) return false;
    function* walk(v) { yield v; for (const c of (v.child_views || [])) yield* walk(c); }
    let plots = 0;
    for (const root of B.index.roots) for (const v of walk(root)) {
      if (v.model && v.canvas_view && typeof v.has_finished === 'function') {
        if (!v.has_finished()) return false;
        plots += 1;
      }
    }
    return plots > 0;
  }
  function shown() {
    const cells = document.getElementById('rendered_cells');
    return !!cells && cells.style.display !== 'none' && !document.getElementById('loading');
  }
  const timer = setInterval(() => {
    try {
      if (window.__shown === undefined && shown()) window.__shown = performance.now();
      if (window.__firstPlot === undefined && plotDrawn()) window.__firstPlot = performance.now();
      if (window.__firstPlot !== undefined && window.__shown !== undefined) clearInterval(timer);
    } catch (e) { /* BokehJS still loading */ }
  }, 20);
})();"""


class Recorder:
    """Counts what one page's CDP session sees between :meth:`start` and :meth:`result`."""

    def __init__(self, cdp):
        self.events = []
        for name in ("requestWillBeSent", "responseReceived", "loadingFinished", "requestServedFromCache",
                     "webSocketCreated", "webSocketFrameReceived", "webSocketFrameSent",
                     "webSocketHandshakeResponseReceived"):
            cdp.on(f"Network.{name}", lambda e, name=name: self.events.append((name, e)))

    def start(self):
        self.events.clear()

    def result(self):
        sent, from_cache, finished, ws_rx, ws_tx, scripts = {}, set(), {}, [], 0, []
        sockets, deflate = 0, False
        for name, e in self.events:
            rid = e.get("requestId")
            if name == "requestWillBeSent":
                if not e["request"]["url"].startswith(("data:", "blob:")):
                    sent[rid] = e["request"]["url"]
                if e.get("type") == "Script":       # what the page itself asked for (not a prefetch)
                    scripts.append(e["request"]["url"])
            elif name == "requestServedFromCache":
                from_cache.add(rid)
            elif name == "responseReceived":
                r = e["response"]
                if r.get("fromDiskCache") or r.get("fromMemoryCache") or r.get("fromPrefetchCache"):
                    from_cache.add(rid)
            elif name == "loadingFinished":
                finished[rid] = e.get("encodedDataLength", 0)
            elif name == "webSocketCreated":
                sockets += 1
            elif name == "webSocketHandshakeResponseReceived":
                ext = {k.lower(): v for k, v in e["response"].get("headers", {}).items()}
                deflate = deflate or "permessage-deflate" in ext.get("sec-websocket-extensions", "")
            elif name == "webSocketFrameReceived":
                f = e["response"]
                ws_rx.append(base64.b64decode(f["payloadData"]) if f.get("opcode") == 2
                             else f["payloadData"].encode())
            elif name == "webSocketFrameSent":
                ws_tx += len(e["response"]["payloadData"])
        http_bytes = sum(v for rid, v in finished.items() if rid in sent)
        ws_payload = sum(map(len, ws_rx))
        return {"bytes": http_bytes, "requests": len(sent) + sockets,
                "to_server": len([r for r in sent if r not in from_cache]) + sockets,
                "ws_payload": ws_payload, "ws_deflated": _deflated_size(ws_rx) if deflate else ws_payload,
                "ws_deflate": deflate, "scripts": scripts}


def _deflated_size(messages):
    """What permessage-deflate (with context takeover) sends for these messages, about."""
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    return sum(len(z.compress(m) + z.flush(zlib.Z_SYNC_FLUSH)) - 4 for m in messages)


def _wait_ready(page, kind, timeout_ms):
    var = "__shown" if kind in NO_PLOTS else "__firstPlot"
    page.wait_for_function(f"() => window.{var} !== undefined", timeout=timeout_ms, polling=100)
    return page.evaluate(f"() => window.{var} / 1000")


def _settle(page, rec, quiet_s=3.0, limit_s=15.0):
    """Wait until no new HTTP request for ``quiet_s`` (late scripts, polls), at most ``limit_s``.

    Long enough for the scripts Voila's front end loads after the page is shown (MathJax's, ~1.5 s
    later on the slow link): a reload started before they arrive cancels them, and the reload
    would then count them. The wait is Playwright's: CDP's events reach ``rec`` only while
    Playwright runs (a plain sleep would leave what arrived after the first plot -- the kernel's
    widget states, when the page was drawn before them -- to be counted with the next load).
    """
    t_end = time.monotonic() + limit_s
    last, seen = time.monotonic(), None
    while time.monotonic() < t_end:
        page.wait_for_timeout(250)
        n = sum(1 for name, _ in rec.events if name == "requestWillBeSent")
        if n != seen:
            seen, last = n, time.monotonic()
        elif time.monotonic() - last >= quiet_s:
            return


def measure_page(browser, base, key, link, timeout_s=240, start_page_s=None):
    """First load and reload of one page in a fresh context; returns {"first": {...}, "reload": {...}}.

    ``start_page_s``: before the first load, the start page is shown for that many seconds in the
    same context (a student reading it before following a link; what it fetched meanwhile is in
    the browser's cache). Its own requests are not counted.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(CLOCK_JS)
    page = context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", link)
    cdp.send("Performance.enable", {"timeMode": "threadTicks"})
    rec = Recorder(cdp)
    out = {}
    try:
        if start_page_s is not None and key not in NO_PLOTS:
            page.goto(base + PAGES["start"], wait_until="commit")
            _wait_ready(page, "start", timeout_s * 1000)
            page.wait_for_timeout(start_page_s * 1000)
        for load in ("first", "reload"):
            rec.start()
            before = _main_thread_seconds(cdp)
            if load == "first":
                page.goto(base + PAGES[key], wait_until="commit")
            else:
                page.reload(wait_until="commit")
            ready = _wait_ready(page, key, timeout_s * 1000)
            after = _main_thread_seconds(cdp)
            # a reload may get a fresh renderer whose counters start at 0
            cpu = {k: after[k] - before[k] if after[k] >= before[k] else after[k] for k in after}
            _settle(page, rec)
            out[load] = {"ready_s": ready, "browser_cpu_s": cpu["task"], "browser_script_s": cpu["script"],
                         **rec.result()}
    finally:
        context.close()         # the template frees the page's kernel
    return out


def _main_thread_seconds(cdp):
    """The page renderer's main thread so far: busy (``TaskDuration``) and in scripts, seconds."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {"task": metrics.get("TaskDuration", 0.0), "script": metrics.get("ScriptDuration", 0.0)}


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def run(servers, pages, repeats, wired=None, start_page_s=None):
    """``wired``: label -> the base URL of that server behind :func:`benchmarks._wire.wire_link`
    (then also measured as "wire": through that proxy, without Chromium's emulation).
    ``start_page_s``: see :func:`measure_page`."""
    from playwright.sync_api import sync_playwright

    wired = wired or {}
    links = ("fast", "slow", "wire") if wired else ("fast", "slow")
    raw = {label: {k: {name: [] for name in links} for k in pages} for label in servers}
    load = {"before": os.getloadavg(), "cpus": os.cpu_count()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # warm-up: each server compiles its templates and imports on the first page
            for base in servers.values():
                for key in pages:
                    measure_page(browser, base, key, FAST)
            for _ in range(repeats):
                for key in pages:
                    for label, base in servers.items():       # interleaved: drifts hit all alike
                        for link_name, link in (("fast", FAST), ("slow", SLOW)):
                            raw[label][key][link_name].append(
                                measure_page(browser, base, key, link, start_page_s=start_page_s))
                        if label in wired:
                            raw[label][key]["wire"].append(measure_page(browser, wired[label], key, FAST))
        finally:
            browser.close()
    load["after"] = os.getloadavg()
    return raw, load


def summarise(raw):
    out = {}
    for label, by_page in raw.items():
        out[label] = {}
        for key, by_link in by_page.items():
            out[label][key] = {}
            for link_name, runs in by_link.items():
                out[label][key][link_name] = {
                    load: {m: stats([r[load][m] for r in runs])
                           for m in ("ready_s", "bytes", "requests", "to_server", "ws_payload", "ws_deflated",
                                     "browser_cpu_s", "browser_script_s")}
                    | {"ws_deflate": all(r[load]["ws_deflate"] for r in runs)}
                    for load in ("first", "reload")}
            for load in ("first", "reload"):
                fast = out[label][key]["fast"][load]["ready_s"]
                for name in by_link:
                    if name == "fast":
                        continue
                    other = out[label][key][name][load]["ready_s"]
                    out[label][key][f"{name}_over_fast_{load}"] = (other["median"] / fast["median"]
                                                                   if fast and other and fast["median"] else None)
    return out


def _mb(x):
    return f"{x / 1e6:.2f}"


def _s(x):
    return f"{x:.2f}"


def _range(s, fmt):
    return f"{fmt(s['median'])} ({fmt(s['min'])}-{fmt(s['max'])})"


def print_table(summary, load):
    print(f"\nload average before {load['before'][0]:.2f} / {load['before'][1]:.2f} (1/5 min), "
          f"after {load['after'][0]:.2f} / {load['after'][1]:.2f}; {load['cpus']} CPUs")
    print(f"{'server':<11}{'page':<9}{'load':<7}{'HTTP MB':<20}{'ws MB payload/sent':<24}{'req':>4}{'to srv':>7}  "
          f"{'first plot, fast s':<20}{'4 Mbit/s 100 ms s':<20}{'slow/fast':>9}  {'browser CPU s (scripts)':<24}")
    for label, by_page in summary.items():
        for key, s in by_page.items():
            for name in ("first", "reload"):
                f, sl = s["fast"][name], s["slow"][name]
                ws = f"{_mb(f['ws_payload']['median'])}/{_mb(f['ws_deflated']['median'])}"
                ws += " deflate" if f["ws_deflate"] else ""
                ratio = s[f"slow_over_fast_{name}"]
                wire = ""
                if "wire" in s:
                    wire = f"  wire: {_range(s['wire'][name]['ready_s'], _s)} ({s[f'wire_over_fast_{name}']:.2f})"
                print(f"{label:<11}{key:<9}{name:<7}{_range(f['bytes'], _mb):<20}{ws:<24}"
                      f"{f['requests']['median']:>4.0f}{f['to_server']['median']:>7.0f}  "
                      f"{_range(f['ready_s'], _s):<20}{_range(sl['ready_s'], _s):<20}{ratio:>9.2f}  "
                      f"{_range(f['browser_cpu_s'], _s)} ({_s(f['browser_script_s']['median'])}){wire}")


def class_of_30(summary, n=30, rates_mbit=(20, 50, 100)):
    """Bytes for ``n`` first loads of the RBM explorer through one access point, and the time
    that takes at a few effective rates (the access point's share for the class, not its label)."""
    out = {}
    for label, by_page in summary.items():
        if "rbm" not in by_page:
            continue
        f = by_page["rbm"]["fast"]["first"]
        per_student = f["bytes"]["median"] + f["ws_deflated"]["median"]
        total = n * per_student
        out[label] = {"students": n, "per_student_bytes": per_student, "total_bytes": total,
                      "seconds_at_mbit": {r: total * 8 / (r * 1e6) for r in rates_mbit}}
        times = ", ".join(f"{t:.0f} s at {r} Mbit/s" for r, t in out[label]["seconds_at_mbit"].items())
        print(f"class of {n} ({label}): {_mb(per_student)} MB each, {total / 1e6:.0f} MB through one access "
              f"point: {times}")
    return out


def _start(stack, args, pages, root, baseline=False):
    """Serve ``root/notebooks`` as ``make app`` (``--preheat``: ``make classroom``) does; a baseline
    checkout runs the stock ``voila`` command with its own code, template and voila.json."""
    extra, env, command = [], dict(KERNEL_ENV), None
    if args.preheat:
        conf = stack.enter_context(tempfile.TemporaryDirectory(prefix="network-bench-"))
        # every load takes a pooled kernel: a few spares, each replaced a second after it is taken
        pools = {PAGES[k].removeprefix("voila/render/"): 4 for k in pages if k not in NO_PLOTS}
        write_preheat_config(conf, pools, fill_delay=1, source=root / "voila.json")
        extra = [f"--Voila.config_file_paths={conf}"]
    if baseline:
        # its own server code where it has one (make app's since 2026-12-06), else the stock voila
        has_own = (root / "explorer" / "serving" / "voila_app.py").is_file()
        command = [sys.executable, "-m", "explorer.serving.voila_app"] if has_own else STOCK_VOILA_COMMAND
        env.update(PYTHONPATH=str(root), JUPYTER_PATH=str(root / "share" / "jupyter"))
    if args.no_bundle:
        env[BUNDLE_ENV] = "0"
    base, _proc = stack.enter_context(serve("notebooks/", None, *extra, timeout=180, command=command, cwd=root,
                                            env=env))
    return base


#: Packages whose files prefetch.json names (its list is valid for these versions only).
PREFETCH_PACKAGES = ("voila", "jupyterlab_widgets", "jupyter_bokeh", "jupyterlab_pygments")


def record_prefetch(raw, path):
    """Write the Voila front-end scripts the RBM explorer's page asked for (first load, in order)
    to ``path`` (explorer/serving/prefetch.json), with the versions of the packages they are from."""
    from importlib import metadata

    files = []
    for by_page in raw.values():
        for run in by_page.get("rbm", {}).get("fast", []):
            for url in run["first"]["scripts"]:
                rel = "voila/" + url.split("/voila/", 1)[1] if "/voila/" in url else None
                if rel and rel.startswith(("voila/static/", "voila/labextensions/")) and rel not in files:
                    files.append(rel)
    if not files:
        raise SystemExit("no scripts recorded: run with --pages rbm")
    record = {"page": PAGES["rbm"], "versions": {p: metadata.version(p) for p in PREFETCH_PACKAGES},
              "files": files}
    Path(path).write_text(json.dumps(record, indent=1) + "\n")
    print(f"recorded {len(files)} files to {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, of {', '.join(PAGES)}")
    ap.add_argument("--preheat", action="store_true", help="as make classroom (pools of 4 per measured page)")
    ap.add_argument("--server", action="append", default=[], metavar="LABEL=URL",
                    help="measure a running server (repeatable); default: start make app's")
    ap.add_argument("--baseline", metavar="DIR",
                    help="also serve this checkout (e.g. `git worktree add DIR <commit>`) with the stock voila "
                         "command, its own code and template: side by side, labelled before/after")
    ap.add_argument("--record-prefetch", metavar="FILE",
                    help="write the scripts the RBM explorer loaded to FILE (explorer/serving/prefetch.json); "
                         "implies --no-bundle (the page must load Voila's chunks itself)")
    ap.add_argument("--no-bundle", action="store_true",
                    help="switch the front-end bundle off (FREE_ENERGY_EXPLORER_BUNDLE=0): "
                         "Voila's ~90 chunks one by one")
    ap.add_argument("--wire", action="store_true",
                    help="also measure the slow link on the wire (benchmarks/_wire.py: a proxy pacing the bytes "
                         "the server sent, one pipe for all of the page's connections) instead of Chromium's "
                         "per-request emulation")
    ap.add_argument("--from-start-page", type=float, metavar="SECONDS",
                    help="show the start page for SECONDS in the same browser context before each page's "
                         "first load (a student following its link); the start page itself is not counted")
    ap.add_argument("--json", help="write the summary here")
    args = ap.parse_args(argv)
    if args.record_prefetch:
        args.no_bundle = True
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = set(pages) - set(PAGES)
    if unknown:
        ap.error(f"unknown pages {sorted(unknown)}")

    with contextlib.ExitStack() as stack:
        if args.server:
            servers = dict(s.split("=", 1) for s in args.server)
        else:
            servers = {}
            label = "classroom" if args.preheat else "app"
            if args.baseline:
                servers["before"] = _start(stack, args, pages, Path(args.baseline).resolve(), baseline=True)
                label = "after"
            servers[label] = _start(stack, args, pages, ROOT)
            if args.preheat:
                time.sleep(60)          # the pools fill (paced, one kernel per 1.5 s, then built)
        wired = {}
        if args.wire:
            from benchmarks._wire import wire_link
            for label, base in servers.items():
                url = urllib.parse.urlsplit(base)
                port = stack.enter_context(wire_link(url.port, down=SLOW["downloadThroughput"],
                                                     up=SLOW["uploadThroughput"], rtt=SLOW["latency"] / 1000))
                wired[label] = url._replace(netloc=f"127.0.0.1:{port}").geturl()
        t0 = time.monotonic()
        raw, load = run(servers, pages, args.repeats, wired, start_page_s=args.from_start_page)
    if args.record_prefetch:
        record_prefetch(raw, args.record_prefetch)
    for by_page in raw.values():            # the URL lists served the recording only
        for by_link in by_page.values():
            for runs in by_link.values():
                for r in runs:
                    for one_load in r.values():
                        one_load.pop("scripts", None)
    summary = summarise(raw)
    print_table(summary, load)
    crowd = class_of_30(summary)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "repeats": args.repeats, "load": load,
              "seconds": round(time.monotonic() - t0), "summary": summary, "class_of_30": crowd}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**result, "raw": raw}, f, indent=1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
