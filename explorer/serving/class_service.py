"""The class service: live predictions and "follow the teacher" for a whole class (issue 27).

One small tornado process per class owns the class's state (:mod:`explorer.serving.class_store`,
one SQLite file) and serves a JSON API that the students' and the teacher's Voila kernels call
(:mod:`explorer.serving.class_client`), plus the teacher's class board page (``/board``).

Run it::

    python -m explorer.serving.class_service [--port 8867] [--ip 127.0.0.1] [--db PATH] [--hub]

Two ways to know who is calling:

* classroom mode (the default): the teacher holds a secret (``CLASS_TEACHER_SECRET``, or one
  generated at start and printed with the board's link; it is stored nowhere) and sends it as
  ``Authorization: token <secret>`` or the cookie ``fee_teacher``; a student sends an id of
  their own (``X-Class-Student`` or the cookie ``fee_student``, 16-64 of ``[A-Za-z0-9_-]``).
  A wrong secret is refused (403), never taken for a student.
* hub mode (``--hub`` or ``JUPYTERHUB_SERVICE_NAME`` set: a JupyterHub-managed service): the
  hub's token (a kernel's ``JUPYTERHUB_API_TOKEN``) or the hub's OAuth cookie in a browser; hub
  admins and members of ``--teacher-group`` are teachers, every other user a student.

Students are anonymous to each other and to the teacher: the store keeps an HMAC of the
identity, and the teacher's list of participants shows pseudonyms.

The API (all JSON; errors are ``{"error": "one line"}``)::

    GET  healthz                               {"ok": true}                       (no identity)
    GET  api/whoami                            {"role": "teacher"|"student"}
    PUT  api/questions/<qid>                   {"text", "choices", "lesson"} -> {"qid"}
    GET  api/questions/<qid>?since=&wait=      {"qid", "revealed", "my_choice", "rev"}  (long poll)
    POST api/answers/<qid>                     {"choice": int} -> {"qid", "choice"}
    POST api/questions/<qid>/reveal            {"revealed": bool} -> {"qid", "revealed", "rev"}  teacher
    GET  api/board?since=&wait=                {"rev", "questions": [...]}  (long poll)     teacher
    GET  api/students                          [{"student": "s-1a2b3c", "answers": n}]      teacher
    PUT  api/follow/<channel>                  {"state": str} -> {"version"}                teacher
    GET  api/follow/<channel>?since=&wait=     {"version", "state"}  (long poll)
    GET  board                                 the class board page                         teacher

A long poll answers at once when the revision differs from ``since`` (normally: is newer), else
when it changes or after ``wait`` seconds (at most 25), with the current state either way.

Bounds: bodies of at most 16 kB (413); per identity 20 writes/s with bursts of 40 (429), and all
identities together 500/s; at most 200 open long polls per identity and a few thousand in all
(429/503); the store's own bounds (1000 questions, 100 channels: 409).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import hmac
import html
import json
import logging
import math
import os
import re
import resource
import secrets
import signal
import sqlite3
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from tornado import httpserver, locks, netutil, web

from .class_store import DEFAULT_PATH, ClassStore, StoreError, StoreLimit, UnknownQuestion

log = logging.getLogger("explorer.class_service")

ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,120}")
STUDENT_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_.~-]{8,128}")
TOKEN_HEADER = re.compile(r"(?:token|bearer)\s+(\S+)\s*", re.IGNORECASE)

MAX_BODY = 16 * 1024
#: Bodies past this are cut off by tornado itself (a bare 400); up to it they get a JSON 413.
MAX_READ_BODY = 1024 * 1024
MAX_WAIT = 25.0
WRITE_RATE, WRITE_BURST = 20.0, 40.0
ALL_WRITES_RATE, ALL_WRITES_BURST = 500.0, 1000.0
MAX_POLLS_PER_IDENTITY = 200
MAX_POLLS = 4000
#: Rate buckets kept (least recently used dropped first): a made-up id per request gains nothing
#: but a fresh bucket, and the table stays small.
MAX_BUCKETS = 10000

BOARD_PAGE = Path(__file__).with_name("class_board.html")


class ApiError(web.HTTPError):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status, message):
        super().__init__(status, "%s", message)
        self.message = message


@dataclass(frozen=True)
class Identity:
    """Who is calling.

    Attributes
    ----------
    role : str
        ``"teacher"`` or ``"student"``.
    name : str
        The identity, namespaced by how it was proven (``teacher``, ``c:<student id>``,
        ``u:<hub user>``): the input of the stored HMAC key, and the rate limits' key.
    via_cookie : bool
        Proven by a cookie (a browser), not a header (a kernel): its writes must be JSON-typed.
    """

    role: str
    name: str
    via_cookie: bool = False


def hub_role(model, teacher_group="teachers"):
    """The role of a hub user model: ``"teacher"``, ``"student"``, or None (a service, not a person).

    Parameters
    ----------
    model : dict
        What the hub answers for a token (``name``, ``kind``, ``admin``, ``groups``).
    teacher_group : str or None
        Members of this hub group are teachers, as are hub admins.
    """
    if not isinstance(model, dict) or model.get("kind", "user") != "user" or not model.get("name"):
        return None
    if model.get("admin"):
        return "teacher"
    if teacher_group and teacher_group in (model.get("groups") or ()):
        return "teacher"
    return "student"


class _Bucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate, burst):
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class Limits:
    """Write rates and open long polls, per identity and in all."""

    def __init__(self, max_polls=MAX_POLLS):
        self.buckets = collections.OrderedDict()
        self.all_writes = _Bucket(ALL_WRITES_RATE, ALL_WRITES_BURST)
        self.polls = collections.Counter()
        self.open_polls = 0
        self.max_polls = max_polls

    def write(self, name):
        bucket = self.buckets.pop(name, None) or _Bucket(WRITE_RATE, WRITE_BURST)
        self.buckets[name] = bucket
        while len(self.buckets) > MAX_BUCKETS:
            self.buckets.popitem(last=False)
        if not bucket.take():
            raise ApiError(429, f"too many writes: at most {WRITE_RATE:g} a second, try again shortly")
        if not self.all_writes.take():
            raise ApiError(429, "the class service is busy: try again shortly")

    @contextlib.contextmanager
    def poll(self, name):
        if self.polls[name] >= MAX_POLLS_PER_IDENTITY:
            raise ApiError(429, f"too many open long polls: at most {MAX_POLLS_PER_IDENTITY} per participant")
        if self.open_polls >= self.max_polls:
            raise ApiError(503, "the class service has too many open long polls: try again shortly")
        self.polls[name] += 1
        self.open_polls += 1
        try:
            yield
        finally:
            self.open_polls -= 1
            self.polls[name] -= 1
            if self.polls[name] <= 0:
                del self.polls[name]


class Notifier:
    """Wakes the long polls waiting on a key (``board``, ``q:<qid>``, ``f:<channel>``).

    One :class:`tornado.locks.Condition` per key that has waiters, dropped with its last waiter,
    so that made-up keys leave nothing behind.
    """

    def __init__(self):
        self._conditions = {}     # key -> [Condition, number of waiters]

    def notify(self, key):
        entry = self._conditions.get(key)
        if entry is not None:
            entry[0].notify_all()

    def waiter(self, key, seconds):
        """A future resolved when ``key`` is notified (True) or after ``seconds`` (False)."""
        entry = self._conditions.setdefault(key, [locks.Condition(), 0])
        entry[1] += 1
        future = entry[0].wait(timeout=datetime.timedelta(seconds=seconds))

        def release(_):
            entry[1] -= 1
            if entry[1] <= 0 and self._conditions.get(key) is entry:
                del self._conditions[key]

        future.add_done_callback(release)
        return future


class ClassService:
    """What the handlers share: the store, the notifier, the limits and how identities are proven.

    Parameters
    ----------
    store : ClassStore
    teacher_secret : str or None
        Classroom mode: the teacher's secret.
    hub_auth : jupyterhub.services.auth.HubOAuth or None
        Hub mode: checks tokens and the OAuth cookie with the hub (anything with the same
        ``get_user(handler, sync=False)``, ``access_scopes`` and ``check_scopes``, in tests).
    teacher_group : str
        Hub mode: members of this group are teachers (as are admins).
    prefix : str
        The URL prefix the service answers under (``/``, or ``/services/class/`` in a hub).
    """

    def __init__(self, store, *, teacher_secret=None, hub_auth=None, teacher_group="teachers", prefix="/"):
        if (teacher_secret is None) == (hub_auth is None):
            raise ValueError("give either a teacher secret (classroom mode) or hub_auth (hub mode)")
        self.store = store
        self.teacher_secret = teacher_secret
        self.hub_auth = hub_auth
        self.teacher_group = teacher_group
        self.prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
        self.notifier = Notifier()
        self.limits = Limits(_max_polls())

    @property
    def hub(self):
        return self.hub_auth is not None

    def _is_teacher_secret(self, value):
        return hmac.compare_digest(value.encode("utf-8"), self.teacher_secret.encode("utf-8"))

    def classroom_identity(self, handler):
        """The caller's identity in classroom mode; raises ApiError 401/403."""
        headers = handler.request.headers
        auth = headers.get("Authorization")
        if auth is not None:
            m = TOKEN_HEADER.fullmatch(auth)
            if not m or not self._is_teacher_secret(m.group(1)):
                raise ApiError(403, "wrong teacher token")
            return Identity("teacher", "teacher")
        cookie = handler.get_cookie("fee_teacher")
        if cookie is not None:
            if not self._is_teacher_secret(cookie):
                raise ApiError(403, "wrong teacher cookie: open the teacher's link again")
            return Identity("teacher", "teacher", via_cookie=True)
        student, via_cookie = headers.get("X-Class-Student"), False
        if student is None:
            student, via_cookie = handler.get_cookie("fee_student"), True
        if student is None:
            raise ApiError(401, "no identity: send X-Class-Student or the teacher's token")
        if not STUDENT_PATTERN.fullmatch(student):
            raise ApiError(401, "a student id has 16 to 64 characters of A-Z a-z 0-9 _ -")
        return Identity("student", "c:" + student, via_cookie=via_cookie)

    async def hub_identity(self, handler):
        """The caller's identity in hub mode; raises ApiError 401/403/503."""
        try:
            model = await self.hub_auth.get_user(handler, sync=False)
        except web.HTTPError as e:
            log.warning("the hub did not identify a caller: %s", e)
            raise ApiError(503, "could not check the login with the hub: try again shortly") from None
        if not model:
            if handler.request.headers.get("Authorization", "").strip() or handler.get_argument("token", ""):
                # a credential the hub does not know (forged, revoked): refused, as a wrong teacher
                # secret is in classroom mode
                raise ApiError(403, "the hub does not know this token")
            raise ApiError(401, "not logged in: log in to the hub")
        scopes = self.hub_auth.access_scopes
        if scopes and not self.hub_auth.check_scopes(scopes, model):
            raise ApiError(403, "this login may not use the class service")
        role = hub_role(model, self.teacher_group)
        if role is None:
            raise ApiError(403, "only hub users take part in a class")
        return Identity(role, "u:" + model["name"], via_cookie=not getattr(handler, "_token_authenticated", False))

    def key(self, identity):
        return self.store.student_key(identity.name)


