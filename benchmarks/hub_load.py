"""Hub load test: N students log in through JupyterHub (`make hub`) and open the RBM explorer.

Starts the project's hub (deploy/hub/jupyterhub_config.py) on free loopback ports with its state in
a temporary folder, then N students at the same moment, each in a thread:

1. log in with the class password (the hub's login form, as a browser posts it),
2. wait for their single-user server (the hub's spawn-pending page, polled once a second),
3. GET the RBM explorer in Voila (complete when the notebook has run in the student's kernel),
4. ask that kernel for every widget's state over its websocket, with the login's cookies, as the
   page's widget manager does: together the server's whole share of a first render (like
   ``classroom_load --http-only``; the browsers' drawing is not included).

It reports time to all rendered (from the moment the logins are issued), each phase's median and
max, and per student the memory (RSS and USS of their server and kernel) and CPU-seconds (their
server and kernel, from start to rendered), and the hub's and proxy's own CPU.

``--compare`` first runs ``classroom_load --http-only --preheat`` (what ``make classroom`` serves)
with the same N, so that both lines come from the same run on the same machine.

Usage (from the repository root, after ``make hub`` installed the hub)::

    .venv/bin/python -m benchmarks.hub_load -n 5
    .venv/bin/python -m benchmarks.hub_load -n 30 --compare --json artifacts/hub_load30.json

Safety: loopback only, at most 60 students, a hard overall timeout (``--timeout``), and the hub,
the students' servers and their kernels are stopped at the end (tests/browser/hub_server.py).
Results: docs/hub.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.classroom_load import KERNEL_ID, fetch_widget_states
from tests.browser.hub_server import hub_server, processes_under

ROOT = Path(__file__).resolve().parents[1]
MAX_STUDENTS = 60
PAGE = "voila/render/notebooks/rbm_explorer.ipynb"


def student(base, name, password, t0, deadline, result):
    """One student's login → server → explorer page → widget states; times in ``result``."""
    import requests

    s = requests.Session()
    try:
        s.get(base + "hub/login", timeout=60)
        r = s.post(base + "hub/login?next=", timeout=120,
                   data={"username": name, "password": password, "_xsrf": s.cookies.get("_xsrf", path="/hub/")})
        if r.status_code != 200 or "/hub/login" in r.url:
            result["error"] = f"login refused ({r.status_code})"
            return
        result["login_s"] = time.monotonic() - t0
        # the hub redirects to the spawn-pending page until the server answers, then to the page
        while True:
            r = s.get(base + f"user/{name}/{PAGE}", timeout=max(1.0, deadline - time.monotonic()))
            if f"/user/{name}/voila/render/" in r.url and r.status_code == 200:
                break
            if time.monotonic() > deadline:
                result["error"] = f"server not ready (last page {r.url}, {r.status_code})"
                return
            if "spawn-pending" not in r.url:
                result.setdefault("spawned_s", time.monotonic() - t0)
            time.sleep(1.0)
        result.setdefault("spawned_s", time.monotonic() - t0)
        result["html_s"] = time.monotonic() - t0
        kernel_id = KERNEL_ID.search(r.text).group(1)
        cookies = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
        n_widgets, n_bytes, _ = fetch_widget_states(base + f"user/{name}/", kernel_id,
                                                    max(1.0, deadline - time.monotonic()), headers={"Cookie": cookies})
        result.update(state_s=time.monotonic() - t0, widgets=n_widgets, state_mb=round(n_bytes / 2**20, 2))
    except Exception as exc:   # reported per student: one failure must not hide the others
        result["error"] = f"{type(exc).__name__}: {exc}"[:200]


def usage_of(procs):
    """RSS, USS (MB) and CPU-seconds of a student's processes (server and kernels)."""
    import psutil

    rss = uss = cpu = 0.0
    for p in procs:
        try:
            info = p.memory_full_info()
            t = p.cpu_times()
        except psutil.Error:
            continue
        rss += info.rss / 2**20
        uss += info.uss / 2**20
        cpu += t.user + t.system
    return rss, uss, cpu


