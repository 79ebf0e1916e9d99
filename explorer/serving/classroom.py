"""``make classroom``: the class service beside Voila (issue 27), one command for the teacher.

Run as ``python -m explorer.serving.classroom NOTEBOOKS [voila options]``. It

1. starts the class service (:mod:`explorer.serving.class_service`) on ``CLASS_PORT`` (8867) with
   its SQLite file ``CLASS_DB`` (``.classroom/class.sqlite``: a restart loses nothing) and the
   teacher's secret ``CLASS_TEACHER_SECRET`` (generated when unset, printed once, like
   ``HUB_PASSWORD``), and waits until it answers;
2. prints the teacher's links (the board, and the start page as the teacher: its cookie makes the
   teacher's explorers publish their views);
3. runs Voila (:mod:`explorer.serving.voila_app`) with ``EXPLORER_CLASS_URL`` in the kernels'
   environment, so students' pages get the "Follow the teacher" switch and the lessons record
   predictions. The service stops with Voila.

Without this (``make app``) there is no class service and none of it shows.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_PORT = 8867
DEFAULT_DB = Path(".classroom") / "class.sqlite"


def start_service(port, db, secret, ip="127.0.0.1", timeout=30.0):
    """Start the class service as a child process and wait until ``/healthz`` answers; returns it."""
    env = {**os.environ, "CLASS_TEACHER_SECRET": secret}
    proc = subprocess.Popen([sys.executable, "-m", "explorer.serving.class_service", "--ip", ip,
                             "--port", str(port), "--db", str(db)], env=env)
    url = f"http://{ip}:{port}/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the class service did not start (exit code {proc.returncode}); see above")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return proc
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"the class service did not answer at {url} within {timeout:.0f} s")


def stop_service(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    port = int(os.environ.get("CLASS_PORT", DEFAULT_PORT))
    ip = os.environ.get("CLASS_IP", "127.0.0.1")
    db = Path(os.environ.get("CLASS_DB", DEFAULT_DB))
    secret = os.environ.get("CLASS_TEACHER_SECRET") or secrets.token_urlsafe(24)
    proc = start_service(port, db, secret, ip=ip)
    atexit.register(stop_service, proc)
    voila_port = next((a.split("=", 1)[1] for a in argv if a.startswith("--port=")), "8866")
    os.environ["EXPLORER_CLASS_URL"] = f"http://{ip}:{port}/"
    print(f"Class service: http://{ip}:{port}/  (answers and the teacher's views kept in {db})\n"
          f"Teacher's board (keep the link to yourself: it carries the teacher's secret):\n"
          f"  http://{ip}:{port}/board?secret={secret}\n"
          f"Open the board once in the browser you teach from, then the explorers at "
          f"http://{ip}:{voila_port}/ publish your view to the class.", flush=True)
    from .voila_app import main as voila_main

    sys.argv = [sys.argv[0], *argv]
    try:
        voila_main()
    finally:
        stop_service(proc)


if __name__ == "__main__":
    main()
