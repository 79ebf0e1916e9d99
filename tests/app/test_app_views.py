"""The Bokeh views alone: plain arrays in, finite data out, figures built once and linked."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.views.rbm_explorer import ExplorerView, finite_rows, small


def test_finite_rows_drops_non_finite_and_non_positive_rows():
    out = finite_rows({"x": [1, 2, 3, 4, 5], "y": [1.0, np.nan, np.inf, 0.0, -2.0]}, positive=("y",))
    assert out["x"].tolist() == [1.0] and out["y"].tolist() == [1.0]
    out = finite_rows({"x": [1, 2, 3], "y": [0.0, -np.inf, -1.0]})
    assert out["x"].tolist() == [1.0, 3.0]
    with pytest.raises(ValueError, match="unequal"):
        finite_rows({"x": [1, 2], "y": [1.0]})


def test_small_sources_travel_as_lists():
    assert small({"x": np.array([1.5, 2.0]), "u": ["a"]}) == {"x": [1.5, 2.0], "u": ["a"]}


def test_plots_along_t_share_one_x_range_and_a_cursor():
    v = ExplorerView()
    along_t = [v.fig_free_energy, v.fig_error, v.fig_thermo, v.fig_sampling, v.fig_scaling]
    assert all(f.x_range is v.t_range for f in along_t)
    for f in along_t:
        assert any(getattr(r, "data_source", None) is v.sources["t_cursor"] for r in f.renderers)
    assert v.fig_lambda.x_range is v.lam_range
    assert any(getattr(r, "data_source", None) is v.sources["lam_cursor"] for r in v.fig_lambda.renderers)


def test_updates_replace_data_without_new_models():
    v = ExplorerView()
    before = {id(m) for m in v.layout.references()}
    t = np.geomspace(0.1, 10, 5)
    nan = np.full(5, np.nan)
    v.show_temperature_curves(t, -t, -t + 0.1, nan, -t - 0.01, -t + 1e-3, -t, -t, t, t, lam=0.5)
    v.show_lambda_curves(np.linspace(0, 2, 3), [1.0, 2.0, 3.0], np.ones((3, 2)))
    v.show_cumulants([1.0, np.inf, 3.0], [0.1, 0.2, 0.0])
    v.show_weights(np.array([[1.0, np.nan], [-2.0, 0.5]]))
    v.set_order(2)
    assert {id(m) for m in v.layout.references()} == before
    assert len(v.sources["f_tap2"].data["x"]) == 0           # all NaN: nothing drawn
    assert len(v.sources["err_tap3"].data["x"]) == 5
    assert len(v.sources["f_exact_lambda"].data["x"]) == 5   # λ ≠ 1: exact F(λ) drawn
    assert v.renderers["f_exact_lambda"].visible
    assert v.sources["kappa"].data["n"] == [1.0, 3.0]
    assert v.sources["terms"].data["n"] == [1.0, 2.0]        # zero-size term left off the log axis
    assert np.isfinite(v.sources["weights"].data["image"][0]).all()
    assert v.color_mapper.low == -2.0 and v.color_mapper.high == 2.0
    assert [r.visible for r in v.lambda_lines[:3]] == [True, True, False]
    shown = [it.label.value for it in v.fig_lambda.legend[0].items if it.visible]
    assert shown == ["order 1", "order 2", "exact F(λ)"]
    # hidden orders repeat the exact curve: finite columns, same keys
    assert v.sources["lam_curves"].data["order_5"] == [1.0, 2.0, 3.0]