def hub_cpu(pid, homes):
    """CPU-seconds of the hub, its proxy and the culler: the hub's process tree without the
    students' servers and kernels (whose working folders lie in ``homes``)."""
    import psutil

    homes = str(Path(homes).resolve())
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for p in procs:
        try:
            if p.cwd().startswith(homes):
                continue
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def run_hub(n, timeout, log_path):
    state = Path(tempfile.mkdtemp(prefix="hub-load-"))
    password = "load-" + secrets.token_hex(6)
    t_start = time.monotonic()
    with hub_server(state, password, log_path=log_path, timeout=120) as (base, proc):
        names = [f"student{i:02d}" for i in range(n)]
        results = [{"student": name} for name in names]
        cpu_hub_before = hub_cpu(proc.pid, state / "home")
        t0 = time.monotonic()
        deadline = t_start + timeout - 20
        threads = [threading.Thread(target=student, args=(base, name, password, t0, deadline, r))
                   for name, r in zip(names, results)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, deadline - time.monotonic()))
        load = os.getloadavg()
        per_student = [usage_of(processes_under(state / "home" / name)) for name in names]
        cpu_hub = hub_cpu(proc.pid, state / "home") - cpu_hub_before
    done = [r["state_s"] for r in results if "state_s" in r]
    out = {
        "mode": "hub", "n": n, "cpus": os.cpu_count(), "load_after": [round(x, 2) for x in load],
        "rendered": len(done),
        "all_rendered_s": round(max(done), 2) if len(done) == n else None,
        "login_s_median": _median([r.get("login_s") for r in results]),
        "spawned_s_median": _median([r.get("spawned_s") for r in results]),
        "spawned_s_max": _max([r.get("spawned_s") for r in results]),
        "html_s_median": _median([r.get("html_s") for r in results]),
        "state_s_median": _median(done), "state_s_max": _max(done),
        "rss_mb_per_student_median": _median([u[0] for u in per_student if u[0]]),
        "uss_mb_per_student_median": _median([u[1] for u in per_student if u[1]]),
        "cpu_s_per_student_median": _median([u[2] for u in per_student if u[2]]),
        "hub_proxy_cpu_s": round(cpu_hub, 2),
        "errors": [f"{r['student']}: {r['error']}" for r in results if "error" in r],
        "students": results,
    }
    out["ok"] = len(done) == n and not out["errors"]
    return out


def _median(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 2) if xs else None


def _max(xs):
    xs = [x for x in xs if x is not None]
    return round(max(xs), 2) if xs else None


def run_classroom(n, timeout, json_path):
    """``make classroom``'s server share for the same N, from classroom_load (a process of its own)."""
    cmd = [sys.executable, "-m", "benchmarks.classroom_load", "-n", str(n), "--http-only", "--preheat",
           "--pool-size", str(n + 2), "--timeout", str(int(timeout)), "--json", str(json_path)]
    subprocess.run(cmd, cwd=ROOT, check=False)
    return json.loads(json_path.read_text()) if json_path.is_file() else {"error": "classroom_load wrote no result"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5, help=f"students logging in at once, 1..{MAX_STUDENTS} (default 5)")
    ap.add_argument("--compare", action="store_true",
                    help="first run classroom_load --http-only --preheat with the same N (make classroom)")
    ap.add_argument("--timeout", type=float, default=600.0, help="hard limit per mode in seconds (default 600)")
    ap.add_argument("--json", type=Path, default=None, help="also write the JSON result to this file")
    ap.add_argument("--log", type=Path, default=None, help="the hub's log file (default: discarded)")
    args = ap.parse_args(argv)
    if not 1 <= args.n <= MAX_STUDENTS:
        ap.error(f"-n must be between 1 and {MAX_STUDENTS}")
    if not 30 <= args.timeout <= 1800:
        ap.error("--timeout must be between 30 and 1800 seconds")
    if not (ROOT / "deploy" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        ap.error("the hub is not installed: run `make hub` once (or make .venv/.hub-installed)")
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_before": [round(x, 2) for x in os.getloadavg()]}
    if args.compare:
        out["classroom"] = run_classroom(args.n, args.timeout, Path(tempfile.mkdtemp()) / "classroom.json")
    out["hub"] = hub = run_hub(args.n, args.timeout, args.log)
    print(f"hub load test: {args.n} students log in at once and open the RBM explorer "
          f"({hub['cpus']} CPUs, load before {out['load_before']}, after {hub['load_after']})")
    print(f"  rendered (page + every widget state): {hub['rendered']}/{args.n}; all within "
          f"{hub['all_rendered_s']} s of the logins (median {hub['state_s_median']} s)")
    print(f"  phases (median): logged in {hub['login_s_median']} s, server up {hub['spawned_s_median']} s "
          f"(max {hub['spawned_s_max']}), page {hub['html_s_median']} s")
    print(f"  per student: {hub['rss_mb_per_student_median']} MB RSS ({hub['uss_mb_per_student_median']} MB USS), "
          f"{hub['cpu_s_per_student_median']} CPU-s (server + kernel); hub and proxy {hub['hub_proxy_cpu_s']} CPU-s")
    if args.compare:
        c = out["classroom"]
        print(f"  make classroom, same N, same run: widget states of all {c.get('n')} within {c.get('state_s_max')} s "
              f"(median {c.get('state_s_median')} s), kernel {c.get('kernel_rss_mb_median')} MB RSS")
    for e in hub["errors"][:10]:
        print("  ERROR", e)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in hub.items() if k != "students"}))
    return 0 if hub["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
