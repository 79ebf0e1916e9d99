"""What the plots themselves say (titles, axis labels, legend entries, bar names, hover labels) is in
words and Unicode notation a student can read, never raw text notation (``E_q[H]``, ``F_T``, ``κ_n``,
``−L_K``, ``x^2``, ``q||p``): BokehJS draws these strings as they are. The project loads no MathJax
bundle (explorer/serving/bokehjs.py), so ``$$…$$`` would not be typeset either.

Every view of the explorers and the lessons is built with its defaults and every string it draws is
checked."""

from __future__ import annotations

import importlib
import inspect
import re

import numpy as np
import pytest
from bokeh.models import Axis, FactorRange, HoverTool, Legend, Plot

from explorer.views.common import SourceRegistry

MODULES = ["explorer.views.rbm.explorer", "explorer.views.rbm.hold_q", "explorer.views.rbm.learning",
           "explorer.views.vae.explorer", "explorer.views.vae.hold_q", "explorer.views.lessons"]

#: Raw notation: an underscore subscript (F_T, κ_n, E_q[, W_ij, −L_K), a caret superscript, a double bar
#: for ‖, LaTeX ($, a backslash command).
RAW = re.compile(r"_|\^|\|\||\$|\\[a-zA-Z]")


def _views():
    for name in MODULES:
        module = importlib.import_module(name)
        for cls_name, cls in vars(module).items():
            if inspect.isclass(cls) and issubclass(cls, SourceRegistry) and cls.__module__ == name:
                yield f"{name}.{cls_name}", cls


def drawn_strings(layout):
    """(what, figure name, text) of every string the figures of ``layout`` draw."""
    out = []
    for p in layout.select({"type": Plot}):
        if p.title is not None and getattr(p.title, "text", ""):
            out.append(("title", p.name, p.title.text))
        for ax in p.select({"type": Axis}):
            if ax.axis_label:
                out.append(("axis label", p.name, str(ax.axis_label)))
        for lg in p.select({"type": Legend}):
            out += [("legend", p.name, str(getattr(it.label, "value", it.label))) for it in lg.items]
        for r in (p.x_range, p.y_range):
            if isinstance(r, FactorRange):
                out += [("bar name", p.name, str(f)) for f in r.factors]
        for h in p.select({"type": HoverTool}):
            if isinstance(h.tooltips, list):
                out += [("hover label", p.name, str(label)) for label, _field in h.tooltips]
    return out


@pytest.mark.parametrize("name, cls", list(_views()), ids=[n for n, _ in _views()])
def test_plots_speak_words_and_unicode_not_raw_notation(name, cls):
    strings = drawn_strings(cls().layout)
    assert strings, f"{name}: no strings found (the check would pass vacuously)"
    raw = [f"{what} of {fig}: {text!r}" for what, fig, text in strings if RAW.search(text)]
    assert raw == [], f"{name} draws raw notation:\n  " + "\n  ".join(raw)


def test_the_overview_figure_too():
    from explorer.views.overview import free_energy_overview

    t = np.geomspace(0.1, 10, 5)
    curves = {"temperature": t, "exact": -t, "mean_field": -t + 0.1, "tap2": -t + 0.01, "tap3": -t + 0.005,
              "series": np.stack([-t + 0.1, -t + 0.01], axis=1)}
    raw = [text for _w, _f, text in drawn_strings(free_energy_overview(curves)) if RAW.search(text)]
    assert raw == []


def test_the_check_finds_raw_notation():
    from bokeh.plotting import figure

    f = figure(title="E_q[H] vs T", y_axis_label="F_approx − F_exact")
    f.line([0, 1], [0, 1], legend_label="KL(q||p)")
    found = [text for _w, _f, text in drawn_strings(f) if RAW.search(text)]
    assert found == ["E_q[H] vs T", "F_approx − F_exact", "KL(q||p)"]


def test_free_energy_axes_name_their_unit():
    """The free-energy axes say what is drawn and in which unit (docs/physics.md: nats)."""
    from explorer.views.rbm.explorer import ErrorThermoView, FreeEnergyView, SamplingView

    fe = FreeEnergyView()
    assert fe.fig_free_energy.yaxis[0].axis_label == "Free energy F (nats)"
    assert fe.fig_free_energy_diff.yaxis[0].axis_label == "approx. − exact F (nats)"
    assert ErrorThermoView().fig_error.yaxis[0].axis_label == "|approx. − exact F| (nats)"
    assert SamplingView().fig_sampling.yaxis[0].axis_label == "AIS estimate − exact F (nats)"
