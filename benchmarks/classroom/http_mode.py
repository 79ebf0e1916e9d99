"""N sessions without a browser, each as a page's widget manager would open it: the server's share.

Part of ``python -m benchmarks.classroom_load`` (see its docstring)."""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.parse
import urllib.request

from benchmarks.classroom.report import round_summary, rounded
from harness.kernel_client import KERNEL_ID, fetch_widget_states, kernel_message, kernel_ws_url
from harness.processes import (
    kernel_processes,
    memory_of,
)


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
