"""Hub load test: N students log in through JupyterHub (`make hub`) and open the RBM explorer.

Two modes, each with a fresh hub (deploy/hub/jupyterhub_config.py on free loopback ports, its state
in a temporary folder), measured one after the other in the same run:

* ``cold``: nobody's server runs; N students log in at the same moment (9:00, nothing prepared);
  their servers and kernels are forked from the hub's fork server (explorer/serving/forkserver.py);
* ``cold-nofork``: the same with ``HUB_FORKSERVER=0``: each server and kernel a fresh Python;
* ``prestarted``: the teacher first starts the class's servers with ``deploy/hub/prestart.py``
  (``make hub-prestart``: the hub's REST API, the servers' preheated kernels), then N students log
  in at the same moment.

Each student, in a thread:

1. logs in with the class password (the hub's login form, as a browser posts it),
2. waits for their single-user server (the hub's spawn-pending page, polled once a second),
3. GETs the RBM explorer in Voila (complete when the notebook has run in the student's kernel),
4. asks that kernel for every widget's state over its websocket, with the login's cookies, as the
   page's widget manager does: together the server's whole share of a first render (like
   ``classroom_load --http-only``; the browsers' drawing is not included).

Per mode it reports the time until all N have the explorer (from the moment the logins are
issued), min / median / max per student and per phase, per student the memory (RSS and USS of
their server and kernels) and CPU-seconds (their server and kernels; for ``prestarted`` split into
before the logins and after), the hub's and proxy's own CPU, and the machine: load averages
before and after, and how busy its CPUs were during the logins (all processes, ours and others').

``--compare`` first runs ``classroom_load --http-only --preheat`` (what ``make classroom`` serves)
with the same N, so that every line comes from the same run on the same machine.

Usage (from the repository root, after ``make hub`` installed the hub)::

    .venv/bin/python -m benchmarks.hub_load -n 5
    .venv/bin/python -m benchmarks.hub_load -n 30 --compare --json artifacts/hub_load30.json
    .venv/bin/python -m benchmarks.hub_load -n 30 --mode prestarted
    .venv/bin/python -m benchmarks.hub_load -n 30 --mode all      # cold without and with the fork server

Safety: loopback only, at most 60 students, a hard overall timeout per mode (``--timeout``), and
the hub, the students' servers and their kernels are stopped at the end (harness/hub.py).
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

from benchmarks._timing import load_average
from harness.hub import hub_server, processes_under, run_prestart
from harness.kernel_client import KERNEL_ID, fetch_widget_states

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


def forkserver_cpu(pid, timeout=60):
    """CPU-seconds the hub's fork server spent preloading (it is ready once its socket exists)."""
    import psutil

    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        try:
            for p in psutil.Process(pid).children(recursive=True):
                if "explorer.serving.forkserver" in " ".join(p.cmdline()) and "serve" in p.cmdline():
                    sock = p.cmdline()[p.cmdline().index("--socket") + 1]
                    if Path(sock).exists():
                        t = p.cpu_times()
                        return round(t.user + t.system, 2)
        except psutil.Error:
            pass
        time.sleep(0.5)
    return None


def machine_cpu():
    """(busy, total) CPU-seconds of the whole machine since boot (every process, ours or not)."""
    import psutil

    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    total = sum(t)
    return total - idle, total