def _max_polls():
    """At most :data:`MAX_POLLS` open long polls, fewer when file descriptors are scarce."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_POLLS + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
    if soft == resource.RLIM_INFINITY:
        return MAX_POLLS
    return max(16, min(MAX_POLLS, soft - 256))


def _valid_id(value, what):
    if not ID_PATTERN.fullmatch(value):
        raise ApiError(400, f"a {what} id has 1 to 120 characters of A-Z a-z 0-9 _ . : -")
    return value


# ---------------------------------------------------------------------------------- handlers
class BaseHandler(web.RequestHandler):
    """JSON in and out, one-line JSON errors, identity and limits checked before the method runs."""

    #: False for the handlers anybody may call (healthz).
    needs_identity = True
    #: Whether the handler's methods answer JSON (the board page answers HTML).
    is_json = True

    def initialize(self, service):
        self.service = service
        if service.hub:
            self.hub_auth = service.hub_auth
        self.identity = None
        self._closed = False
        self._waiting = None

    def set_default_headers(self):
        if self.is_json:
            self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")

    def get_current_user(self):
        return self.identity

    def check_xsrf_cookie(self):
        # Classroom mode: cookie-authenticated writes must be JSON-typed instead (prepare). Hub
        # mode: the hub's OAuth mixin (placed before this class) checks its own XSRF token.
        return None

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            message = exc.message
        elif isinstance(exc, web.HTTPError) or status_code < 500:
            message = {404: "not found", 405: "method not allowed"}.get(status_code, self._reason.lower())
        else:
            message = "internal error of the class service"
        if status_code == 429:
            self.set_header("Retry-After", "1")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": " ".join(str(message).split())}))

    async def prepare(self):
        if self.request.method in ("PUT", "POST") and len(self.request.body) > MAX_BODY:
            raise ApiError(413, f"request body larger than {MAX_BODY // 1024} kB")
        if not self.needs_identity:
            return
        self.identity = await self.authenticate()
        if self.request.method in ("PUT", "POST"):
            if self.identity.via_cookie and not self.request.headers.get("Content-Type", "").startswith(
                    "application/json"):
                # a page of another site can post a form with the browser's cookies, but not a
                # JSON-typed request (that needs a CORS preflight, which is never granted)
                raise ApiError(415, "send the body as application/json")
            self.service.limits.write(self.identity.name)

    async def authenticate(self):
        if self.service.hub:
            return await self.service.hub_identity(self)
        return self.service.classroom_identity(self)

    def require_teacher(self):
        if self.identity.role != "teacher":
            raise ApiError(403, "only the teacher may do this")

    def body(self):
        try:
            value = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "the body must be a JSON object") from None
        if not isinstance(value, dict):
            raise ApiError(400, "the body must be a JSON object")
        return value

    def send(self, obj):
        self.finish(json.dumps(obj))

    def poll_arguments(self):
        """``since`` (an integer >= 0) and ``wait`` (seconds, 0 to 25) from the query."""
        try:
            since = int(self.get_query_argument("since", "0"))
            wait = float(self.get_query_argument("wait", "0"))
        except ValueError:
            raise ApiError(400, "since must be an integer and wait a number of seconds") from None
        if since < 0 or not math.isfinite(wait) or wait < 0:
            raise ApiError(400, "since must be >= 0 and wait between 0 and 25 seconds")
        return since, min(wait, MAX_WAIT)

    async def long_poll(self, key, current, since, wait):
        """Wait until ``current()`` differs from ``since``, at most ``wait`` seconds.

        ``current()`` reads the revision from the store (the truth), so a notification is only
        a hint to look again: nothing is missed between the check and the wait.
        """
        if current() != since or wait <= 0:
            return
        deadline = time.monotonic() + wait
        with self.service.limits.poll(self.identity.name):
            while not self._closed and current() == since:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._waiting = self.service.notifier.waiter(key, remaining)
                await self._waiting
            self._waiting = None

    def on_connection_close(self):
        # the client went away: stop waiting for it (frees its long-poll slot at once)
        self._closed = True
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(False)


class HealthHandler(BaseHandler):
    needs_identity = False

    def get(self):
        self.send({"ok": True})


class NotFoundHandler(BaseHandler):
    needs_identity = False

    def prepare(self):
        raise ApiError(404, "not found")


class RootHandler(BaseHandler):
    """The service's root (the hub links services there): the class board."""

    needs_identity = False

    def get(self):
        self.redirect(self.service.prefix + "board")


