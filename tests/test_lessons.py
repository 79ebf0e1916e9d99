"""The lessons (notebooks/lessons/): committed without outputs, linked from the start page, executing
under nbclient, and the lesson widgets of explorer/app/lessons.py (reveal, predict, figures)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSONS = sorted((NOTEBOOKS / "lessons").glob("lesson_*.ipynb"))


def _links(nb):
    return re.findall(r"\]\(([^)]+)\)", "\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))


def test_four_lessons_committed_without_outputs():
    assert [p.name[:8] for p in LESSONS] == ["lesson_1", "lesson_2", "lesson_3", "lesson_4"]
    for path in LESSONS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(c.outputs == [] and c.execution_count is None for c in code), path.name
        assert nb.metadata["kernelspec"]["name"] == "python3"


def test_start_page_links_every_lesson_and_lessons_link_back():
    index = nbformat.read(NOTEBOOKS / "index.ipynb", as_version=4)
    links = _links(index)
    for path in LESSONS:
        assert f"lessons/{path.name}" in links
        own = _links(nbformat.read(path, as_version=4))
        assert "../index.ipynb" in own
        # every relative link of a lesson resolves to a notebook of the repository
        for link in own:
            target = (path.parent / link.split("?")[0]).resolve()
            assert target.is_file(), (path.name, link)


def test_every_lesson_has_math_a_figure_a_prediction_and_an_exercise():
    for path in LESSONS:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        assert "$$" in text, path.name
        assert "lessons.setup()" in text and "Figure(" in text, path.name
        assert "lessons.predict(" in text and text.count("lessons.exercise(") == 1, path.name
        # the answers are in code cells: collapsed in JupyterLab (Voila strips code anyway)
        for c in nb.cells:
            if c.cell_type == "code" and ("lessons.predict(" in c.source or "lessons.exercise(" in c.source):
                assert c.metadata.get("jupyter", {}).get("source_hidden") is True, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_executes(path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and "Traceback" in o.get("text", "")]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) >= 3            # at least one figure, one prediction, one exercise
    # BokehJS is inlined (offline), never loaded from a CDN
    html = "".join(str(o.get("data", {})) for o in outputs)
    assert "cdn.bokeh.org" not in html and "Bokeh" in html
    # the figures' readouts hold numbers, not an error message
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    readouts = [m["state"]["value"] for m in state.values()
                if "lesson-readout" in m["state"].get("_dom_classes", [])]
    assert readouts and all(re.search(r"\d\.\d{3}", r) for r in readouts)


# ------------------------------------------------------------------ widgets, without a kernel
def test_reveal_shows_and_hides_its_answer():
    from explorer.app.lessons import reveal

    box = reveal("the answer $x$")
    button, text = box.children
    assert text.layout.display == "none" and text.value == "the answer $x$"
    button.click()
    assert text.layout.display is None and button.description == "Hide the answer"
    button.click()
    assert text.layout.display == "none"


def test_predict_checks_the_choice():
    from explorer.app.lessons import predict

    box = predict("Which?", ["a", "b"], 1, "because.")
    options, button, verdict = box.children[1:]
    button.click()
    assert "No prediction yet" in verdict.value and "<b>b</b>" in verdict.value
    options.value = "a"
    button.click()
    assert verdict.value.startswith("<b>Not quite:</b>") and verdict.layout.display is None
    options.value = "b"
    button.click()
    assert verdict.value.startswith("<b>Right:</b>") and verdict.value.endswith("because.")


def test_trial_laws_never_go_below_the_exact_free_energy():
    from explorer.app.lessons import T_GRID, TrialLawFigure, _lesson_rbm, _t_index, predict
    from explorer.rbm import free_energy

    question = predict("How many below?", ["none", "a few"], 0, "because.")
    fig = TrialLawFigure(n_laws=100, question=question)
    view = fig.views[0]
    # before the student has answered, the readout does not count the laws below F
    assert "laws below the exact" not in fig.readout.value and "lesson-hidden" in fig.readout.value
    question.children[2].click()                      # "Check my prediction"
    assert question.answered and "lesson-hidden" not in fig.readout.value
    for t in (0.2, 1.0):
        fig.w_t.value = t
        laws = view.sources["trial_laws"].data["y"]
        exact = free_energy(_lesson_rbm(3.0), T_GRID[_t_index(t)])
        assert view.exact_line.location == pytest.approx(exact)
        assert len(laws) == 100 and np.min(laws) >= exact - 1e-9
        assert "<b>0</b>" in fig.readout.value


def test_bound_figure_draws_the_physics_layer_numbers(monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "size=large")
    from explorer.app.lessons import T_GRID, BoundFigure, _lesson_rbm
    from explorer.rbm.sweeps import temperature_sweep
    from explorer.views.theme import PROJECTOR_FONTS

    fig = BoundFigure(norm=2.0, temperature=0.5)
    view = fig.views[0]
    c = temperature_sweep(_lesson_rbm(2.0), T_GRID, order=1)
    np.testing.assert_allclose(view.sources["bound_exact"].data["y"], c.exact)
    gap = view.sources["bound_gap"].data["gap"]
    np.testing.assert_allclose(gap, c.mean_field - c.exact)
    assert np.min(gap) >= -1e-9
    assert view.sources["t_cursor"].data["x"] == [pytest.approx(0.5, rel=0.03)]
    assert view.fig_bound.title.text_font_size == PROJECTOR_FONTS["title"]     # ?size=large reached the figure
    fig.w_norm.value = 0.0                                                     # no couplings: the bound is exact
    assert np.max(np.abs(view.sources["bound_gap"].data["gap"])) < 1e-9


def test_series_figure_scenario_is_one_update():
    from explorer.app.lessons import SeriesFigure

    fig = SeriesFigure()
    calls = []
    original = fig.render
    fig.render = lambda: calls.append(1) or original()
    fig.w_scenario.value = "strong coupling"
    assert calls == [1]
    assert (fig.w_norm.value, fig.w_order.value, fig.w_ref.value) == (8.0, 8, "independent")
    assert "diverges" in fig.readout.value
    kappa = fig.views[1].sources["kappa"].data["kappa"]
    assert len(kappa) == 8


def test_preset_links_in_lessons_and_the_lesson_plan_name_real_presets():
    from explorer.app.rbm.state import PRESETS as RBM_PRESETS
    from explorer.app.vae.state import PRESETS as VAE_PRESETS

    texts = [(NOTEBOOKS.parent / "docs" / "teaching.md").read_text(encoding="utf-8")]
    texts += ["\n".join(c.source for c in nbformat.read(p, as_version=4).cells) for p in LESSONS]
    found = 0
    for text in texts:
        for explorer, key in re.findall(r"(rbm|vae)_explorer\.ipynb\?preset=([a-z0-9-]+)", text):
            assert key in (RBM_PRESETS if explorer == "rbm" else VAE_PRESETS), key
            found += 1
    assert found >= 10


# ------------------------------------------------------------------ answers stay hidden until answered
#: Words a lesson's text must not use to point at a figure: the figures' places change with the width.
WIDTH_DEPENDENT = re.compile(r"right-hand|left-hand|on the right\b|on the left\b", re.I)


def test_every_prediction_hides_what_its_figure_would_give_away():
    """A question placed before (or after) a live figure is handed to it: the figure's readout keeps
    the answer back until the question is checked (explorer/app/lessons.py: LessonFigure.hidden)."""
    for path in LESSONS:
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        names = re.findall(r"^(\w+) = lessons\.predict\(", text, re.M)
        assert names, path.name
        for name in names:
            assert re.search(rf"question={name}\)|hide_until\({name}\b", text), (path.name, name)
            assert re.search(rf"^{name}$|hide_until\({name}\b", text, re.M), (path.name, name)   # displayed


def test_lessons_point_at_figures_by_name_not_by_place():
    for path in LESSONS:
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        assert not WIDTH_DEPENDENT.search(text), (path.name, WIDTH_DEPENDENT.search(text).group(0))


def test_button_labels_and_captions_give_no_answer():
    from explorer.app.lessons import VAEFigure
    from explorer.views.lessons import EXPLANATIONS

    # lesson 3 asks how well q fits digit 0: the digit buttons only name the digits
    assert all(not re.search(r"fit|well|bad|gap", label) for label in VAEFigure.DIGITS)
    # lesson 1 asks whether a random q can go below F, lesson 2 whether TAP can: the captions do not say
    assert "≥ F" not in EXPLANATIONS["trial"] and "below zero" not in EXPLANATIONS["corrections"]


def test_series_figure_hides_tap_and_the_trend_until_each_question_is_answered():
    from explorer.app.lessons import SeriesFigure, predict

    tap_q = predict("TAP2 a bound?", ["yes", "no"], 1, ".")
    fig = SeriesFigure(question=tap_q)
    assert "TAP2 $" not in fig.readout.value and "TAP2 and TAP3: shown once" in fig.readout.value
    trend_q = fig.hide_until(predict("order 8?", ["better", "worse"], 1, "."), "trend", where="below the figure")
    fig.w_scenario.value = "strong coupling"
    assert "diverges" not in fig.readout.value and "below the figure" in fig.readout.value
    tap_q.children[2].click()
    assert "TAP2 $" in fig.readout.value and "diverges" not in fig.readout.value
    trend_q.children[1].value = "worse"
    trend_q.children[2].click()
    assert "diverges" in fig.readout.value and "lesson-hidden" not in fig.readout.value
