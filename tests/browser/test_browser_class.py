"""The class, connected (issue 27), end to end in classroom mode: the class service beside Voila,
a teacher and three students in separate browser contexts (separate cookies: separate people).

* Students answer a lesson's "predict, then check": the teacher's board shows the counts within
  2 s; the answer stays hidden until the teacher reveals it, then reaches every student.
* The teacher's explorer publishes its view; students who switch on "Follow the teacher" show the
  same temperature and preset within a second; a student who moves a slider stops following.
* A student cannot act as the teacher or read other students (403), with or without a forged token.
* Killing and restarting the class service loses no answer, and the pages recover without a reload.
"""

from __future__ import annotations

import secrets
import time

import pytest

from harness.classroom import ClassService
from harness.voila import EXPLORER, RECORD_READOUTS_JS, console_text, serve, shown_at

LESSON = "voila/render/lessons/lesson_1_free_energy_and_bound.ipynb"
FOLLOW = ".class-follow-switch"
#: The verdict line a student sees once the prediction is recorded and before the reveal.
RECORDED = "Your prediction is in"
#: Voila and the class service: the only addresses the pages may reach.
LOCAL = "http://127.0.0.1:"


@pytest.fixture(scope="module")
def classroom(chromium, tmp_path_factory, artifacts):
    """The class service (its own SQLite file, a known teacher secret) and Voila pointed at it."""
    folder = tmp_path_factory.mktemp("classroom")
    service = ClassService(folder / "class.sqlite", secrets.token_urlsafe(24),
                           log_path=artifacts / "class_service.log").start()
    try:
        with serve("notebooks/", artifacts / "voila_classroom.log", "--strip_sources=True",
                   env={"EXPLORER_CLASS_URL": service.url}, timeout=180) as (base, _proc):
            yield {"service": service, "base": base}
    finally:
        service.stop()


@pytest.fixture(scope="module")
def people(classroom, browser):
    """A teacher (signed in through the board link) and three students, each in their own context."""
    contexts, pages, errors = [], {}, {}
    for who in ("teacher", "s1", "s2", "s3"):
        # the board allows only its own script (CSP): axe-core goes in with the CSP bypassed
        ctx = browser.new_context(viewport={"width": 1280, "height": 2000}, bypass_csp=(who == "teacher"))
        ctx.route(lambda url: not url.startswith(LOCAL), lambda route: route.abort())
        page = ctx.new_page()
        page.set_default_timeout(90_000)
        errors[who] = []
        # every error with its time: the board's during the service's outage (the restart test) are expected
        page.on("pageerror", lambda exc, w=who: errors[w].append((time.monotonic(), f"pageerror: {exc}")))
        page.on("console", lambda m, w=who: errors[w].append(
            (time.monotonic(), console_text(m))) if m.type == "error" else None)
        contexts.append(ctx)
        pages[who] = page
        # a second page of the same person (same cookies): the explorer beside the lesson / board
        second = ctx.new_page()
        second.set_default_timeout(90_000)
        second.on("pageerror", lambda exc, w=who: errors[w].append((time.monotonic(), f"pageerror: {exc}")))
        second.on("console", lambda m, w=who: errors[w].append(
            (time.monotonic(), console_text(m))) if m.type == "error" else None)
        pages[who + "-explorer"] = second
    board = pages["teacher"]
    board.goto(classroom["service"].board_link())
    # the secret leaves the address bar at once (a projector shows the board)
    assert "secret" not in board.url and board.url.endswith("/board")
    yield {"pages": pages, "errors": errors, "contexts": contexts, "outages": []}
    for ctx in contexts:
        ctx.close()


def _open_lesson(page, base):
    page.goto(base + LESSON, wait_until="commit", timeout=180_000)
    page.locator(".lesson-predict").first.wait_for(timeout=180_000)


def _answer(page, index, question=0):
    q = page.locator(".lesson-predict").nth(question)
    q.locator(".lesson-choices input[type=radio]").nth(index).check()
    q.locator(".lesson-reveal-button").click()
    q.locator(".lesson-answer", has_text=RECORDED).wait_for(timeout=30_000)