class WhoamiHandler(BaseHandler):
    def get(self):
        self.send({"role": self.identity.role})


@contextlib.contextmanager
def store_errors():
    """The store's refusals as API errors: an unknown question 404, a full store 409, bad input 400."""
    try:
        yield
    except UnknownQuestion:
        raise ApiError(404, "no such question") from None
    except StoreLimit as e:
        raise ApiError(409, str(e)) from None
    except StoreError as e:
        raise ApiError(400, str(e)) from None


class QuestionHandler(BaseHandler):
    def put(self, qid):
        _valid_id(qid, "question")
        body = self.body()
        with store_errors():
            changed = self.service.store.register_question(
                qid, body.get("text"), body.get("choices"), body.get("lesson", ""),
                by_teacher=self.identity.role == "teacher")
        if changed:
            self.service.notifier.notify("board")
            self.service.notifier.notify("q:" + qid)
        self.send({"qid": qid})

    async def get(self, qid):
        _valid_id(qid, "question")
        since, wait = self.poll_arguments()
        store = self.service.store

        def current():
            rev = store.question_rev(qid)
            if rev is None:
                raise ApiError(404, "no such question")
            return rev

        await self.long_poll("q:" + qid, current, since, wait)
        if self._closed:
            return
        self.send(store.question(qid, self.service.key(self.identity)))


