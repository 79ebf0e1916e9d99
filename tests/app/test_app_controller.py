"""The explorer's controller without a browser: set widgets in Python, check the Bokeh
sources hold exactly the physics layer's numbers."""

from __future__ import annotations

import asyncio
import csv
import datetime
import html
import io

import numpy as np
import pytest

from explorer.app import RBMExplorer
from explorer.app.rbm import compute as appmod
from explorer.app.rbm.state import T_GRID, t_index
from explorer.rbm import RBM
from explorer.rbm.cumulants import cumulant_expansion
from explorer.rbm.exact import marginals
from explorer.rbm.meanfield import mean_field
from explorer.rbm.sweeps import lambda_sweep, temperature_sweep

RTOL = 1e-12


def data(app, name):
    return {k: np.asarray(v) for k, v in app.source(name).data.items()}


def all_sources(app):
    return {(key, name): s for key, v in app.views.items() for name, s in v.sources.items()}


def snapshot(app):
    return {name: {k: np.array(v, dtype=object) for k, v in s.data.items()}
            for name, s in all_sources(app).items()}


def same(a, b):
    return a.keys() == b.keys() and all(
        a[n].keys() == b[n].keys() and all(
            a[n][k].shape == b[n][k].shape and all(
                np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a[n][k], b[n][k]))
            for k in a[n]) for n in a)


def assert_all_finite(app):
    for name, s in all_sources(app).items():
        for key, col in s.data.items():
            for v in (col if key == "image" else [col]):
                arr = np.asarray(v)
                if arr.dtype.kind in "fc":
                    assert np.all(np.isfinite(arr)), f"non-finite value in {name}.{key}"


@pytest.fixture(scope="module")
def app():
    app = RBMExplorer(query="", page_url="http://127.0.0.1:8866/voila/render/rbm_explorer.ipynb",
                      run_ais=False)
    for key in app.panels:           # every tab opened: all sources are live
        app.open_panel(key)
    return app


@pytest.fixture(scope="module")
def rbm():
    return RBM.random(12, 12, seed=0)


def test_default_curves_are_the_cores_numbers(app, rbm):
    app.reset()
    c = temperature_sweep(rbm, T_GRID, order=4, lam=1.0, reference="mean-field")
    assert np.allclose(data(app, "f_exact")["x"], T_GRID, rtol=RTOL)
    assert np.allclose(data(app, "f_exact")["y"], c.exact, rtol=RTOL)
    assert np.allclose(data(app, "f_mean_field")["y"], c.mean_field, rtol=RTOL)
    assert np.allclose(data(app, "f_series")["y"], c.series[:, 3], rtol=RTOL)
    th = data(app, "thermo")
    assert np.allclose(th["U"], c.internal_energy, rtol=RTOL)
    assert np.allclose(th["C"], c.heat_capacity, rtol=RTOL)
    # TAP: exactly the converged points of the core's curve
    tap2 = data(app, "f_tap2")
    assert np.allclose(tap2["x"], T_GRID[c.tap2_converged], rtol=RTOL)
    assert np.allclose(tap2["y"], c.tap2[c.tap2_converged], rtol=RTOL)
    # the shaded gap is the bound minus the exact value, never negative (GBF)
    assert np.all(data(app, "f_mean_field")["diff"] >= -1e-9)
    err = data(app, "err_mean_field")
    assert np.allclose(err["y"], np.abs(c.mean_field - c.exact)[np.abs(c.mean_field - c.exact) > 0])
    assert_all_finite(app)


