"""The VAE explorer's controller without a browser: set widgets in Python and check that the
Bokeh sources hold exactly the VAE layer's numbers."""

from __future__ import annotations

import csv
import io
import os
import re

import numpy as np
import pytest

pytest.importorskip("torch")

from explorer.app.core.classroom import classroom_options
from explorer.app.vae.explorer import VAEExplorer
from explorer.app.vae.state import K_GRID, LAM_GRID, T_GRID, VAEState, query_from_state, state_from_query
from explorer.vae import VAESession

PAGE = "http://127.0.0.1:8866/voila/render/vae_explorer.ipynb"


def data(app, name):
    return {k: np.asarray(v) for k, v in app.source(name).data.items()}


@pytest.fixture(scope="module")
def session():
    return VAESession()


@pytest.fixture(scope="module")
def app(session):
    app = VAEExplorer(query="index=5&T=0.5&lam=0.5&order=6", page_url=PAGE, session=session)
    for key in app.panels:     # every tab opened: all sources are live
        app.open_panel(key)
    return app


def assert_all_finite(app):
    for name, s in ((n, s) for v in app.views.values() for n, s in v.sources.items()):
        for key, col in s.data.items():
            for v in (col if key in ("image", "xs", "ys") else [col]):
                arr = np.asarray(v)
                if arr.dtype.kind in "fc":
                    assert np.all(np.isfinite(arr)), f"non-finite value in {name}.{key}"


def test_url_sets_the_initial_state(app):
    assert app.w_index.value == 5
    assert app.w_temperature.value == pytest.approx(T_GRID[np.argmin(abs(np.log(T_GRID.values / 0.5)))])
    assert app.w_lam.value == 0.5 and app.w_order.value == 6
    assert len(data(app, "lam_series")["order"]) == 6
    assert data(app, "lam_cursor")["x"][0] == 0.5
    assert "index=5" in app.w_link.value and "order=6" in app.w_link.value
    assert app.w_message.value == ""


def test_selecting_a_point_updates_every_source_with_the_cores_numbers(app, session):
    app.select(7)
    pa = session.point(7)
    rep = session.report(7, lam=1.0, order=4, temperature=1.0)
    x, label = session.test_image(7)
    title = app.open_panel("latent").digit_title.text
    assert "Test digit #7" in title and f"(a {label})" in title
    # the digit image (rows flipped for Bokeh) and the selected marker at q's mean
    np.testing.assert_array_equal(data(app, "digit")["image"][0][::-1], x.reshape(8, 8))
    np.testing.assert_allclose(data(app, "latent_selected")["z1"], [session.latent_means().mu[7, 0]], rtol=1e-12)
    # the posterior grid is the core's
    grid = pa.posterior_grid(129)
    np.testing.assert_allclose(data(app, "posterior")["image"][0], grid.density, rtol=1e-12)
    np.testing.assert_allclose(data(app, "q_mean")["z1"], [pa.mu[0]], rtol=1e-12)
    # F(λ): exact where finite, Monte Carlo everywhere
    lc = pa.lam_curve(LAM_GRID)
    fin = np.isfinite(lc.exact)
    np.testing.assert_allclose(data(app, "lam_exact")["y"], lc.exact[fin], rtol=1e-12)
    np.testing.assert_allclose(data(app, "lam_mc")["y"], lc.mc, rtol=1e-12)
    assert data(app, "lam_exact")["x"].max() < lc.lam_critical   # the exact curve stops at λ*
    assert app.views["posterior_lambda"].lam_critical.location == pytest.approx(lc.lam_critical)
    # the VR family at λ = 1 is −ln p(x); at the smallest λ it is close to −ELBO
    vr = data(app, "lam_vr")
    assert vr["y"][vr["x"] == 1.0][0] == pytest.approx(rep["exact_free_energy"], abs=1e-9)
    # F_T and the bound, the IWAE bounds
    temp = pa.temperature(T_GRID)
    np.testing.assert_allclose(data(app, "t_exact")["y"], temp.exact, rtol=1e-12)
    np.testing.assert_allclose(data(app, "t_bound")["y"], temp.bound, rtol=1e-12)
    iw = pa.iwae(list(K_GRID))
    np.testing.assert_allclose(data(app, "iwae")["y"], iw.bound, rtol=1e-12)
    assert data(app, "iwae_exact")["y"][0] == pytest.approx(rep["exact_free_energy"], rel=1e-12)
    # bars: −ELBO = expected energy − entropy and the gap, as in vae-report
    bars = dict(zip(data(app, "elbo_bars")["name"], data(app, "elbo_bars")["value"]))
    assert bars["−ELBO"] == pytest.approx(rep["neg_elbo"], rel=1e-12)
    assert bars["expected energy ⟨H⟩ under q"] == pytest.approx(rep["expected_energy"], rel=1e-12)
    assert bars["− entropy −S[q]"] == pytest.approx(-rep["entropy"], rel=1e-12)
    assert bars["gap KL(q‖p(z|x))"] == pytest.approx(rep["kl_posterior"], rel=1e-12)
    assert bars["exact F = −ln p(x)"] == pytest.approx(rep["exact_free_energy"], rel=1e-12)
    assert f"{rep['neg_elbo']:.4f}" in app.w_readout.value
    assert_all_finite(app)


