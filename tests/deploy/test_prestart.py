"""deploy/hub/prestart.py without a hub: the roster, the token, and one line for each bad input.

The command against the project's hub (users created, servers started and preheated, students
logging in to them) is tested in tests/browser/test_browser_hub.py.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import subprocess
import sys
import threading

import pytest

from harness.hub import PRESTART
from harness.voila import free_port

spec = importlib.util.spec_from_file_location("prestart", PRESTART)
prestart = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prestart)


def run(*args, env=None, tmp_path=None):
    environ = {"PATH": "/usr/bin:/bin", "HUB_STATE_DIR": str(tmp_path or "/nonexistent")}
    environ.update(env or {})
    return subprocess.run([sys.executable, str(PRESTART), *args], capture_output=True, text=True, timeout=60,
                          env=environ)


def test_a_roster_is_one_name_a_line_comments_and_blanks_skipped(tmp_path):
    roster = tmp_path / "class.txt"
    roster.write_text("# section A\nalice\n\n  Bob  # came late\nalice\ncarol.d-2\n")
    assert prestart.read_roster(roster) == ["alice", "bob", "carol.d-2"]


@pytest.mark.parametrize("line", ["bob smith", "../etc", "x" * 33, ".hidden", "a/b"])
def test_a_name_the_hub_refuses_is_reported_with_its_line(tmp_path, line):
    roster = tmp_path / "class.txt"
    roster.write_text(f"alice\n{line}\n")
    with pytest.raises(prestart.InputError, match="line 2:"):
        prestart.read_roster(roster)


def test_an_empty_roster_is_refused(tmp_path):
    roster = tmp_path / "class.txt"
    roster.write_text("# nobody yet\n\n")
    with pytest.raises(prestart.InputError, match="names no students"):
        prestart.read_roster(roster)


def one_line(done):
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(lines) == 1 and lines[0].startswith("prestart: ") and not done.stderr, done.stdout + done.stderr
    return lines[0]


def test_an_unknown_roster_file_is_one_line(tmp_path):
    assert "roster not found" in one_line(run(str(tmp_path / "nope.txt"), tmp_path=tmp_path))


def test_a_missing_token_is_one_line(tmp_path):
    roster = tmp_path / "class.txt"
    roster.write_text("alice\n")
    line = one_line(run(str(roster), tmp_path=tmp_path))
    assert "no API token" in line and "prestart_token" in line


def test_an_unreachable_hub_is_one_line(tmp_path):
    roster = tmp_path / "class.txt"
    roster.write_text("alice\n")
    (tmp_path / "prestart_token").write_text("t" * 43 + "\n")
    line = one_line(run(str(roster), "--hub", f"http://127.0.0.1:{free_port()}/", tmp_path=tmp_path))
    assert "cannot reach the hub" in line


@pytest.fixture
def fake_hub():
    """An HTTP server that refuses every token as JupyterHub does (403 with a JSON message)."""
    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": 403, "message": "Missing or invalid credentials."}).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_refused_token_is_one_line(tmp_path, fake_hub):
    roster = tmp_path / "class.txt"
    roster.write_text("alice\n")
    line = one_line(run(str(roster), "--hub", fake_hub, env={"JUPYTERHUB_API_TOKEN": "wrong"}, tmp_path=tmp_path))
    assert "refused the token (HTTP 403)" in line


def test_the_token_comes_from_the_option_the_environment_or_the_hubs_state_folder(tmp_path, monkeypatch):
    for name in ("JUPYTERHUB_API_TOKEN", "HUB_PRESTART_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path))
    (tmp_path / "prestart_token").write_text("from-state\n")
    assert prestart.find_token() == "from-state"
    monkeypatch.setenv("HUB_PRESTART_TOKEN", "from-env")
    assert prestart.find_token() == "from-env"
    (tmp_path / "mine").write_text("from-file\n")
    assert prestart.find_token(tmp_path / "mine") == "from-file"
    with pytest.raises(prestart.InputError, match="cannot read the token file"):
        prestart.find_token(tmp_path / "missing")


@pytest.fixture
def scripted_hub():
    """A JupyterHub REST API stand-in: users are created, a started server is pending, then neither
    pending nor ready for a moment (the hub adding its proxy route: not a failure), then ready;
    ``gone`` lists users whose start fails (their server disappears)."""
    state = {"users": {}, "polls": {}, "gone": set(), "created": []}

    class Hub(http.server.BaseHTTPRequestHandler):
        def reply(self, status, body=None):
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):
            assert self.headers["Authorization"] == "token right"
            parts = self.path.strip("/").split("/")
            if self.path == "/hub/api/user":
                return self.reply(200, {"kind": "service", "name": "prestart"})
            if parts[:3] == ["hub", "api", "users"] and len(parts) == 4:
                name = parts[3]
                if name not in state["users"]:
                    return self.reply(404, {"status": 404, "message": "Not Found"})
                servers = {}
                if state["users"][name] == "started":
                    n = state["polls"][name] = state["polls"].get(name, 0) + 1
                    if name in state["gone"] and n > 2:
                        servers = {}
                    elif n <= 2:
                        servers = {"": {"pending": "spawn", "ready": False}}
                    elif n <= 4:
                        servers = {"": {"pending": None, "ready": False}}
                    else:
                        servers = {"": {"pending": None, "ready": True}}
                return self.reply(200, {"name": name, "servers": servers})
            if parts[0] == "user" and parts[2:] == ["explorer", "pool"]:
                return self.reply(200, {"pools": {"notebooks/rbm_explorer.ipynb": {"size": 1, "warm": 1}}})
            return self.reply(404)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            parts = self.path.strip("/").split("/")
            if self.path == "/hub/api/users":
                for name in body["usernames"]:
                    state["users"][name] = "created"
                    state["created"].append(name)
                return self.reply(201, [{"name": n} for n in body["usernames"]])
            if parts[-1] == "server":
                state["users"][parts[3]] = "started"
                return self.reply(202)
            return self.reply(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", state
    server.shutdown()


def test_prestart_creates_starts_and_waits_until_each_server_is_ready_and_warm(tmp_path, scripted_hub, monkeypatch):
    base, state = scripted_hub
    state["users"]["ann"] = "created"           # known to the hub already
    roster = tmp_path / "class.txt"
    roster.write_text("ann\nben\ncid\n")
    monkeypatch.setattr(prestart.time, "sleep", lambda s: None)
    ticks = iter(range(0, 10_000, 3))           # 3 s per look at the clock: the proxy's window lasts "6 s"
    monkeypatch.setattr(prestart.time, "monotonic", lambda: next(ticks))
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "right")
    assert prestart.main([str(roster), "--hub", base, "--parallel", "2"]) == 0
    assert state["created"] == ["ben", "cid"]
    assert all(state["users"][n] == "started" for n in ("ann", "ben", "cid"))


def test_a_server_that_fails_is_listed_and_the_others_go_on(tmp_path, scripted_hub, monkeypatch, capsys):
    base, state = scripted_hub
    state["gone"].add("ben")
    roster = tmp_path / "class.txt"
    roster.write_text("ann\nben\n")
    monkeypatch.setattr(prestart.time, "sleep", lambda s: None)
    ticks = iter(range(0, 10_000, 3))                           # 3 s per look at the clock
    monkeypatch.setattr(prestart.time, "monotonic", lambda: next(ticks))
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "right")
    assert prestart.main([str(roster), "--hub", base, "--no-wait-warm"]) == 1
    out = capsys.readouterr().out
    assert "ben: FAILED: the server failed to start" in out and "1 of 2 ready" in out
