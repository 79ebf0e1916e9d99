"""The class, connected, on the widget side (explorer.app.core.class_mode) with a stand-in link:
a teacher's explorer publishes its State, a following student's explorer applies it and stops
following when the student moves a control, a lesson question waits for the teacher's reveal.
The service itself and the real client are tested in tests/serving/test_class_service.py."""

from __future__ import annotations

import threading
import time

import pytest

from explorer.app.core import class_mode


class FakeWatch:
    def __init__(self, owner, key):
        self.owner, self.key, self.stopped = owner, key, False

    def stop(self):
        self.stopped = True
        self.owner.watches.pop(self.key, None)


class FakeLink:
    """What ClassLink offers, in memory; callbacks run in the caller's thread (no event loop in tests)."""

    def __init__(self, role):
        self._role = role
        self.published = []
        self.answers = {}
        self.registered = {}
        self.watches = {}
        self.channel_state = {}
        self.revealed = set()
        self.lock = threading.Lock()

    def role(self):
        return self._role

    def publish(self, channel, state):
        self.published.append((channel, state))
        version = self.channel_state.get(channel, (0, None))[0] + 1
        self.channel_state[channel] = (version, state)
        cb = self.watches.get(("channel", channel))
        if cb is not None:
            cb[1](version, state)
        return version

    def watch_channel(self, channel, on_state, since=0):
        watch = FakeWatch(self, ("channel", channel))
        self.watches[("channel", channel)] = (watch, on_state)
        if channel in self.channel_state:
            on_state(*self.channel_state[channel])
        return watch

    def register_question(self, qid, text, choices, lesson):
        self.registered[qid] = (text, choices, lesson)
        return True

    def answer(self, qid, choice):
        with self.lock:
            self.answers[qid] = choice
        return True

    def watch_question(self, qid, on_change, since=0):
        watch = FakeWatch(self, ("question", qid))
        self.watches[("question", qid)] = (watch, on_change)
        on_change({"qid": qid, "revealed": qid in self.revealed, "rev": 1})
        return watch

    def reveal(self, qid):
        self.revealed.add(qid)
        cb = self.watches.get(("question", qid))
        if cb is not None:
            cb[1]({"qid": qid, "revealed": True, "rev": 2})


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_no_class_service_means_no_link_and_no_switch(monkeypatch):
    monkeypatch.delenv("EXPLORER_CLASS_URL", raising=False)
    assert class_mode.class_link() is None
    assert class_mode.connect_follow("x", lambda s: None) is None


def test_page_name_from_voila_script_name():
    assert class_mode.page_name({"SCRIPT_NAME": "/voila/render/lessons/lesson_1_free_energy_and_bound.ipynb"}) \
        == "lesson_1_free_energy_and_bound"
    assert class_mode.page_name({}) == "notebook"
    assert class_mode.page_name({"SCRIPT_NAME": "/voila/render/a b<c>.ipynb"}) == "a_b_c_"


def _explorer_with(link, monkeypatch):
    from explorer.app.rbm.explorer import RBMExplorer

    explorer = RBMExplorer(query="", page_url="", prefetch=False)
    monkeypatch.setattr(class_mode, "class_link", lambda environ=None: link)
    explorer._connect_class()
    assert explorer.follow.role == link.role()
    return explorer


@pytest.mark.parametrize("role", ["teacher", "student", None])
def test_the_switch_shows_for_students_only(role):
    follow = class_mode.connect_follow("c", lambda s: None, link=FakeLink(role))
    assert wait_for(lambda: follow.role == role)
    shown = follow.widget.layout.display != "none"
    assert shown == (role is not None)
    if role is not None:
        assert (follow.switch.layout.display != "none") == (role == "student")


