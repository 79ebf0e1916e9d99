"""The "Hold q" view: named sources, plain arrays in, no NaN out, the histogram and ellipse helpers."""

import math

import numpy as np
import pytest
from bokeh.models import PointDrawTool

from explorer.views.vae.hold_q import HoldQView, ellipse_rows, histogram

NAMES = {"q_posterior", "q_held_ellipses", "q_held_mean", "q_encoder_ellipses", "q_fit_ellipses",
         "q_fit_path", "q_terms", "q_hist_amortisation", "q_hist_approximation", "q_hist_marks"}


def ell(x, y, w, h, a=0.0):
    return {"x": x, "y": y, "width": w, "height": h, "angle": a}


def test_sources_are_named_and_the_mean_is_draggable_and_tappable():
    v = HoldQView()
    assert set(v.sources) == NAMES
    assert all(s.name == k for k, s in v.sources.items())
    tools = [t for t in v.fig_map.toolbar.tools if isinstance(t, PointDrawTool)]
    # one point at most: a tap replaces the mean, a drag moves it; active without the toolbar
    assert len(tools) == 1 and tools[0].num_objects == 1 and tools[0].drag is True
    assert tools[0].renderers[0].data_source is v.mean_source
    assert v.fig_map.toolbar.active_tap is tools[0] and v.fig_map.toolbar.active_drag is tools[0]


def test_posterior_zooms_to_the_mass():
    v = HoldQView()
    z = np.linspace(-9, 9, 129)
    zz1, zz2 = np.meshgrid(z, z)
    dens = np.exp(-0.5 * ((zz1 - 1.0) ** 2 + (zz2 + 2.0) ** 2) / 0.04)
    lo1, hi1, lo2, hi2 = v.show_posterior(z, z, dens, mu=[1.0, -2.0], sigma=[0.1, 0.1])
    assert lo1 < 1.0 < hi1 and lo2 < -2.0 < hi2 and hi1 - lo1 < 4
    assert (v.fig_map.x_range.start, v.fig_map.y_range.end) == (lo1, hi2)
    dens[0, 0] = np.nan
    v.show_posterior(z, z, dens, mu=[1.0, -2.0], sigma=[0.1, 0.1])
    assert np.all(np.isfinite(v.sources["q_posterior"].data["image"][0]))


def test_no_nan_reaches_the_sources():
    v = HoldQView()
    v.show_held([0.5, -0.5], [ell(0.5, -0.5, 1.0, 0.5, 0.3), ell(0.5, -0.5, 2.0, 1.0, 0.3)])
    assert v.sources["q_held_mean"].data == {"z1": [0.5], "z2": [-0.5]}
    v.show_fit([ell(0, 0, 1, 1), ell(math.nan, 0, 1, 1)], ["diagonal", "full"], np.array([[0, 0], [np.inf, 1], [1, 1]]))
    assert v.sources["q_fit_ellipses"].data["kind"] == ["diagonal"]
    assert v.sources["q_fit_path"].data["z1"] == [0.0, 1.0]
    v.show_terms({"neg_elbo": 30.0, "free_energy": 28.0, "kl_posterior": math.nan})
    assert v.sources["q_terms"].data["name"] == ["−ELBO(q)", "−ln p(x)"]
    v.show_marks(amortisation=math.inf, approximation=0.2)
    assert v.sources["q_hist_marks"].data == {"x": [0.2], "kind": ["approximation"]}


def test_histograms():
    v = HoldQView()
    v.show_histograms([0.1, 0.2, 0.2, np.nan, 3.0], [], bins=5)
    h = v.sources["q_hist_amortisation"].data
    assert np.sum(h["count"]) == 4 and h["left"][0] == pytest.approx(0.1) and h["right"][-1] == pytest.approx(3.0)
    assert len(v.sources["q_hist_approximation"].data["count"]) == 0
    assert histogram([1.0], bins=3)["count"].sum() == 1


def test_ellipse_rows_keep_finite_rows_only():
    rows = ellipse_rows([ell(0, 0, 1, 2, 0.1), ell(0, 0, math.nan, 2)])
    assert list(rows["width"]) == [1.0] and list(rows["angle"]) == [0.1]
