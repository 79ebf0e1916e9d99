"""The class, connected (widget side): "follow the teacher" and predictions recorded for the board.

With a class service (``make classroom``, ``make hub``: :mod:`explorer.serving.class_service`) the
kernel finds its address in ``EXPLORER_CLASS_URL`` and who the page belongs to in the request
(:meth:`explorer.serving.class_client.ClassLink.from_environment`). Without one (``make app``,
JupyterLab on a laptop) :func:`class_link` is None and nothing here is shown: no switch, no
error, the lessons stay self-paced.

* :class:`Follow`: one follow channel of one page. The teacher's page publishes its State (the
  explorers' URL codec, or a lesson figure's control values) after every change; a student's
  page has a "Follow the teacher" switch that, while on, applies each new teacher State as it
  comes (a long poll: well within a second) and turns itself off when the student moves a
  control: from then on the student explores on their own.
* The page's role (teacher, student, or None) is asked of the service once per kernel, while the
  page's cells run, before its widgets are sent: a widget changed after the page has been sent
  but before its front end made the widget's model is the "widget model not found" of issue 25.
  An absent service costs the page the client's short timeout once (2 s), then nothing shows.

Everything that reaches the widgets from the service's threads goes through the kernel's event
loop (:func:`~explorer.app.core.scheduling.loop_poster`): widgets are not thread safe.
"""

from __future__ import annotations

import datetime
import os
import threading

import ipywidgets as W

from ...views.html import status_html
from .scheduling import loop_poster, start_worker

FOLLOW_LABEL = "Follow the teacher"
TEACHER_ROLE, STUDENT_ROLE = "teacher", "student"


_links = {}


def class_link(environ=None):
    """The page's :class:`~explorer.serving.class_client.ClassLink`, or None without a class service.

    One link per kernel and identity (its role is asked once; a preheated kernel learns its page's
    cookies only with the request, hence the identity in the key)."""
    environ = os.environ if environ is None else environ
    if not environ.get("EXPLORER_CLASS_URL"):
        return None            # the common case (make app, JupyterLab): not even the client is imported
    from ...serving.class_client import ClassLink

    key = tuple(environ.get(k, "") for k in ("EXPLORER_CLASS_URL", "HTTP_COOKIE", "JUPYTERHUB_API_TOKEN"))
    if key not in _links:
        _links[key] = ClassLink.from_environment(environ)
    return _links[key]


def page_name(environ=None):
    """The notebook this kernel shows (``lesson_1_...`` from Voila's ``SCRIPT_NAME``), for channel and
    question names; ``"notebook"`` outside Voila."""
    environ = os.environ if environ is None else environ
    script = environ.get("SCRIPT_NAME", "").rstrip("/").rsplit("/", 1)[-1]
    name = script[:-len(".ipynb")] if script.endswith(".ipynb") else script
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in name)[:80] or "notebook"


def _clock():
    return datetime.datetime.now().strftime("%H:%M:%S")