def test_tapping_the_scatter_selects_that_digit(app):
    src = app.source("latent")
    pos = list(src.data["index"]).index(16)
    src.selected.indices = [pos]
    assert app.w_index.value == 16
    assert "Test digit #16" in app.open_panel("latent").digit_title.text
    assert src.selected.indices == []          # cleared, so the same dot can be tapped again


def test_sliders_move_the_cursors_and_series(app, session):
    app.select(3)
    pa = session.point(3)
    app.w_lam.value = 0.25
    assert data(app, "lam_cursor")["x"][0] == 0.25
    assert data(app, "lam_cursor")["y"][0] == pytest.approx(pa.lam_curve([0.25]).exact[0], rel=1e-12)
    app.w_temperature.value = T_GRID[30]
    assert data(app, "t_cursor")["x"][0] == pytest.approx(T_GRID[30])
    assert data(app, "t_cursor")["y"][0] == pytest.approx(pa.temperature([T_GRID[30]]).exact[0], rel=1e-10)
    app.w_order.value = 2
    ser = data(app, "lam_series")
    assert list(ser["order"]) == [1, 2]
    exp = pa.series(LAM_GRID, 8).exact_kappa
    np.testing.assert_allclose(ser["ys"][1], exp[1][np.isfinite(exp[1])], rtol=1e-12)
    app.w_k.value = 1000
    assert data(app, "iwae_cursor")["x"][0] == 1000
    before = data(app, "lam_mc")["y"].copy()
    app.w_samples.value = 300
    after = data(app, "lam_mc")["y"]
    assert not np.allclose(before, after)
    from explorer.vae import free_energy_lambda_mc
    lj, lq = pa._pool                     # Monte Carlo from the first 300 of the point's draws
    mc, _ = free_energy_lambda_mc((lj - lq)[:300], LAM_GRID)
    np.testing.assert_allclose(after, mc, rtol=1e-12)
    assert "300 samples" in app.w_readout.value
    app.w_samples.value = 5000
    # slider moves only read cached curves
    for kind in ("lam", "T", "order", "K"):
        assert app.timings[kind] < 0.25, (kind, app.timings[kind])
    assert_all_finite(app)


