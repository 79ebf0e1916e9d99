"""Widgets of the lessons in ``notebooks/lessons/``: reveal buttons, predictions, small live figures.

A lesson's code cells stay a line or two; everything they show is built here:

* :func:`setup` loads BokehJS into the page, inline (offline), as the explorers do;
* :func:`predict` is a "predict, then check" question: pick an answer, then check it; a figure given
  the question (``question=``, or :meth:`LessonFigure.hide_until` for a question below it) keeps
  the parts of its readout that would answer it hidden until the student has checked;
* :func:`reveal` and :func:`exercise` hide an answer behind a button;
* :class:`BoundFigure`, :class:`TrialLawFigure` (lesson 1), :class:`SeriesFigure` (lesson 2),
  :class:`VAEFigure` (lesson 3) and :class:`TrainingFigure` (lesson 4) are a few controls above
  Bokeh views of :mod:`explorer.views` (the explorers' own, or :mod:`explorer.views.lessons`),
  fed by the physics layer (:mod:`explorer.rbm`, :mod:`explorer.vae`).

No Bokeh figures are built here and torch is imported only by :class:`VAEFigure` (through
:mod:`explorer.vae`). Every figure reads the page's ``?theme=dark`` and ``?size=large``
(projector) like the explorers do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re

import ipywidgets as W
import numpy as np
import traitlets

from ..errors import InputError
from ..views.glossary import math_as_text
from ..views.html import escape, status_html
from ..views.theme import style_layout
from .core.class_mode import ClassQuestion, class_link, connect_follow, page_name
from .core.classroom import classroom_options
from .core.components import held

_state = {"bokehjs": False}


def setup():
    """Put BokehJS into the page (from the server itself, never a CDN), once at the top of a lesson.

    In a kernel of Voila's preheated pool (a lesson given a pool in ``voila.json``) the imports
    and BokehJS are ready before anyone asks; the cell then waits for the page request, whose URL
    (``?theme=dark``, ``?size=large``) the figures below read, and the kernel leaves the low
    warm-up priority: the lesson is computed for the student who opened it.
    """
    from ..serving.preheat import leave_background, preheated, wait_for_page_request
    from ..views.resources import load_bokehjs
    from .core.frontend import gate

    load_bokehjs()
    gate()      # in Voila: listening for the page's "widgets built" message before the page is sent
    _state["bokehjs"] = True
    if preheated():
        try:
            wait_for_page_request()     # puts the request's QUERY_STRING into os.environ
        finally:
            leave_background()


def _classroom():
    return classroom_options(os.environ.get("QUERY_STRING", ""))


# ---------------------------------------------------------------------- questions
def _button_layout():
    """A fresh Layout per button (a shared one, once hidden, would hide them all)."""
    return W.Layout(width="auto", align_self="flex-start")


def reveal(answer, label="Show the answer", hide_label="Hide the answer"):
    """A button that shows (and hides again) ``answer`` (HTML; ``$...$`` is typeset as math)."""
    text = W.HTMLMath(value=answer, layout=W.Layout(display="none"))
    text.add_class("lesson-answer")
    button = W.Button(description=label, button_style="info", layout=_button_layout())
    button.add_class("lesson-reveal-button")

    def toggle(_):
        shown = text.layout.display != "none"
        text.layout.display = "none" if shown else None
        button.description = label if shown else hide_label

    button.on_click(toggle)
    box = W.VBox([button, text])
    box.add_class("lesson-reveal")
    return box


def exercise(task, answer):
    """A short exercise: the task, then its answer behind a reveal button."""
    box = W.VBox([W.HTMLMath(value=f"<b>Exercise.</b> {task}"), reveal(answer)])
    box.add_class("lesson-exercise")
    return box


class Question(W.VBox):
    """A "predict, then check" question (:func:`predict`); ``answered`` turns True when the student
    checks (a figure observes it to show the parts of its readout that give the answer)."""

    answered = traitlets.Bool(False)


def predict(question, choices, answer, explanation, key=None):
    """"Predict, then check": commit to one of ``choices``, then see whether ``choices[answer]`` it was.

    ``explanation`` (HTML with ``$...$`` math) says why, and which figure shows it. Returns a
    :class:`Question` (display it; give it to a figure to hide that figure's answer until checked).

    In a class (a class service, :mod:`explorer.app.core.class_mode`) the question appears on the
    teacher's board under ``key`` (default: a digest of the question's text) and a student's check
    records the choice; the answer then shows when the teacher reveals it. A student may change
    the choice and check again until then (the board counts one answer per student).
    """
    choices = list(choices)
    right = choices[answer]
    options = W.RadioButtons(options=choices, value=None, layout=W.Layout(width="auto"))
    options.add_class("lesson-choices")
    button = W.Button(description="Check my prediction", button_style="info", layout=_button_layout())
    button.add_class("lesson-reveal-button")
    verdict = W.HTMLMath(layout=W.Layout(display="none"))
    verdict.add_class("lesson-answer")

    def show_verdict():
        if options.value is None:
            head = f"No prediction yet; the answer is <b>{right}</b>."
        elif options.value == right:
            head = f"<b>Right:</b> {right}."
        else:
            head = f"<b>Not quite:</b> the answer is <b>{right}</b>."
        verdict.value = f"{head} {explanation}"
        verdict.layout.display = None
        box.answered = True

    def check(_):
        if in_class is None or in_class.self_paced or in_class.revealed:
            show_verdict()
            return
        if options.value is None:
            verdict.value = "Choose a prediction first: your teacher reveals the answer to the class."
        else:
            in_class.record(choices.index(options.value))
            verdict.value = (f"Your prediction is in: <b>{escape(options.value)}</b>. The answer shows when "
                             "your teacher reveals it; until then you may change your mind and check again.")
        verdict.layout.display = None

    button.on_click(check)
    box = Question([W.HTMLMath(value=f"<b>Predict, then check.</b> {question}"), options, button, verdict])
    box.add_class("lesson-predict")
    in_class = _class_question(question, choices, key, show_verdict)
    box.in_class = in_class
    return box


def _class_question(question, choices, key, on_reveal):
    """The question's :class:`~explorer.app.core.class_mode.ClassQuestion`, or None without a class."""
    link = class_link()
    if link is None:
        return None
    lesson = page_name()
    qid = f"{lesson}:{key or hashlib.sha1(question.encode()).hexdigest()[:10]}"
    # the board has no MathJax: the question as Unicode text ("T → ∞", "2²⁰"); the lesson as its title
    # reads ("lesson_1_free_energy_and_bound" → "1, free energy and bound")
    title = re.sub(r"^lesson_(\d+)_", r"\1, ", lesson).replace("_", " ")
    return ClassQuestion(link, qid, math_as_text(question), [math_as_text(c) for c in choices], title,
                         on_reveal)


