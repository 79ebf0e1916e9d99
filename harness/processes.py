"""Processes a load benchmark starts, and what they cost: stopped by PID (never by name), a hard
timeout, Voila started as ``make app`` starts it, psutil accounting of the server, its kernels
and the browsers (benchmarks/classroom_load.py, benchmarks/hub_load.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from .voila import KERNEL_ENV, ROOT, VOILA_COMMAND

#: The benchmark's name in the messages of the watchdog and the signal handler.
NAME = os.path.splitext(os.path.basename(sys.argv[0]))[0] if sys.argv and sys.argv[0] else "benchmark"

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
        print(f"{NAME}: hard timeout ({seconds:.0f} s) - killing Voila and browsers", file=sys.stderr,
              flush=True)
        with contextlib.suppress(Exception):
            CLEANUP.kill_all(hard=True)
        os._exit(2)

    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def stop_on_signal(signum, frame):
    """Ctrl-C / SIGTERM: kill what this script started at once (Playwright may be blocked on
    pages that will never answer), then exit."""
    print(f"{NAME}: signal {signum} - stopping Voila and browsers", file=sys.stderr, flush=True)
    with contextlib.suppress(Exception):
        CLEANUP.kill_all(hard=True)
    os._exit(130)


# ------------------------------------------------------------------ Voila
def start_voila(notebook_dir, port, extra_args, log_path):
    # make app's server (explorer.serving.voila_app: Voila with compression, BokehJS cached)
    cmd = [*VOILA_COMMAND, str(notebook_dir), "--no-browser",
           f"--port={port}", "--Voila.ip=127.0.0.1", *extra_args]
    CLEANUP.voila_log = open(log_path, "w") if log_path else subprocess.DEVNULL
    # cwd = repository root: Voila reads the repo's voila.json (culling, sources and tracebacks hidden)
    # as `make app` / `make classroom` start it (Makefile: KERNEL_ENV)
    env = {**os.environ, **KERNEL_ENV}
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
