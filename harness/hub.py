"""A JupyterHub for tests and benchmarks: the project's ``deploy/hub/jupyterhub_config.py`` on
free loopback ports.

Everything it starts is stopped at the end: the hub by its process group, and the students'
single-user servers (JupyterHub starts each in a session of its own) by their working folder,
which lies inside the hub's temporary state folder — only processes this harness caused.

Shared by ``tests/browser/test_browser_hub.py`` and ``benchmarks/hub_load.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from harness.voila import ROOT, free_port, stop_process_group, wait_until_answering

HUB_CONFIG = ROOT / "deploy" / "hub" / "jupyterhub_config.py"
PROXY = ROOT / "deploy" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
PRESTART = ROOT / "deploy" / "hub" / "prestart.py"


def processes_under(folder):
    """Processes whose working folder lies inside ``folder`` (a student's server and kernels)."""
    import psutil

    folder = str(Path(folder).resolve())
    found = []
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if p.cwd().startswith(folder):
                found.append(p)
    return found


def stop_servers_under(folder, timeout=15):
    import psutil

    procs = processes_under(folder)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()


@contextlib.contextmanager
def hub_server(state_dir, password, admin=None, admin_password=None, log_path=None, timeout=120, env=None):
    """Run the project's hub with its state in ``state_dir``; yields ``(base_url, Popen)``.

    The teacher's API token (what ``make hub-prestart`` uses) is in ``state_dir/prestart_token``
    once the hub answers (:func:`prestart_token`)."""
    port = free_port()
    environ = {**os.environ, "HUB_STATE_DIR": str(state_dir), "HUB_PASSWORD": password,
               "HUB_PORT": str(port), "HUB_API_PORT": str(free_port()), "HUB_PROXY_API_PORT": str(free_port()),
               **(env or {})}
    if admin:
        environ["HUB_ADMIN"] = admin
    if admin_password:
        environ["HUB_ADMIN_PASSWORD"] = admin_password
    hub = Path(sys.executable).with_name("jupyterhub")
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([str(hub), "-f", str(HUB_CONFIG)], cwd=ROOT, env=environ, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_until_answering(proc, base + "hub/login", timeout, log_path, "jupyterhub")
        yield base, proc
    finally:
        # the hub stops its students' servers on SIGTERM (cleanup_servers); what is left is killed
        stop_process_group(proc, timeout=30)
        stop_servers_under(state_dir)
        if hasattr(log, "close"):
            log.close()


def prestart_token(state_dir):
    """The teacher's API token the hub keeps in its state folder (``make hub-prestart`` reads it)."""
    return (Path(state_dir) / "prestart_token").read_text().strip()


def run_prestart(base, state_dir, names, *extra, timeout=600):
    """``deploy/hub/prestart.py`` for ``names`` (a roster file written into ``state_dir``), as a
    teacher runs it; returns the CompletedProcess (stdout and stderr as text)."""
    roster = Path(state_dir) / "roster.txt"
    roster.write_text("".join(f"{n}\n" for n in names))
    return subprocess.run([sys.executable, str(PRESTART), str(roster), "--hub", base, *extra],
                          cwd=ROOT, env={**os.environ, "HUB_STATE_DIR": str(state_dir)},
                          capture_output=True, text=True, timeout=timeout)


def api(base, token, path, method="GET", body=None, timeout=60):
    """One call to the hub's REST API with ``token``; returns the decoded JSON (or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + "hub/api/" + path, data=data, method=method,
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None