class Follow:
    """One page's follow channel (see the module docstring).

    Parameters
    ----------
    link : ClassLink
        The page's link to the class service.
    channel : str
        The channel's name (e.g. ``explorer:rbm``, ``lesson_1_free_energy_and_bound:fig1``).
    apply : callable
        ``apply(state)`` sets the page to the teacher's published ``state`` (a string) without it
        counting as the student's move; called on the kernel's event loop.

    ``widget`` is the switch and a status line; it stays hidden until :meth:`set_role` says the
    page is a student's (a teacher's page shows a line saying the class can follow it).
    """

    def __init__(self, link, channel, apply):
        self.link = link
        self.channel = channel
        self._apply = apply
        self.role = None
        self.applying = False          # True while the teacher's state is being applied
        self.applied_version = 0
        self._watch = None
        self._lock = threading.Lock()
        self.switch = W.ToggleButton(value=False, description=FOLLOW_LABEL, icon="eye",
                                     tooltip="Show what your teacher shows, as it changes. "
                                             "Moving a control yourself switches this off.",
                                     layout=W.Layout(width="auto"))
        self.switch.add_class("class-follow-switch")
        self.status = W.HTML(value="")
        self.status.add_class("class-follow-status")
        self.widget = W.VBox([self.switch, self.status], layout=W.Layout(display="none", margin="2px 0 6px 0"))
        self.widget.add_class("class-follow")
        self.switch.observe(self._on_switch, "value")

    @property
    def following(self):
        return self.switch.value

    def set_role(self, role):
        """Show what this page's role needs: the switch (student), a line (teacher), nothing (None)."""
        self.role = role
        if role == STUDENT_ROLE:
            self._say("Your teacher's view can be shown here.")
            self.widget.layout.display = None
        elif role == TEACHER_ROLE:
            self.switch.layout.display = "none"
            self._say(f"Teaching: students who switch on '{FOLLOW_LABEL}' see this view as you change it.")
            self.widget.layout.display = None
        else:
            self.widget.layout.display = "none"

    def _say(self, text):
        self.status.value = status_html("class-follow-note", text)

    @property
    def publishes(self):
        """Whether this page publishes (a teacher's): callers build the state to publish only then
        (a student's slider move should not pay for encoding a State nobody is sent)."""
        return self.role == TEACHER_ROLE

    def publish(self, state):
        """The teacher's page changed: send its ``state`` (only a teacher's page publishes)."""
        if self.publishes:
            self.link.publish(self.channel, state)

    def user_moved(self):
        """The student moved a control: stop following (their own exploration takes over)."""
        if self.applying or not self.switch.value:
            return
        self.switch.value = False
        self._say(f"You moved a control: exploring on your own. Switch on '{FOLLOW_LABEL}' to see "
                  "your teacher's view again.")

    def _on_switch(self, change):
        if change["new"]:
            self._say("Following your teacher…")
            post = loop_poster()
            with self._lock:
                if self._watch is None:
                    # since=0: the teacher's current view arrives at once, then each change
                    self._watch = self.link.watch_channel(
                        self.channel, lambda version, state: post(lambda: self._receive(version, state)))
        else:
            self.stop()

    def _receive(self, version, state):
        if not self.switch.value or state is None or version <= self.applied_version:
            if state is None and self.switch.value:
                self._say("Following: your teacher has not shown this page yet.")
            return
        self.applied_version = version
        self.applying = True
        try:
            self._apply(state)
        finally:
            self.applying = False
        self._say(f"Following your teacher (view of {_clock()}).")

    def stop(self):
        with self._lock:
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()
        self.applied_version = 0


class ClassQuestion:
    """A lesson's "predict, then check" question in a class (see :func:`explorer.app.lessons.predict`).

    The question is registered with the service (text and choices, for the teacher's board). On a
    student's page, "check" records the choice (changed, never multiplied, by the service) and the
    answer waits for the teacher's reveal: ``on_reveal()`` runs on the event loop when the teacher
    reveals (at once, if already revealed). A teacher's page and a page without a role keep the
    self-paced check (``self_paced``).
    """

    def __init__(self, link, qid, text, choices, lesson, on_reveal):
        self.link = link
        self.qid = qid
        self.role = link.role()
        self.revealed = False
        self._on_reveal = on_reveal
        self._watch = None
        self._post = loop_poster()
        if self.role is not None:
            start_worker(lambda: link.register_question(qid, text, list(choices), lesson), "class-question")

    @property
    def self_paced(self):
        return self.role != STUDENT_ROLE

    def record(self, choice):
        """Send the student's ``choice`` (an index; the client re-sends it if the service is away)
        and start waiting for the reveal."""
        start_worker(lambda: self.link.answer(self.qid, int(choice)), "class-answer")
        if self._watch is None:
            self._watch = self.link.watch_question(self.qid, lambda info: self._post(lambda: self._seen(info)))

    def _seen(self, info):
        if info.get("revealed") and not self.revealed:
            self.revealed = True
            self._on_reveal()

    def stop(self):
        if self._watch is not None:
            self._watch.stop()
            self._watch = None


def connect_follow(channel, apply, link=None):
    """A :class:`Follow` for this page, its role known, or None without a class service."""
    link = class_link() if link is None else link
    if link is None:
        return None
    follow = Follow(link, channel, apply)
    follow.set_role(link.role())
    return follow


__all__ = ["FOLLOW_LABEL", "ClassQuestion", "Follow", "class_link", "connect_follow", "page_name"]
