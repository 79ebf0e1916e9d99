"""The class service's client (issue 27): what the kernels use, against a real service.

The client never raises into a page, keeps a student's latest answer until the service records
it (also across ``kill -9`` and a restart), coalesces the teacher's states, and its watches
resume after the service comes back, so pages recover without a reload.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from explorer.serving import class_client
from explorer.serving.class_client import ClassLink
from harness.voila import free_port
from tests.serving.test_class_service import (
    ALICE_ID,
    BOB_ID,
    QUESTION,
    SECRET,
    TEACHER,
    InProcessService,
    board,
    call,
    kill,
    start_process,
)


def link(url, who):
    cookie = f"fee_teacher={SECRET}" if who == "teacher" else f"fee_student={who}"
    got = ClassLink.from_environment({"EXPLORER_CLASS_URL": url, "HTTP_COOKIE": f"other=1; {cookie}"})
    assert got is not None
    return got


def wait_for(condition, timeout=8.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


@pytest.fixture
def links(service):
    made = {}

    def get(who):
        if who not in made:
            made[who] = link(service.url, who)
        return made[who]

    yield get
    for one in made.values():
        one.close()


# ---------------------------------------------------------------------------------- from the environment
def test_no_class_url_means_no_link():
    assert ClassLink.from_environment({}) is None
    assert ClassLink.from_environment({"EXPLORER_CLASS_URL": "  "}) is None
    assert ClassLink.from_environment({"EXPLORER_CLASS_URL": "file:///etc/passwd"}) is None


def test_identity_comes_from_the_hub_token_or_the_page_cookies():
    hub = ClassLink.from_environment({"EXPLORER_CLASS_URL": "http://127.0.0.1:8868/services/class",
                                      "EXPLORER_CLASS_HUB": "1", "JUPYTERHUB_API_TOKEN": "abc123",
                                      "HTTP_COOKIE": f"fee_teacher={SECRET}"})
    assert hub.base_url == "http://127.0.0.1:8868/services/class/"
    assert hub._headers == {"Authorization": "token abc123"}
    # without EXPLORER_CLASS_HUB the server's own token is not sent to a classroom service
    room = {"EXPLORER_CLASS_URL": "http://127.0.0.1:8867/", "JUPYTERHUB_API_TOKEN": "abc123"}
    assert ClassLink.from_environment(room)._headers == {}
    both = dict(room, HTTP_COOKIE=f'fee_student={ALICE_ID}; fee_teacher="{SECRET}"')
    assert ClassLink.from_environment(both)._headers == {"Authorization": f"token {SECRET}"}
    student = dict(room, HTTP_COOKIE=f"a=b; fee_student={ALICE_ID}; broken")
    assert ClassLink.from_environment(student)._headers == {"X-Class-Student": ALICE_ID}
    bad = dict(room, HTTP_COOKIE="fee_student=short")
    assert ClassLink.from_environment(bad)._headers == {}
    assert SECRET not in repr(ClassLink.from_environment(both))


def test_an_anonymous_page_has_no_class_features_and_sends_nothing(service):
    anonymous = ClassLink.from_environment({"EXPLORER_CLASS_URL": service.url})
    assert anonymous.role() is None
    assert anonymous.answer("q", 1) is False and anonymous.publish("c", "s") is None
    assert anonymous.register_question("q", "t", ["a", "b"], "l") is False
    assert anonymous.follow("c") is None and anonymous.question("q") is None
    watch = anonymous.watch_channel("c", lambda *a: None)
    assert watch.stopped and not watch.thread.is_alive()
    assert anonymous.pending_answers() == {}           # nothing queued for a page without identity


# ---------------------------------------------------------------------------------- against a service
def test_roles_questions_answers_and_reveal(links, service):
    teacher, alice = links("teacher"), links(ALICE_ID)
    assert teacher.role() == "teacher" and alice.role() == "student"
    assert teacher.register_question("l1:q1", **QUESTION)
    assert alice.answer("l1:q1", 1) is True and alice.answer("l1:q1", 2) is True
    assert alice.question("l1:q1") == {"qid": "l1:q1", "revealed": False, "my_choice": 2, "rev": 1}
    assert alice.reveal("l1:q1") is False                      # not the teacher
    assert alice.answer("l1:q1", 7) is False and alice.pending_answers() == {}   # refused, not queued
    assert alice.answer("l1:q1", True) is False and alice.answer("bad id", 1) is False
    seen = []
    watch = alice.watch_question("l1:q1", seen.append, since=1)
    try:
        time.sleep(0.3)
        t0 = time.monotonic()
        assert teacher.reveal("l1:q1", True)
        assert wait_for(lambda: seen), "the reveal did not reach the student's watch"
        assert time.monotonic() - t0 < 1.0
        assert seen[0]["revealed"] is True and seen[0]["rev"] == 2
    finally:
        watch.stop()
    assert board(service.url)["questions"][0]["counts"] == [0, 0, 1]


def test_follow_the_teacher_in_order_and_a_failing_callback_does_not_end_the_watch(links):
    teacher, alice = links("teacher"), links(ALICE_ID)
    assert alice.follow("rbm", wait=0) == (0, None)
    assert teacher.publish("rbm", "T=1") == 1
    got, calls = [], []

    def on_state(version, state):
        calls.append(version)
        if version == 2:
            raise RuntimeError("the page's own bug")
        got.append((version, state))

    watch = alice.watch_channel("rbm", on_state)
    try:
        assert wait_for(lambda: got == [(1, "T=1")])            # the state already published, at once
        for i in (2, 3):
            time.sleep(class_client.PUBLISH_INTERVAL)
            assert teacher.publish("rbm", f"T={i}") == i
            assert wait_for(lambda i=i: i in calls)
        assert got == [(1, "T=1"), (3, "T=3")] and calls == [1, 2, 3]
    finally:
        watch.stop()
    assert alice.publish("rbm", "T=99") is None                # students cannot publish
    assert alice.follow("rbm", since=3, wait=0) == (3, "T=3")


def test_publish_coalesces_to_the_latest_state(links):
    teacher, alice = links("teacher"), links(ALICE_ID)
    results = [teacher.publish("rbm", f"T={i}") for i in range(200)]
    assert results[0] == 1 and results.count(None) > 150       # most were folded into later sends
    assert wait_for(lambda: alice.follow("rbm", wait=0)[1] == "T=199")
    version = alice.follow("rbm", wait=0)[0]
    assert version < 50
    time.sleep(0.5)
    assert alice.follow("rbm", wait=0) == (version, "T=199")   # nothing older arrived after it


def test_an_unreachable_service_costs_no_exception_and_one_log_line(caplog):
    port = free_port()                                          # nothing listens there
    teacher = link(f"http://127.0.0.1:{port}/", "teacher")
    caplog.set_level(logging.DEBUG, logger="explorer.class_client")
    t0 = time.monotonic()
    try:
        assert teacher.role() is None and teacher.role() is None     # the second one is not even asked
        assert teacher.register_question("q", **QUESTION) is False
        assert teacher.reveal("q") is False and teacher.question("q") is None
        assert teacher.follow("c", wait=0) is None and teacher.publish("c", "s") is None
        assert teacher.answer("q", 1) is False
    finally:
        teacher.close()
    assert time.monotonic() - t0 < 3.0
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "not reachable" in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


def test_an_answer_given_while_the_service_is_down_is_recorded_when_it_starts(tmp_path):
    """The lesson registered its question and the student answered while the service was not yet
    up: both reach it once it answers (the question registered, then the answer)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    alice = link(url, ALICE_ID)
    try:
        assert alice.register_question("l1:q1", **QUESTION) is False
        assert alice.answer("l1:q1", 0) is False
        assert alice.answer("l1:q1", 2) is False                # the latest choice is the one kept
        assert alice.pending_answers() == {"l1:q1": 2}
        service = InProcessService(tmp_path / "class.sqlite", port=port)
        try:
            assert wait_for(lambda: not alice.pending_answers()), "the kept answer was not re-sent"
            (q,) = board(url)["questions"]
            assert q["qid"] == "l1:q1" and q["counts"] == [0, 0, 1]
        finally:
            service.stop()
    finally:
        alice.close()


