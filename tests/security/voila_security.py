"""Helpers for the security tests: Voila started with the repository's own settings (voila.json).

Browser tests must run in CI (CI=true): a missing Chromium fails there; elsewhere they are
skipped when Chromium is not installed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from voila_server import chromium_path, free_port, launch_browser  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"


def default_notebook():
    """The explorer when it exists, else the static free-energy notebook."""
    nb = NOTEBOOKS / "rbm_explorer.ipynb"
    return nb if nb.exists() else NOTEBOOKS / "rbm_free_energies.ipynb"


@contextlib.contextmanager
def serve(notebook_dir, log_path, *extra_args, timeout=60):
    """Voila on a free loopback port serving ``notebook_dir``.

    Runs in the repository root, so Voila reads the repo's voila.json (tracebacks hidden,
    sources stripped, culling); ``extra_args`` override it. Yields (base_url, Popen).
    Stopped by its own process group (it started the kernels), never by name.
    """
    port = free_port()
    voila = Path(sys.executable).with_name("voila")
    cmd = [str(voila) if voila.exists() else "voila", str(notebook_dir), "--no-browser",
           f"--port={port}", "--Voila.ip=127.0.0.1", *extra_args]
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"voila exited with code {proc.returncode}: {Path(log_path).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"voila did not answer within {timeout} s") from None
                time.sleep(0.2)
        yield base, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