# ---------------------------------------------------------------------- figures
class LessonFigure:
    """Controls and a readout above one or more Bokeh views, updated in place.

    Subclasses build ``self.views`` (objects with ``layout``) and ``self.controls`` (widgets), and
    implement :meth:`render`, which hands the physics layer's numbers to the views and returns
    the readout's HTML. Views are wrapped for the page once their first data are in.

    A part of the readout that answers a question is written through :meth:`hidden` and shown
    only once that question (``question=`` for the part ``"answer"``, or :meth:`hide_until`) is
    answered: the readout never gives away what the student is asked to predict.
    """

    _applying = False

    def __init__(self, views, controls, rows=None, question=None):
        self._questions = {}
        if question is not None:
            self.hide_until(question, "answer", render=False)
        self.views = list(views)
        self.controls = list(controls)
        opts = _classroom()
        for v in self.views:
            style_layout(v.layout, opts.theme, opts.size)
        self.readout = W.HTMLMath()
        self.readout.add_class("lesson-readout")
        self.message = W.HTML()
        self.update()
        from jupyter_bokeh.widgets import BokehModel  # Bokeh's Jupyter glue

        self.bokeh = [BokehModel(v.layout) for v in self.views]
        wrap = W.Layout(flex_flow="row wrap", align_items="flex-start")
        controls = W.HBox(self.controls, layout=W.Layout(flex_flow="row wrap", align_items="center"))
        # ``rows``: which views share a row (indices); a narrow page wraps a row's views
        figures = [W.HBox([self.bokeh[i] for i in r], layout=wrap) if len(r) > 1 else self.bokeh[r[0]]
                   for r in (rows or [[i] for i in range(len(self.views))])]
        self._observed = []
        self.follow = self._connect_class()
        self.widget = W.VBox([controls, *([self.follow.widget] if self.follow else []), self.readout,
                              self.message, *figures])
        self.widget.add_class("lesson-figure")

    def _connect_class(self):
        """In a class: the teacher's figure publishes its controls' values; a student's figure has
        a "Follow the teacher" switch (see :class:`~explorer.app.core.class_mode.Follow`). The
        channel is the lesson and the figure's kind (one of each kind in a lesson: a re-run cell in
        JupyterLab keeps its channel)."""
        return connect_follow(f"{page_name()}:{type(self).__name__}", self._apply_followed)

    def _control_values(self):
        return json.dumps([w.value for w in self._observed])

    def _apply_followed(self, state):
        """Set the observed controls to the teacher's values (one update, not one per control)."""
        try:
            values = json.loads(state)
        except ValueError:
            return
        if not isinstance(values, list) or len(values) != len(self._observed):
            return                  # another version of the lesson: nothing to apply
        self._applying = True
        try:
            for w, value in zip(self._observed, values):
                with contextlib.suppress(traitlets.TraitError):
                    w.value = value
        finally:
            self._applying = False
        self.update()

    def render(self):  # pragma: no cover - each figure
        raise NotImplementedError

    def hide_until(self, question, part="answer", where="above", render=True):
        """Hide the readout's ``part`` until ``question`` (a :class:`Question`, shown ``where`` the
        figure: "above" or "below") is answered; returns ``question`` (a cell's last line displays it)."""
        self._questions[part] = (question, where)
        question.observe(lambda _change: self.on_answered(), "answered")
        if render:
            self.update()
        return question

    def on_answered(self):
        """A question was answered: show the readout again, with what it hid (by default, render again)."""
        self.update()

    def revealed(self, part="answer"):
        """Whether the readout may show ``part``: no question hides it, or its question is answered."""
        q = self._questions.get(part)
        return q is None or q[0].answered

    def hidden(self, html, part="answer", what="this"):
        """``html`` once ``part`` is revealed; before, a line saying where to answer first."""
        if self.revealed(part):
            return html
        where = self._questions[part][1]
        return (f"<span class='lesson-hidden' style='font-style:italic'>({what}: shown once you have checked "
                f"your prediction {where})</span>")

    def update(self, *_):
        """Recompute and redraw (one batch of Bokeh patches per view)."""
        with held(*self.views):
            try:
                self.readout.value = self.render()
                self.message.value = ""
            except InputError as exc:
                self.message.value = status_html("lesson-error", str(exc), error=True)

    def observe(self, *widgets):
        """Re-render when one of ``widgets`` (the figure's controls) changes; in a class, those are
        the values the teacher's figure publishes and a following student's figure receives."""
        for w in widgets:
            w.observe(self._on_control, "value")
        self._observed.extend(widgets)
        if self.follow is not None and self.follow.publishes:     # the class can follow it at once
            self.follow.publish(self._control_values())

    def _on_control(self, _change):
        if self._applying:
            return                  # the teacher's values, being applied: one update after
        if self.follow is not None:
            self.follow.user_moved()
            if self.follow.publishes:     # a teacher's figure: the class sees it while this one renders
                self.follow.publish(self._control_values())
        self.update()

    def _ipython_display_(self):
        from IPython.display import display

        if not _state["bokehjs"]:
            setup()
        display(self.widget)


