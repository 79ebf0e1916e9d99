"""The hub's settings (deploy/hub/jupyterhub_config.py), loaded as JupyterHub loads them."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config.loader import PyFileConfigLoader

from harness.hub import HUB_CONFIG
from harness.voila import ROOT


@pytest.fixture
def load(monkeypatch, tmp_path):
    """Load the config with a given environment; returns the traitlets Config."""
    for name in ("HUB_PASSWORD", "HUB_ADMIN", "HUB_ADMIN_PASSWORD", "HUB_PORT", "HUB_IDLE_TIMEOUT",
                 "HUB_MAX_SERVERS", "HUB_JUPYTERLAB", "HUB_PRESTART_TOKEN", "HUB_FORKSERVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path / "state"))

    def _load(**env):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        return PyFileConfigLoader(HUB_CONFIG.name, path=str(HUB_CONFIG.parent)).load_config()
    return _load


def test_an_unset_class_password_is_generated_once_kept_private_and_printed(load, tmp_path, capsys):
    first = load().SharedPasswordAuthenticator.user_password
    printed = capsys.readouterr().err
    second = load().SharedPasswordAuthenticator.user_password
    assert first == second and len(first) >= 8
    kept = tmp_path / "state" / "class_password"
    assert kept.read_text().strip() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert first in printed


def test_the_class_password_comes_from_the_environment(load, tmp_path, capsys):
    c = load(HUB_PASSWORD="our-class-2026")
    assert c.SharedPasswordAuthenticator.user_password == "our-class-2026"
    assert "our-class-2026" not in capsys.readouterr().err      # a chosen password is not printed
    assert not (tmp_path / "state" / "class_password").exists()


def test_a_short_class_password_is_refused_with_one_line(load):
    with pytest.raises(SystemExit, match="at least 8 characters"):
        load(HUB_PASSWORD="short")


def test_the_admin_needs_the_admin_password(load):
    c = load(HUB_PASSWORD="our-class-2026", HUB_ADMIN="Teacher")
    assert c.Authenticator.admin_users == {"teacher"}
    assert len(c.SharedPasswordAuthenticator.admin_password) >= 32
    assert c.SharedPasswordAuthenticator.admin_password != "our-class-2026"
    with pytest.raises(SystemExit, match="at least 32 characters"):
        load(HUB_ADMIN_PASSWORD="too-short")


@pytest.mark.parametrize("name, ok", [("alice", True), ("bob.smith-2", True), ("../etc", False), ("a/b", False),
                                      ("", False), ("x" * 33, False), (".hidden", False)])
def test_user_names_are_safe_as_folder_names_and_urls(load, name, ok):
    pattern = load(HUB_PASSWORD="our-class-2026").Authenticator.username_pattern
    assert bool(re.match(pattern, name)) is ok


def test_students_land_on_the_start_page_in_voila_with_the_offline_template(load):
    c = load(HUB_PASSWORD="our-class-2026")
    assert c.Spawner.default_url == "/voila/render/notebooks/index.ipynb"
    assert (ROOT / "notebooks" / "index.ipynb").is_file()
    config_dir = Path(c.Spawner.environment["JUPYTER_CONFIG_PATH"])
    assert json.loads((config_dir / "voila.json").read_text())["VoilaConfiguration"]["template"] == "explorer"
    # loopback only, the culler as a hub service with only the scopes it needs
    assert c.JupyterHub.bind_url.startswith("http://127.0.0.1:")
    services = {s["name"]: s for s in c.JupyterHub.services}
    culler, prestart, service = services["idle-culler"], services["prestart"], services["class"]
    # the culler, the teacher's token (no process) and the class service (issue 27)
    assert "jupyterhub_idle_culler" in culler["command"] and "command" not in prestart
    assert "explorer.serving.class_service" in service["command"] and "--hub" in service["command"]
    assert c.Spawner.environment["EXPLORER_CLASS_URL"].endswith("/services/class/")
    assert set(c.JupyterHub.load_roles[0]["scopes"]) == {"list:users", "read:users:activity", "read:servers",
                                                        "delete:servers"}


def test_each_student_gets_a_copy_of_the_notebooks_and_a_short_runtime_folder(load, tmp_path):
    c = load(HUB_PASSWORD="our-class-2026")
    home = tmp_path / "home" / "alice"
    spawner = SimpleNamespace(home_dir=str(home), user=SimpleNamespace(name="a" * 32))
    c.Spawner.pre_spawn_hook(spawner)
    assert (home / "notebooks" / "rbm_explorer.ipynb").is_file()
    (home / "notebooks" / "index.ipynb").write_text("edited")
    c.Spawner.pre_spawn_hook(spawner)               # a second login keeps the student's edits
    assert (home / "notebooks" / "index.ipynb").read_text() == "edited"
    runtime = c.Spawner.environment["JUPYTER_RUNTIME_DIR"](spawner)
    # a kernel's IPC socket path (runtime/kernel-<uuid>-ipc-N) must fit in 107 bytes
    try:
        assert len(runtime) + len("/kernel-00000000-0000-0000-0000-000000000000-ipc-1") <= 107
        assert Path(runtime).is_dir()
    finally:
        shutil.rmtree(Path(runtime).parent)


def test_students_servers_and_kernels_start_through_the_fork_server(load, tmp_path):
    """By default the hub runs the fork server (explorer/serving/forkserver.py) as a managed service;
    the students' servers reach it through deploy/hub/singleuser.py, their kernels through the kernel
    spec "python3" the hub writes; its socket lies in a folder only the hub's user may enter."""
    c = load(HUB_PASSWORD="our-class-2026")
    services = {s["name"]: s for s in c.JupyterHub.services}
    sock = Path(c.Spawner.environment["EXPLORER_FORKSERVER"])
    try:
        fork = services["forkserver"]
        assert fork["command"] == [sys.executable, "-m", "explorer.serving.forkserver", "serve", "--socket",
                                   str(sock)]
        assert fork["environment"] == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        # the forked kernels expect what the students' servers give their kernels
        assert {k: c.Spawner.environment[k] for k in fork["environment"]} == fork["environment"]
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700 and len(str(sock)) < 100
        spec = Path(c.Spawner.environment["JUPYTER_PATH"]) / "kernels" / "python3" / "kernel.json"
        assert json.loads(spec.read_text())["argv"] == [sys.executable, "-m", "explorer.serving.forkserver",
                                                        "kernel", "-f", "{connection_file}"]
        assert c.Spawner.cmd == [sys.executable, str(ROOT / "deploy" / "hub" / "singleuser.py")]
    finally:
        shutil.rmtree(sock.parent, ignore_errors=True)