def test_teacher_publishes_each_view_and_student_follows_until_moving_a_control(monkeypatch):
    teacher_link = FakeLink("teacher")
    teacher = _explorer_with(teacher_link, monkeypatch)
    # known role: the current view is published at once
    assert wait_for(lambda: teacher_link.published)
    assert teacher_link.published[-1][0] == "explorer:rbm"

    student_link = FakeLink("student")
    student = _explorer_with(student_link, monkeypatch)
    # the student's link sees what the teacher's published (one service in real life)
    student_link.channel_state = teacher_link.channel_state
    student.follow.switch.value = True

    teacher.update_state(T=0.5)
    teacher.flush()
    version, state = teacher_link.channel_state["explorer:rbm"]
    assert "T=0.5" in state
    student_link.publish("explorer:rbm", state)      # the service hands it on
    student.flush()
    assert student.state.T == teacher.state.T != teacher.DEFAULT.T
    assert student.follow.following

    teacher.apply_preset(next(iter(teacher.PRESETS)))
    teacher.flush()
    student_link.publish("explorer:rbm", teacher_link.channel_state["explorer:rbm"][1])
    student.flush()
    assert student.SCHEMA.changed(student.state, teacher.state) <= {"model_id"}
    assert student.follow.following, "applying the teacher's view is not the student's move"

    # the student moves a slider: following stops, later teacher views are not applied
    student.update_state(T=2.0)
    student.flush()
    assert not student.follow.following
    assert ("explorer:rbm" not in {k[1] for k in student_link.watches})
    mine = student.state.T
    teacher.update_state(T=0.25)
    teacher.flush()
    assert student.state.T == mine
    # and a student's page never publishes
    student.follow.publish("anything")
    assert ("explorer:rbm", "anything") not in student_link.published


def test_a_students_moves_never_encode_a_state_to_publish(monkeypatch):
    """Only a teacher's page publishes: a student's slider move does not pay for the URL codec."""
    student = _explorer_with(FakeLink("student"), monkeypatch)
    encoded = []
    original = student.query_from_state
    monkeypatch.setattr(student, "query_from_state", lambda state: encoded.append(state) or original(state))
    before = len(encoded)
    student.update_state(T=0.5)
    student.flush()
    student.reset()
    student.flush()
    assert len(encoded) == before
    teacher = _explorer_with(FakeLink("teacher"), monkeypatch)
    encoded_t = []
    original_t = teacher.query_from_state
    monkeypatch.setattr(teacher, "query_from_state", lambda state: encoded_t.append(state) or original_t(state))
    teacher.update_state(T=0.5)
    teacher.flush()
    assert encoded_t, "the teacher's move is published"


def test_a_lesson_question_waits_for_the_teachers_reveal(monkeypatch):
    from explorer.app import lessons

    link = FakeLink("student")
    monkeypatch.setattr(lessons, "class_link", lambda: link)
    monkeypatch.setenv("SCRIPT_NAME", "/voila/render/lessons/lesson_9.ipynb")
    q = lessons.predict("Which is larger?", ["F", "the bound"], 1, "Because.")
    assert wait_for(lambda: q.in_class.role == "student")
    qid = next(iter(link.registered))
    assert qid.startswith("lesson_9:") and link.registered[qid][1] == ["F", "the bound"]

    check = q.children[2]
    q.children[1].value = "F"
    check.click()
    assert wait_for(lambda: link.answers.get(qid) == 0)
    assert not q.answered and "teacher reveals" in q.children[3].value
    q.children[1].value = "the bound"            # changed before the reveal: one answer, the new one
    check.click()
    assert wait_for(lambda: link.answers.get(qid) == 1)
    assert not q.answered
    link.reveal(qid)
    assert q.answered and "Right" in q.children[3].value


def test_a_teachers_lesson_question_stays_self_paced(monkeypatch):
    from explorer.app import lessons

    link = FakeLink("teacher")
    monkeypatch.setattr(lessons, "class_link", lambda: link)
    q = lessons.predict("Which?", ["a", "b"], 0, "Why.")
    assert wait_for(lambda: q.in_class.role == "teacher")
    q.children[2].click()
    assert q.answered and link.answers == {}