def _slider(kind, description, value, **kw):
    style = {"description_width": "initial"}
    w = kind(value=value, description=description, continuous_update=False, style=style,
             layout=W.Layout(width="300px"), **kw)
    return w


def _num(x, digits=4):
    return "—" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _sci(x, digits=2):
    """``x`` for LaTeX: plain for 0 and 1e-3 <= |x| < 1e4, else ``a \\times 10^{b}``."""
    if not np.isfinite(x):
        return "—"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.4f}"
    mant, exp = f"{x:.{digits}e}".split("e")
    return f"{mant} \\times 10^{{{int(exp)}}}"


#: Temperatures of the lesson sweeps: the log grid of the temperature sliders (10^-1 .. 10^1).
T_EXP_STEP = 0.025
T_GRID = np.round(10.0 ** np.arange(-1.0, 1.0 + 1e-9, T_EXP_STEP), 10)


def _t_index(t):
    return int(np.clip(round((math.log10(t) + 1.0) / T_EXP_STEP), 0, T_GRID.size - 1))


def _lesson_rbm(norm, seed=0):
    """The lessons' 10 × 10 random RBM with its couplings rescaled to Frobenius norm ``norm``."""
    from ..rbm import RBM

    rbm = RBM.random(10, 10, seed=seed)
    return rbm.with_weight_norm(norm) if norm > 0 else RBM(np.zeros_like(rbm.weights), rbm.visible_bias,
                                                           rbm.hidden_bias)


