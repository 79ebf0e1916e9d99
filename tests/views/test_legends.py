"""Legends never cover data: no legend inside a frame, entries only for what is drawn, empty plots
say what to press; and the first screens show their differences on their own axis."""

import numpy as np
import pytest
from bokeh.models import Legend, Plot

from explorer.views import lessons
from explorer.views.common import has_data, symlog, symlog_threshold, symlog_ticks
from explorer.views.rbm import explorer as rbm_explorer
from explorer.views.rbm import hold_q as rbm_playground
from explorer.views.rbm import learning as rbm_learning
from explorer.views.vae import explorer as vae_explorer
from explorer.views.vae import hold_q as vae_q

VIEWS = [rbm_explorer.FreeEnergyView, rbm_explorer.ErrorThermoView, rbm_explorer.CumulantView,
         rbm_explorer.UnitView, rbm_explorer.SamplingView, rbm_explorer.ScalingView, rbm_explorer.WeightNormView,
         rbm_playground.HoldQView, rbm_learning.LearningView,
         vae_explorer.PosteriorLambdaView, vae_explorer.LatentView, vae_explorer.TemperatureView,
         vae_explorer.IwaeView, vae_explorer.ElboView, vae_explorer.TrainingView, vae_explorer.WeightScaleView,
         vae_explorer.ImportanceWeightView, vae_q.HoldQView,
         lessons.BoundView, lessons.CorrectionsView, lessons.TrialLawView, lessons.TrainingView]


def shown(fig):
    return [it.label.value for lg in fig.legend for it in lg.items if it.visible]


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.__name__)
def test_no_legend_inside_a_frame(view):
    v = view()
    for fig in v.layout.select({"type": Plot}):
        inside = [r for r in fig.center if isinstance(r, Legend)]
        assert inside == [], f"{fig.name}: legend inside the frame"


def test_free_energy_differences_under_f_with_their_own_axis():
    v = rbm_explorer.FreeEnergyView()
    f, d = v.fig_free_energy, v.fig_free_energy_diff
    assert d.x_range is f.x_range
    t = np.array([0.5, 1.0, 2.0])
    exact = np.array([-30.0, -17.0, -20.0])
    mf, tap2, tap3 = exact + [0.3, 0.28, 0.2], exact + [1e-2, 1.7e-3, -1e-4], exact + [5e-3, 1e-3, 1e-4]
    series = exact + [3e-2, 4.8e-4, 1e-6]
    assert shown(f) == []                      # nothing drawn yet: no entries
    v.show_temperature_curves(t, exact, mf, tap2, tap3, series, exact, lam=1.0)
    c = v.diff_scale
    assert c == symlog_threshold(mf - exact, tap2 - exact, tap3 - exact) == pytest.approx(1e-4)
    data = v.sources["f_tap2"].data
    assert np.allclose(data["diff"], tap2 - exact) and np.allclose(data["diff_y"], symlog(tap2 - exact, c))
    assert np.all(np.diff(v.sources["f_mean_field"].data["diff_y"]) < 0)     # monotone: the order is kept
    # at λ = 1 the exact F(λ) is the exact F: no line, no entry
    assert "exact F(λ) at this λ" not in shown(f)
    assert shown(f) == ["mean-field bound", "TAP order 2", "TAP order 3", "cumulant series (order K)", "exact F"]
    v.show_temperature_curves(t, exact, mf, tap2, tap3, series, exact - 1.0, lam=0.5)
    assert "exact F(λ) at this λ" in shown(f)
    # a curve switched off: its line, its difference, its entry (and the gap) go
    v.set_visible("mean_field", False)
    assert "mean-field bound" not in shown(f)
    assert not v.renderers["diff_mean_field"].visible and not v.renderers["f_gap"].visible
    v.set_visible("mean_field", True)
    assert "mean-field bound" in shown(f)
    # the axis is labelled with the differences, not their logarithms
    assert "0.001" in v.diff_formatter.args["labels"].values()


