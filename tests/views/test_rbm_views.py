"""The RBM views alone: plain arrays in, finite data out, figures built once, cursors linked."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.views.rbm.explorer import (
    CumulantView,
    ErrorThermoView,
    FreeEnergyView,
    SamplingView,
    ScalingView,
    UnitView,
)


def _uses(fig, source):
    return any(getattr(r, "data_source", None) is source for r in fig.renderers)


def test_every_plot_along_t_has_a_temperature_cursor_and_the_t_range():
    v, e, s, r = FreeEnergyView(t_range=(0.1, 10)), ErrorThermoView(), SamplingView(), ScalingView()
    for view, figs in ((v, [v.fig_free_energy]), (e, [e.fig_error, e.fig_thermo]), (s, [s.fig_sampling]),
                       (r, [r.fig_scaling])):
        for f in figs:
            assert _uses(f, view.sources["t_cursor"]) and (f.x_range.start, f.x_range.end) == (0.1, 10.0)
    assert _uses(v.fig_lambda, v.sources["lam_cursor"])
    # within a panel the plots along T zoom together
    assert e.fig_error.x_range is e.fig_thermo.x_range


def test_updates_replace_data_without_new_models():
    v, e, k, u = FreeEnergyView(), ErrorThermoView(), CumulantView(), UnitView()
    before = {id(m) for view in (v, e, k, u) for m in view.layout.references()}
    t = np.geomspace(0.1, 10, 5)
    nan = np.full(5, np.nan)
    v.show_temperature_curves(t, -t, -t + 0.1, nan, -t - 0.01, -t + 1e-3, -t, lam=0.5)
    e.show(t, -t, {"mean_field": -t + 0.1, "tap2": nan, "tap3": -t - 0.01, "series": -t + 1e-3}, -t, -t, t, t)
    v.show_lambda_curves(np.linspace(0, 2, 3), [1.0, 2.0, 3.0], np.ones((3, 2)))
    k.show([1.0, np.inf, 3.0], [0.1, 0.2, 0.0])
    u.show_weights(np.array([[1.0, np.nan], [-2.0, 0.5]]))
    v.set_order(2)
    assert {id(m) for view in (v, e, k, u) for m in view.layout.references()} == before
    assert len(v.sources["f_tap2"].data["x"]) == 0           # all NaN: nothing drawn
    assert len(e.sources["err_tap3"].data["x"]) == 5
    assert len(v.sources["f_exact_lambda"].data["x"]) == 5   # λ ≠ 1: exact F(λ) drawn
    assert v.renderers["f_exact_lambda"].visible
    assert k.sources["kappa"].data["n"] == [1.0, 3.0]
    assert k.sources["terms"].data["n"] == [1.0, 2.0]        # zero-size term left off the log axis
    assert np.isfinite(u.sources["weights"].data["image"][0]).all()
    assert u.color_mapper.low == -2.0 and u.color_mapper.high == 2.0
    assert v.series.shown_orders() == [1, 2] and sorted(v.series.lines) == [1, 2, 3, 4]
    shown = [it.label.value for it in v.fig_lambda.legend[0].items if it.visible]
    assert shown == ["order 1", "order 2", "exact F(λ)"]
    # hidden orders repeat the exact curve: finite columns, same keys
    assert v.sources["lam_curves"].data["order_5"] == [1.0, 2.0, 3.0]


def test_series_lines_are_built_when_their_order_is_first_shown():
    v = FreeEnergyView(max_order=12)
    g = v.fig_lambda
    assert sorted(v.series.lines) == [1, 2, 3, 4]       # the default order K = 4, nothing more
    before = {id(m) for m in v.layout.references()}
    v.set_order(6)
    assert sorted(v.series.lines) == [1, 2, 3, 4, 5, 6] and v.series.shown_orders() == [1, 2, 3, 4, 5, 6]
    labels = [it.label.value for it in g.legend[0].items]
    assert labels == [f"order {k}" for k in range(1, 7)] + ["exact F(λ)"]
    # the new lines look like the first ones and are drawn under the exact curve
    lines = [v.series.lines[k] for k in range(1, 7)]
    assert {r.glyph.line_width for r in lines} == {1.5} and {r.glyph.line_alpha for r in lines} == {0.9}
    assert [r.glyph.y for r in lines] == [f"order_{k}" for k in range(1, 7)]
    assert all(g.renderers.index(r) < g.renderers.index(v.series.exact_line) for r in lines)
    # lower and raise again: hidden, then shown, never built twice
    v.set_order(3)
    assert v.series.shown_orders() == [1, 2, 3]
    assert [it.label.value for it in g.legend[0].items if it.visible] == ["order 1", "order 2", "order 3",
                                                                          "exact F(λ)"]
    after = {id(m) for m in v.layout.references()}
    v.set_order(6)
    assert {id(m) for m in v.layout.references()} == after and before < after
    v.set_order(99)                                     # beyond the offered orders: all twelve
    assert v.series.shown_orders() == list(range(1, 13))


def test_series_lines_built_later_follow_the_projector_size():
    from explorer.views.theme import PROJECTOR_LINE_FACTOR, style_layout

    v = FreeEnergyView(max_order=12)
    style_layout(v.layout, size="large")
    v.set_order(8)
    widths = [v.series.lines[k].glyph.line_width for k in range(1, 9)]
    assert widths == pytest.approx([1.5 * PROJECTOR_LINE_FACTOR] * 8)


def test_hidden_curves_and_magnetisation_labels():
    v, u = FreeEnergyView(), UnitView()
    v.set_visible("mean_field", False)
    assert not v.renderers["f_mean_field"].visible and not v.renderers["f_gap"].visible
    u.show_magnetisations([0.5, np.nan, 0.2], [0.4, 0.1, 0.3], [0.5] * 3, [0.5] * 3, ["v1", "v2", "h1"])
    assert u.sources["magnetisation"].data["unit"] == ["v1", "h1"]   # the NaN row is dropped, names kept
