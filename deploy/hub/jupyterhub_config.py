"""JupyterHub for a course on one machine: ``make hub`` (http://127.0.0.1:8000).

What a student sees: a login page; any user name with the class password; then the start page
in Voila, in their own single-user server. What a teacher gets: an admin user (``HUB_ADMIN``)
with the hub's admin page (``/hub/admin``: who is on, stop or start servers).

Settings come from the environment (``make hub`` passes them through):

``HUB_PASSWORD``        the class password (8+ characters). Unset: one is generated once, kept in
                        the state folder (mode 0600) and printed at every start.
``HUB_ADMIN``           the admin's user name (optional). The admin logs in with
                        ``HUB_ADMIN_PASSWORD`` (32+ characters; generated and printed like the class
                        password when unset), never with the class password.
``HUB_STATE_DIR``       where the hub keeps its database, secrets and the students' home folders
                        (default ``.hub/`` in the repository).
``HUB_PORT``            the public port (default 8000); the hub binds 127.0.0.1 only.
``HUB_IDLE_TIMEOUT``    seconds before an idle student's server is stopped (default 3600).
``HUB_MAX_SERVERS``     how many servers may run at once (default 60; the 61st student is told to
                        wait instead of the machine running out of memory).
``HUB_JUPYTERLAB``      ``1``: the students' servers also load JupyterLab (``/user/<name>/lab``) and its
                        terminals. Unset (the default) they load only what the explorers need: Voila,
                        the project's two extensions and the kernels (docs/hub.md, "The hub at 9:00").
``HUB_PRESTART_TOKEN``  the teacher's API token for ``make hub-prestart`` (starting a class's servers
                        before the lesson through the hub's REST API). Unset: one is generated once and
                        kept in the state folder (``prestart_token``, mode 0600), where the command
                        reads it.
``HUB_CLASS_PORT``      the class service's loopback port (default 8868); its class board is at
                        ``/services/class/board`` (issue 27).
``HUB_FORKSERVER``      ``0``: start every student's server and kernel as a fresh Python process.
                        Unset (the default) they are forked from a process that has imported them
                        already (explorer/serving/forkserver.py; docs/hub.md, "The hub at 9:00").

Everything here is JupyterHub's own: its SharedPasswordAuthenticator, its
SimpleLocalProcessSpawner (each student's server is a local process of the user running the hub,
with a home folder of its own: no system accounts are needed, but there is no isolation between
students' processes either — a course that needs isolation runs the Kubernetes set-up in
``deploy/k8s/``), the idle culler service (jupyterhub-idle-culler) and the proxy
(configurable-http-proxy, installed into ``deploy/hub/node_modules`` by ``make hub``).

Each student's server keeps Voila's preheated kernels of its own (the start page and the RBM
explorer, built at low priority as soon as the server starts: explorer.serving.server_pool), and
``make hub-prestart`` starts a class's servers before the lesson (deploy/hub/prestart.py);
docs/hub.md has the measurements.
"""

import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STATE = Path(os.environ.get("HUB_STATE_DIR") or ROOT / ".hub").resolve()
STATE.mkdir(parents=True, exist_ok=True, mode=0o700)
HOMES = STATE / "home"
PORT = int(os.environ.get("HUB_PORT") or 8000)
# Kernels talk over IPC sockets (no port collisions when a class opens the explorer at once), and a
# socket path must fit in 107 bytes: the students' runtime folders live under a short path.
RUNTIME = Path(tempfile.gettempdir()) / f"fee-hub-{hashlib.sha256(str(STATE).encode()).hexdigest()[:8]}"
BIN = Path(sys.executable).parent


def _secret(env_name, file_name, nbytes, what):
    """A password from the environment, or one generated once and kept in the state folder."""
    value = os.environ.get(env_name, "")
    if value:
        return value, False
    path = STATE / file_name
    if path.is_file():
        return path.read_text().strip(), True
    value = secrets.token_urlsafe(nbytes)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value, True


class_password, generated = _secret("HUB_PASSWORD", "class_password", 9, "class password")
if len(class_password) < 8:
    sys.exit("HUB_PASSWORD must have at least 8 characters")