def test_temperature_move_updates_per_t_quantities_only(app, rbm, monkeypatch):
    app.reset()
    calls = []
    monkeypatch.setattr(appmod, "temperature_sweep",
                        lambda *a, **k: calls.append(1) or temperature_sweep(*a, **k))
    app.w_temperature.value = 0.5
    i = t_index(0.5)
    t = T_GRID[i]
    assert calls == []  # the cached sweep is reused: a T move never recomputes the curves
    assert data(app, "t_cursor")["x"].tolist() == [t]
    lc = lambda_sweep(rbm, appmod.LAM_CURVE, temperature=t, order=4)
    # the TAP point under the cursor is the TAP curve's point (one solve, the sweep's settings)
    c = temperature_sweep(rbm, T_GRID, order=4)
    p = app.compute.point(app.state)
    assert p.tap_converged[2] == bool(c.tap2_converged[i])
    assert p.mean_field_free_energy == pytest.approx(c.mean_field[i], rel=RTOL)
    lam = data(app, "lam_curves")
    assert np.allclose(lam["x"], appmod.LAM_CURVE)
    assert np.allclose(lam["exact"], lc.exact, rtol=RTOL)
    assert np.allclose(lam["order_2"], lc.series[:, 1], rtol=RTOL)
    kap = cumulant_expansion(rbm, t, order=4).kappa
    assert np.allclose(data(app, "kappa")["kappa"], kap, rtol=1e-10)
    ev, eh = marginals(rbm, t)
    mf = mean_field(rbm, t)
    mags = data(app, "magnetisation")
    assert np.allclose(mags["exact"], np.concatenate([ev, eh]), rtol=RTOL)
    assert np.allclose(mags["mean_field"], np.concatenate([mf.visible, mf.hidden]), rtol=RTOL)
    assert mags["unit"][0] == "v1" and mags["unit"][12] == "h1"
    assert "T = 0.5012" in app.w_readout.value


def test_weight_norm_order_reference_and_lambda(app, rbm):
    app.reset()
    with app._batch():
        app.w_norm.value = 5.0
        app.w_order.value = 6
        app.w_reference.value = "independent"
        app.w_lam.value = 0.5
    c = temperature_sweep(rbm.with_weight_norm(5.0), T_GRID, order=6, lam=0.5, reference="independent")
    assert np.allclose(data(app, "f_exact")["y"], c.exact, rtol=RTOL)
    assert np.allclose(data(app, "f_series")["y"], c.series[:, 5], rtol=RTOL)
    # at λ ≠ 1 the series is compared with the exact F(λ), which is drawn too
    assert np.allclose(data(app, "f_exact_lambda")["y"], c.exact_lambda, rtol=RTOL)
    assert np.allclose(data(app, "f_series")["exact"], c.exact_lambda, rtol=RTOL)
    assert np.allclose(data(app, "weights")["image"][0], rbm.with_weight_norm(5.0).weights)
    assert app.views["free_energy"].series.shown_orders() == list(range(1, 7))
    assert len(data(app, "kappa")["kappa"]) == 6
    assert data(app, "lam_cursor")["x"].tolist() == [0.5]
    app.w_lam.value = 1.0
    assert len(data(app, "f_exact_lambda")["x"]) == 0
    assert not app.views["free_energy"].renderers["f_exact_lambda"].visible
    assert_all_finite(app)


def test_strong_coupling_preset_shows_a_diverging_series(app):
    app.w_preset.value = "strong-coupling"
    try:
        st = app.state
        assert (st.norm, st.order, st.ref) == (8.0, 8, "independent")
        terms = data(app, "terms")["size"]
        # growing terms: the last orders of the series are larger than the early ones
        assert terms[-1] > terms[2]
        assert "Strong coupling" in app.w_message.value
        # the scenario stays selected while the view is the preset's, and no longer once it is not
        assert app.w_preset.value == "strong-coupling"
        app.w_temperature.value = 1.0
        assert app.w_preset.value == ""
        app.w_temperature.value = 0.5
        assert app.w_preset.value == "strong-coupling"
    finally:
        app.reset()
    assert app.w_preset.value == ""


def test_high_temperature_preset_mean_field_nearly_exact(app):
    app.w_preset.value = "high-temperature"
    try:
        i = t_index(app.w_temperature.value)
        assert app.w_temperature.value == pytest.approx(5.0, rel=0.02)
        f = data(app, "f_mean_field")
        assert f["diff"][i] / abs(f["exact"][i]) < 0.01
        assert f["diff"][i] >= 0
    finally:
        app.reset()


def test_several_minima_preset(app):
    app.w_preset.value = "mean-field-minima"
    try:
        assert "2 local minima" in app.w_readout.value or "3 local minima" in app.w_readout.value
    finally:
        app.reset()


def test_bars_and_stripes_preset_loads_the_shipped_model(app):
    if not appmod.BARS_STRIPES_PATH.is_file():
        pytest.skip("bars-and-stripes model not shipped")
    app.w_preset.value = "bars-and-stripes"
    try:
        ref = RBM.load(appmod.BARS_STRIPES_PATH)
        assert np.allclose(data(app, "weights")["image"][0], ref.weights)
        c = temperature_sweep(ref, T_GRID, order=4)
        assert np.allclose(data(app, "f_exact")["y"], c.exact, rtol=RTOL)
        assert "model=bars-stripes" in app.w_link.value
    finally:
        app.reset()