class AnswerHandler(BaseHandler):
    def post(self, qid):
        _valid_id(qid, "question")
        choice = self.body().get("choice")
        with store_errors():
            changed = self.service.store.answer(qid, self.service.key(self.identity), choice)
        if changed:
            self.service.notifier.notify("board")
        self.send({"qid": qid, "choice": choice})


class RevealHandler(BaseHandler):
    def post(self, qid):
        _valid_id(qid, "question")
        self.require_teacher()
        revealed = self.body().get("revealed", True)
        if not isinstance(revealed, bool):
            raise ApiError(400, "revealed must be true or false")
        try:
            rev = self.service.store.reveal(qid, revealed)
        except UnknownQuestion:
            raise ApiError(404, "no such question") from None
        self.service.notifier.notify("q:" + qid)
        self.service.notifier.notify("board")
        self.send({"qid": qid, "revealed": revealed, "rev": rev})


class BoardApiHandler(BaseHandler):
    async def get(self):
        self.require_teacher()
        since, wait = self.poll_arguments()
        store = self.service.store
        await self.long_poll("board", store.board_rev, since, wait)
        if self._closed:
            return
        rev, questions = store.board()
        self.send({"rev": rev, "questions": questions})


class StudentsHandler(BaseHandler):
    def get(self):
        self.require_teacher()
        self.send(self.service.store.students())