if generated:
    print(f"[make hub] class password (HUB_PASSWORD unset; kept in {STATE / 'class_password'}): {class_password}",
          file=sys.stderr, flush=True)

# -- who may log in ---------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = class_password
c.Authenticator.allow_all = True            # any user name, with the class password
# one folder per user name: keep names to what a path and a URL carry unchanged
c.Authenticator.username_pattern = r"^[a-z0-9][a-z0-9._-]{0,31}$"
admin = os.environ.get("HUB_ADMIN", "").strip().lower()
if admin:
    admin_password, generated = _secret("HUB_ADMIN_PASSWORD", "admin_password", 32, "admin password")
    if len(admin_password) < 32:
        sys.exit("HUB_ADMIN_PASSWORD must have at least 32 characters")
    c.Authenticator.admin_users = {admin}
    c.SharedPasswordAuthenticator.admin_password = admin_password
    if generated:
        print(f"[make hub] admin {admin!r} logs in with (kept in {STATE / 'admin_password'}): {admin_password}",
              file=sys.stderr, flush=True)

# -- the hub and its proxy, loopback only -----------------------------------------------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("HUB_API_PORT") or 8081)
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(os.environ.get('HUB_PROXY_API_PORT') or 8001)}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.cleanup_servers = True         # stopping the hub stops every student's server

# -- each student's server --------------------------------------------------------------------
with_jupyterlab = os.environ.get("HUB_JUPYTERLAB", "").strip().lower() in ("1", "true", "yes")
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
# jupyterhub-singleuser, minus an import nobody uses (1.5 CPU-s of every start: deploy/hub/singleuser.py)
c.Spawner.cmd = [sys.executable, str(HERE / "singleuser.py")]
if os.geteuid() == 0:   # a container or a lab machine run as root: Jupyter refuses root otherwise
    c.Spawner.args = ["--allow-root"]
# after login: the start page, in Voila (the notebooks are copied into the student's home)
c.Spawner.default_url = "/voila/render/notebooks/index.ipynb"
c.Spawner.environment = {
    # Voila's settings for the hub (template, no sources, kernel culling): deploy/hub/jupyter
    # What each server loads: Voila, explorer.serving's extensions and the kernels; JupyterLab too
    # with HUB_JUPYTERLAB=1 (deploy/hub/jupyterlab enables it over deploy/hub/jupyter)
    "JUPYTER_CONFIG_PATH": os.pathsep.join(
        [str(HERE / "jupyterlab")] * with_jupyterlab + [str(HERE / "jupyter")]),
    # one BLAS thread per kernel: dozens of kernels share the cores (measured: docs/classroom.md)
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "JUPYTER_RUNTIME_DIR": lambda spawner: str(RUNTIME / spawner.user.name),
}
c.Spawner.start_timeout = 120               # 30 students logging in at once on 2 cores
c.Spawner.http_timeout = 120
# Advertised to the server (MEM_LIMIT / CPU_LIMIT); a local process spawner cannot enforce them,
# KubeSpawner does (deploy/k8s/config.yaml).
c.Spawner.mem_limit = os.environ.get("HUB_MEM_LIMIT", "1G")
c.Spawner.cpu_limit = float(os.environ.get("HUB_CPU_LIMIT") or 1.0)
# limits the hub itself enforces
c.JupyterHub.active_server_limit = int(os.environ.get("HUB_MAX_SERVERS") or 60)
c.JupyterHub.concurrent_spawn_limit = 40


def copy_notebooks(spawner):
    """A student's own copy of the notebooks: edits in JupyterLab change no one else's."""
    home = Path(spawner.home_dir)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "notebooks"
    (RUNTIME / spawner.user.name).mkdir(parents=True, exist_ok=True, mode=0o700)
    if not target.exists():
        shutil.copytree(ROOT / "notebooks", target,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))


c.Spawner.pre_spawn_hook = copy_notebooks

