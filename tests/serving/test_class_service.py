"""The class service (issue 27): its HTTP API, identities, bounds, long polls and its store.

Most tests run the service in this process (a tornado loop in a thread, a free port, a temporary
SQLite file); the restart test runs it as ``python -m explorer.serving.class_service`` and kills it
with SIGKILL. Hub mode is tested with a stand-in for JupyterHub's HubOAuth that answers user models
as the hub does (name, kind, admin, groups, scopes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from explorer.serving import class_store
from explorer.serving.class_service import ClassService, hub_role, listen, make_app
from explorer.serving.class_store import ClassStore
from harness.voila import ROOT, free_port

SECRET = "teacher-secret-for-tests-0123"
TEACHER = {"Authorization": f"token {SECRET}"}
ALICE_ID = "alice-0123456789abcdef"
BOB_ID = "bob-0123456789abcdef00"
ALICE = {"X-Class-Student": ALICE_ID}
BOB = {"X-Class-Student": BOB_ID}
QUESTION = {"text": "What happens to F at high temperature?", "choices": ["goes up", "goes down", "stays"],
            "lesson": "lesson 1"}

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------------------------- helpers
class InProcessService:
    """The class service on a tornado loop in a thread of this process."""

    def __init__(self, db, *, secret=SECRET, hub_auth=None, prefix="/", port=0):
        self.db, self.secret, self.hub_auth, self.prefix, self.wanted_port = db, secret, hub_auth, prefix, port
        self.ready = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(15), "the in-process service did not start"
        if self.error:
            raise self.error
        self.url = f"http://127.0.0.1:{self.port}{self.service.prefix}"

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

        async def setup():
            self.store = ClassStore(self.db)
            self.service = ClassService(self.store, teacher_secret=None if self.hub_auth else self.secret,
                                        hub_auth=self.hub_auth, prefix=self.prefix)
            self.server, self.port = listen(make_app(self.service), self.wanted_port, "127.0.0.1")

        try:
            self.loop.run_until_complete(setup())
        except Exception as e:  # reported to the test's thread
            self.error = e
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    def stop(self):
        async def shutdown():
            self.server.stop()
            # closing the connections ends the waiting long polls (their handlers see the close)
            await self.server.close_all_connections()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.store.close()


def call(url, method="GET", path="", body=None, headers=None, raw=None, timeout=30):
    """``(status, parsed JSON or text, response headers)`` of a request to the service."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = dict(headers or {})
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url + path, data=data, method=method, headers=hdrs)
    try:
        with _opener.open(request, timeout=timeout) as r:
            status, text, got = r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        status, text, got = e.code, e.read().decode(), e.headers
        e.close()
    try:
        return status, json.loads(text), got
    except ValueError:
        return status, text, got


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get_no_redirect(url, headers=None):
    """``(status, headers, body)`` without following a redirect."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        try:
            return e.code, e.headers, e.read().decode()
        finally:
            e.close()


def assert_one_line_error(status, payload, expected_status):
    assert status == expected_status, payload
    assert isinstance(payload, dict) and set(payload) == {"error"}, payload
    assert "\n" not in payload["error"] and "Traceback" not in payload["error"] and payload["error"]


@pytest.fixture
def url(service):
    return service.url


def register(url, qid="l1:q1", who=TEACHER, question=QUESTION):
    status, payload, _ = call(url, "PUT", f"api/questions/{qid}", question, who)
    assert status == 200, payload
    return payload


def board(url):
    status, payload, _ = call(url, "GET", "api/board", headers=TEACHER)
    assert status == 200, payload
    return payload


def in_thread(fn):
    """Run ``fn`` in a thread; returns a dict filled with ``result`` and ``at`` (monotonic) when done."""
    out = {}

    def run():
        out["result"] = fn()
        out["at"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    out["thread"] = t
    return out


# ---------------------------------------------------------------------------------- identities
def test_health_needs_no_identity_and_everything_else_does(url):
    assert call(url, path="healthz")[:2] == (200, {"ok": True})
    status, payload, _ = call(url, path="api/whoami")
    assert_one_line_error(status, payload, 401)
    assert call(url, path="api/whoami", headers=ALICE)[1] == {"role": "student"}
    assert call(url, path="api/whoami", headers=TEACHER)[1] == {"role": "teacher"}
    assert call(url, path="api/whoami", headers={"Cookie": f"fee_teacher={SECRET}"})[1] == {"role": "teacher"}
    assert call(url, path="api/whoami", headers={"Cookie": f"fee_student={BOB_ID}"})[1] == {"role": "student"}


@pytest.mark.parametrize("headers", [{"Authorization": "token wrong-secret-0123456789"},
                                     {"Authorization": f"token {SECRET}x"},
                                     {"Authorization": "Basic abc"},
                                     {"Cookie": "fee_teacher=wrong-secret-0123456789"},
                                     {"Cookie": "fee_teacher=", **ALICE}])
def test_a_wrong_teacher_secret_is_refused_not_taken_for_a_student(url, headers):
    status, payload, _ = call(url, path="api/whoami", headers=headers)
    assert_one_line_error(status, payload, 403)


@pytest.mark.parametrize("student", ["short", "x" * 65, "has space 0123456789", "ünïcode-0123456789ab"])
def test_a_malformed_student_id_is_no_identity(url, student):
    status, payload, _ = call(url, path="api/whoami", headers={"X-Class-Student": student.encode().decode("latin-1")})
    assert_one_line_error(status, payload, 401)


@pytest.mark.parametrize("forged", [ALICE, {"Authorization": "token forged-0123456789abcdef"},
                                    {"Cookie": "fee_teacher=forged-0123456789abcdef"}])
def test_students_and_forged_teachers_cannot_act_as_the_teacher(url, forged):
    register(url)
    for method, path, body in [("PUT", "api/follow/rbm", {"state": "T=9"}),
                               ("POST", "api/questions/l1:q1/reveal", {"revealed": True}),
                               ("GET", "api/board", None),
                               ("GET", "api/students", None)]:
        status, payload, _ = call(url, method, path, body, forged)
        assert_one_line_error(status, payload, 403)
    # nothing changed
    assert call(url, path="api/follow/rbm", headers=ALICE)[1] == {"version": 0, "state": None}
    assert call(url, path="api/questions/l1:q1", headers=ALICE)[1]["revealed"] is False


def test_students_are_anonymous_the_store_keeps_no_raw_identity(url, service):
    register(url)
    assert call(url, "POST", "api/answers/l1:q1", {"choice": 0}, ALICE)[0] == 200
    assert call(url, "POST", "api/answers/l1:q1", {"choice": 2}, BOB)[0] == 200
    status, students, _ = call(url, path="api/students", headers=TEACHER)
    assert status == 200 and len(students) == 2
    assert all(re.fullmatch(r"s-[0-9a-f]{6}", s["student"]) and s["answers"] == 1 for s in students)
    assert ALICE_ID not in json.dumps(students)
    with sqlite3.connect(service.db) as db:        # the WAL included
        dump = "\n".join(db.iterdump())
    assert ALICE_ID not in dump and BOB_ID not in dump
    assert SECRET not in dump                      # the teacher's secret is stored nowhere


# ---------------------------------------------------------------------------------- questions
def test_a_student_registers_a_new_question_but_cannot_change_it_the_teacher_can(url):
    register(url, who=ALICE)
    changed = dict(QUESTION, text="Something else?", choices=["a", "b"])
    assert call(url, "PUT", "api/questions/l1:q1", changed, BOB)[:2] == (200, {"qid": "l1:q1"})
    (q,) = board(url)["questions"]
    assert q["text"] == QUESTION["text"] and q["choices"] == QUESTION["choices"]
    register(url, question=changed)
    (q,) = board(url)["questions"]
    assert q["text"] == "Something else?" and q["counts"] == [0, 0] and q["lesson"] == "lesson 1"


def test_an_answer_can_be_changed_never_multiplied(url):
    register(url)
    for choice in (0, 0, 2):
        status, payload, _ = call(url, "POST", "api/answers/l1:q1", {"choice": choice}, ALICE)
        assert (status, payload) == (200, {"qid": "l1:q1", "choice": choice})
    call(url, "POST", "api/answers/l1:q1", {"choice": 2}, {"Cookie": f"fee_student={ALICE_ID}"})
    call(url, "POST", "api/answers/l1:q1", {"choice": 1}, BOB)
    (q,) = board(url)["questions"]
    assert q["counts"] == [0, 1, 1] and q["answered"] == 2
    assert call(url, path="api/questions/l1:q1", headers=ALICE)[1] == {
        "qid": "l1:q1", "revealed": False, "my_choice": 2, "rev": 1}
    assert call(url, path="api/questions/l1:q1", headers=TEACHER)[1]["my_choice"] is None


def test_reveal_and_hide_bump_the_revision_and_reach_students(url):
    register(url)
    status, payload, _ = call(url, "POST", "api/questions/l1:q1/reveal", {"revealed": True}, TEACHER)
    assert (status, payload) == (200, {"qid": "l1:q1", "revealed": True, "rev": 2})
    assert call(url, "POST", "api/questions/l1:q1/reveal", {"revealed": True}, TEACHER)[1]["rev"] == 2
    assert call(url, path="api/questions/l1:q1", headers=ALICE)[1]["revealed"] is True
    assert call(url, "POST", "api/questions/l1:q1/reveal", {"revealed": False}, TEACHER)[1]["rev"] == 3
    assert board(url)["questions"][0]["revealed"] is False


def test_the_board_lists_questions_in_registration_order_with_counts(url):
    assert board(url) == {"rev": 0, "questions": []}
    for qid in ("b", "a", "c"):
        register(url, qid)
    call(url, "POST", "api/answers/a", {"choice": 1}, ALICE)
    got = board(url)
    assert [q["qid"] for q in got["questions"]] == ["b", "a", "c"]
    assert got["questions"][1]["counts"] == [0, 1, 0] and got["rev"] == 4


# ---------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("method, path, body, status", [
    ("PUT", "api/questions/bad%20id", QUESTION, 400),
    ("PUT", "api/questions/" + "x" * 121, QUESTION, 400),
    ("PUT", "api/questions/q", dict(QUESTION, text="x" * 2001), 400),
    ("PUT", "api/questions/q", dict(QUESTION, text=""), 400),
    ("PUT", "api/questions/q", dict(QUESTION, choices=["only one"]), 400),
    ("PUT", "api/questions/q", dict(QUESTION, choices=[str(i) for i in range(9)]), 400),
    ("PUT", "api/questions/q", dict(QUESTION, choices=["a", "b" * 201]), 400),
    ("PUT", "api/questions/q", dict(QUESTION, choices=["a", 2]), 400),
    ("PUT", "api/questions/q", dict(QUESTION, lesson="l" * 201), 400),
    ("PUT", "api/questions/q", [1, 2], 400),
    ("POST", "api/answers/l1:q1", {"choice": 3}, 400),
    ("POST", "api/answers/l1:q1", {"choice": -1}, 400),
    ("POST", "api/answers/l1:q1", {"choice": "1"}, 400),
    ("POST", "api/answers/l1:q1", {"choice": True}, 400),
    ("POST", "api/answers/l1:q1", {}, 400),
    ("POST", "api/answers/unknown", {"choice": 0}, 404),
    ("GET", "api/questions/unknown", None, 404),
    ("GET", "api/questions/l1:q1?since=x", None, 400),
    ("GET", "api/questions/l1:q1?wait=-1", None, 400),
    ("GET", "api/questions/l1:q1?wait=nan", None, 400),
    ("POST", "api/questions/unknown/reveal", {"revealed": True}, 404),
    ("POST", "api/questions/l1:q1/reveal", {"revealed": "yes"}, 400),
    ("PUT", "api/follow/rbm", {"state": "s" * 4001}, 400),
    ("PUT", "api/follow/rbm", {"state": 3}, 400),
    ("PUT", "api/follow/bad%2Fid", {"state": "s"}, 400),
    ("GET", "api/follow/a%20b", None, 400),
    ("GET", "api/nothing-here", None, 404),
    ("DELETE", "api/questions/l1:q1", None, 405),
])
def test_bad_input_gets_a_one_line_json_error(url, method, path, body, status):
    register(url)
    who = ALICE if path.startswith("api/answers") else TEACHER
    got, payload, headers = call(url, method, path, body, who)
    assert_one_line_error(got, payload, status)
    assert headers["Content-Type"].startswith("application/json")


def test_a_body_that_is_not_json_is_a_400(url):
    status, payload, _ = call(url, "PUT", "api/questions/q", headers=TEACHER, raw=b"{not json")
    assert_one_line_error(status, payload, 400)
    status, payload, _ = call(url, "PUT", "api/questions/q", headers=TEACHER, raw=b"\xff\xfe")
    assert_one_line_error(status, payload, 400)


def test_a_body_over_16_kB_is_a_413(url):
    status, payload, _ = call(url, "PUT", "api/follow/rbm", {"state": "s" * (16 * 1024)}, TEACHER)
    assert_one_line_error(status, payload, 413)
    assert call(url, "PUT", "api/follow/rbm", {"state": "s" * 4000}, TEACHER)[0] == 200


def test_writes_authenticated_by_cookie_must_be_json_typed(url):
    register(url)
    cookie = {"Cookie": f"fee_student={ALICE_ID}", "Content-Type": "application/x-www-form-urlencoded"}
    status, payload, _ = call(url, "POST", "api/answers/l1:q1", headers=cookie, raw=b'{"choice": 1}')
    assert_one_line_error(status, payload, 415)
    assert board(url)["questions"][0]["answered"] == 0


def test_writes_are_rate_limited_per_identity(url, monkeypatch):
    from explorer.serving import class_service

    register(url)
    # a slow refill, so that the count does not depend on how fast this machine sends
    monkeypatch.setattr(class_service, "WRITE_RATE", 0.5)
    statuses = [call(url, "POST", "api/answers/l1:q1", {"choice": i % 3}, ALICE)[:2] for i in range(60)]
    limited = [p for s, p in statuses if s == 429]
    assert len(limited) >= 10 and all(set(p) == {"error"} and "\n" not in p["error"] for p in limited)
    assert 40 <= sum(s == 200 for s, _ in statuses) <= 50      # the burst of 40, and a little refill
    assert call(url, "POST", "api/answers/l1:q1", {"choice": 1}, BOB)[0] == 200   # others unaffected


def test_questions_channels_and_participants_are_bounded(url, monkeypatch):
    monkeypatch.setattr(class_store, "MAX_QUESTIONS", 3)
    monkeypatch.setattr(class_store, "MAX_CHANNELS", 2)
    monkeypatch.setattr(class_store, "MAX_STUDENTS", 1)
    for i in range(3):
        register(url, f"q{i}")
    status, payload, _ = call(url, "PUT", "api/questions/q3", QUESTION, TEACHER)
    assert_one_line_error(status, payload, 409)
    register(url, "q0")                                          # an existing one may still be updated
    for c in ("a", "b"):
        assert call(url, "PUT", f"api/follow/{c}", {"state": "s"}, TEACHER)[0] == 200
    status, payload, _ = call(url, "PUT", "api/follow/c", {"state": "s"}, TEACHER)
    assert_one_line_error(status, payload, 409)
    assert call(url, "POST", "api/answers/q0", {"choice": 0}, ALICE)[0] == 200
    status, payload, _ = call(url, "POST", "api/answers/q0", {"choice": 0}, BOB)
    assert_one_line_error(status, payload, 409)


def test_open_long_polls_are_bounded_per_identity(url, monkeypatch):
    from explorer.serving import class_service

    monkeypatch.setattr(class_service, "MAX_POLLS_PER_IDENTITY", 2)
    polls = [in_thread(lambda: call(url, path="api/follow/x?since=0&wait=1.5", headers=ALICE)[0])
             for _ in range(2)]
    time.sleep(0.5)
    status, payload, _ = call(url, path="api/follow/x?since=0&wait=1.5", headers=ALICE)
    assert_one_line_error(status, payload, 429)
    assert call(url, path="api/follow/x?since=0&wait=0.1", headers=BOB)[0] == 200
    for p in polls:
        p["thread"].join(10)
        assert p["result"] == 200


# ---------------------------------------------------------------------------------- long polls
def test_follow_versions_count_publishes_and_long_polls_wake_within_a_second(url):
    assert call(url, path="api/follow/rbm?since=0&wait=0", headers=ALICE)[1] == {"version": 0, "state": None}
    t0 = time.monotonic()
    status, payload, _ = call(url, path="api/follow/rbm?since=0&wait=0.5", headers=ALICE)
    assert payload == {"version": 0, "state": None} and 0.4 < time.monotonic() - t0 < 2.0    # the wait expires
    assert call(url, "PUT", "api/follow/rbm", {"state": "T=1"}, TEACHER)[1] == {"version": 1}
    # a newer version answers at once
    assert call(url, path="api/follow/rbm?since=0&wait=20", headers=ALICE)[1] == {"version": 1, "state": "T=1"}
    waiting = in_thread(lambda: call(url, path="api/follow/rbm?since=1&wait=20", headers=ALICE)[1])
    time.sleep(0.3)
    published = time.monotonic()
    assert call(url, "PUT", "api/follow/rbm", {"state": "T=2"}, TEACHER)[1] == {"version": 2}
    waiting["thread"].join(5)
    assert waiting["result"] == {"version": 2, "state": "T=2"}
    assert waiting["at"] - published < 1.0


def test_a_question_long_poll_wakes_on_reveal_within_a_second(url):
    register(url)
    waiting = in_thread(lambda: call(url, path="api/questions/l1:q1?since=1&wait=20", headers=ALICE)[1])
    time.sleep(0.3)
    revealed = time.monotonic()
    call(url, "POST", "api/questions/l1:q1/reveal", {"revealed": True}, TEACHER)
    waiting["thread"].join(5)
    assert waiting["result"]["revealed"] is True and waiting["result"]["rev"] == 2
    assert waiting["at"] - revealed < 1.0


def test_the_board_long_poll_wakes_on_an_answer_within_a_second(url):
    register(url)
    rev = board(url)["rev"]
    waiting = in_thread(lambda: call(url, path=f"api/board?since={rev}&wait=20", headers=TEACHER)[1])
    time.sleep(0.3)
    answered = time.monotonic()
    call(url, "POST", "api/answers/l1:q1", {"choice": 2}, ALICE)
    waiting["thread"].join(5)
    assert waiting["result"]["questions"][0]["counts"] == [0, 0, 1] and waiting["result"]["rev"] == rev + 1
    assert waiting["at"] - answered < 1.0


def test_a_since_ahead_of_the_service_is_answered_at_once(url):
    """A client that knew a newer version (the class's file was replaced) is not left waiting."""
    t0 = time.monotonic()
    assert call(url, path="api/follow/rbm?since=7&wait=20", headers=ALICE)[1] == {"version": 0, "state": None}
    assert time.monotonic() - t0 < 2.0


# ---------------------------------------------------------------------------------- the board page
def test_the_teacher_link_sets_an_http_only_cookie_and_drops_the_secret_from_the_address(url):
    status, headers, _ = get_no_redirect(url + f"board?secret={SECRET}")
    assert status == 302 and headers["Location"] == "/board"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"fee_teacher={SECRET};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    status, headers, page = get_no_redirect(url + "board", {"Cookie": f"fee_teacher={SECRET}"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert '<html lang="en">' in page and "<title>Class board</title>" in page
    assert "No questions yet: open a lesson" in page and 'setAttribute("aria-live", "polite")' in page
    assert "http://" not in page and "https://" not in page          # self-contained: nothing from a CDN
    nonce = re.search(r"script-src 'nonce-([^']+)'", headers["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">' in page and SECRET not in page


@pytest.mark.parametrize("headers, status", [({}, 401), (ALICE, 403), ({"Cookie": "fee_teacher=nope-nope-nope"}, 403)])
def test_the_board_page_is_for_the_teacher_only(url, headers, status):
    got, got_headers, page = get_no_redirect(url + "board", headers)
    assert got == status and got_headers["Content-Type"].startswith("text/html") and "Traceback" not in page


def test_the_service_root_leads_to_the_board(url, hub):
    assert get_no_redirect(url)[:2][0] == 302 and get_no_redirect(url)[1]["Location"] == "/board"
    assert get_no_redirect(hub.url)[1]["Location"] == "/services/class/board"


def test_a_wrong_teacher_link_is_a_short_403_page(url):
    status, headers, page = get_no_redirect(url + "board?secret=guess-guess-guess")
    assert status == 403 and "Set-Cookie" not in headers and len(page) < 400 and "teacher" in page


# ---------------------------------------------------------------------------------- hub mode
@pytest.mark.parametrize("model, role", [
    ({"kind": "user", "name": "ada", "admin": True, "groups": []}, "teacher"),
    ({"kind": "user", "name": "bo", "admin": False, "groups": ["teachers"]}, "teacher"),
    ({"kind": "user", "name": "cy", "admin": False, "groups": ["students", "lab"]}, "student"),
    ({"kind": "user", "name": "di"}, "student"),
    ({"kind": "service", "name": "prestart", "admin": True}, None),
    ({"kind": "user", "name": ""}, None),
    (None, None),
])
def test_hub_roles_admins_and_the_teachers_group_teach(model, role):
    assert hub_role(model, "teachers") == role


def test_the_teacher_group_is_configurable():
    model = {"kind": "user", "name": "bo", "admin": False, "groups": ["staff"]}
    assert hub_role(model, "teachers") == "student" and hub_role(model, "staff") == "teacher"


class FakeHubAuth:
    """Stands in for jupyterhub.services.auth.HubOAuth: token -> the user model the hub answers."""

    login_url = "/hub/api/oauth2/authorize?client_id=service-class"
    base_url = "/services/class/"
    access_scopes = {"access:services!service=class"}

    def __init__(self, users):
        self.users = users

    async def get_user(self, handler, sync=True):
        m = re.fullmatch(r"token (\S+)", handler.request.headers.get("Authorization", ""))
        if m and m.group(1) in self.users:
            handler._token_authenticated = True
            return dict(self.users[m.group(1)])
        return None

    def check_scopes(self, required, model):
        from jupyterhub.services.auth import check_scopes

        return check_scopes(required, set(model["scopes"]))

    def check_xsrf_cookie(self, handler):
        return None


@pytest.fixture
def hub(tmp_path):
    ok = ["access:services!service=class"]
    users = {
        "t-admin": {"kind": "user", "name": "ada", "admin": True, "groups": [], "scopes": ok},
        "t-group": {"kind": "user", "name": "bo", "admin": False, "groups": ["teachers"], "scopes": ok},
        "s-cy": {"kind": "user", "name": "cy", "admin": False, "groups": [], "scopes": ok},
        "s-di": {"kind": "user", "name": "di", "admin": False, "groups": [], "scopes": ok},
        "no-scope": {"kind": "user", "name": "eve", "admin": False, "groups": [],
                     "scopes": ["read:users:name!user=eve"]},
        "service": {"kind": "service", "name": "prestart", "admin": False, "groups": [], "scopes": ok},
    }
    s = InProcessService(tmp_path / "hub.sqlite", hub_auth=FakeHubAuth(users), prefix="/services/class/")
    yield s
    s.stop()


def tok(name):
    return {"Authorization": f"token {name}"}


def test_hub_mode_roles_come_from_the_hub_user(hub):
    url = hub.url
    assert url.endswith("/services/class/")
    assert call(url, path="healthz")[1] == {"ok": True}
    assert call(url, path="api/whoami", headers=tok("t-admin"))[1] == {"role": "teacher"}
    assert call(url, path="api/whoami", headers=tok("t-group"))[1] == {"role": "teacher"}
    assert call(url, path="api/whoami", headers=tok("s-cy"))[1] == {"role": "student"}
    assert_one_line_error(*call(url, path="api/whoami")[:2], 401)
    # a token the hub does not know is refused (403), as a wrong teacher secret is in classroom mode
    assert_one_line_error(*call(url, path="api/whoami", headers=tok("forged"))[:2], 403)
    assert_one_line_error(*call(url, path="api/whoami", headers=tok("no-scope"))[:2], 403)
    assert_one_line_error(*call(url, path="api/whoami", headers=tok("service"))[:2], 403)


def test_hub_mode_students_answer_and_only_teachers_see_the_board(hub):
    url = hub.url
    register(url, who=tok("t-group"))
    call(url, "POST", "api/answers/l1:q1", {"choice": 1}, tok("s-cy"))
    call(url, "POST", "api/answers/l1:q1", {"choice": 1}, tok("s-di"))
    call(url, "POST", "api/answers/l1:q1", {"choice": 0}, tok("s-di"))
    for path in ("api/board", "api/students"):
        assert_one_line_error(*call(url, path=path, headers=tok("s-cy"))[:2], 403)
    status, payload, _ = call(url, path="api/board", headers=tok("t-admin"))
    assert status == 200 and payload["questions"][0]["counts"] == [1, 1, 0]
    students = call(url, path="api/students", headers=tok("t-admin"))[1]
    assert "cy" not in json.dumps(students) and len(students) == 2
    assert_one_line_error(*call(url, "PUT", "api/follow/rbm", {"state": "x"}, tok("s-cy"))[:2], 403)
    assert call(url, "PUT", "api/follow/rbm", {"state": "x"}, tok("t-group"))[1] == {"version": 1}


def test_hub_mode_board_page_sends_browsers_to_the_hub_login(hub):
    status, headers, _ = get_no_redirect(hub.url + "board")
    assert status == 302 and headers["Location"].startswith("/hub/api/oauth2/authorize")
    status, _, page = get_no_redirect(hub.url + "board", tok("s-cy"))
    assert status == 403
    status, headers, page = get_no_redirect(hub.url + "board", tok("t-admin"))
    assert status == 200 and "<title>Class board</title>" in page
    # the page's writes carry the hub's XSRF token (its cookie is set with the page)
    assert re.search(r'<meta name="xsrf" content="[^"]+">', page) and "_xsrf=" in headers["Set-Cookie"]


# ---------------------------------------------------------------------------------- the process
def start_process(db, port, env=None, args=()):
    env = dict(os.environ, CLASS_TEACHER_SECRET=SECRET, **(env or {}))
    env.pop("JUPYTERHUB_SERVICE_NAME", None)
    proc = subprocess.Popen([sys.executable, "-m", "explorer.serving.class_service", "--port", str(port),
                             "--db", str(db), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the class service exited: {proc.stdout.read()}")
        with contextlib.suppress(OSError):
            if call(url, path="healthz", timeout=1)[0] == 200:
                return proc, url
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the class service did not answer within 20 s")


def kill(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()


def test_kill_9_and_restart_lose_nothing_and_counters_keep_increasing(tmp_path):
    db, port = tmp_path / "class.sqlite", free_port()
    proc, url = start_process(db, port)
    try:
        register(url)
        register(url, "l1:q2")
        for who, choice in ((ALICE, 2), (BOB, 1)):
            assert call(url, "POST", "api/answers/l1:q1", {"choice": choice}, who)[0] == 200
        call(url, "POST", "api/questions/l1:q2/reveal", {"revealed": True}, TEACHER)
        for state in ("T=1", "T=2", "T=3"):
            call(url, "PUT", "api/follow/rbm", {"state": state}, TEACHER)
        before = board(url)
    finally:
        kill(proc)
    proc, url = start_process(db, port)
    try:
        assert board(url) == before
        assert call(url, path="api/questions/l1:q1", headers=ALICE)[1]["my_choice"] == 2
        assert call(url, path="api/questions/l1:q2", headers=BOB)[1] == {
            "qid": "l1:q2", "revealed": True, "my_choice": None, "rev": 2}
        assert call(url, path="api/follow/rbm", headers=ALICE)[1] == {"version": 3, "state": "T=3"}
        assert call(url, "PUT", "api/follow/rbm", {"state": "T=4"}, TEACHER)[1] == {"version": 4}
        call(url, "POST", "api/questions/l1:q2/reveal", {"revealed": False}, TEACHER)
        assert call(url, path="api/questions/l1:q2", headers=BOB)[1]["rev"] == 3
        assert board(url)["rev"] == before["rev"] + 1
        # the same student is the same participant after the restart (the HMAC key is kept)
        call(url, "POST", "api/answers/l1:q1", {"choice": 0}, ALICE)
        assert board(url)["questions"][0]["counts"] == [1, 1, 0]
    finally:
        kill(proc)


def test_the_command_line_prints_a_generated_teacher_link_and_stores_no_secret(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CLASS_TEACHER_SECRET", "JUPYTERHUB_SERVICE_NAME")}
    proc = subprocess.Popen([sys.executable, "-m", "explorer.serving.class_service", "--port", str(port),
                             "--db", str(tmp_path / "c" / "class.sqlite")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(rf"Teacher's board: http://127\.0\.0\.1:{port}/board\?secret=([A-Za-z0-9_-]{{32}})\n", line)
        assert m, line
        assert call(f"http://127.0.0.1:{port}/", path="api/whoami", headers={"Authorization": f"token {m.group(1)}"}
                    )[1] == {"role": "teacher"}
    finally:
        proc.terminate()
        assert proc.wait(10) == 0            # SIGTERM: a clean exit
        proc.stdout.close()
    for path in (tmp_path / "c").iterdir():
        assert m.group(1).encode() not in path.read_bytes()


def test_the_command_line_refuses_a_bad_secret_and_a_busy_port_with_one_line(tmp_path):
    run = [sys.executable, "-m", "explorer.serving.class_service", "--db", str(tmp_path / "c.sqlite")]
    bad = subprocess.run([*run, "--port", str(free_port())], cwd=ROOT, capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, CLASS_TEACHER_SECRET="short"))
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "CLASS_TEACHER_SECRET" in bad.stderr
    assert not (tmp_path / "c.sqlite").exists()                  # refused before creating anything
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = subprocess.run([*run, "--port", str(busy.getsockname()[1])], cwd=ROOT, capture_output=True,
                               text=True, timeout=30, env=dict(os.environ, CLASS_TEACHER_SECRET=SECRET))
    assert taken.returncode == 1 and "choose another --port" in taken.stderr and "Traceback" not in taken.stderr


def test_the_store_keeps_counters_across_reopening(tmp_path):
    path = tmp_path / "deep" / "folder" / "class.sqlite"
    store = ClassStore(path)
    assert (path.parent / ".gitignore").read_text() == "*\n"      # the class's data stays out of git
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.register_question("q", "Why?", ["a", "b"], "l", by_teacher=True)
    assert store.publish("c", "one") == 1
    key = store.student_key("c:" + ALICE_ID)
    store.close()
    store = ClassStore(path)
    try:
        assert store.publish("c", "two") == 2 and store.student_key("c:" + ALICE_ID) == key
        assert store.board_rev() == 1 and store.question_rev("q") == 1
    finally:
        store.close()


def test_the_board_page_asset_is_where_the_service_reads_it():
    page = Path(__file__).resolve().parents[2] / "explorer" / "serving" / "class_board.html"
    text = page.read_text()
    assert "__NONCE__" in text and "__XSRF__" in text and "No questions yet: open a lesson" in text


# ---------------------------------------------------------------------------------- the hub's settings
def _load_hub_config(monkeypatch, tmp_path, **env):
    from traitlets.config.loader import PyFileConfigLoader

    for name in ("HUB_PASSWORD", "HUB_ADMIN", "HUB_ADMIN_PASSWORD", "HUB_PRESTART_TOKEN", "HUB_CLASS_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HUB_PASSWORD", "our-class-2026")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    config = ROOT / "deploy" / "hub" / "jupyterhub_config.py"
    return PyFileConfigLoader(config.name, path=str(config.parent)).load_config()


def test_the_hub_runs_the_class_service_and_lets_kernels_reach_it(monkeypatch, tmp_path):
    c = _load_hub_config(monkeypatch, tmp_path, HUB_CLASS_PORT="8999")
    (svc,) = [s for s in c.JupyterHub.services if s["name"] == "class"]
    assert svc["url"] == "http://127.0.0.1:8999" and svc["oauth_no_confirm"] is True
    assert svc["command"][1:5] == ["-m", "explorer.serving.class_service", "--hub", "--db"]
    assert svc["command"][5] == str(tmp_path / "state" / "class.sqlite")
    assert c.JupyterHub.load_groups == {"teachers": {"users": []}}
    assert "access:services!service=class" in c.JupyterHub.extra_user_scopes
    assert "access:services!service=class" in c.Spawner.server_token_scopes
    assert {"users:activity!user", "access:servers!server"} <= set(c.Spawner.server_token_scopes)  # the default
    assert c.Spawner.environment["EXPLORER_CLASS_URL"] == "http://127.0.0.1:8999/services/class/"
    assert c.Spawner.environment["EXPLORER_CLASS_HUB"] == "1"


_TESTER_CONFIG = '''
c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821
# a test's own service with the right to make users and their tokens (what a kernel's token is)
c.JupyterHub.services.append({{"name": "tester", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "tester", "services": ["tester"],
                                 "scopes": ["admin:users", "tokens", "access:services", "admin:groups"]}})
'''


@pytest.mark.slow
def test_a_real_hub_runs_the_service_with_its_roles(tmp_path):
    """``deploy/hub/jupyterhub_config.py`` in a real JupyterHub: the hub starts the service, a token
    with the kernels' scopes identifies its user, admins and the teachers group teach."""
    from harness.hub import PROXY, stop_servers_under
    from harness.voila import stop_process_group, wait_until_answering

    if not PROXY.exists():
        pytest.skip("configurable-http-proxy is not installed (make hub installs it)")
    token = "t" * 40
    config = tmp_path / "tester_config.py"
    config.write_text(_TESTER_CONFIG.format(config=str(ROOT / "deploy" / "hub" / "jupyterhub_config.py"),
                                            token=token))
    port, class_port = free_port(), free_port()
    env = {**os.environ, "HUB_STATE_DIR": str(tmp_path / "state"), "HUB_PASSWORD": "our-class-2026",
           "HUB_ADMIN": "teach", "HUB_PORT": str(port), "HUB_API_PORT": str(free_port()),
           "HUB_PROXY_API_PORT": str(free_port()), "HUB_CLASS_PORT": str(class_port)}
    log = tmp_path / "hub.log"
    hub = subprocess.Popen([str(Path(sys.executable).with_name("jupyterhub")), "-f", str(config)], cwd=ROOT,
                           env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_until_answering(hub, base + "hub/login", 120, log, "jupyterhub")
        api = base + "hub/api/"
        admin = {"Authorization": f"token {token}"}
        for name in ("stu", "bo"):
            assert call(api, "POST", f"users/{name}", {}, admin)[0] == 201
        assert call(api, "POST", "groups/teachers/users", {"users": ["bo"]}, admin)[0] == 200
        kernel_scopes = ["access:services!service=class", "users:activity!user"]
        tokens = {}
        for name in ("stu", "bo", "teach"):
            status, made, _ = call(api, "POST", f"users/{name}/tokens", {"scopes": kernel_scopes}, admin)
            assert status == 201, made                  # every user holds the service's access scope
            tokens[name] = {"Authorization": f"token {made['token']}"}
        status, made, _ = call(api, "POST", "users/stu/tokens", {"scopes": ["users:activity!user"]}, admin)
        no_access = {"Authorization": f"token {made['token']}"}
        direct = f"http://127.0.0.1:{class_port}/services/class/"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if call(direct, path="healthz", timeout=2)[0] == 200:
                    break
            time.sleep(0.2)
        roles = {name: call(direct, path="api/whoami", headers=t)[1] for name, t in tokens.items()}
        assert roles == {"stu": {"role": "student"}, "bo": {"role": "teacher"}, "teach": {"role": "teacher"}}
        assert call(base + "services/class/", path="api/whoami", headers=tokens["stu"])[1] == {"role": "student"}
        assert_one_line_error(*call(direct, path="api/whoami", headers=no_access)[:2], 403)
        assert_one_line_error(*call(direct, path="api/board", headers=tokens["stu"])[:2], 403)
        status, headers, _ = get_no_redirect(base + "services/class/board")
        assert status == 302 and "/hub/api/oauth2/authorize" in headers["Location"]
    finally:
        stop_process_group(hub, timeout=30)
        stop_servers_under(tmp_path / "state")