class FollowHandler(BaseHandler):
    def put(self, channel):
        _valid_id(channel, "channel")
        self.require_teacher()
        state = self.body().get("state")
        with store_errors():
            version = self.service.store.publish(channel, state)
        self.service.notifier.notify("f:" + channel)
        self.send({"version": version})

    async def get(self, channel):
        _valid_id(channel, "channel")
        since, wait = self.poll_arguments()
        store = self.service.store
        await self.long_poll("f:" + channel, lambda: store.follow(channel)[0], since, wait)
        if self._closed:
            return
        version, state = store.follow(channel)
        self.send({"version": version, "state": state})


class BoardPageHandler(BaseHandler):
    """The teacher's class board (HTML); errors are short HTML pages, not JSON."""

    needs_identity = False
    is_json = False

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.message if isinstance(exc, ApiError) else "The class board is not available."
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Class board</title>'
                    f'</head><body><h1>Class board</h1><p>{html.escape(message)}</p></body></html>')

    async def get(self):
        service = self.service
        secret = self.get_query_argument("secret", None)
        if secret is not None and not service.hub:
            if not service._is_teacher_secret(secret):
                raise ApiError(403, "This is not the teacher's link: use the one the class service printed.")
            # the secret moves into an HttpOnly cookie and out of the address bar (the projector)
            self.set_cookie("fee_teacher", secret, httponly=True, samesite="Lax", path="/")
            self.redirect(service.prefix + "board")
            return
        try:
            self.identity = await self.authenticate()
        except ApiError as e:
            if e.status_code == 401 and service.hub:
                self.redirect(self.get_login_url())      # the hub's OAuth login, then back here
                return
            if e.status_code == 401:
                raise ApiError(401, "Open the teacher's link that the class service printed when it started.") \
                    from None
            raise
        if self.identity.role != "teacher":
            raise ApiError(403, "The class board is for the teacher only.")
        nonce = secrets.token_urlsafe(16)
        xsrf = self.xsrf_token if service.hub else ""      # the hub's XSRF token for the page's writes
        xsrf = xsrf.decode("ascii") if isinstance(xsrf, bytes) else xsrf
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy",
                        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        page = _board_page().replace("__NONCE__", nonce).replace("__XSRF__", html.escape(xsrf, quote=True))
        self.finish(page)


