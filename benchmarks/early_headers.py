"""When a page's browser can start fetching its scripts: the response's headers against its first bytes.

The explorer's page names the scripts Voila's front end will need twice: in a ``Link`` header
(explorer.serving.page_handler: sent before the page's kernel starts) and in the page's head
(sent by Voila once the kernel has started). A browser acts on whichever comes first, so the
gap between the two is time a slow link gets for the page's 1.4 MB of scripts.

For ``--students`` pages asked for at the same moment (a class arriving; 1 = one student alone),
each request's time to its headers and to its first bytes of HTML (the head), from the request,
over the loopback; medians with min/max over the pages and ``--repeats`` rounds. With
``--baseline DIR`` an older checkout is served too (its own server code, as benchmarks/network.py
does), measured alternately with this one. Each page's kernel is shut down after its round.

Usage (repository root)::

    .venv/bin/python -m benchmarks.early_headers --students 1,10 --repeats 3
    .venv/bin/python -m benchmarks.early_headers --students 1,10 --baseline /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks._timing import load_average
from harness.voila import ROOT

PAGE = "voila/render/rbm_explorer.ipynb"


async def _one_page(client, url):
    """(seconds to the headers, seconds to the first body bytes, the Link header or None, the
    page's kernel id)."""
    t0 = time.perf_counter()
    marks = {}
    body_parts = []

    def header_line(line):
        if line in ("\r\n", "\n") and "headers" not in marks:
            marks["headers"] = time.perf_counter() - t0
        elif line.lower().startswith("link:"):
            marks["link"] = line.split(":", 1)[1].strip()

    def body(chunk):
        if chunk and "body" not in marks:
            marks["body"] = time.perf_counter() - t0
        body_parts.append(chunk)

    from tornado import httpclient
    await client.fetch(httpclient.HTTPRequest(url, header_callback=header_line, streaming_callback=body,
                                              request_timeout=600, decompress_response=True))
    kernel = re.search(rb'"kernelId": "([0-9a-f-]+)"', b"".join(body_parts))
    return marks.get("headers"), marks.get("body"), marks.get("link"), kernel and kernel.group(1).decode()


async def _round(base, students):
    from tornado import httpclient
    client = httpclient.AsyncHTTPClient(force_instance=True, max_clients=max(students, 10))
    try:
        return await asyncio.gather(*[_one_page(client, base + PAGE) for _ in range(students)])
    finally:
        client.close()


def _shutdown_kernels(base, rows):
    """The pages here have no browser to free their kernels: shut them down through the kernel
    API, with the XSRF cookie Voila's file list issues (as the page's own shutdown does)."""
    with urllib.request.urlopen(base + "voila/tree/", timeout=30) as resp:
        cookie = next(c.split(";", 1)[0] for c in resp.headers.get_all("Set-Cookie") or [] if c.startswith("_xsrf="))
    headers = {"Cookie": cookie, "X-XSRFToken": cookie.split("=", 1)[1]}
    for row in rows:
        if row[3]:
            req = urllib.request.Request(base + f"api/kernels/{row[3]}", method="DELETE", headers=headers)
            urllib.request.urlopen(req, timeout=60).close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", default="1,10", help="comma-separated class sizes (pages asked for at once)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline", metavar="DIR", help="also serve this checkout of older code, alternately")
    ap.add_argument("--json", help="write the summary here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.students.split(",") if s.strip()]
    load = {"before": load_average()}
    from benchmarks.network import _start, stats

    as_make_app = argparse.Namespace(preheat=False, no_bundle=False)
    with contextlib.ExitStack() as stack:
        servers = {}
        if args.baseline:
            servers["before"] = _start(stack, as_make_app, [], Path(args.baseline).resolve(), baseline=True)
        servers["after" if args.baseline else "app"] = _start(stack, as_make_app, [], ROOT)
        for base in servers.values():              # warm-up: templates compiled, imports done
            _shutdown_kernels(base, asyncio.run(_round(base, 1)))
        raw = {label: {n: [] for n in sizes} for label in servers}
        for _ in range(args.repeats):
            for n in sizes:
                for label, base in servers.items():
                    rows = asyncio.run(_round(base, n))
                    _shutdown_kernels(base, rows)
                    raw[label][n].extend(rows)
                    time.sleep(2)
    load["after"] = load_average()
    summary = {"load_average": load, "results": {}}
    print(f"load average (1/5/15 min) before {load['before']}, after {load['after']}")
    print(f"{'server':<8}{'pages at once':>14}  {'headers, s':<22}{'first HTML bytes, s':<22}{'Link header':<12}")
    for label, by_n in raw.items():
        summary["results"][label] = {}
        for n, rows in by_n.items():
            heads = stats([r[0] for r in rows])          # None (no headers) left out by stats
            body = stats([r[1] for r in rows])
            links = sum(1 for r in rows if r[2])
            summary["results"][label][n] = {"headers_s": heads, "first_body_s": body, "pages": len(rows),
                                            "with_link_header": links}
            fmt = lambda s: f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"   # noqa: E731
            print(f"{label:<8}{n:>14}  {fmt(heads):<22}{fmt(body):<22}{links}/{len(rows)}")
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