class BoundFigure(LessonFigure):
    """Lesson 1: exact F against the mean-field bound along T, and U, S, C; sliders ‖W‖ and T."""

    def __init__(self, norm=3.0, temperature=1.0):
        from ..views.lessons import BoundView

        self.w_norm = _slider(W.FloatSlider, "weight norm ‖W‖", norm, min=0.0, max=8.0, step=0.5)
        self.w_t = _slider(W.FloatLogSlider, "temperature T", temperature, base=10, min=-1, max=1,
                           step=T_EXP_STEP, readout_format=".3g")
        self._norm, self._curves = None, None
        super().__init__([BoundView()], [self.w_norm, self.w_t])
        self.observe(self.w_norm, self.w_t)

    def render(self):
        from ..rbm.sweeps import temperature_sweep

        v = self.views[0]
        rbm = _lesson_rbm(self.w_norm.value)
        if self._norm != self.w_norm.value:
            c = temperature_sweep(rbm, T_GRID, order=1)
            self._curves, self._norm = c, self.w_norm.value
            v.show_curves(c.temperature, c.exact, c.mean_field, c.internal_energy, c.entropy, c.heat_capacity,
                          entropy_limit=(rbm.n_visible + rbm.n_hidden) * math.log(2.0))
        c, j = self._curves, _t_index(self.w_t.value)
        v.show_cursor(T_GRID[j])
        gap = c.mean_field[j] - c.exact[j]
        return (f"At $T = {T_GRID[j]:#.3g}$, $\\|W\\| = {self.w_norm.value:.1f}$: exact $F = {_num(c.exact[j])}$, "
                f"bound $F_q = {_num(c.mean_field[j])}$, gap $F_q - F = T\\,\\mathrm{{KL}}(q\\|p) = {_sci(gap)}$; "
                f"$U = {_num(c.internal_energy[j])}$, $S = {_num(c.entropy[j])}$, $C = {_num(c.heat_capacity[j])}$; "
                f"mean-field minima found: {int(c.mean_field_minima[j])}.")