_page_cache = []


def _board_page():
    if not _page_cache:
        try:
            _page_cache.append(BOARD_PAGE.read_text(encoding="utf-8"))
        except OSError:
            log.error("the class board page is missing: %s (installed without explorer/serving/*.html?)",
                      BOARD_PAGE)
            raise ApiError(500, "The class board page is missing from this installation.") from None
    return _page_cache[0]


def _with_hub_login(handler_class):
    """``handler_class`` with JupyterHub's OAuth mixin: its login redirect and its XSRF check for
    cookie-authenticated writes; the identity stays ours (checked in ``prepare``)."""
    from jupyterhub.services.auth import HubOAuthenticated

    class _OurIdentity:
        def get_current_user(self):
            return self.identity

    return type(handler_class.__name__, (_OurIdentity, HubOAuthenticated, handler_class), {})


def _log_request(handler):
    """tornado's access log, with the successful requests at DEBUG: 30 pages long-polling would
    otherwise write a line each every 20 s into the teacher's terminal; refusals and errors stay."""
    status = handler.get_status()
    level = logging.DEBUG if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    logging.getLogger("tornado.access").log(level, "%d %s %.1f ms", status, handler._request_summary(),
                                            1000.0 * handler.request.request_time())


def make_app(service):
    """The tornado application of ``service`` (routes under ``service.prefix``)."""
    p = re.escape(service.prefix)
    routes = [
        (p, RootHandler),
        (p + r"healthz", HealthHandler),
        (p + r"api/whoami", WhoamiHandler),
        (p + r"api/questions/([^/]+)/reveal", RevealHandler),
        (p + r"api/questions/([^/]+)", QuestionHandler),
        (p + r"api/answers/([^/]+)", AnswerHandler),
        (p + r"api/board", BoardApiHandler),
        (p + r"api/students", StudentsHandler),
        (p + r"api/follow/([^/]+)", FollowHandler),
        (p + r"board", BoardPageHandler),
    ]
    settings = {"default_handler_class": NotFoundHandler, "default_handler_args": {"service": service},
                "log_function": _log_request}
    if service.hub:
        from jupyterhub.services.auth import HubOAuthCallbackHandler

        class OAuthCallback(HubOAuthCallbackHandler):
            def initialize(self, service):
                self.hub_auth = service.hub_auth

        routes = [(pattern, _with_hub_login(cls)) for pattern, cls in routes]
        routes.append((p + r"oauth_callback", OAuthCallback))
        # the OAuth cookie is signed with this: stable across restarts, so a restart logs no one out
        settings["cookie_secret"] = service.store.derived_secret("hub-cookie").hex()
    return web.Application([(pattern, cls, {"service": service}) for pattern, cls in routes], **settings)


def listen(app, port, address):
    """Start serving ``app`` on the running event loop; returns ``(HTTPServer, port)``.

    ``port`` 0 picks a free port (tests). Bodies over 1 MB are cut off by tornado itself.
    """
    sockets = netutil.bind_sockets(port, address)
    server = httpserver.HTTPServer(app, max_body_size=MAX_READ_BODY, xheaders=False)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


