"""Start the servers of a class before the lesson: ``make hub-prestart ROSTER=class.txt``.

    .venv/bin/python deploy/hub/prestart.py class.txt            # the hub of `make hub`
    .venv/bin/python deploy/hub/prestart.py class.txt --hub https://hub.example.org/ --token-file t
    .venv/bin/python deploy/hub/prestart.py class.txt --stop     # after the lesson (the culler does it too)

The roster is a text file with one user name per line (blank lines and ``#`` comments are
skipped; names are lower-cased, as the hub does at login). Through JupyterHub's REST API it
creates the users the hub does not know yet, starts their servers (at most ``--parallel`` starts
in flight; the hub itself allows 40), and waits until each server has also preheated the explorer
(the server's kernels, explorer.serving.server_pool), printing one line per student. A student who
then logs in with the class password lands in the running server: no wait for a server, and the
RBM explorer's page comes from a kernel that has already built it.

The token: the hub of ``make hub`` keeps one for this command in its state folder
(``.hub/prestart_token``, or ``$HUB_STATE_DIR/prestart_token``; ``HUB_PRESTART_TOKEN`` sets it),
with only the rights it needs (create users; start, stop and read their servers; ask a server
whether its explorer is preheated). Any other hub (Kubernetes): an admin's token from the hub's
token page (``/hub/token``), given with ``--token-file`` or ``JUPYTERHUB_API_TOKEN``.

Servers started here are stopped by the idle culler after ``HUB_IDLE_TIMEOUT`` seconds (default one
hour) without use, like any other: start them less than that before the lesson.

Standard library only (runs on a teacher's laptop as well as on the hub's machine). Exit status:
0 all servers ready, 1 some failed (listed), 2 bad input (one line: roster, token, hub).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The user names the hub accepts (jupyterhub_config.py: Authenticator.username_pattern).
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
#: The server's report on its preheated kernels (explorer.serving.server_pool).
POOL_STATUS = "explorer/pool"


class InputError(Exception):
    """Bad input: reported as one line, exit status 2."""


def read_roster(path):
    """User names from a roster file: one per line, ``#`` comments and blank lines skipped,
    lower-cased, duplicates dropped (first kept). Raises InputError naming the bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"roster not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the roster {path}: {exc}") from None
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        name = line.split("#", 1)[0].strip().lower()
        if not name:
            continue
        if not USERNAME.match(name):
            raise InputError(f"{path} line {number}: {line.strip()!r} is not a user name the hub accepts "
                             "(a-z, 0-9, '.', '_', '-'; up to 32, starting with a letter or digit)")
        if name not in names:
            names.append(name)
    if not names:
        raise InputError(f"the roster {path} names no students")
    return names


def find_token(token_file=None):
    """The API token: --token-file, $JUPYTERHUB_API_TOKEN, $HUB_PRESTART_TOKEN, or the hub's state folder."""
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise InputError(f"cannot read the token file {token_file}: {exc.strerror or exc}") from None
        if not token:
            raise InputError(f"the token file {token_file} is empty")
        return token
    for name in ("JUPYTERHUB_API_TOKEN", "HUB_PRESTART_TOKEN"):
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    state = Path(os.environ.get("HUB_STATE_DIR") or ROOT / ".hub")
    path = state / "prestart_token"
    if path.is_file():
        return path.read_text().strip()
    raise InputError(f"no API token: {path} does not exist (start the hub once with `make hub`), "
                     "or pass --token-file with an admin's token from /hub/token")


class Hub:
    """JupyterHub's REST API at ``base`` (``http://host:port/``, the hub's public address)."""

    def __init__(self, base, token, timeout=30):
        self.base = base if base.endswith("/") else base + "/"
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=None, api=True):
        """(status, decoded JSON or None); HTTP errors are returned, not raised."""
        url = self.base + ("hub/api/" if api else "") + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json",
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None

    def check(self):
        """Raise InputError unless the hub answers and takes the token."""
        try:
            status, me = self.request("GET", "user")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InputError(f"cannot reach the hub at {self.base} ({reason}): is it running? (--hub URL)") from None
        if status in (401, 403):
            raise InputError(f"the hub at {self.base} refused the token (HTTP {status}): use the hub's "
                             "prestart_token or an admin's token from /hub/token")
        if status != 200 or not isinstance(me, dict):
            raise InputError(f"{self.base} did not answer as a JupyterHub (HTTP {status} from hub/api/user)")
        return me

    def user(self, name):
        status, model = self.request("GET", f"users/{name}")
        return model if status == 200 else None

    def create(self, names):
        status, model = self.request("POST", "users", {"usernames": names})
        if status not in (200, 201):
            message = (model or {}).get("message", "")
            raise RuntimeError(f"could not create users ({status} {message})".strip())

    def server(self, name):
        """The user's default server as the hub reports it ({} when none)."""
        model = self.user(name) or {}
        return (model.get("servers") or {}).get("", {})