def test_preset_reset_link_and_csv(app):
    app.apply_preset("big-gap")
    assert app.w_index.value == 16 and "fits badly" in app.w_message.value
    link = app.w_link.value
    assert PAGE + "?index=16" in link
    rows = list(csv.reader(io.StringIO(app.csv())))
    assert rows[0] == ["curve", "x", "value", "stderr"]
    names = {r[0] for r in rows[1:]}
    assert {"F_lambda_exact", "F_lambda_monte_carlo", "series_order_8", "F_T_exact", "F_T_bound",
            "iwae_bound", "renyi_vr_bound"} <= names
    exact = [float(r[2]) for r in rows[1:] if r[0] == "F_T_exact"]
    np.testing.assert_allclose(exact, data(app, "t_exact")["y"], rtol=1e-10)
    assert "vae-csv" in app.w_csv.value and "base64," in app.w_csv.value
    app.reset()
    assert app.state == VAEState()


def test_query_parsing_and_round_trip():
    st, problems = state_from_query("index=5&T=2&lam=0.3&order=7&K=90&samples=1000", n_test=359)
    assert problems == []
    assert (st.index, st.order, st.K, st.samples) == (5, 7, 100, 1000)
    assert st.lam == pytest.approx(0.3)
    back, _ = state_from_query(query_from_state(st), n_test=359)
    assert back == st
    assert query_from_state(VAEState()) == ""
    st, problems = state_from_query("index=999&T=-1&lam=x&preset=nope", n_test=359)
    assert st == VAEState()
    text = "; ".join(problems)
    for part in ("index=999 is outside the test set (0..358)", "T='-1' must be > 0", "lam='x' is not a number",
                 "unknown preset 'nope'"):
        assert part in text


def test_bad_url_shows_a_message_and_the_default_view(session):
    app = VAEExplorer(query="index=9999&order=abc", page_url=PAGE, session=session)
    assert "vae-error" in app.w_message.value
    assert "index=9999 is outside the test set" in app.w_message.value
    assert "order=&#39;abc&#39; is not a whole number" in app.w_message.value
    assert app.w_index.value == VAEState().index
    assert len(data(app, "lam_exact")["x"]) > 0


def test_teacher_mode_hides_the_chosen_controls(session):
    assert classroom_options("hide=order").hide == frozenset()      # hide needs teacher=1
    opts = classroom_options("teacher=1&hide=order,samples&theme=dark")
    assert opts.hide == {"order", "samples"} and opts.theme == "dark"
    app = VAEExplorer(query="teacher=1&hide=order,samples,bogus&theme=dark", page_url=PAGE, session=session)
    assert app.w_order.layout.display == "none" and app.w_samples.layout.display == "none"
    assert app.w_lam.layout.display != "none"
    assert "no control named bogus" in app.w_message.value
    # the link keeps the classroom options; the Bokeh document carries the dark theme
    assert "teacher=1" in app.w_link.value and "theme=dark" in app.w_link.value
    view = app.views["posterior_lambda"]
    assert view.layout.document.theme is not None
    assert view.fig_lambda.background_fill_color != "#ffffff"
    # the black "exact" curves are drawn light on the dark background
    colors = {r.glyph.line_color for r in view.fig_lambda.renderers if hasattr(r.glyph, "line_color")}
    assert "black" not in colors and "#e8e8e8" in colors


def test_training_panel_trains_and_switches_the_explorer(session):
    app = VAEExplorer(query="index=0", page_url=PAGE, session=session)
    app.open_panel("latent")
    app.open_panel("training")
    assert "Training device" in app.training.w_device.value
    lat_before = data(app, "latent")["z1"].copy()
    app.train(epochs=2, background=False)
    assert app.training.trained is not None
    assert app.training.w_progress.value == 2
    assert len(data(app, "train_loss")["epoch"]) == 2
    assert "trained here" in app.w_model_name.value
    assert not np.allclose(data(app, "latent")["z1"], lat_before)   # the new model's latent means
    assert not app.training.w_shipped.disabled and not app.training.w_train.disabled
    app.training.use_shipped()
    np.testing.assert_allclose(data(app, "latent")["z1"], lat_before)
    assert "shipped checkpoint" in app.w_model_name.value
    # a second model replaces the first one's temporary checkpoint (kept only while explorable)
    first = app.training.trained[0]
    assert os.path.isfile(first)
    app.train(epochs=1, background=False)
    second = app.training.trained[0]
    try:
        assert second != first and os.path.isfile(second) and not os.path.exists(first)
    finally:
        os.remove(second)