# ---------------------------------------------------------------------------------- command line
def _parser():
    parser = argparse.ArgumentParser(prog="python -m explorer.serving.class_service",
                                     description="The class service: live predictions and follow-the-teacher.")
    parser.add_argument("--port", type=int, default=8867, help="port to listen on (default 8867)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--db", default=str(DEFAULT_PATH), help=f"the class's SQLite file (default {DEFAULT_PATH})")
    parser.add_argument("--hub", action="store_true",
                        help="run as a JupyterHub service (default when JUPYTERHUB_SERVICE_NAME is set)")
    parser.add_argument("--teacher-group", default="teachers",
                        help="hub mode: members of this hub group are teachers, as are admins (default teachers)")
    return parser


def _fail(message):
    print(f"class service: {message}", file=sys.stderr, flush=True)
    return 1


def main(argv=None):
    """Run the class service until SIGINT/SIGTERM; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[class service %(levelname)s %(asctime)s] %(message)s",
                        datefmt="%H:%M:%S")
    hub = args.hub or bool(os.environ.get("JUPYTERHUB_SERVICE_NAME"))
    # the settings first: a refused start leaves no file behind
    if hub:
        url = urllib.parse.urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", ""))
        missing = [name for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_CLIENT_ID") if not os.environ.get(name)]
        if not url.hostname or not url.port or missing:
            return _fail("hub mode needs JUPYTERHUB_SERVICE_URL, JUPYTERHUB_API_TOKEN and JUPYTERHUB_CLIENT_ID "
                         "(JupyterHub sets them for a managed service)")
        # on Kubernetes the URL names the hub's Service ("hub"), which is no address of the pod's
        # own: CLASS_SERVICE_BIND_IP (e.g. 0.0.0.0, deploy/k8s/config.yaml) says where to listen
        ip, port = os.environ.get("CLASS_SERVICE_BIND_IP") or url.hostname, url.port
        link = None
    else:
        secret = os.environ.get("CLASS_TEACHER_SECRET", "")
        if secret and not SECRET_PATTERN.fullmatch(secret):
            return _fail("CLASS_TEACHER_SECRET must have 8 to 128 characters of A-Z a-z 0-9 _ . ~ -")
        shown = secret and "$CLASS_TEACHER_SECRET"     # a chosen secret is not printed
        secret = secret or secrets.token_urlsafe(24)
        ip, port = args.ip, args.port
        host = f"[{ip}]" if ":" in ip else ip
        link = f"http://{host}:{port}/board?secret={shown or secret}"
    try:
        store = ClassStore(args.db)
    except (OSError, ValueError, sqlite3.Error) as e:
        return _fail(f"cannot open the class's file {args.db}: {e}")
    try:
        if hub:
            # jupyterhub imports alembic, whose plugins announce themselves at INFO
            logging.getLogger("alembic").setLevel(logging.WARNING)
            from jupyterhub.services.auth import HubOAuth

            # whoami answers are cached a minute: a teacher added to the group is one within a minute
            service = ClassService(store, hub_auth=HubOAuth(cache_max_age=60), teacher_group=args.teacher_group,
                                   prefix=os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or "/services/class/")
        else:
            service = ClassService(store, teacher_secret=secret)
        return asyncio.run(_serve(service, ip, port, link, args.db))
    finally:
        store.close()


async def _serve(service, ip, port, link, db):
    try:
        server, port = listen(make_app(service), port, ip)
    except OSError as e:
        return _fail(f"cannot listen on {ip}:{port} ({e.strerror or e}): choose another --port")
    log.info("serving %s on http://%s:%d%s (%s mode)", db, ip, port, service.prefix,
             "hub" if service.hub else "classroom")
    if ip not in ("127.0.0.1", "::1", "localhost"):
        log.warning("listening on %s: reachable from other machines, over plain HTTP", ip)
    if link:
        print(f"Teacher's board: {link}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # closing the connections ends the open long polls (they answer nothing) before the store closes
    server.stop()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(server.close_all_connections(), 5)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