def test_students_predictions_reach_the_board_and_the_reveal_reaches_them(classroom, people, artifacts):
    base, pages = classroom["base"], people["pages"]
    students = [pages["s1"], pages["s2"], pages["s3"]]
    for page in students:
        _open_lesson(page, base)
    # the answer is not shown before the teacher reveals it
    t0 = time.monotonic()
    for page, choice in zip(students, (0, 1, 1)):
        _answer(page, choice)
    board = pages["teacher"]
    board.get_by_text("3 answers").first.wait_for(timeout=2_000 + 1000 * (time.monotonic() - t0))
    seconds = time.monotonic() - t0
    assert seconds < 2 + 3 * 5, seconds      # three students clicking in turn, then ≤ 2 s
    # a changed answer is changed, not counted twice
    _answer(students[0], 1)
    board.get_by_text("3 answers").first.wait_for(timeout=2_000)
    for page in students:
        verdict = page.locator(".lesson-predict").first.locator(".lesson-answer")
        assert RECORDED in verdict.inner_text()
        assert "Right" not in verdict.inner_text() and "Not quite" not in verdict.inner_text()
    board.screenshot(path=str(artifacts / "class_board_before_reveal.png"), full_page=True)

    board.locator("section.question", has_text="3 answers").get_by_role("button", name="Reveal answer").click()
    for page in students:
        verdict = page.locator(".lesson-predict").first.locator(".lesson-answer")
        page.wait_for_function("el => /Right|Not quite/.test(el.innerText)", arg=verdict.element_handle(),
                               timeout=5_000)
    students[0].screenshot(path=str(artifacts / "class_student_after_reveal.png"), full_page=True)


def _readout(page, cls):
    return page.locator(f".{cls} .widget-readout").first.inner_text()


def _open_explorer(page, base):
    page.goto(base + EXPLORER, wait_until="commit", timeout=180_000)
    page.wait_for_selector(".explorer-temperature .noUi-handle", timeout=180_000)


def _wait_readout(page, cls, value, timeout_ms):
    page.wait_for_function(
        "([c, v]) => { const e = document.querySelector('.' + c + ' .widget-readout');"
        " return e && e.innerText === v; }", arg=[cls, value], timeout=timeout_ms)