def test_failed_training_says_why_and_keeps_the_model(session):
    app = VAEExplorer(query="index=0", page_url=PAGE, session=session)
    app.train(epochs=1, background=False, lr=-1.0)
    status = app.training.w_train_status.value
    assert "Training failed" in status and "vae-train-status" in status
    assert app.training.trained is None and app.session is session
    assert not app.training.w_train.disabled and app.training.w_shipped.disabled


def test_decoder_weight_scale_recomputes_everything_exactly(session):
    """?scale=c: every exact number is for the decoder with its weights × c (the encoder's q kept)."""
    app = VAEExplorer(query="index=7&scale=2", page_url=PAGE, session=session)
    scaled = session.scaled(2.0)
    rep = scaled.report(7, lam=1.0, order=4, temperature=1.0)
    assert app.state.scale == 2.0 and "scale=2" in app.w_link.value
    assert f"{rep['exact_free_energy']:.4f}" in app.w_readout.value and "weights × 2.00" in app.w_readout.value
    np.testing.assert_allclose(data(app, "posterior")["image"][0], scaled.point(7).posterior_grid(129).density,
                               rtol=1e-12)
    # the weight-scale tab: the session's curve along c, the cursor at the slider
    curve = session.weight_scale_curve(7, app.compute.weight_scale_curve(7).scale)
    app.open_panel("scale")
    np.testing.assert_allclose(data(app, "scale_exact")["y"], curve.exact, rtol=1e-12)
    assert np.all(curve.neg_elbo >= curve.exact - 1e-9)       # −ELBO is a bound for every c
    assert data(app, "scale_cursor")["x"] == [2.0]
    # the slider: back to the trained model, the numbers of the shipped checkpoint
    app.w_scale.value = 1.0
    assert data(app, "scale_cursor")["x"] == [1.0] and "decoder weights" not in app.w_readout.value
    assert f"{session.report(7)['exact_free_energy']:.4f}" in app.w_readout.value


def test_weights_tab_reports_the_tail_and_no_error_bar_where_the_variance_is_infinite(session):
    app = VAEExplorer(query="index=16&samples=1000", page_url=PAGE, session=session)
    w = session.point(16).monte_carlo([1.0], 1000).weights
    html = app.open_panel("weights").diagnostics.text
    text = re.sub(r"<[^>]+>", "", html)      # the words, without the glossary's hover titles
    assert f"λ* = {w.lam_critical:.4f}" in text and f"k̂ = {w.pareto_k_hat:.3f}" in text
    assert ("PSIS calls the estimate unreliable" in text) == (not w.reliable)
    assert "unreliable</b>" in html          # the exact k = 1/λ* ≈ 0.98 > 0.7 decides
    # the student is told which to believe, and why k̂ can say otherwise
    assert "Trust the exact k" in text if w.reliable else "trust the exact k" in text
    assert int(sum(data(app, "log_w_hist")["count"])) == 1000
    # λ* < 2 for this model: Monte Carlo error bars stop at λ*/2; IWAE's group values have a finite
    # variance for every λ* > 0, so every K has its spread
    lam_err = data(app, "lam_mc_err")["x"]
    assert lam_err.max() < w.lam_critical / 2 and len(data(app, "lam_mc")["x"]) == LAM_GRID.size
    assert "no error bar" in app.views["posterior_lambda"].mc_note.text
    assert "variance infinite: no error bar" in app.w_readout.value
    app.open_panel("iwae")
    assert data(app, "iwae_err")["x"].tolist() == [float(k) for k in K_GRID.values]
    assert "not its bias" in app.views["iwae"].note.text
    rows = [r for r in csv.reader(io.StringIO(app.csv())) if r[0] == "F_lambda_monte_carlo"]
    assert all(r[3] == "" for r in rows if float(r[1]) >= w.lam_critical / 2) and "nan" not in app.csv()