def test_kill_9_during_a_lesson_loses_no_answer_and_watches_resume(tmp_path):
    db, port = tmp_path / "class.sqlite", free_port()
    proc, url = start_process(db, port)
    teacher, alice, bob = link(url, "teacher"), link(url, ALICE_ID), link(url, BOB_ID)
    states, reveals = [], []
    watches = []
    try:
        assert teacher.register_question("l1:q1", **QUESTION)
        assert alice.answer("l1:q1", 1)
        assert teacher.publish("rbm", "T=1") == 1
        watches = [bob.watch_channel("rbm", lambda v, s: states.append((v, s))),
                   bob.watch_question("l1:q1", reveals.append, since=1)]
        assert wait_for(lambda: states == [(1, "T=1")])
        kill(proc)                                              # SIGKILL in the middle of the lesson
        assert bob.answer("l1:q1", 0) is False                  # kept, re-sent in the background
        time.sleep(0.5)                                         # the watches now retry with backoff
        proc, url = start_process(db, port)
        assert wait_for(lambda: not bob.pending_answers()), "the answer kept during the outage was lost"
        counts = board(url)["questions"][0]["counts"]
        assert counts == [1, 1, 0]                              # Alice's from before, Bob's from the outage
        published = time.monotonic()
        assert teacher.publish("rbm", "T=2") == 2               # the version kept counting
        assert teacher.reveal("l1:q1")
        assert wait_for(lambda: (2, "T=2") in states), "the follow watch did not resume"
        assert wait_for(lambda: reveals and reveals[-1]["revealed"]), "the question watch did not resume"
        # a watch is back within its longest backoff, without anything done on the page
        assert time.monotonic() - published < class_client.BACKOFF_MAX + 1.0
        assert states == [(1, "T=1"), (2, "T=2")]
    finally:
        for w in watches:
            w.stop()
        for one in (teacher, alice, bob):
            one.close()
        kill(proc)


def test_role_is_asked_again_after_a_while_when_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(class_client, "ROLE_RETRY", 0.2)
    port = free_port()
    alice = link(f"http://127.0.0.1:{port}/", ALICE_ID)
    assert alice.role() is None
    service = InProcessService(tmp_path / "class.sqlite", port=port)
    try:
        assert alice.role() is None                             # cached for ROLE_RETRY
        time.sleep(0.25)
        assert alice.role() == "student"
    finally:
        service.stop()
        alice.close()


def test_the_link_is_safe_to_use_from_many_threads(links, service):
    teacher = links("teacher")
    teacher.register_question("q", **QUESTION)
    students = [links(f"student-{i:02d}-0123456789") for i in range(12)]
    errors = []

    def run(i, s):
        try:
            for choice in (0, 1, i % 3):
                assert s.answer("q", choice) in (True, False)
        except Exception as e:  # collected: an exception would be the failure
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(students)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert wait_for(lambda: all(not s.pending_answers() for s in students))
    (q,) = board(service.url)["questions"]
    assert q["answered"] == 12 and q["counts"] == [4, 4, 4]
    assert call(service.url, path="api/students", headers=TEACHER)[0] == 200
