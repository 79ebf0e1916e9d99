"""The "Hold q" tab without a browser: widgets and drags driven in Python, numbers from the physics layer."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.app import RBMExplorer
from explorer.rbm import RBM, free_energy, marginals
from explorer.rbm import playground as pg
from explorer.rbm.meanfield import gbf_free_energy, mean_field


@pytest.fixture(scope="module")
def app():
    app = RBMExplorer(query="T=0.5&nv=6&nh=5&seed=3", page_url="", run_ais=False, prefetch=False)
    app.open_panel("hold_q")
    return app


@pytest.fixture
def tab(app):
    tab = app.hold_q
    app.w_temperature.value = 0.5
    app.flush()
    tab.w_damping.value = 0.0
    tab.w_start.value = "half"
    tab.reset_q()
    return tab


def data(app, name):
    return {k: np.asarray(v) for k, v in app.source(name).data.items()}


def readout_numbers(tab):
    html = tab.w_readout.value
    return tuple(float(html.split(f"class='{cls}'>")[1].split("<")[0]) for cls in ("pg-fq", "pg-exact", "pg-gap"))


def drag(app, unit, y, x_offset=0.2):
    """What BokehJS sends when the student drags handle ``unit``: the handles' data with that point moved."""
    src = app.source("pg_handles")
    x, ys = list(src.data["x"]), list(src.data["y"])
    x[unit] += x_offset
    ys[unit] = y
    src.data = {"x": x, "y": ys}


def test_the_tab_shows_q_its_bound_and_the_exact_numbers(app, tab):
    rbm = RBM.random(6, 5, seed=3)
    t = app.state.T
    exact = free_energy(rbm, t)
    bars = data(app, "pg_bars")
    np.testing.assert_array_equal(bars["m"], np.full(11, 0.5))
    mv, mh = marginals(rbm, t)
    np.testing.assert_allclose(bars["exact"], np.concatenate([mv, mh]), atol=1e-12)
    path = data(app, "pg_path")
    fq = gbf_free_energy(rbm, np.full(6, 0.5), np.full(5, 0.5), t)
    assert path["free_energy"].tolist() == pytest.approx([fq], abs=1e-12)
    f = pg.functionals(rbm, t, np.full(6, 0.5), np.full(5, 0.5))
    assert path["tap2"][0] == pytest.approx(f.tap2, abs=1e-12) and path["tap3"][0] == pytest.approx(f.tap3, abs=1e-12)
    assert data(app, "pg_exact_f")["y"][0] == pytest.approx(exact, abs=1e-12)
    shown_fq, shown_exact, gap = readout_numbers(tab)
    assert shown_fq == pytest.approx(fq, abs=1e-6) and shown_exact == pytest.approx(exact, abs=1e-6)
    assert gap == pytest.approx(fq - exact, abs=2e-6) and gap >= 0
    basins = data(app, "pg_basins")
    minima = pg.basins(rbm, t, tab.w_starts.value)
    np.testing.assert_allclose(basins["free_energy"], [m.free_energy for m in minima], atol=1e-12)
    assert basins["free_energy"][0] == pytest.approx(mean_field(rbm, t).free_energy, abs=1e-9)


def test_dragging_a_bar_updates_the_bound(app, tab):
    rbm, t = RBM.random(6, 5, seed=3), app.state.T
    before = readout_numbers(tab)[0]
    drag(app, 2, 0.9)
    mv, mh = np.full(6, 0.5), np.full(5, 0.5)
    mv[2] = 0.9
    fq = gbf_free_energy(rbm, mv, mh, t)
    assert readout_numbers(tab)[0] == pytest.approx(fq, abs=1e-6) != pytest.approx(before, abs=1e-6)
    assert data(app, "pg_path")["free_energy"].tolist() == pytest.approx([fq], abs=1e-12)
    handles = data(app, "pg_handles")
    assert handles["x"][2] == 2.0 and handles["y"][2] == pytest.approx(0.9)   # x snapped back to its unit
    # a drag past the top is clipped to 1; a hidden unit moves the fallback controls too
    drag(app, 8, 1.4, x_offset=-0.3)
    assert data(app, "pg_bars")["m"][8] == 1.0
    assert tab.w_unit.value == 8 and tab.w_m.value == 1.0
    mh[2] = 1.0
    fq, exact, gap = readout_numbers(tab)
    assert fq == pytest.approx(gbf_free_energy(rbm, mv, mh, t), abs=1e-6) and fq >= exact and gap >= 0
    assert tab.first == "visible"            # the other layer answers first