def test_students_follow_the_teacher_until_they_move_a_control(classroom, people, artifacts):
    base, pages = classroom["base"], people["pages"]
    teacher = pages["teacher-explorer"]
    students = [pages["s1-explorer"], pages["s2-explorer"], pages["s3-explorer"]]
    _open_explorer(teacher, base)
    teacher.locator(".class-follow", has_text="Teaching").wait_for(timeout=30_000)
    for page in students:
        _open_explorer(page, base)
        page.locator(FOLLOW).wait_for(state="visible", timeout=30_000)
        page.locator(FOLLOW).click()

    for page in [teacher, *students]:
        page.evaluate(RECORD_READOUTS_JS)

    # the teacher moves the temperature: every follower shows it within a second of the key press
    lags = []
    for _ in range(2):
        before = _readout(teacher, "explorer-temperature")
        teacher.locator(".explorer-temperature .noUi-handle").focus()
        pressed = teacher.evaluate("() => Date.now()")
        teacher.keyboard.press("ArrowRight")
        teacher.wait_for_function("v => document.querySelector('.explorer-temperature .widget-readout')"
                                  ".innerText !== v", arg=before)
        value = _readout(teacher, "explorer-temperature")
        for page in students:
            _wait_readout(page, "explorer-temperature", value, 10_000)
        lags += [(shown_at(page, value) - pressed) / 1000 for page in students]
    # and a preset (the norm's readout shows 8.00 only under it)
    pressed = teacher.evaluate("() => Date.now()")
    teacher.locator(".explorer-controls .widget-dropdown", has_text="Preset").locator("select").select_option(
        label="Strong coupling: the series diverges")
    _wait_readout(teacher, "explorer-norm", "8.00", 60_000)
    for page in students:
        _wait_readout(page, "explorer-norm", "8.00", 10_000)
    preset_lags = [(shown_at(page, "8.00") - pressed) / 1000 for page in students]
    students[1].screenshot(path=str(artifacts / "class_student_following.png"), full_page=True)
    print("follow lags (s): key presses", sorted(round(x, 3) for x in lags),
          "preset", sorted(round(x, 3) for x in preset_lags))
    # within a second of the teacher's move (the median; none slower than 5 s: four kernels and
    # seven pages share the 2-core machine, and a preset recomputes every follower's sweeps)
    # The median is the key presses' (a CI run that mixed in the preset's ~2 s recomputations got a
    # median of 1.08 s from a slider whose own lags were 0.12–1.4 s).
    assert sorted(lags)[len(lags) // 2] <= 1.0, f"followers lagged {lags} s after a key press"
    assert max(lags + preset_lags) <= 5.0, f"followers lagged {lags} s (keys), {preset_lags} s (preset)"

    # student 1 moves a slider: following stops, the others still follow. First every page has
    # computed the preset (a new ‖W‖: seconds of sweeps per kernel on a busy 2-core machine), so
    # the move is not queued behind that work
    for page in [teacher, *students]:
        page.wait_for_function("() => !document.querySelector('.explorer-busy')", timeout=120_000)
    s1 = students[0]
    s1.locator(".explorer-temperature .noUi-handle").focus()
    s1.keyboard.press("ArrowLeft")
    s1.locator(".class-follow", has_text="exploring on your own").wait_for(timeout=30_000)
    assert "mod-active" not in (s1.locator(FOLLOW).get_attribute("class") or "")
    mine = _readout(s1, "explorer-temperature")
    before = _readout(teacher, "explorer-temperature")
    teacher.locator(".explorer-temperature .noUi-handle").focus()
    teacher.keyboard.press("ArrowRight")
    teacher.wait_for_function("v => document.querySelector('.explorer-temperature .widget-readout')"
                              ".innerText !== v", arg=before)
    value = _readout(teacher, "explorer-temperature")
    for page in students[1:]:
        _wait_readout(page, "explorer-temperature", value, 10_000)
    time.sleep(1.0)
    assert _readout(s1, "explorer-temperature") == mine


def test_a_student_cannot_act_as_the_teacher(classroom, people):
    url = classroom["service"].url
    student = people["pages"]["s2"].request        # carries the student's cookies
    cases = [
        ("PUT", "api/follow/explorer:rbm", {"data": {"state": "T=9"}}),
        ("PUT", "api/follow/explorer:rbm", {"data": {"state": "T=9"},
                                            "headers": {"Authorization": "token " + secrets.token_urlsafe(24)}}),
        ("GET", "api/students", {}),
        ("GET", "api/students", {"headers": {"Authorization": "token forged"}}),
        ("GET", "api/board", {}),
        ("GET", "board", {}),
    ]
    for method, path, kw in cases:
        r = student.fetch(url + path, method=method, **kw)
        assert r.status == 403, (method, path, kw, r.status, r.text()[:200])
    r = student.fetch(url + "board?secret=" + secrets.token_urlsafe(24))
    assert r.status == 403


def test_the_class_parts_are_accessible_and_not_clipped(people, artifacts):
    """axe-core (WCAG A/AA: nothing critical or serious) on the board, a following student's explorer
    and a student's lesson with a recorded prediction; the switch and its line fit the control column."""
    from . import axe

    pages = people["pages"]
    found = []
    for name in ("teacher", "s2-explorer", "s1"):
        found += [dict(v, where=name) for v in axe.violations(pages[name])]
    bad = axe.blocking(found)
    assert bad == [], axe.report(bad)
    page = pages["s3-explorer"]
    column = page.locator(".explorer-controls").bounding_box()
    for part in (".class-follow-switch", ".class-follow-status"):
        box = page.locator(part).bounding_box()
        assert box["x"] >= column["x"] - 0.5 and box["x"] + box["width"] <= column["x"] + column["width"] + 0.5
        assert page.locator(part).evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    page.locator(".explorer-controls").screenshot(path=str(artifacts / "class_follow_switch.png"))


def test_a_restarted_service_loses_no_answer_and_pages_recover(classroom, people):
    """Kill -9 and restart the service mid-lesson: nothing recorded is lost, an answer given while it
    was down is recorded once it is back, and the open pages (board, lesson, followers) carry on
    without a reload."""
    service, pages = classroom["service"], people["pages"]
    board, teacher, s1, s2 = pages["teacher"], pages["teacher-explorer"], pages["s1"], pages["s2-explorer"]
    killed = time.monotonic()
    service.kill()
    _answer(s1, 0, question=1)                      # while the service is down: kept and re-sent
    service.start()
    board.get_by_text("1 answer", exact=True).first.wait_for(timeout=15_000)
    people["outages"].append((killed, time.monotonic()))   # the board has reconnected
    board.get_by_text("3 answers").first.wait_for(timeout=5_000)
    # a follower's page recovers: the teacher's next move still reaches student 2
    assert "mod-active" in (s2.locator(FOLLOW).get_attribute("class") or "")
    before = _readout(teacher, "explorer-temperature")
    teacher.locator(".explorer-temperature .noUi-handle").focus()
    teacher.keyboard.press("ArrowLeft")
    teacher.wait_for_function("v => document.querySelector('.explorer-temperature .widget-readout')"
                              ".innerText !== v", arg=before)
    _wait_readout(s2, "explorer-temperature", _readout(teacher, "explorer-temperature"), 10_000)


def test_no_console_errors(classroom, people):
    """None, but the board's requests that failed while the service was down on purpose (the restart
    test): Chromium logs every failed request, with the error of the moment the process died (a
    refused, reset or closed connection, a socket not connected yet), and the board says
    "Reconnecting…" meanwhile."""
    service = classroom["service"].url

    def during_an_outage(at):
        return any(start <= at <= end + 2.0 for start, end in people["outages"])

    for who, errors in people["errors"].items():
        real = []
        for at, text in errors:
            if "Unsatisfied version" in text:
                continue
            if (who == "teacher" and during_an_outage(at) and f"@ {service}api/" in text
                    and "Failed to load resource: net::ERR_" in text):
                continue
            real.append(text)
        assert not real, (who, real)