def start_one(hub, name, timeout, warm, progress):
    """Start ``name``'s server and wait until it is ready (and preheated when ``warm``)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    server = hub.server(name)
    already = bool(server.get("ready"))
    if not already and not server.get("pending"):
        status, model = hub.request("POST", f"users/{name}/server")
        if status not in (201, 202, 400):     # 400: already running or starting
            raise RuntimeError(f"the hub refused to start the server ({status} {(model or {}).get('message', '')})")
    while True:
        server = hub.server(name)
        if server.get("ready"):
            break
        # gone from the user's servers: the start failed. (A server that is neither pending nor ready
        # is between its start and the proxy's route: wait.)
        if not server and time.monotonic() - t0 > 5:
            raise RuntimeError("the server failed to start (see the hub's log)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout:.0f} s")
        time.sleep(1.0)
    up = time.monotonic() - t0
    note = "already running" if already else f"server up in {up:.1f} s"
    if warm:
        state = wait_warm(hub, name, deadline)
        note += f", {state}"
    progress(name, note)


def wait_warm(hub, name, deadline):
    """Wait until the server's preheated kernels have built their pages (explorer.serving.server_pool)."""
    t0 = time.monotonic()
    while True:
        status, pools = hub.request("GET", f"user/{name}/{POOL_STATUS}", api=False)
        if status != 200 or not isinstance(pools, dict):
            return f"no preheated kernels reported (HTTP {status})"
        counts = pools.get("pools", {})
        if all(p["warm"] >= p["size"] for p in counts.values()):
            warm = sum(p["warm"] for p in counts.values())
            return f"preheated ({warm} kernels) after {time.monotonic() - t0:.1f} s more"
        if time.monotonic() > deadline:
            return "still preheating (it goes on in the server)"
        time.sleep(1.0)


def stop_one(hub, name, timeout, progress):
    status, model = hub.request("DELETE", f"users/{name}/server")
    if status == 404 or (status == 400 and not hub.server(name)):
        progress(name, "no server")
        return
    if status not in (202, 204):
        raise RuntimeError(f"the hub refused to stop the server ({status} {(model or {}).get('message', '')})")
    deadline = time.monotonic() + timeout
    while hub.server(name):
        if time.monotonic() > deadline:
            raise RuntimeError(f"still stopping after {timeout:.0f} s")
        time.sleep(1.0)
    progress(name, "stopped")


def main(argv=None):
    port = os.environ.get("HUB_PORT") or "8000"
    ap = argparse.ArgumentParser(prog="prestart", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("roster", help="text file: one user name per line")
    ap.add_argument("--hub", default=f"http://127.0.0.1:{port}/",
                    help="the hub's address (default: make hub's, http://127.0.0.1:$HUB_PORT/)")
    ap.add_argument("--token-file", help="file holding the API token (default: $JUPYTERHUB_API_TOKEN, "
                                         "$HUB_PRESTART_TOKEN or the hub's state folder's prestart_token)")
    ap.add_argument("--parallel", type=int, default=4,
                    help="servers starting at once (default 4; each start is 1-2 CPU-s on the hub's machine, "
                         "then its kernels preheat at low priority)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one server (default 600)")
    ap.add_argument("--no-wait-warm", dest="warm", action="store_false",
                    help="do not wait for the servers' preheated kernels (they go on preheating)")
    ap.add_argument("--stop", action="store_true", help="stop the roster's servers instead")
    args = ap.parse_args(argv)
    if not 1 <= args.parallel <= 40:
        ap.error("--parallel must be between 1 and 40")

    def say(message):
        print(f"prestart: {message}", flush=True)

    try:
        names = read_roster(args.roster)
        hub = Hub(args.hub, find_token(args.token_file))
        hub.check()
        t0 = time.monotonic()
        if not args.stop:
            missing = [n for n in names if hub.user(n) is None]
            if missing:
                hub.create(missing)
                say(f"created {len(missing)} user(s): {', '.join(missing)}")
    except InputError as exc:
        say(str(exc))
        return 2
    except RuntimeError as exc:
        say(str(exc))
        return 1

    lock, done, failed = threading.Lock(), [0], []
    verb = "stopping" if args.stop else "starting"
    say(f"{verb} {len(names)} server(s) at {hub.base}, {args.parallel} at a time")

    def progress(name, note):
        with lock:
            done[0] += 1
            say(f"[{done[0]}/{len(names)}] {name}: {note} ({time.monotonic() - t0:.0f} s)")

    def work(name):
        try:
            if args.stop:
                stop_one(hub, name, args.timeout, progress)
            else:
                start_one(hub, name, args.timeout, args.warm, progress)
        except Exception as exc:        # one student's failure is reported, the others go on
            with lock:
                failed.append(f"{name}: {exc}")
                say(f"{name}: FAILED: {exc}")

    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(work, names))
    what = "stopped" if args.stop else "ready"
    say(f"{len(names) - len(failed)} of {len(names)} {what} in {time.monotonic() - t0:.0f} s"
        + (f"; failed: {'; '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