def test_a_lesson_figure_follows_the_teachers_controls(monkeypatch):
    from explorer.app import lessons

    teacher_link, student_link = FakeLink("teacher"), FakeLink("student")
    monkeypatch.setenv("SCRIPT_NAME", "/voila/render/lessons/lesson_1.ipynb")
    monkeypatch.setattr(lessons, "class_link", lambda: teacher_link)
    monkeypatch.setattr(lessons, "connect_follow",
                        lambda channel, apply: class_mode.connect_follow(channel, apply, link=lessons.class_link()))
    teacher = lessons.BoundFigure()
    assert wait_for(lambda: teacher_link.published)
    channel = teacher_link.published[-1][0]
    assert channel == "lesson_1:BoundFigure"
    monkeypatch.setattr(lessons, "class_link", lambda: student_link)
    student = lessons.BoundFigure()
    assert wait_for(lambda: student.follow.role == "student")
    student_link.channel_state = teacher_link.channel_state
    student.follow.switch.value = True

    teacher.w_t.value = teacher.w_t.value * 2
    teacher.w_norm.value = 5.0
    student_link.publish(channel, teacher_link.channel_state[channel][1])
    assert student.follow.following
    assert (student.w_t.value, student.w_norm.value) == (teacher.w_t.value, 5.0)
    assert student.readout.value == teacher.readout.value

    student.w_norm.value = 1.0          # the student's own move
    assert not student.follow.following
    student_link.publish(channel, '[1.0, 8.0]')
    assert student.w_norm.value == 1.0


def test_a_page_request_gets_an_anonymous_student_cookie_once():
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    from explorer.serving.voila_app import STUDENT_COOKIE, StudentCookie

    def request(cookie=None, accept="text/html,application/xhtml+xml"):
        headers = HTTPHeaders({"Accept": accept, "Host": "127.0.0.1:8866"})
        if cookie:
            headers["Cookie"] = cookie
        line = RequestStartLine("GET", "/voila/render/rbm_explorer.ipynb", "HTTP/1.1")
        return HTTPServerRequest(start_line=line, headers=headers)

    r = request("_xsrf=abc")
    t = StudentCookie(r)
    assert r.cookies[STUDENT_COOKIE].value == t._new_id and r.cookies["_xsrf"].value == "abc"
    _status, headers, _chunk = t.transform_first_chunk(200, HTTPHeaders(), b"", True)
    assert headers["Set-Cookie"].startswith(f"{STUDENT_COOKIE}={t._new_id}; Path=/")
    assert "HttpOnly" in headers["Set-Cookie"]

    known = f"_xsrf=abc; {STUDENT_COOKIE}=" + "a" * 24
    r2 = request(known)
    t2 = StudentCookie(r2)
    assert t2._new_id is None and r2.headers["Cookie"] == known
    assert "Set-Cookie" not in t2.transform_first_chunk(200, HTTPHeaders(), b"", True)[1]
    # a script request never gets one (a page's parallel requests must not race)
    assert StudentCookie(request(accept="*/*"))._new_id is None


def test_the_vae_explorer_follows_too(monkeypatch):
    """The VAE explorer's State travels the same way (its own channel); the page's model stays."""
    from explorer.app.vae.explorer import VAEExplorer

    link = FakeLink("student")
    monkeypatch.setattr(class_mode, "class_link", lambda environ=None: link)
    student = VAEExplorer(query="", page_url="", prefetch=False)
    student._connect_class()
    assert student.follow.channel == "explorer:vae" != "explorer:rbm"
    student.follow.switch.value = True
    teacher_state = student.SCHEMA.from_query("T=0.5&order=6&lam=0.5")[0]
    link.publish("explorer:vae", student.query_from_state(teacher_state))
    student.flush()
    assert (student.state.T, student.state.order, student.state.lam) == \
        (teacher_state.T, teacher_state.order, teacher_state.lam)
    assert student.state.model_id == student.DEFAULT.model_id and student.follow.following
    student.update_state(order=2)
    assert not student.follow.following