class TrialLawFigure(LessonFigure):
    """Lesson 1: F_q(m) of random product laws q against the exact F; slider T."""

    def __init__(self, n_laws=200, norm=3.0, temperature=0.5, seed=0, question=None):
        from ..views.lessons import TrialLawView

        self.n_laws, self.norm, self.seed = int(n_laws), float(norm), int(seed)
        self.w_t = _slider(W.FloatLogSlider, "temperature T", temperature, base=10, min=-1, max=1,
                           step=T_EXP_STEP, readout_format=".3g")
        super().__init__([TrialLawView()], [self.w_t], question=question)
        self.observe(self.w_t)

    def render(self):
        from ..rbm.explore import random_trial_laws

        rbm = _lesson_rbm(self.norm)
        t = T_GRID[_t_index(self.w_t.value)]
        laws = random_trial_laws(rbm, t, self.n_laws, self.seed)
        fq, exact = laws["free_energy"], laws["exact"]
        self.views[0].show(laws["distance"], fq, exact, laws["mean_field"])
        below = int(np.sum(fq < exact - 1e-9))
        answer = self.hidden(f"lowest of the {self.n_laws} random laws $= {_num(fq.min())}$; laws below the "
                             f"exact $F$: <b>{below}</b>", what="how many laws fall below the exact $F$")
        return (f"At $T = {t:#.3g}$: exact $F = {_num(exact)}$; "
                f"mean field (lowest $F_q$) $= {_num(laws['mean_field'])}$; {answer}.")


class SeriesFigure(LessonFigure):
    """Lesson 2: F vs T with mean field, TAP2/3 and the series; F(λ) and the cumulants at the cursor."""

    SCENARIOS = {
        "weak coupling": dict(norm=2.0, temperature=1.0, order=4, reference="mean-field"),
        "strong coupling": dict(norm=8.0, temperature=0.5, order=8, reference="independent"),
    }

    def __init__(self, norm=3.0, temperature=1.0, order=4, reference="mean-field", question=None):
        from ..views.lessons import CorrectionsView
        from ..views.rbm.explorer import CumulantView

        self.w_norm = _slider(W.FloatSlider, "weight norm ‖W‖", norm, min=0.5, max=10.0, step=0.5)
        self.w_t = _slider(W.FloatLogSlider, "temperature T", temperature, base=10, min=-1, max=1,
                           step=T_EXP_STEP, readout_format=".3g")
        self.w_order = _slider(W.IntSlider, "cumulant order K", order, min=1, max=12)
        self.w_ref = W.Dropdown(options=[("mean field", "mean-field"), ("independent units", "independent")],
                                value=reference, description="reference", layout=W.Layout(width="260px"))
        self.w_scenario = W.ToggleButtons(options=list(self.SCENARIOS), value=None, description="scenario",
                                          style={"button_width": "auto"})
        self.lams = np.round(np.arange(0.0, 2.0 + 1e-9, 0.05), 10)
        self._key, self._curves, self._setting = None, None, False
        super().__init__([CorrectionsView(max_order=12, width=400, height=280), CumulantView(max_order=12, height=250)],
                         [self.w_scenario, self.w_norm, self.w_t, self.w_order, self.w_ref], question=question)
        self.observe(self.w_norm, self.w_t, self.w_order, self.w_ref)
        self.w_scenario.observe(self._on_scenario, "value")

    def _on_scenario(self, change):
        s = self.SCENARIOS.get(change["new"])
        if s is None:
            return
        self._setting = True      # one update for the four values, not four
        try:
            self.w_norm.value, self.w_t.value = s["norm"], s["temperature"]
            self.w_order.value, self.w_ref.value = s["order"], s["reference"]
        finally:
            self._setting = False
        self.update()

    def update(self, *_):
        if not getattr(self, "_setting", False):
            super().update()

    def render(self):
        from ..rbm.explore import point_quantities
        from ..rbm.sweeps import temperature_sweep

        corr, cu = self.views
        rbm = _lesson_rbm(self.w_norm.value)
        order, ref = int(self.w_order.value), self.w_ref.value
        key = (self.w_norm.value, order, ref)
        if key != self._key:
            c = temperature_sweep(rbm, T_GRID, order=order, reference=ref)
            tap2 = np.where(c.tap2_converged, c.tap2, np.nan)
            tap3 = np.where(c.tap3_converged, c.tap3, np.nan)
            corr.show_differences(c.temperature, c.exact, {"mean_field": c.mean_field, "tap2": tap2, "tap3": tap3,
                                                           "series": c.series[:, order - 1]})
            self._curves, self._key = (c, tap2, tap3), key
        c, tap2, tap3 = self._curves
        j = _t_index(self.w_t.value)
        t = T_GRID[j]
        pq = point_quantities(rbm, t, self.lams, order=order, reference=ref)
        corr.show_lambda_curves(self.lams, pq.exact_lambda, pq.series, order)
        corr.show_cursors(t, 1.0)
        terms = pq.term_sizes(1.0)
        cu.show(pq.kappa, terms)
        size = np.abs(terms)
        trend = ""
        if order >= 4:
            # compare pairs of terms: odd and even orders often alternate in size
            grows = max(size[-1], size[-2]) > max(size[-3], size[-4])
            trend = self.hidden("The last terms <b>grow</b>: the series diverges here." if grows
                                else "The last terms shrink.", "trend", "whether the terms grow")
        ex = c.exact[j]

        def diff(x):
            return "—" if not np.isfinite(x) else f"{x - ex:+.4f}"

        taps = self.hidden(f"TAP2 ${diff(tap2[j])}$, TAP3 ${diff(tap3[j])}$", what="TAP2 and TAP3")
        return (f"At $T = {t:#.3g}$, $\\|W\\| = {self.w_norm.value:.1f}$, reference {ref.replace('-', ' ')}: "
                f"exact $F = {_num(ex)}$; minus the exact $F$: mean field ${diff(c.mean_field[j])}$, "
                f"{taps}, series of order $K = {order}$ at "
                f"$\\lambda = 1$: ${diff(c.series[j, order - 1])}$. {trend}")