def stats(xs):
    """{"min", "median", "max"} of the values present (None when there are none)."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"min": round(min(xs), 2), "median": round(statistics.median(xs), 2), "max": round(max(xs), 2)}


def run_hub(n, timeout, log_path, prestart=False, prestart_parallel=4, forkserver=True):
    """One mode with a fresh hub: ``prestart`` runs deploy/hub/prestart.py for the class first;
    ``forkserver`` False starts every server and kernel as a fresh Python (``HUB_FORKSERVER=0``)."""
    state = Path(tempfile.mkdtemp(prefix="hub-load-"))
    password = "load-" + secrets.token_hex(6)
    t_start = time.monotonic()
    deadline = t_start + timeout - 20
    names = [f"student{i:02d}" for i in range(n)]
    results = [{"student": name} for name in names]
    out = {"mode": ("prestarted" if prestart else "cold") + ("" if forkserver else "-nofork"), "n": n,
           "cpus": os.cpu_count(), "forkserver": forkserver}
    env = None if forkserver else {"HUB_FORKSERVER": "0"}
    with hub_server(state, password, log_path=log_path, timeout=120, env=env) as (base, proc):
        out["forkserver_preload_cpu_s"] = forkserver_cpu(proc.pid) if forkserver else None
        if prestart:
            t = time.monotonic()
            done = run_prestart(base, state, names, "--parallel", str(prestart_parallel),
                                "--timeout", str(int(max(30, deadline - t - 60))), timeout=max(30, deadline - t))
            out["prestart"] = {"s": round(time.monotonic() - t, 2), "rc": done.returncode,
                               "parallel": prestart_parallel,
                               "last_lines": (done.stdout + done.stderr).strip().splitlines()[-3:]}
            idle = [usage_of(processes_under(state / "home" / name)) for name in names]
            out["prestarted_idle"] = {"rss_mb": stats([u[0] for u in idle]), "uss_mb": stats([u[1] for u in idle]),
                                      "cpu_s": stats([u[2] for u in idle])}
            time.sleep(3)       # the last prestart lines' polling done
        cpu_before = {name: usage_of(processes_under(state / "home" / name))[2] for name in names}
        cpu_hub_before = hub_cpu(proc.pid, state / "home")
        out["load_before"] = load_average()
        busy0, total0 = machine_cpu()
        t0 = time.monotonic()
        threads = [threading.Thread(target=student, args=(base, name, password, t0, deadline, r))
                   for name, r in zip(names, results)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, deadline - time.monotonic()))
        window = time.monotonic() - t0
        busy1, total1 = machine_cpu()
        load = os.getloadavg()
        per_student = [usage_of(processes_under(state / "home" / name)) for name in names]
        cpu_hub = hub_cpu(proc.pid, state / "home") - cpu_hub_before
    done = [r["state_s"] for r in results if "state_s" in r]
    after_login = [u[2] - cpu_before[name] for name, u in zip(names, per_student) if u[2]]
    out.update({
        "load_after": [round(x, 2) for x in load],
        "machine": {"window_s": round(window, 1), "busy_cpu_s": round(busy1 - busy0, 1),
                    "busy_fraction": round((busy1 - busy0) / max(1e-9, total1 - total0), 2),
                    "students_cpu_s": round(sum(after_login), 1), "hub_proxy_cpu_s": round(cpu_hub, 1)},
        "rendered": len(done),
        "all_rendered_s": round(max(done), 2) if len(done) == n else None,
        "rendered_s": stats(done),
        "login_s": stats([r.get("login_s") for r in results]),
        "spawned_s": stats([r.get("spawned_s") for r in results]),
        "html_s": stats([r.get("html_s") for r in results]),
        "rss_mb_per_student": stats([u[0] for u in per_student if u[0]]),
        "uss_mb_per_student": stats([u[1] for u in per_student if u[1]]),
        "cpu_s_per_student": stats([u[2] for u in per_student if u[2]]),
        "cpu_s_per_student_after_login": stats(after_login),
        "hub_proxy_cpu_s": round(cpu_hub, 2),
        "errors": [f"{r['student']}: {r['error']}" for r in results if "error" in r],
        "students": results,
    })
    out["ok"] = len(done) == n and not out["errors"] and (not prestart or out["prestart"]["rc"] == 0)
    return out


def _fmt(st, unit="s"):
    return "-" if not st else f"{st['median']} {unit} (min {st['min']}, max {st['max']})"


def report(hub):
    n = hub["n"]
    print(f"== {hub['mode']}: {n} students log in at once ({hub['cpus']} CPUs, load before "
          f"{hub['load_before']}, after {hub['load_after']})")
    if "prestart" in hub:
        p = hub["prestart"]
        print(f"  prestart (before the logins, {p['parallel']} at a time): {p['s']} s, exit {p['rc']}; "
              f"idle class: {_fmt(hub['prestarted_idle']['rss_mb'], 'MB')} RSS, "
              f"{_fmt(hub['prestarted_idle']['cpu_s'], 'CPU-s')} per student")
    if hub.get("forkserver_preload_cpu_s") is not None:
        print(f"  fork server: {hub['forkserver_preload_cpu_s']} CPU-s to preload, once, when the hub started")
    print(f"  rendered (page + every widget state): {hub['rendered']}/{n}; all within {hub['all_rendered_s']} s "
          f"of the logins; per student {_fmt(hub['rendered_s'])}")
    print(f"  phases: logged in {_fmt(hub['login_s'])}; server up {_fmt(hub['spawned_s'])}; page {_fmt(hub['html_s'])}")
    print(f"  per student: {_fmt(hub['rss_mb_per_student'], 'MB')} RSS, {_fmt(hub['uss_mb_per_student'], 'MB')} USS; "
          f"{_fmt(hub['cpu_s_per_student'], 'CPU-s')} (server + kernels), "
          f"{_fmt(hub['cpu_s_per_student_after_login'], 'CPU-s')} after the logins")
    m = hub["machine"]
    print(f"  machine during the logins: {m['busy_cpu_s']} CPU-s busy in {m['window_s']} s "
          f"({m['busy_fraction']:.0%} of all CPUs; students {m['students_cpu_s']}, "
          f"hub and proxy {m['hub_proxy_cpu_s']}, the rest other processes)")
    for e in hub["errors"][:10]:
        print("  ERROR", e)


def run_classroom(n, timeout, json_path):
    """``make classroom``'s server share for the same N, from classroom_load (a process of its own)."""
    cmd = [sys.executable, "-m", "benchmarks.classroom_load", "-n", str(n), "--http-only", "--preheat",
           "--pool-size", str(n + 2), "--timeout", str(int(timeout)), "--json", str(json_path)]
    subprocess.run(cmd, cwd=ROOT, check=False)
    return json.loads(json_path.read_text()) if json_path.is_file() else {"error": "classroom_load wrote no result"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5, help=f"students logging in at once, 1..{MAX_STUDENTS} (default 5)")
    ap.add_argument("--mode", choices=["cold", "cold-nofork", "prestarted", "both", "all"], default="both",
                    help="cold logins, cold logins with HUB_FORKSERVER=0 (every server and kernel a fresh "
                         "Python), logins to servers started by deploy/hub/prestart.py, both = cold and "
                         "prestarted (default), all = the three")
    ap.add_argument("--prestart-parallel", type=int, default=4, help="prestart's --parallel (default 4)")
    ap.add_argument("--compare", action="store_true",
                    help="first run classroom_load --http-only --preheat with the same N (make classroom)")
    ap.add_argument("--timeout", type=float, default=600.0, help="hard limit per mode in seconds (default 600)")
    ap.add_argument("--json", type=Path, default=None, help="also write the JSON result to this file")
    ap.add_argument("--log", type=Path, default=None, help="the hub's log file (default: discarded; "
                                                          "with both modes, MODE is added to the name)")
    args = ap.parse_args(argv)
    if not 1 <= args.n <= MAX_STUDENTS:
        ap.error(f"-n must be between 1 and {MAX_STUDENTS}")
    if not 30 <= args.timeout <= 1800:
        ap.error("--timeout must be between 30 and 1800 seconds")
    if not (ROOT / "deploy" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        ap.error("the hub is not installed: run `make hub` once (or make .venv/.hub-installed)")
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_before": load_average()}
    if args.compare:
        out["classroom"] = run_classroom(args.n, args.timeout, Path(tempfile.mkdtemp()) / "classroom.json")
    modes = {"both": ["cold", "prestarted"], "all": ["cold-nofork", "cold", "prestarted"]}.get(args.mode, [args.mode])
    for mode in modes:
        log = args.log
        if log is not None and len(modes) > 1:
            log = log.with_name(f"{log.stem}-{mode}{log.suffix}")
        out[mode] = run_hub(args.n, args.timeout, log, prestart=mode == "prestarted",
                            prestart_parallel=args.prestart_parallel, forkserver=mode != "cold-nofork")
        report(out[mode])
    if args.compare:
        c = out["classroom"]
        print(f"== make classroom, same N, same run: widget states of all {c.get('n')} within {c.get('state_s_max')} s "
              f"(median {c.get('state_s_median')} s), kernel {c.get('kernel_rss_mb_median')} MB RSS")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({m: {k: v for k, v in out[m].items() if k != "students"} for m in modes}))
    return 0 if all(out[m]["ok"] for m in modes) else 1


if __name__ == "__main__":
    sys.exit(main())