def test_symlog_keeps_sign_zero_and_order():
    v = np.array([-1.0, -1e-3, 0.0, 1e-6, 1e-3, 0.3])
    y = symlog(v, 1e-4)
    assert y[2] == 0 and np.all(np.diff(y) > 0) and y[1] == -y[4] and y[0] == pytest.approx(-np.log10(1 + 1e4))
    pos, labels = symlog_ticks(1e-4, -0.01, 0.3)
    assert labels == ["−0.01", "−0.001", "0", "0.001", "0.01", "0.1"] and np.all(np.diff(pos) > 0)


def test_vae_lambda_differences_under_f():
    v = vae_explorer.PosteriorLambdaView()
    g, d = v.fig_lambda, v.fig_lambda_diff
    assert d.x_range is g.x_range
    lam = np.linspace(0.0, 1.5, 16)
    exact = np.where(lam <= 1.1, 28.0 * lam, np.nan)
    series = np.array([29.0 * lam, 28.5 * lam, 28.2 * lam, 28.05 * lam])
    vr = np.where(lam > 0, 28.0 + 0.4 * (1 - lam), np.nan)
    mc = exact + 0.01
    v.show_lambda_curves(lam, exact, vr, mc, np.full(lam.size, 0.001), series, 4, 1.1)
    data = v.sources["lam_series"].data
    j = int(np.argmin(np.abs(data["diff_xs"][0] - 1.0)))
    assert data["diff_ys"][0][j] == pytest.approx(symlog(1.0, v.diff_scale))       # order 1 at λ = 1: the gap
    assert len(data["diff_ys"]) == 4 and np.all(data["diff_xs"][0] <= 1.1)
    assert np.allclose(v.sources["lam_vr"].data["diff"], vr[(lam > 0) & (lam <= 1)] - 28.0)
    assert "λ (slider)" not in shown(g)
    v.show_lambda_cursor(1.0, 28.0)
    assert "λ (slider)" in shown(g)


def test_hold_q_lists_the_fit_only_once_it_exists():
    v = vae_q.HoldQView()
    e = {"x": 0.0, "y": 0.0, "width": 1.0, "height": 1.0, "angle": 0.0}
    v.show_encoder([e])
    v.show_held([0.0, 0.0], [e])
    assert "best diagonal q" not in shown(v.fig_map) and "fit path" not in shown(v.fig_map)
    v.show_fit([e], ["diagonal"], np.zeros((3, 2)))
    assert {"best diagonal q", "fit path"} <= set(shown(v.fig_map))
    assert "best full-covariance q" not in shown(v.fig_map)      # its kind is not among the rows


def test_empty_plots_say_what_to_press():
    lv = rbm_learning.LearningView()
    assert "Press Start" in lv.placeholder_race.data["text"][0]
    assert all(len(p.data["text"]) == 1 for p in (lv.placeholder_decomposition, lv.placeholder_patterns,
                                                   lv.placeholder_samples, lv.placeholder_weights))
    assert shown(lv.fig_decomposition) == [] and shown(lv.fig_patterns) == []
    lv.show_curves({"exact": (np.arange(1, 4), np.array([-3.0, -2.5, -2.2]), None)}, optimum=-2.0)
    assert len(lv.placeholder_race.data["text"]) == 0
    lv.show_curves({}, optimum=None)
    assert "Press Start" in lv.placeholder_race.data["text"][0]

    tv = vae_explorer.TrainingView()
    assert "Train a new model" in tv.placeholder.data["text"][0] and shown(tv.fig_training) == []
    tv.show([1, 2], [30.0, 29.0], [31.0, 30.0])
    assert len(tv.placeholder.data["text"]) == 0 and shown(tv.fig_training) == ["training", "validation"]
    tv.show([], [], [])
    assert len(tv.placeholder.data["text"]) == 1


def test_has_data_follows_group_filters():
    v = vae_q.HoldQView()
    diag, full = [r for r in v.fig_map.renderers if getattr(r.view, "filter", None) is not None
                  and type(r.view.filter).__name__ == "GroupFilter"]
    e = {"x": 0.0, "y": 0.0, "width": 1.0, "height": 1.0, "angle": 0.0}
    v.show_fit([e], ["full"], np.zeros((0, 2)))
    assert not has_data(diag) and has_data(full)
