"""The VAE explorer's "Hold q" tab without a browser: widgets and Bokeh events driven in Python, every
number compared with explorer.vae.variational's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from explorer.app.vae.explorer import VAEExplorer
from explorer.vae import VAESession
from explorer.vae.results import SplitGaps
from explorer.vae.variational import GRAD_REQUIRED, GaussianQ, VariationalPoint, split_gaps


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("gaps_cache")
    mp.setenv("FREE_ENERGY_EXPLORER_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def session():
    return VAESession()


@pytest.fixture(scope="module")
def app(session, cache):
    app = VAEExplorer(query="index=16", session=session, prefetch=False)
    app.open_panel("hold_q")
    return app


def ctl(app):
    return app.panels["hold_q"].render.__self__


def data(app, name):
    return {k: np.asarray(v) for k, v in app.source(name).data.items()}


def physics(session, index, q, scale=1.0):
    return VariationalPoint(session.scaled(scale).point(index)).terms(q)


def neg_elbo_bar(app):
    d = data(app, "q_terms")
    return float(d["value"][list(d["name"]).index("−ELBO(q)")])


def test_tab_opens_on_the_encoders_q(app, session):
    c = ctl(app)
    enc = GaussianQ.diagonal(session.point(16).mu, session.point(16).logvar)
    mean = data(app, "q_held_mean")
    assert [mean["z1"][0], mean["z2"][0]] == pytest.approx(enc.mu)
    assert c.w_sigma1.value == pytest.approx(enc.sigma[0], rel=1e-12)
    assert neg_elbo_bar(app) == pytest.approx(physics(session, 16, enc).neg_elbo, abs=1e-12)
    assert data(app, "q_encoder_ellipses")["width"].size == 2
    post = app.source("q_posterior").data
    img = np.asarray(post["image"][0])
    assert img.shape == (161, 161)
    # p(z|x) on the view's box: it holds (almost) all of the posterior's mass
    cell = post["dw"][0] / 160 * post["dh"][0] / 160
    assert img.sum() * cell == pytest.approx(1.0, abs=0.02)
    assert "−ELBO(q)" in c.w_readout.value and "KL(q‖p(z|x))" in c.w_readout.value


def test_drag_moves_q_and_updates_the_bound(app, session):
    c = ctl(app)
    before = neg_elbo_bar(app)
    _, s1, s2, rho = c.held
    # what BokehJS sends when the student drags the mean (PointDrawTool): new data in the mean's source
    app.source("q_held_mean").data = {"z1": [0.4], "z2": [-0.3]}
    q = GaussianQ.from_sigmas([0.4, -0.3], s1, s2, rho)
    t = physics(session, 16, q)
    assert neg_elbo_bar(app) == pytest.approx(t.neg_elbo, abs=1e-12) and neg_elbo_bar(app) != before
    assert f"{t.neg_elbo:.4f}" in c.w_readout.value and f"{t.kl_posterior:.4f}" in c.w_readout.value
    ell = data(app, "q_held_ellipses")
    assert ell["x"] == pytest.approx([0.4, 0.4]) and ell["y"] == pytest.approx([-0.3, -0.3])


def test_tap_on_the_map_moves_the_mean(app):
    # a tap with the draw tool (one point at most): BokehJS sends the tapped point in place of the old one
    app.source("q_held_mean").data = {"z1": [0.25], "z2": [0.5]}
    c = ctl(app)
    assert c.held[0] == pytest.approx([0.25, 0.5])
    assert "mean (0.250, 0.500)" in c.w_readout.value


def test_sliders_set_the_covariance(app, session):
    c = ctl(app)
    c.w_sigma1.value, c.w_sigma2.value, c.w_rho.value = 0.5, 0.2, -0.6
    mu = c.held[0]
    q = GaussianQ.from_sigmas(mu, c.w_sigma1.value, c.w_sigma2.value, -0.6)
    assert neg_elbo_bar(app) == pytest.approx(physics(session, 16, q).neg_elbo, abs=1e-12)
    e = q.ellipse(2.0)
    ell = data(app, "q_held_ellipses")
    assert ell["angle"][1] == pytest.approx(e["angle"]) and ell["width"][1] == pytest.approx(e["width"])
    c.start_from_encoder()
    assert c.w_rho.value == 0.0 and c.held[0] == pytest.approx(session.point(16).mu)


def test_mean_sliders_move_q_from_the_keyboard(app, session):
    """The mean has sliders too (a keyboard moves them; the map's drag needs a mouse): each moves one
    coordinate and keeps the shape, and they follow the held q (a drag, the encoder's q)."""
    c = ctl(app)
    c.move_mean(0.1, 0.2)
    assert (c.w_mu1.value, c.w_mu2.value) == pytest.approx((0.1, 0.2))
    _, s1, s2, rho = c.held
    c.w_mu1.value = 0.55
    assert c.held[0] == pytest.approx([0.55, 0.2]) and c.held[1:] == pytest.approx((s1, s2, rho))
    c.w_mu2.value = -0.35
    q = GaussianQ.from_sigmas([0.55, -0.35], s1, s2, rho)
    assert neg_elbo_bar(app) == pytest.approx(physics(session, 16, q).neg_elbo, abs=1e-12)
    assert [data(app, "q_held_mean")["z1"][0], data(app, "q_held_mean")["z2"][0]] == pytest.approx([0.55, -0.35])
    assert c.w_mu1.min <= -3.0 and c.w_mu1.max >= 3.0       # the map's box, at least
    c.start_from_encoder()
    assert (c.w_mu1.value, c.w_mu2.value) == pytest.approx(tuple(session.point(16).mu))


def test_fit_converges_and_the_readout_shows_the_gaps(app, session):
    c = ctl(app)
    c.fit(background=False)
    vp = VariationalPoint(session.point(16))
    g = vp.gaps()
    r = c.fit_result
    assert r.gaps.amortisation == pytest.approx(g.amortisation, abs=1e-9)
    assert all(v < GRAD_REQUIRED for v in r.grad_norm.values())
    html = c.w_readout.value
    assert "amortisation gap" in html and f"{g.amortisation:.4f}" in html and f"{g.approximation:.4f}" in html
    assert "≤ −ELBO(q*<sub>full</sub>)" in html
    fits = vp.fit()
    assert (f"lowest of {fits.diagonal.n_starts} fits" in html and fits.diagonal.n_starts > 1
            and "not proven lowest" in html)
    # the animation: the Play's range is the iterates; its last step holds the full optimum
    assert c.w_play.max == len(r.path) - 1 > 5
    c.w_step.value = c.w_step.max
    full = vp.fit().full
    assert neg_elbo_bar(app) == pytest.approx(full.neg_elbo, abs=1e-9)
    assert data(app, "q_fit_path")["z1"].size == len(r.path)
    assert data(app, "q_fit_ellipses")["width"].size == 4
    marks = data(app, "q_hist_marks")
    assert dict(zip(marks["kind"], marks["x"])) == pytest.approx(
        {"amortisation": g.amortisation, "approximation": g.approximation})


def test_another_digit_starts_again_from_the_encoder(app, session):
    c = ctl(app)
    app.w_index.value = 0
    app.flush()
    assert c.fit_result is None and "amortisation gap" not in c.w_readout.value
    assert c.held[0] == pytest.approx(session.point(0).mu)
    assert data(app, "q_fit_path")["z1"].size == 0
    app.w_index.value = 16
    app.flush()
    assert c.fit_result is not None      # the fit of digit 16 is cached


def test_temperature_adds_the_tempered_bound(app, session):
    c = ctl(app)
    app.w_temperature.value = 2.0
    app.flush()
    t = c.terms.bound
    assert f"{t.expected_energy - app.state.T * t.entropy:.4f}" in c.w_readout.value
    app.w_temperature.value = 1.0
    app.flush()


def test_lambda_and_order_give_f_lambda_and_the_series_for_this_q(app, session):
    c = ctl(app)
    c.w_rho.value = 0.4
    app.w_lam.value, app.w_order.value = 0.5, 3
    app.flush()
    mu, s1, s2, rho = c.held
    q = GaussianQ.from_sigmas(mu, s1, s2, rho)
    vp = VariationalPoint(session.point(16))
    f_lam = vp.lam_curve(q, [0.5])[0]          # the adaptive quadrature, for this q
    assert c.lam_exact == pytest.approx(f_lam, abs=1e-12)
    assert f"{f_lam:.4f}" in c.w_readout.value
    series = vp.series(q, [0.5], order=3)[:, 0]
    assert c.terms.series[2] == pytest.approx(series[2], abs=1e-9)
    assert f"{series[2]:.4f}" in c.w_readout.value and "series, order 3" in c.w_readout.value
    app.w_lam.value, app.w_order.value = 1.0, 4
    app.flush()
    assert c.lam_exact == c.terms.bound.free_energy


def test_split_histograms_from_the_disk_cache(app, session, cache):
    c = ctl(app)
    # a precomputed cache of three digits stands for the whole split (the real one takes minutes)
    out = split_gaps(session, indices=[0, 3, 16], progress=lambda d, n: None, directory=str(cache))
    c.compute._splits[(c.compute._serial(), 1.0)] = out
    c._show_split()
    h = data(app, "q_hist_amortisation")
    assert h["count"].sum() == 3
    assert data(app, "q_hist_approximation")["count"].sum() == 3


def test_split_button_runs_with_progress(session, cache, monkeypatch):
    app = VAEExplorer(query="index=3", session=session, prefetch=False)
    app.open_panel("hold_q")
    c = ctl(app)
    seen = []

    def fake_split(scale=1.0, progress=None):       # the physics is tested in tests/vae; here the wiring
        for k in range(1, 4):
            progress(k, 3)
            seen.append(c.w_split_progress.value)
        zeros = np.zeros(3)
        out = SplitGaps(index=np.array([0, 3, 16]), free_energy=zeros, neg_elbo_encoder=zeros,
                        neg_elbo_diagonal=zeros, neg_elbo_full=zeros, amortisation=np.array([0.1, 0.2, 5.0]),
                        approximation=np.array([0.05, 0.3, 0.5]), full_covariance=zeros)
        c.compute._splits[(c.compute._serial(), scale)] = out
        return out
    monkeypatch.setattr(c.compute, "split", fake_split)
    c.compute_split(background=False)
    assert seen == [1, 2, 3]
    assert "3 digits" in c.w_split_status.value and not c.w_split.disabled
    assert data(app, "q_hist_amortisation")["count"].sum() == 3
    marks = data(app, "q_hist_marks")      # digit 3 is on the split: its gaps marked
    assert dict(zip(marks["kind"], marks["x"])) == pytest.approx({"amortisation": 0.2, "approximation": 0.3})


def test_cache_keys_never_reuse_a_dropped_sessions_number():
    """A session dropped (a retrained model replaced it) may leave its id() to the next one;
    the caches are keyed by serials, so the next session never reads the dropped one's numbers."""
    from explorer.app.vae.hold_q import HoldQCompute

    class Session:      # any object the explorer holds as its session
        pass

    current = {"s": Session()}
    compute = HoldQCompute(lambda: current["s"])
    assert compute._serial() == compute._serial()       # stable while the session lives
    seen_ids, serials, reused = set(), set(), False
    for _ in range(200):
        seen_ids.add(id(current["s"]))
        serials.add(compute._serial())
        current["s"] = None                              # dropped (freed at once: no cycles) ...
        current["s"] = Session()                         # ... and CPython may hand its id out again
        reused = reused or id(current["s"]) in seen_ids
        assert compute._serial() not in serials
    assert reused, "the test did not provoke the id reuse it guards against"