class VAEFigure(LessonFigure):
    """Lesson 3: the true posterior against q, F(λ) with the series, the ELBO bars and IWAE, for two digits."""

    #: The two digits (button labels name no answer: how well q fits is the lesson's question).
    DIGITS = {"digit 0": 0, "digit 16": 16}
    IWAE_KS = (1, 10, 100, 1000, 5000)

    def __init__(self, index=0, order=4, lam=1.0, session=None, question=None):
        from ..vae import VAESession  # torch: imported only by this lesson figure
        from ..views.vae.explorer import ElboView, IwaeView, PosteriorLambdaView

        self.session = VAESession() if session is None else session
        names = {v: k for k, v in self.DIGITS.items()}
        self.w_digit = W.ToggleButtons(options=list(self.DIGITS), value=names.get(index, next(iter(self.DIGITS))),
                                       description="test digit", style={"button_width": "auto"})
        self.w_order = _slider(W.IntSlider, "cumulant order K", order, min=1, max=6)
        self.w_lam = _slider(W.FloatSlider, "λ", lam, min=0.0, max=1.5, step=0.05)
        self.w_k = W.SelectionSlider(options=list(self.IWAE_KS), value=100, description="IWAE K",
                                     continuous_update=False, layout=W.Layout(width="300px"))
        self.lams = np.round(np.arange(0.0, 1.5 + 1e-9, 0.05), 10)
        self._points, self._shown = {}, None
        super().__init__([PosteriorLambdaView(width=370, height=300), ElboView(width=420, height=280),
                          IwaeView(width=400, height=280)], [self.w_digit, self.w_order, self.w_lam, self.w_k],
                         rows=[[0], [1, 2]], question=question)
        self.observe(self.w_digit, self.w_order, self.w_lam, self.w_k)

    def point(self, index):
        """The numbers the figure draws for test digit ``index`` (computed once)."""
        if index not in self._points:
            pa = self.session.point(index)
            rng = np.random.default_rng(index)
            sigma = np.exp(0.5 * pa.logvar)
            self._points[index] = {
                "grid": pa.posterior_grid(97), "parts": pa.elbo_parts(), "lam": pa.lam_curve(self.lams),
                "series": pa.series(self.lams, 6).exact_kappa, "iwae": pa.iwae(self.IWAE_KS),
                "reference": pa.reference[0], "mu": pa.mu, "sigma": sigma,
                "draws": pa.mu + sigma * rng.standard_normal((150, 2)),
            }
        return self._points[index]

    def render(self):
        post, bars, iwae = self.views
        index = self.DIGITS[self.w_digit.value]
        b = self.point(index)
        lc, parts, order = b["lam"], b["parts"], int(self.w_order.value)
        exact = np.asarray(lc.exact, dtype=float)
        if self._shown != index:
            g = b["grid"]
            post.show_posterior(g.z1, g.z2, g.density, b["mu"], b["sigma"], b["draws"])
            with np.errstate(divide="ignore", invalid="ignore"):
                vr = np.where(self.lams > 0, exact / np.where(self.lams > 0, self.lams, 1.0), np.nan)
            # NaN standard errors where Var(w^λ) is infinite: the view draws those dots without whiskers
            post.show_lambda_curves(self.lams, exact, vr, lc.mc, lc.mc_stderr, b["series"], order, lc.lam_critical)
            mc = parts.mc
            bars.show({"expected_energy": parts.expected_energy, "minus_entropy": -parts.entropy,
                       "neg_elbo": parts.neg_elbo, "free_energy": b["reference"], "kl_posterior": parts.kl_posterior},
                      {"expected_energy": (mc.expected_energy, mc.expected_energy_stderr),
                       "minus_entropy": (-mc.entropy, mc.entropy_stderr),
                       "neg_elbo": (mc.neg_elbo, mc.neg_elbo_stderr),
                       "kl_posterior": (mc.kl_posterior, mc.kl_posterior_stderr)})
            iw = b["iwae"]
            iwae.show(iw.k, iw.bound, iw.stderr, b["reference"])
            self._shown = index
        else:
            post.show_series(self.lams, b["series"], order)
        j = int(np.argmin(np.abs(self.lams - self.w_lam.value)))
        lam = self.lams[j]
        post.show_lambda_cursor(lam, exact[j] if np.isfinite(exact[j]) else lc.mc[j])
        iw, kk = b["iwae"], list(self.IWAE_KS).index(int(self.w_k.value))
        iwae.show_cursor(self.IWAE_KS[kk], iw.bound[kk])
        series = b["series"][order - 1, j]
        exact_j = _num(exact[j]) if np.isfinite(exact[j]) else "-\\infty"
        se = float(lc.mc_stderr[j])
        mc_j = (f"${_num(lc.mc[j])} \\pm {2 * se:.4f}$" if np.isfinite(se) else
                f"${_num(lc.mc[j])}$ (no error bar: $\\mathrm{{Var}}(w^\\lambda)$ is infinite, "
                f"$2\\lambda \\ge \\lambda^*$)")
        if not np.isfinite(exact[j]):       # past λ*: what Monte Carlo shows there is the tail question
            mc_j = self.hidden(mc_j, "tail", "the Monte Carlo value past $\\lambda^*$")
        gap = self.hidden(f"$-\\mathrm{{ELBO}} = {_num(parts.neg_elbo)}$, gap $\\mathrm{{KL}}(q\\|p(z|x)) = "
                          f"{_num(parts.kl_posterior)}$", what="$-\\mathrm{ELBO}$ and the gap")
        return (f"Digit {index}, in nats: exact $F = -\\ln p(x) = {_num(b['reference'])}$, "
                f"{gap}; $\\lambda^* = {_num(lc.lam_critical, 3)}$. At $\\lambda = "
                f"{lam:.2f}$: exact $F(\\lambda) = {exact_j}$, "
                f"Monte Carlo {mc_j}, series of order {order}: "
                f"${_num(series)}$. IWAE with $K = {self.IWAE_KS[kk]}$: $-\\mathcal{{L}}_K = {_num(iw.bound[kk])}$.")