def test_tapping_a_point_moves_the_sliders(app):
    app.reset()
    src = app.source("tap_t")
    src.selected.indices = [50]
    assert app.w_temperature.value == pytest.approx(T_GRID[50], rel=RTOL)
    assert src.selected.indices == []          # cleared: tapping the same point works again
    assert data(app, "t_cursor")["x"][0] == pytest.approx(T_GRID[50], rel=RTOL)
    app.source("thermo").selected.indices = [150]
    assert app.w_temperature.value == pytest.approx(T_GRID[150], rel=RTOL)
    lam = app.source("lam_curves")
    lam.selected.indices = [3]
    assert app.w_lam.value == pytest.approx(0.3)
    assert data(app, "lam_cursor")["x"][0] == pytest.approx(0.3)
    app.reset()


def test_curve_checkboxes_hide_renderers(app):
    app.w_show["tap2"].value = False
    assert not app.views["free_energy"].renderers["f_tap2"].visible
    # the errors tab is hidden: it catches up when shown (a slider move patches only what is on screen)
    assert app.views["errors"].renderers["err_tap2"].visible
    assert not app.open_panel("errors").renderers["err_tap2"].visible
    assert "show=" in app.w_link.value
    app.w_show["tap2"].value = True
    assert app.views["free_energy"].renderers["f_tap2"].visible


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _upload(app, name, content):
    app.w_upload.value = ({"name": name, "type": "application/octet-stream", "size": len(content),
                           "content": memoryview(content),
                           "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)},)


def test_bad_uploads_show_a_message_and_keep_the_plots(app):
    app.reset()
    before = snapshot(app)
    _upload(app, "broken.npz", _npz(weights=np.ones((3, 2)), visible_bias=np.zeros(3)))
    msg = app.w_message.value
    assert "explorer-error" in msg and "broken.npz" in msg and "hidden_bias" in msg
    assert "/tmp" not in msg                       # the user's file name, not our temp path
    assert same(before, snapshot(app))
    _upload(app, "text.npz", b"this is not a zip file")
    assert "not a readable .npz" in app.w_message.value
    assert same(before, snapshot(app))
    _upload(app, "nan.npz", _npz(weights=np.full((3, 2), np.nan), visible_bias=np.zeros(3),
                                 hidden_bias=np.zeros(2)))
    assert "explorer-error" in app.w_message.value
    assert same(before, snapshot(app))
    assert app.w_model.value == "random"     # the controls still describe the plotted model
    app.reset()


def test_good_upload_is_explored(app):
    rng = np.random.default_rng(3)
    w, a, b = rng.normal(size=(5, 4)), rng.normal(size=5), rng.normal(size=4)
    _upload(app, "mine.npz", _npz(weights=w, visible_bias=a, hidden_bias=b))
    try:
        assert "explorer-error" not in app.w_message.value
        c = temperature_sweep(RBM(w, a, b), T_GRID, order=4)
        assert np.allclose(data(app, "f_exact")["y"], c.exact, rtol=RTOL)
        assert app.w_norm.value == pytest.approx(np.linalg.norm(w))
        assert len(data(app, "magnetisation")["exact"]) == 9
        # a bad file after a good one: the plots and the controls stay with the good file
        _upload(app, "bad.npz", b"garbage")
        assert "explorer-error" in app.w_message.value and app.w_model.value == "upload"
        app.w_order.value = 5
        assert np.allclose(data(app, "f_exact")["y"], c.exact, rtol=RTOL)
    finally:
        app.reset()


def test_too_large_models_are_refused_readably(app):
    app.reset()
    before = snapshot(app)
    with app._batch():
        app.w_nv.value, app.w_nh.value = 30, 30
    assert "cannot enumerate" in app.w_message.value and "2^24" in app.w_message.value
    assert same(before, snapshot(app))
    with app._batch():
        app.w_nv.value, app.w_nh.value = 16, 20
    assert "too large for the explorer" in app.w_message.value
    assert same(before, snapshot(app))
    # the controls show the model the plots show
    assert (app.w_nv.value, app.w_nh.value, app.w_seed.value) == (12, 12, 0)
    app.w_nv.value = 8      # a size that works: the message goes away
    assert app.w_message.value == ""
    assert len(data(app, "magnetisation")["exact"]) == 8 + 12
    app.reset()


def test_url_state_round_trip():
    q = "T=0.5&norm=3&lam=0.5&order=6&ref=independent&seed=2&nv=6&nh=7"
    app = RBMExplorer(query=q, page_url="http://h:1/voila/render/rbm_explorer.ipynb?x=1", run_ais=False)
    st = app.state
    assert (st.T, st.norm, st.lam, st.order, st.ref, st.seed, st.nv, st.nh) == (
        T_GRID[t_index(0.5)], 3.0, 0.5, 6, "independent", 2, 6, 7)
    c = temperature_sweep(RBM.random(6, 7, seed=2).with_weight_norm(3.0), T_GRID, order=6, lam=0.5,
                          reference="independent")
    assert np.allclose(data(app, "f_exact")["y"], c.exact, rtol=RTOL)
    link = app.w_link.value
    assert "http://h:1/voila/render/rbm_explorer.ipynb?" in link and "x=1" not in link
    query = link.split("rbm_explorer.ipynb?")[1].split("'")[0].replace("&amp;", "&")
    again = RBMExplorer(query=query, run_ais=False)
    assert again.state == st


def test_bad_url_parameters_are_reported(monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "T=abc&order=5&preset=nonsense")
    app = RBMExplorer(run_ais=False)   # reads Voila's environment variable
    assert app.state.order == 5 and app.state.T == 1.0
    msg = html.unescape(app.w_message.value)
    assert "T='abc' is not a number" in msg and "unknown preset 'nonsense'" in msg


def test_csv_holds_the_curves(app, rbm):
    app.reset()
    rows = list(csv.DictReader(io.StringIO(app.csv())))
    assert len(rows) == T_GRID.size
    c = temperature_sweep(rbm, T_GRID, order=4)
    assert np.allclose([float(r["exact_F"]) for r in rows], c.exact, rtol=1e-11)
    assert np.allclose([float(r["series_order_4_at_lambda_1"]) for r in rows], c.series[:, 3], rtol=1e-11)
    assert "download='rbm_explorer_curves.csv'" in app.w_csv.value


def test_sampling_plot_with_ais():
    pytest.importorskip("explorer.rbm.sampling")
    from explorer.rbm.sampling import ais_log_partition

    app = RBMExplorer(query="nv=6&nh=5", run_ais=True)
    assert "sampling" not in app.views           # computed only when its tab is opened
    app.open_panel("sampling")
    ais = data(app, "ais")
    assert ais["x"].size == appmod.AIS_TEMPERATURES.size
    rbm = RBM.random(6, 5, seed=0)
    t = ais["x"][3]
    r = ais_log_partition(rbm, t, n_chains=appmod.AIS_CHAINS, n_steps=appmod.AIS_STEPS, seed=0)
    assert ais["ais"][3] == pytest.approx(-t * r.log_partition, rel=RTOL)
    assert ais["stderr"][3] == pytest.approx(t * r.stderr, rel=RTOL)
    # AIS is unbiased-ish: within a few standard errors of the exact value (6 x 5 units)
    assert np.all(np.abs(ais["diff"]) < 5 * ais["stderr"] + 1e-3)
    assert_all_finite(app)


def test_scaling_plot_markers_sit_on_the_exact_curve(app, rbm):
    app.reset()
    pts, line = data(app, "scaling_points"), data(app, "scaling_line")
    idx = [t_index(t) for t in pts["x"]]
    assert np.allclose(pts["y"], line["y"][idx], rtol=1e-9)


def test_dragging_is_coalesced_under_an_event_loop(app):
    """Twenty slider messages in one loop turn cause one update, for the last value."""
    app.reset()
    updates = []
    panel = app.panels["free_energy"]
    orig = panel.render

    def counting(view, state, dirty):
        updates.append(state.T)
        orig(view, state, dirty)

    panel.render = counting
    try:
        async def drag():
            for i in range(20):
                app.w_temperature.value = float(T_GRID[100 + i])
            assert updates == []          # nothing computed yet: only marked stale
            await asyncio.sleep(0)
            await asyncio.sleep(0)

        asyncio.run(drag())
    finally:
        panel.render = orig
    assert updates == [T_GRID[119]]
    assert data(app, "t_cursor")["x"][0] == pytest.approx(T_GRID[119], rel=RTOL)
    app.reset()


def test_idle_prefetch_fills_the_neighbours(app):
    """After a move, the kernel's idle time computes the next temperatures in the move's
    direction; a later move there is served from the cache without new physics."""
    app.reset()
    i = t_index(app.w_temperature.value)

    def cached():
        key = app.compute.curve_key(app.state)
        return {T_GRID.index(k[-1]) for k in app.compute._points if k[:-1] == key}

    async def step_and_idle():
        app.w_temperature.value = float(T_GRID[i + 1])
        # idle until the prefetch is done (bounded: a busy shared machine is slow)
        for _ in range(600):
            await asyncio.sleep(0.05)
            if {i + 2, i + 3, i, i - 1} <= cached():
                break

    asyncio.run(step_and_idle())
    assert {i + 2, i + 3, i, i - 1} <= cached()
    calls = []
    orig = appmod.point_quantities
    appmod.point_quantities = lambda *a, **k: calls.append(1) or orig(*a, **k)
    try:
        app.w_temperature.value = float(T_GRID[i + 2])
    finally:
        appmod.point_quantities = orig
    assert calls == []
    assert data(app, "t_cursor")["x"][0] == pytest.approx(T_GRID[i + 2], rel=RTOL)
    app.reset()


def test_url_asking_for_a_model_too_large_starts_from_the_default():
    app = RBMExplorer(query="nv=30&nh=30&order=x", run_ais=False)
    msg = html.unescape(app.w_message.value)
    assert "cannot enumerate" in msg and "default model instead" in msg and "order='x'" in msg
    assert (app.w_nv.value, app.w_nh.value) == (12, 12)
    c = temperature_sweep(RBM.random(12, 12, seed=0), T_GRID, order=4)
    assert np.allclose(data(app, "f_exact")["y"], c.exact, rtol=RTOL)


def test_a_failing_sampling_estimate_leaves_the_exact_curves(monkeypatch):
    sampling = pytest.importorskip("explorer.rbm.sampling")
    from explorer.errors import InputError

    def refuse(*args, **kwargs):
        raise InputError("too few chains")

    monkeypatch.setattr(sampling, "ais_log_partition", refuse)
    app = RBMExplorer(query="nv=5&nh=4", run_ais=True)
    app.open_panel("sampling")
    assert "No sampling estimate for this model: too few chains" in app.views["sampling"].note.text
    assert len(data(app, "ais")["x"]) == 0
    assert len(data(app, "f_exact")["x"]) == T_GRID.size
    assert app.w_message.value == ""


def test_curves_along_the_weight_norm_follow_the_temperature(app, rbm):
    """The ‖W‖ tab: the core's weight-norm sweep at the cursor's T, the cursor at the slider, taps set ‖W‖."""
    from explorer.rbm.sweeps import weight_norm_sweep

    app.reset()
    app.w_temperature.value = float(T_GRID[80])
    norms = data(app, "norm_exact")["x"]
    assert norms[0] == 0.0 and norms[-1] == pytest.approx(12.0)
    c = weight_norm_sweep(rbm, norms, temperature=T_GRID[80], order=4)
    assert np.allclose(data(app, "norm_exact")["y"], c.exact, rtol=RTOL)
    assert np.allclose(data(app, "norm_mean_field")["y"], c.mean_field, rtol=RTOL)
    # the bound holds along ‖W‖ too (GBF), and at ‖W‖ = 0 mean field is exact
    assert np.all(data(app, "norm_mean_field")["diff"] >= -1e-9)
    assert data(app, "norm_mean_field")["diff"][0] == pytest.approx(0.0, abs=1e-9)
    assert data(app, "norm_cursor")["x"] == [pytest.approx(rbm.weight_norm)]
    # along ‖W‖ at the model's own norm, the sweep meets the exact F of the sweep along T
    own = weight_norm_sweep(rbm, [rbm.weight_norm], temperature=T_GRID[80], order=4)
    assert own.exact[0] == pytest.approx(data(app, "f_exact")["y"][80], rel=RTOL)
    app.source("norm_exact").selected.indices = [30]
    assert app.w_norm.value == pytest.approx(norms[30]) and app.state.norm == pytest.approx(norms[30])
    assert data(app, "norm_cursor")["x"] == [pytest.approx(norms[30])]
    app.reset()