def test_hub_forkserver_0_starts_everything_the_usual_way(load):
    c = load(HUB_PASSWORD="our-class-2026", HUB_FORKSERVER="0")
    assert "forkserver" not in {s["name"] for s in c.JupyterHub.services}
    assert "EXPLORER_FORKSERVER" not in c.Spawner.environment
    assert "JUPYTER_PATH" not in c.Spawner.environment


def test_students_servers_compress_and_cache_as_make_app_does(load):
    """The single-user servers read deploy/hub/jupyter (make hub's Spawner environment, the
    Kubernetes image's JUPYTER_CONFIG_PATH): compressed responses and websocket, the extension that
    serves BokehJS and marks Voila's extension scripts immutable, and the template's prefetch list.
    tests/serving/test_static_files.py checks the responses of a server with these settings."""
    c = load(HUB_PASSWORD="our-class-2026")
    config_dir = Path(c.Spawner.environment["JUPYTER_CONFIG_PATH"])
    server = json.loads((config_dir / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["tornado_settings"]["compress_response"] is True
    assert server["ServerApp"]["websocket_compression_options"] == {}
    assert server["ServerApp"]["jpserver_extensions"]["explorer.serving.static_files"] is True
    assert server["VoilaExporter"]["filters"] == \
        json.loads((ROOT / "voila.json").read_text())["VoilaExporter"]["filters"]
    # Kubernetes: the image carries the same folder and points the servers at it
    k8s = (ROOT / "deploy" / "k8s" / "config.yaml").read_text()
    assert "JUPYTER_CONFIG_PATH: /opt/explorer/deploy/hub/jupyter" in k8s
    assert "COPY deploy/hub/jupyter ./deploy/hub/jupyter" in (ROOT / "deploy" / "k8s" / "Dockerfile").read_text()


# What a Jupyter server started with JUPYTER_CONFIG_PATH enables, resolved as jupyter_server does it
# (its config files, then every config folder's jupyter_server_config.d merged on keys).
_ENABLED = """
import json, sys
sys.modules["rfc3987_syntax"] = None
from jupyter_server.serverapp import ServerApp
app = ServerApp()
app.load_config_file()
app.find_server_extensions()
print(json.dumps({"extensions": sorted(k for k, v in app.jpserver_extensions.items() if v),
                  "kernel_manager_class": app.config.ServerApp.kernel_manager_class}))
"""


def server_settings(config_path):
    env = {**os.environ, "JUPYTER_CONFIG_PATH": config_path}
    env.pop("JUPYTER_CONFIG_DIR", None)
    out = subprocess.run([sys.executable, "-c", _ENABLED], env=env, capture_output=True, text=True, timeout=120,
                         check=True, cwd=ROOT / "deploy")
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_students_servers_load_only_what_the_explorers_need(load):
    """By default a student's server loads Voila, explorer.serving's two extensions and the pooled
    kernel manager: none of JupyterLab, its language server, terminals or the classic notebook
    (each costs CPU at every server start: docs/hub.md)."""
    c = load(HUB_PASSWORD="our-class-2026")
    path = c.Spawner.environment["JUPYTER_CONFIG_PATH"]
    assert path == str(ROOT / "deploy" / "hub" / "jupyter")
    settings = server_settings(path)
    assert settings["extensions"] == ["explorer.serving.server_pool", "explorer.serving.static_files",
                                      "voila.server_extension"]
    assert settings["kernel_manager_class"] == "explorer.serving.server_pool.ServerPoolKernelManager"
    server = json.loads((Path(path) / "jupyter_server_config.json").read_text())
    disabled = {k for k, v in server["ServerApp"]["jpserver_extensions"].items() if v is False}
    assert {"jupyterlab", "jupyter_lsp", "jupyter_server_terminals", "notebook", "nbclassic",
            "notebook_shim"} <= disabled
    # one preheated kernel per page a student meets first, not refilled (one student per server)
    pools = server["ServerPoolKernelManager"]
    assert pools["kernel_pools_config"]["notebooks/rbm_explorer.ipynb"]["pool_size"] == 1
    assert pools["kernel_pools_config"]["notebooks/index.ipynb"]["pool_size"] == 1
    assert pools["refill"] is False
    for notebook in pools["kernel_pools_config"]:
        assert notebook == "default" or (ROOT / notebook).is_file()
    # the server runs through deploy/hub/singleuser.py (jupyterhub-singleuser without rfc3987_syntax)
    assert c.Spawner.cmd == [sys.executable, str(ROOT / "deploy" / "hub" / "singleuser.py")]


def test_hub_jupyterlab_keeps_jupyterlab_reachable(load):
    c = load(HUB_PASSWORD="our-class-2026", HUB_JUPYTERLAB="1")
    path = c.Spawner.environment["JUPYTER_CONFIG_PATH"]
    hub = ROOT / "deploy" / "hub"
    assert path.split(os.pathsep) == [str(hub / "jupyterlab"), str(hub / "jupyter")]
    settings = server_settings(path)
    assert {"jupyterlab", "jupyter_server_terminals", "voila.server_extension", "explorer.serving.static_files",
            "explorer.serving.server_pool"} <= set(settings["extensions"])
    assert settings["kernel_manager_class"] == "explorer.serving.server_pool.ServerPoolKernelManager"
    assert load(HUB_PASSWORD="our-class-2026", HUB_JUPYTERLAB="0").Spawner.environment["JUPYTER_CONFIG_PATH"] == \
        str(ROOT / "deploy" / "hub" / "jupyter")


def test_the_prestart_token_is_generated_once_private_and_has_only_the_rights_it_needs(load, tmp_path):
    c = load(HUB_PASSWORD="our-class-2026")
    kept = tmp_path / "state" / "prestart_token"
    token = kept.read_text().strip()
    assert len(token) >= 32 and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert load().JupyterHub.services[-1] == {"name": "prestart", "api_token": token}    # the same at every start
    (role,) = [r for r in c.JupyterHub.load_roles if r["name"] == "prestart"]
    assert role["services"] == ["prestart"]
    assert set(role["scopes"]) == {"list:users", "admin:users", "admin:servers", "access:servers"}
    c = load(HUB_PASSWORD="our-class-2026", HUB_PRESTART_TOKEN="t" * 40)
    assert c.JupyterHub.services[-1]["api_token"] == "t" * 40
    with pytest.raises(SystemExit, match="at least 32 characters"):
        load(HUB_PRESTART_TOKEN="short")


def test_the_idle_culler_stops_prestarted_servers_too(load):
    """Prestarted servers are ordinary servers of ordinary users: the culler lists every user and
    stops any server idle for HUB_IDLE_TIMEOUT (it does not remove the users)."""
    c = load(HUB_PASSWORD="our-class-2026", HUB_IDLE_TIMEOUT="1800")
    culler = c.JupyterHub.services[0]
    assert culler["name"] == "idle-culler" and "--timeout=1800" in culler["command"]
    assert not any(arg.startswith("--cull-users") for arg in culler["command"])
    (role,) = [r for r in c.JupyterHub.load_roles if r["name"] == "idle-culler"]
    assert {"list:users", "delete:servers"} <= set(role["scopes"])


def test_kubernetes_runs_the_class_service_in_the_hub_pod():
    """deploy/k8s: the class service is a managed service of the hub's pod with its file on the hub's
    volume, the students' kernels are pointed at it, and the hub image's Dockerfile copies files that
    exist and are all the service imports (no numpy, no torch: the chart's hub image lacks them)."""
    import re
    import subprocess
    import sys

    import yaml

    conf = yaml.safe_load((ROOT / "deploy" / "k8s" / "config.yaml").read_text())
    service = conf["hub"]["services"]["class"]
    assert service["command"][:3] == ["python3", "-m", "explorer.serving.class_service"]
    assert "--hub" in service["command"] and "/srv/jupyterhub/class.sqlite" in service["command"]
    port = int(service["url"].rsplit(":", 1)[1])
    assert {p["port"] for p in conf["hub"]["service"]["extraPorts"]} == {port}
    env = conf["singleuser"]["extraEnv"]
    assert env["EXPLORER_CLASS_URL"] == f"http://hub:{port}/services/class/" and env["EXPLORER_CLASS_HUB"] == "1"
    assert "access:services!service=class" in conf["hub"]["extraConfig"]["classService"]

    dockerfile = (ROOT / "deploy" / "k8s" / "Dockerfile.hub").read_text()
    copied = re.findall(r"explorer/[\w/]+\.(?:py|html)", dockerfile.split("ENV")[0])
    copied = [c for c in copied if not c.startswith("explorer/explorer")]
    assert copied and all((ROOT / c).is_file() for c in copied)
    code = ("import sys\n"
            "for name in ('numpy', 'scipy', 'torch', 'bokeh', 'ipywidgets'): sys.modules[name] = None\n"
            "import explorer.serving.class_service\n"
            "mods = {m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None)}\n"
            "print('\\n'.join(sorted(f for f in mods if '/explorer/' in f and 'site-packages' not in f)))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    used = {str(Path(f).resolve().relative_to(ROOT)) for f in out.split()}
    assert used <= set(copied), used - set(copied)
