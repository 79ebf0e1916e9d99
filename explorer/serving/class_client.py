"""The class service's client, for the kernels of the explorers and lessons (issue 27).

A kernel builds one :class:`ClassLink` with :meth:`ClassLink.from_environment`; there is none
(``None``) when ``EXPLORER_CLASS_URL`` is unset, as with ``make app``: the class features are then
simply absent. The service's API is described in :mod:`explorer.serving.class_service`.

Rules every method follows, because it runs inside a student's page:

* it never raises into the caller: a failure is a ``False`` / ``None`` result, logged once
  through :mod:`logging` (no tracebacks), and logged again only after the service came back;
* plain calls time out after 2 s, long polls after their wait plus 5 s;
* nothing a student did is lost while the service restarts: :meth:`ClassLink.answer` keeps the
  latest choice per question and a daemon thread re-sends it (re-registering the question if the
  service does not know it) until it is recorded; :meth:`ClassLink.publish` keeps the teacher's
  latest state per channel and sends it when it can, never an older one after a newer one;
  watches (:meth:`ClassLink.watch_channel`, :meth:`ClassLink.watch_question`) retry with a backoff
  of 0.2 s to 3 s and resume where they were, so a page recovers without a reload.

Only the standard library (urllib), and never a proxy: the service is on this machine or the
hub's network, and the proxy variables of the environment are ignored.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

log = logging.getLogger("explorer.class_client")

#: Seconds a plain call may take.
PLAIN_TIMEOUT = 2.0
#: A long poll may take its wait plus this.
POLL_MARGIN = 5.0
#: How long a watch asks the service to hold each poll.
WATCH_WAIT = 20.0
#: The service's longest wait.
MAX_WAIT = 25.0
#: After an unknown role (service down, not authenticated), ask again after this many seconds.
ROLE_RETRY = 5.0
BACKOFF_MIN, BACKOFF_MAX = 0.2, 3.0
#: The teacher's states are sent at most this often per channel (the latest one wins): a dragged
#: slider changes the state dozens of times a second, followers need it within a second.
PUBLISH_INTERVAL = 0.1

_ID = re.compile(r"[A-Za-z0-9_.:-]{1,120}")
_STUDENT = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SECRET = re.compile(r"[\x21-\x7e]{1,256}")


class _Unavailable(Exception):
    """The service could not answer now (down, timed out, 5xx, 429): worth trying again."""


class _Refused(Exception):
    """The service answered no (4xx): trying again would get the same answer."""

    def __init__(self, status, message):
        super().__init__(f"{status} {message}")
        self.status = status


def _parse_cookies(header):
    """``{name: value}`` of a Cookie header; malformed pieces are skipped (SimpleCookie drops all)."""
    cookies = {}
    for piece in (header or "").split(";"):
        name, sep, value = piece.partition("=")
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies.setdefault(name.strip(), value)
    return cookies


class Watch:
    """A daemon thread following a channel or a question; :meth:`stop` ends it.

    The thread may still be inside a long poll when stopped: it then ends when the poll returns
    (at most ``WATCH_WAIT + POLL_MARGIN`` seconds later) without calling back again.
    """

    def __init__(self, run, name):
        self._stop = threading.Event()
        self.thread = threading.Thread(target=run, args=(self._stop,), name=name, daemon=True)

    def _start(self):
        self.thread.start()
        return self

    def stop(self):
        """Stop calling back (at once) and end the thread (when its current poll returns)."""
        self._stop.set()

    @property
    def stopped(self):
        return self._stop.is_set()

    def join(self, timeout=None):
        if self.thread.is_alive():
            self.thread.join(timeout)


class _Channel:
    """What :meth:`ClassLink.publish` keeps for one channel."""

    __slots__ = ("latest", "serial", "sent_serial", "in_flight", "last_sent", "failing", "version")

    def __init__(self):
        self.latest = None
        self.serial = 0          # publish() calls so far
        self.sent_serial = 0     # the serial the service has (or refused)
        self.in_flight = False   # one request at a time per channel: no older state after a newer
        self.last_sent = -1e9
        self.failing = False     # the last send found the service unavailable: the thread retries
        self.version = None

    @property
    def pending(self):
        return self.serial > self.sent_serial


class ClassLink:
    """A kernel's connection to the class service. Thread-safe; no method raises.

    Parameters
    ----------
    base_url : str
        The service's root URL, e.g. ``http://127.0.0.1:8867/`` or ``.../services/class/``.
    headers : dict
        What proves the caller's identity (``Authorization`` or ``X-Class-Student``); empty for
        an anonymous page, which then has no class features (every call fails without a request).
    """

    def __init__(self, base_url, headers=None):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._headers = dict(headers or {})
        # no proxies: the service is local (or in the hub's network) and nothing leaves the machine
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._lock = threading.Lock()           # the fields below
        self._send_lock = threading.Lock()      # answers are sent one at a time: the latest is sent last
        self._role = None
        self._role_checked = -1e9
        self._questions = {}                    # qid -> registration body (re-sent after a 404)
        self._answers = {}                      # qid -> (serial, choice) not yet recorded
        self._serial = 0
        self._channels = {}                     # channel -> _Channel
        self._logged = set()
        self._closing = threading.Event()
        self._answer_wake = threading.Event()
        self._publish_wake = threading.Event()
        self._answer_thread = None
        self._publish_thread = None

    def __repr__(self):
        who = "teacher" if "Authorization" in self._headers else "student" if self._headers else "anonymous"
        return f"ClassLink({self.base_url!r}, {who})"

    @classmethod
    def from_environment(cls, environ=None):
        """The kernel's link to its class, or None when there is no class service.

        Parameters
        ----------
        environ : mapping, optional
            Default ``os.environ``. ``EXPLORER_CLASS_URL``: the service (unset or empty: None).
            In a hub (``EXPLORER_CLASS_HUB=1`` and ``JUPYTERHUB_API_TOKEN``) the server's token
            is the identity; otherwise the page's cookies (``HTTP_COOKIE``, which Voila passes
            from the browser): ``fee_teacher`` (the teacher's secret) or ``fee_student``.

        Returns
        -------
        ClassLink or None
        """
        env = os.environ if environ is None else environ
        url = (env.get("EXPLORER_CLASS_URL") or "").strip()
        if not url:
            return None
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            log.warning("EXPLORER_CLASS_URL is not an http(s) URL: the class features are off")
            return None
        headers = {}
        token = (env.get("JUPYTERHUB_API_TOKEN") or "").strip()
        if env.get("EXPLORER_CLASS_HUB", "").strip() == "1" and token and _SECRET.fullmatch(token):
            headers["Authorization"] = "token " + token
        else:
            cookies = _parse_cookies(env.get("HTTP_COOKIE", ""))
            teacher, student = cookies.get("fee_teacher", ""), cookies.get("fee_student", "")
            if teacher and _SECRET.fullmatch(teacher):
                headers["Authorization"] = "token " + teacher
            elif _STUDENT.fullmatch(student):
                headers["X-Class-Student"] = student
        return cls(url, headers)

    # ------------------------------------------------------------------ plumbing
    def close(self):
        """Stop the sender threads (watches are stopped by their own :meth:`Watch.stop`)."""
        self._closing.set()
        self._answer_wake.set()
        self._publish_wake.set()

    def _problem(self, key, message):
        with self._lock:
            first = key not in self._logged
            self._logged.add(key)
        (log.warning if first else log.debug)("class service: %s", message)

    def _recovered(self):
        with self._lock:
            had = bool(self._logged)
            self._logged.clear()
        if had:
            log.info("class service: reachable again at %s", self.base_url)

    def _request(self, method, path, body=None, timeout=PLAIN_TIMEOUT):
        """JSON of the service's answer; raises _Unavailable or _Refused."""
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                payload = json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read() or b"{}").get("error", e.reason)
            except (ValueError, AttributeError, OSError):
                message = e.reason
            finally:
                e.close()
            if e.code >= 500 or e.code == 429:
                raise _Unavailable(f"{e.code} {message}") from None
            raise _Refused(e.code, message) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as e:
            raise _Unavailable(str(getattr(e, "reason", e)) or type(e).__name__) from None
        self._recovered()
        return payload

    def _call(self, method, path, body=None, timeout=PLAIN_TIMEOUT):
        """:meth:`_request`, with failures logged and turned into None."""
        if not self._headers:
            return None
        try:
            return self._request(method, path, body, timeout)
        except _Unavailable as e:
            self._problem("unavailable", f"not reachable at {self.base_url} ({e})")
        except _Refused as e:
            self._problem(f"refused {method} {path.split('/')[1] if '/' in path else path} {e.status}",
                          f"{method} {path} refused: {e}")
        return None

    @staticmethod
    def _valid(value, what):
        if isinstance(value, str) and _ID.fullmatch(value):
            return True
        log.warning("class service: %r is not a valid %s id", value, what)
        return False

    @staticmethod
    def _poll_query(since, wait):
        try:
            since = max(0, int(since))
            wait = min(MAX_WAIT, max(0.0, float(wait)))
        except (TypeError, ValueError):
            since, wait = 0, 0.0
        return since, wait

    @staticmethod
    def _quote(value):
        return urllib.parse.quote(value, safe="")

    # ------------------------------------------------------------------ identity and questions
    def role(self):
        """``"teacher"``, ``"student"``, or None (no service, not authenticated; asked again after 5 s)."""
        with self._lock:
            if self._role is not None or not self._headers:
                return self._role
            if time.monotonic() - self._role_checked < ROLE_RETRY:
                return None
            self._role_checked = time.monotonic()
        answer = self._call("GET", "api/whoami")
        role = answer.get("role") if isinstance(answer, dict) else None
        if role in ("teacher", "student"):
            with self._lock:
                self._role = role
            return role
        return None

    def register_question(self, qid, text, choices, lesson):
        """Register a lesson's question (a teacher's registration overwrites its text); True when done.

        Kept by the link even when the service is down: a queued answer re-registers it.
        """
        if not self._valid(qid, "question"):
            return False
        body = {"text": text, "choices": list(choices), "lesson": lesson}
        with self._lock:
            self._questions[qid] = body
        return self._call("PUT", "api/questions/" + self._quote(qid), body) is not None

    def answer(self, qid, choice):
        """Record the caller's choice for ``qid``; True when recorded now.

        When the service cannot answer, the latest choice per question is kept and re-sent from a
        daemon thread (backoff 0.2 s to 3 s) until recorded, so no answer is lost across a restart.
        """
        if not self._valid(qid, "question") or not self._headers:
            return False
        if isinstance(choice, bool) or not isinstance(choice, int):
            log.warning("class service: a choice is an integer, not %r", choice)
            return False
        with self._lock:
            self._serial += 1
            self._answers[qid] = (self._serial, choice)
        # one send at a time, each of the latest choice: a re-send of an older choice cannot
        # arrive after a newer one
        if not self._send_lock.acquire(timeout=PLAIN_TIMEOUT + 0.5):
            self._start_answer_thread()
            return False
        try:
            recorded = self._send_answer(qid)
        finally:
            self._send_lock.release()
        if not recorded:
            self._start_answer_thread()
        return recorded

    def _send_answer(self, qid):
        """Send the pending choice of ``qid`` (send lock held); True when recorded."""
        with self._lock:
            item = self._answers.get(qid)
        if item is None:
            return True
        serial, choice = item
        path = "api/answers/" + self._quote(qid)
        try:
            try:
                self._request("POST", path, {"choice": choice})
            except _Refused as e:
                body = self._questions.get(qid)
                if e.status != 404 or body is None:
                    raise
                # the service does not know the question (it was down when the lesson registered
                # it): register it now, then answer
                self._request("PUT", "api/questions/" + self._quote(qid), body)
                self._request("POST", path, {"choice": choice})
        except _Unavailable as e:
            self._problem("unavailable", f"not reachable at {self.base_url} ({e}); the answer is kept")
            return False
        except _Refused as e:
            self._problem(f"answer refused {e.status}", f"answer to {qid} refused: {e}")
            with self._lock:
                if self._answers.get(qid, (None,))[0] == serial:
                    del self._answers[qid]
            return False
        with self._lock:
            if self._answers.get(qid, (None,))[0] == serial:
                del self._answers[qid]
        return True

    def _start_answer_thread(self):
        with self._lock:
            if self._answer_thread is None:
                self._answer_thread = threading.Thread(target=self._answer_loop, name="class-answers",
                                                       daemon=True)
                self._answer_thread.start()
        self._answer_wake.set()

    def _answer_loop(self):
        delay = BACKOFF_MIN
        while not self._closing.is_set():
            self._answer_wake.clear()
            with self._lock:
                waiting = list(self._answers)
            if not waiting:
                self._answer_wake.wait()
                continue
            failed = False
            for qid in waiting:
                with self._send_lock:
                    recorded = self._send_answer(qid)
                with self._lock:
                    still = qid in self._answers
                if not recorded and still:
                    failed = True       # the service is down: the others would fail too
                    break
            if failed:
                self._closing.wait(delay)
                delay = min(BACKOFF_MAX, delay * 2)
            else:
                delay = BACKOFF_MIN

    def pending_answers(self):
        """``{qid: choice}`` not yet recorded by the service."""
        with self._lock:
            return {qid: choice for qid, (_, choice) in self._answers.items()}

    def question(self, qid, since=0, wait=0.0):
        """``{"qid", "revealed", "my_choice", "rev"}``, after waiting up to ``wait`` s for a rev
        other than ``since``; None when unavailable."""
        if not self._valid(qid, "question"):
            return None
        since, wait = self._poll_query(since, wait)
        answer = self._call("GET", f"api/questions/{self._quote(qid)}?since={since}&wait={wait:g}",
                            timeout=wait + POLL_MARGIN)
        return answer if isinstance(answer, dict) and "rev" in answer else None

    def reveal(self, qid, revealed=True):
        """Teacher: show (or hide again) the answer of ``qid`` to the students; True when done."""
        if not self._valid(qid, "question"):
            return False
        return self._call("POST", f"api/questions/{self._quote(qid)}/reveal", {"revealed": bool(revealed)}) \
            is not None

    # ------------------------------------------------------------------ follow the teacher
    def publish(self, channel, state):
        """Teacher: publish ``state`` on ``channel``; the new version when sent now, else None.

        At most one request per channel is in flight and at most one per
        :data:`PUBLISH_INTERVAL`: a state published meanwhile is sent by a daemon thread, only the
        latest one (intermediate states are skipped). While the service is unavailable the latest
        state is kept and sent when it is back.
        """
        if not self._valid(channel, "channel") or not self._headers:
            return None
        if not isinstance(state, str):
            log.warning("class service: a published state is a string, not %s", type(state).__name__)
            return None
        with self._lock:
            ch = self._channels.setdefault(channel, _Channel())
            ch.latest = state
            ch.serial += 1
            if ch.in_flight or ch.failing or time.monotonic() - ch.last_sent < PUBLISH_INTERVAL:
                defer = True
            else:
                defer = False
                ch.in_flight = True
        if defer:
            self._start_publish_thread()
            return None
        version = self._send_state(channel, ch)
        with self._lock:
            again = ch.pending
        if again:
            self._start_publish_thread()
        return version

    def _send_state(self, channel, ch):
        """Send the channel's latest state (``ch.in_flight`` set by the caller); the version or None."""
        with self._lock:
            serial, state = ch.serial, ch.latest
        version = None
        try:
            answer = self._request("PUT", "api/follow/" + self._quote(channel), {"state": state})
            version = answer.get("version") if isinstance(answer, dict) else None
            with self._lock:
                ch.sent_serial = max(ch.sent_serial, serial)
                ch.version = version
                ch.failing = False
        except _Unavailable as e:
            self._problem("unavailable", f"not reachable at {self.base_url} ({e}); the state is kept")
            with self._lock:
                ch.failing = True
        except _Refused as e:
            self._problem(f"publish refused {e.status}", f"publishing on {channel} refused: {e}")
            with self._lock:
                ch.sent_serial = max(ch.sent_serial, serial)     # refused: sending it again won't help
        finally:
            with self._lock:
                ch.in_flight = False
                ch.last_sent = time.monotonic()
        return version

    def _start_publish_thread(self):
        with self._lock:
            if self._publish_thread is None:
                self._publish_thread = threading.Thread(target=self._publish_loop, name="class-publish",
                                                        daemon=True)
                self._publish_thread.start()
        self._publish_wake.set()

    def _publish_loop(self):
        delay = BACKOFF_MIN
        while not self._closing.is_set():
            self._publish_wake.clear()
            now = time.monotonic()
            due, todo = None, []
            with self._lock:
                for name, ch in self._channels.items():
                    if not ch.pending or ch.in_flight:
                        continue
                    ready = ch.last_sent + (delay if ch.failing else PUBLISH_INTERVAL)
                    if ready <= now:
                        ch.in_flight = True
                        todo.append((name, ch))
                    else:
                        due = ready if due is None else min(due, ready)
            if not todo:
                # nothing to send now: sleep until the next one is due or publish() wakes us
                self._publish_wake.wait(None if due is None else max(0.0, due - now))
                continue
            failed = False
            for name, ch in todo:
                self._send_state(name, ch)
                failed |= ch.failing
            delay = min(BACKOFF_MAX, delay * 2) if failed else BACKOFF_MIN

    def follow(self, channel, since=0, wait=WATCH_WAIT):
        """``(version, state)`` of a channel after waiting up to ``wait`` s for a version other than
        ``since`` (``(0, None)`` when never published); None when unavailable."""
        if not self._valid(channel, "channel"):
            return None
        since, wait = self._poll_query(since, wait)
        answer = self._call("GET", f"api/follow/{self._quote(channel)}?since={since}&wait={wait:g}",
                            timeout=wait + POLL_MARGIN)
        if not isinstance(answer, dict) or not isinstance(answer.get("version"), int):
            return None
        return answer["version"], answer.get("state")

    # ------------------------------------------------------------------ watches
    @staticmethod
    def _poll_loop(poll, deliver, since):
        """A watch's thread body: ``poll(seen)`` long-polls (None: the service is unavailable, retry
        with a backoff of BACKOFF_MIN to BACKOFF_MAX), ``deliver(seen, got)`` hands on what is new and
        returns the new mark."""
        def run(stop):
            seen, delay = since, BACKOFF_MIN
            while not stop.is_set():
                got = poll(seen)
                if stop.is_set():
                    return
                if got is None:
                    stop.wait(delay)
                    delay = min(BACKOFF_MAX, delay * 2)
                    continue
                delay = BACKOFF_MIN
                seen = deliver(seen, got)
        return run

    def watch_channel(self, channel, on_state, since=0):
        """Call ``on_state(version, state)`` from a daemon thread for every new version of ``channel``.

        The first poll answers at once with the current state when its version differs from
        ``since`` (so ``since=0`` delivers the state already published). While the service is
        unavailable the watch retries with a backoff of 0.2 s to 3 s and then resumes.

        Returns
        -------
        Watch
        """
        def deliver(seen, got):
            version, state = got
            if version != seen and state is not None:
                self._callback(on_state, "on_state", version, state)
            return version

        run = self._poll_loop(lambda seen: self.follow(channel, seen, WATCH_WAIT), deliver, since)
        return self._watch(run, f"class-follow-{channel}", channel, "channel")

    def watch_question(self, qid, on_change, since=0):
        """Call ``on_change(question)`` (the dict of :meth:`question`) from a daemon thread for every
        new revision of ``qid`` (a reveal, a hide); like :meth:`watch_channel` otherwise.

        Returns
        -------
        Watch
        """
        def deliver(seen, got):
            if got["rev"] != seen:
                self._callback(on_change, "on_change", got)
            return got["rev"]

        run = self._poll_loop(lambda seen: self.question(qid, seen, WATCH_WAIT), deliver, since)
        return self._watch(run, f"class-question-{qid}", qid, "question")

    def _watch(self, run, name, ident, what):
        watch = Watch(run, name)
        if not self._valid(ident, what) or not self._headers:
            watch.stop()            # nothing to follow: a stopped watch, no thread
            return watch
        return watch._start()

    def _callback(self, fn, what, *args):
        try:
            fn(*args)
        except Exception as e:  # a page's callback must not end the watch
            self._problem(f"callback {what}", f"{what} callback failed: {type(e).__name__}: {e}")
