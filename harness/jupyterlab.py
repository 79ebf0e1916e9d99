"""Start the pip-installed JupyterLab offline on a free loopback port, for the browser tests.

Nothing from the user's home leaks in: a fresh temporary JUPYTER_CONFIG_DIR / JUPYTER_DATA_DIR /
JUPYTER_RUNTIME_DIR / IPYTHONDIR, user-settings and workspaces folder. Nothing asks the internet:

- server side: ``LabApp.news_url = None`` (no announcement feed), ``LabApp.check_for_updates_class =
  jupyterlab.NeverCheckForUpdate`` (no PyPI version check), ``LabApp.extension_manager = "readonly"``
  (no PyPI extension listing); ``labconfig/page_config.json``: ``buildCheck: false`` (no rebuild check);
- front end (user settings): ``@jupyterlab/apputils-extension:notification`` ``fetchNews: "false"``
  and ``checkForUpdates: false`` (also stops the "get notified about news?" toast that would cover
  the notebook), and ``@jupyterlab/docmanager-extension:plugin`` ``autosave: false``.

The served folder is a temporary copy of ``notebooks/``: running a notebook there can never write
outputs back into the committed notebooks (they are committed without outputs).

Import it as ``harness.jupyterlab``: never put tests/browser itself on ``sys.path``, where
this file would shadow the installed ``jupyterlab_server`` package.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness.voila import ROOT, free_port, stop_process_group

NOTEBOOKS = ROOT / "notebooks"

#: Written to ``<JUPYTER_CONFIG_DIR>/jupyter_server_config.json`` (JSON ``null`` is Python's None,
#: which the command line cannot express for ``news_url``).
SERVER_CONFIG = {
    "LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "extension_manager": "readonly",
    },
}

#: Written to ``<JUPYTER_CONFIG_DIR>/labconfig/page_config.json``: no "is a rebuild needed?" check
#: on every page load (it is local, but costs several CPU-seconds per page on a 2-core machine).
PAGE_CONFIG = {"buildCheck": False, "buildAvailable": False}

#: JupyterLab user settings (``<user-settings>/<package>/<plugin>.jupyterlab-settings``).
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


@dataclass
class Lab:
    """A running JupyterLab: ``base`` is ``http://127.0.0.1:PORT/``; ``root`` the served folder."""

    base: str
    token: str
    root: Path
    log_path: Path | None
    proc: subprocess.Popen

    def url(self, path=""):
        """``base + path`` with the token (the first page sets the login cookie)."""
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    def api(self, path, method="GET"):
        """JSON answer of the server's REST API (``api/kernels``, ``api/sessions``, ...)."""
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, n=3000):
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path else ""


def _jupyter_lab_command():
    lab = Path(sys.executable).with_name("jupyter-lab")
    return [str(lab)] if lab.exists() else [sys.executable, "-m", "jupyterlab"]


def _write_settings(home):
    config, data, runtime, ipython = (home / d for d in ("config", "data", "runtime", "ipython"))
    settings, workspaces, served = home / "user-settings", home / "workspaces", home / "notebooks"
    for d in (config, data, runtime, ipython, settings, workspaces):
        d.mkdir(parents=True)
    (config / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG, indent=1))
    (config / "labconfig").mkdir()
    (config / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG, indent=1))
    for name, values in USER_SETTINGS.items():
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=1))
    shutil.copytree(NOTEBOOKS, served, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return config, data, runtime, ipython, settings, workspaces, served


@contextlib.contextmanager
def jupyterlab_server(log_path=None, timeout=120):
    """JupyterLab serving a temporary copy of ``notebooks/``; yields a :class:`Lab`.

    Stopped by SIGTERM to its own process group (it started the kernels), then waited for;
    SIGKILL only if it has not exited after 20 s. The temporary folder is removed afterwards.
    """
    home = Path(tempfile.mkdtemp(prefix="explorer-jupyterlab-"))
    config, data, runtime, ipython, settings, workspaces, served = _write_settings(home)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(data), JUPYTER_RUNTIME_DIR=str(runtime),
               IPYTHONDIR=str(ipython), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
               # one BLAS thread per kernel, as `make app` runs the kernels
               OPENBLAS_NUM_THREADS="1")
    for leaky in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "QUERY_STRING"):
        env.pop(leaky, None)
    cmd = [*_jupyter_lab_command(), "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--ServerApp.port_retries=0", "--ServerApp.allow_root=True", f"--ServerApp.root_dir={served}",
           f"--IdentityProvider.token={token}",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}"]
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    # cwd: the temporary folder, so this test folder (whose jupyterlab_server.py shadows the real
    # package) is never on the server's import path
    proc = subprocess.Popen(cmd, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}/", token, served, Path(log_path) if log_path else None, proc)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {proc.returncode}: {lab.log_tail()}")
            try:
                lab.api("api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer within {timeout} s: {lab.log_tail()}") from None
                time.sleep(0.2)
        yield lab
    finally:
        stop_process_group(proc, timeout=20)
        if hasattr(log, "close"):
            log.close()
        shutil.rmtree(home, ignore_errors=True)