def test_the_fallback_slider_sets_q_like_a_drag(app, tab):
    rbm, t = RBM.random(6, 5, seed=3), app.state.T
    tab.w_unit.value = 7
    assert tab.w_m.value == 0.5
    tab.w_m.value = 0.05
    mv, mh = np.full(6, 0.5), np.full(5, 0.5)
    mh[1] = 0.05
    assert data(app, "pg_handles")["y"][7] == pytest.approx(0.05)
    assert readout_numbers(tab)[0] == pytest.approx(gbf_free_energy(rbm, mv, mh, t), abs=1e-6)


def test_step_and_play_walk_the_path_downhill(app, tab):
    rbm, t = RBM.random(6, 5, seed=3), app.state.T
    tab.w_damping.value = 0.4
    tab.step()
    tab.step()
    path = pg.mean_field_path(rbm, t, np.full(6, 0.5), np.full(5, 0.5), damping=0.4)
    shown = data(app, "pg_path")
    assert shown["it"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(shown["free_energy"], path.free_energy[:3], atol=1e-12)
    np.testing.assert_allclose(shown["tap3"], path.tap3[:3], atol=1e-12)
    np.testing.assert_allclose(data(app, "pg_bars")["m"], np.concatenate([path.visible[2], path.hidden[2]]),
                               atol=1e-12)
    # Play counts the iteration index in the browser; the kernel shows that row
    assert tab.w_play.max == path.n_iterations
    tab.w_play.value = 7
    assert len(data(app, "pg_path")["it"]) == 8
    tab.w_play.value = path.n_iterations
    shown = data(app, "pg_path")
    assert np.all(np.diff(shown["free_energy"]) <= 1e-12)          # the bound never rises
    assert np.all(shown["free_energy"] >= shown["exact"])
    assert "(stationary)" in tab.w_readout.value
    tab.step()                                                      # past the end: stays there
    assert tab.index == path.n_iterations


def test_starts_reset_and_a_new_temperature(app, tab):
    rbm = RBM.random(6, 5, seed=3)
    tab.w_start.value = "exact"
    mv, mh = marginals(rbm, app.state.T)
    np.testing.assert_allclose(data(app, "pg_bars")["m"], np.concatenate([mv, mh]), atol=1e-12)
    tab.w_start.value = "random"
    tab.w_seed.value = 4
    mv, mh = pg.start_magnetisations(rbm, app.state.T, "random", seed=4)
    np.testing.assert_allclose(data(app, "pg_bars")["m"], np.concatenate([mv, mh]), atol=1e-12)
    tab.step()
    tab.w_reset.click()
    assert tab.index == 0 and len(data(app, "pg_path")["it"]) == 1
    tab.w_start.value = "mean-field"
    app.w_temperature.value = 0.2
    app.flush()
    mf = mean_field(rbm, app.state.T)
    np.testing.assert_allclose(data(app, "pg_bars")["m"], np.concatenate([mf.visible, mf.hidden]), atol=1e-12)
    assert readout_numbers(tab)[1] == pytest.approx(free_energy(rbm, app.state.T), abs=1e-6)
    tab.w_starts.value = 30
    assert sum(data(app, "pg_basins")["count"]) == 30


def test_bad_values_give_one_line_messages(app, tab):
    tab.set_magnetisation(0, 0.3)
    with pytest.raises(Exception, match="unit must be"):
        tab.set_magnetisation(99, 0.3)
    drag(app, 1, float("nan"))       # not a usable drag: nothing changes
    assert data(app, "pg_bars")["m"][1] == 0.5
    for s in ("pg_bars", "pg_handles", "pg_path", "pg_basins"):
        for col in app.source(s).data.values():
            arr = np.asarray(col)
            if arr.dtype.kind == "f":
                assert np.all(np.isfinite(arr))
