"""The hub's settings (deploy/hub/jupyterhub_config.py), loaded as JupyterHub loads them."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config.loader import PyFileConfigLoader

from tests.browser.hub_server import HUB_CONFIG
from tests.browser.voila_server import ROOT


@pytest.fixture
def load(monkeypatch, tmp_path):
    """Load the config with a given environment; returns the traitlets Config."""
    for name in ("HUB_PASSWORD", "HUB_ADMIN", "HUB_ADMIN_PASSWORD", "HUB_PORT", "HUB_IDLE_TIMEOUT",
                 "HUB_MAX_SERVERS"):
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
    (culler,) = c.JupyterHub.services
    assert "jupyterhub_idle_culler" in culler["command"]
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