# -- the fork server: students' servers and kernels start as copies of a preloaded Python ---------
# A managed service (explorer/serving/forkserver.py) that imports Jupyter Server, Voila, JupyterHub's
# single-user code, ipykernel, numpy, Bokeh, ipywidgets and the explorer once; deploy/hub/singleuser.py
# and the kernel spec below ask it for a fork instead of importing all that again (~2 CPU-s for each
# server and each kernel). Its socket lies in the runtime folder, which only the hub's user can enter.
# Without it (HUB_FORKSERVER=0, or while it is down) everything starts the usual way.
use_forkserver = os.environ.get("HUB_FORKSERVER", "").strip().lower() not in ("0", "false", "no")
if use_forkserver:
    RUNTIME.mkdir(parents=True, exist_ok=True, mode=0o700)
    RUNTIME.chmod(0o700)
    fork_socket = RUNTIME / "forkserver.sock"
    # the kernel spec "python3" of the students' servers: ipykernel, through the fork server
    kernels = STATE / "share" / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True, exist_ok=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "explorer.serving.forkserver", "kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": True},
    }, indent=1) + "\n")
    c.Spawner.environment["JUPYTER_PATH"] = str(STATE / "share" / "jupyter")
    c.Spawner.environment["EXPLORER_FORKSERVER"] = str(fork_socket)

# -- the idle culler: servers nobody has used for HUB_IDLE_TIMEOUT seconds are stopped ----------
idle_timeout = int(os.environ.get("HUB_IDLE_TIMEOUT") or 3600)
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={idle_timeout}",
                "--cull-every=60"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]

# -- the class service: live predictions and "follow the teacher" (issue 27) ---------------------
# A managed service (explorer/serving/class_service.py): the hub starts it, proxies
# /services/class/ to it (the class board: /services/class/board, logged in through the hub's
# OAuth) and it keeps the class in the state folder. It needs no API scopes of its own: the hub's
# answer for a user's token (what it asks to identify a caller) carries the name, the admin flag
# and the groups. Teachers are the hub's admins and the members of the group "teachers". With
# make hub's shared class password anyone may log in under any non-admin name, so here the
# teacher is HUB_ADMIN; put people in "teachers" only with an authenticator that proves who they are.
class_port = int(os.environ.get("HUB_CLASS_PORT") or 8868)
c.JupyterHub.services.append({
    "name": "class",
    "url": f"http://127.0.0.1:{class_port}",
    "command": [sys.executable, "-m", "explorer.serving.class_service", "--hub",
                "--db", str(STATE / "class.sqlite")],
    "cwd": str(ROOT),
    "oauth_no_confirm": True,
})
if use_forkserver:
    c.JupyterHub.services.append({
        "name": "forkserver",
        "command": [sys.executable, "-m", "explorer.serving.forkserver", "serve", "--socket", str(fork_socket)],
        "cwd": str(STATE),
        # what the forked processes expect when their modules are imported (one BLAS thread each)
        "environment": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    })
c.JupyterHub.load_groups = {"teachers": {"users": []}}      # created empty; only ever adds members
# Every user may use the class service: in the browser (OAuth) and from their kernels, whose
# server token gets this one scope on top of the default server role's.
c.JupyterHub.extra_user_scopes = {"access:services!service=class"}
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", "access:services!service=class"]
# Kernels reach the service directly on the loopback (not through the proxy), with that token.
c.Spawner.environment["EXPLORER_CLASS_URL"] = f"http://127.0.0.1:{class_port}/services/class/"
c.Spawner.environment["EXPLORER_CLASS_HUB"] = "1"

# -- the teacher's API token: start a class's servers before the lesson (make hub-prestart) -----
# An external service (a token, no process): it may create users, start, stop and read their
# servers and ask a server whether its explorer is preheated (access:servers), nothing else (not
# the admin's other rights: tokens, groups, the hub's shutdown).
prestart_token, generated = _secret("HUB_PRESTART_TOKEN", "prestart_token", 32, "prestart token")
if len(prestart_token) < 32:
    sys.exit("HUB_PRESTART_TOKEN must have at least 32 characters")
if generated:
    print(f"[make hub] the teacher's API token for make hub-prestart is kept in {STATE / 'prestart_token'}",
          file=sys.stderr, flush=True)
c.JupyterHub.services.append({"name": "prestart", "api_token": prestart_token})
c.JupyterHub.load_roles.append({
    "name": "prestart",
    "scopes": ["list:users", "admin:users", "admin:servers", "access:servers"],
    "services": ["prestart"],
})