class TrainingFigure(LessonFigure):
    """Lesson 4: train small RBMs on bars and stripes with several methods; CD-k's bias on each result."""

    METHODS = ("exact", "cd1", "pcd", "tap2")
    CD_KS = (1, 2, 5, 10, 30, 100)

    def __init__(self, epochs=100, learning_rate=0.2, n_hidden=8, seed=0, question=None):
        from ..rbm.datasets import bars_and_stripes
        from ..rbm.training import initial_rbm
        from ..views.lessons import TrainingView

        self.data = bars_and_stripes(3)
        self.init = initial_rbm(self.data, int(n_hidden), seed=int(seed), weight_scale=0.5)
        self.seed = int(seed)
        self.w_lr = _slider(W.FloatSlider, "learning rate", learning_rate, min=0.05, max=0.5, step=0.05)
        self.w_epochs = _slider(W.IntSlider, "epochs", epochs, min=20, max=300, step=20)
        self.w_train = W.Button(description="Train again", button_style="primary", layout=W.Layout(width="auto"))
        self.w_train.add_class("lesson-train")
        self.results = {}
        super().__init__([TrainingView(self.METHODS)], [self.w_lr, self.w_epochs, self.w_train], question=question)
        self.w_train.on_click(self._train_clicked)

    def _train_clicked(self, _):
        self.w_train.disabled, self.w_train.description = True, "Training…"
        try:
            self.update()
        finally:
            self.w_train.disabled, self.w_train.description = False, "Train again"

    def render(self):
        from ..rbm.datasets import optimal_log_likelihood
        from ..rbm.sampling import cd_correlation
        from ..rbm.training import train
        from ..views.lessons import METHOD_LABELS

        v = self.views[0]
        curves, bias, noise, failed = {}, {}, [], []
        for m in self.METHODS:
            try:
                r = train(self.data, method=m, epochs=int(self.w_epochs.value), learning_rate=float(self.w_lr.value),
                          momentum=0.9, batch_size=self.data.shape[0], seed=self.seed, init=self.init,
                          progress=False)
            except InputError:
                failed.append(m)     # diverged: no curve
                self.results.pop(m, None)
                continue
            self.results[m] = r
            curves[m] = r.log_likelihood
            est = [cd_correlation(r.rbm, self.data, k=k, n_chains=1000, seed=1) for k in self.CD_KS]
            bias[m] = [float(np.mean(np.abs(e.estimate - e.exact))) for e in est]
            noise.append([float(np.mean(e.stderr)) for e in est])
        optimum = optimal_log_likelihood(self.data)
        v.show_training(curves, optimum)
        v.show_cd_bias(self.CD_KS, bias, np.mean(noise, axis=0) if noise else np.full(len(self.CD_KS), np.nan))
        finals = ", ".join(f"{METHOD_LABELS.get(m, m)} ${curves[m][-1]:.3f}$" for m in self.METHODS if m in curves)
        note = f" Diverged (lower the learning rate): {', '.join(failed)}." if failed else ""
        self._finals = (finals, int(self.w_epochs.value), optimum, note)
        return self._readout()

    def _readout(self):
        finals, epochs, optimum, note = self._finals
        finals = self.hidden(finals, what="each method's final value")
        return (f"Mean $\\ln p$ after {epochs} epochs: {finals}; the best possible is "
                f"$-\\ln 14 = {optimum:.3f}$.{note}")

    def on_answered(self):
        # the models are trained: only the readout changes (no new training)
        self.readout.value = self._readout()
