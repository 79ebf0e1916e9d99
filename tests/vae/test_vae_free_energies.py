"""Free energies of real VAEs: a decoder that ignores z (closed form) and the shipped checkpoint."""

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.errors import InputError
from explorer.vae import PointAnalysis, series_free_energy
from explorer.vae.variational import SHIPPED_CACHE, split_cache_path
from tests.vae.vae_helpers import closed_form_neg_log_px, constant_decoder_vae


def test_decoder_ignoring_z_gives_closed_form():
    model = constant_decoder_vae()
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.integers(0, 2, 16).astype(float)
        pa = PointAnalysis(model, x, n_samples=2000, n_iwae=20000)
        f = closed_form_neg_log_px(model, x)
        ex = pa.exact
        assert ex.free_energy == pytest.approx(f, abs=1e-6)
        # p(z|x) = prior, so the gap KL(q || p(z|x)) is KL(q || prior), in closed form
        assert ex.kl_posterior == pytest.approx(ex.kl_prior, abs=1e-6)
        assert ex.neg_elbo == pytest.approx(f + ex.kl_prior, abs=1e-6)
        # expected energy in closed form: E_q[-ln p(x|z) - ln p(z)] = f + E_q[-ln N(z; 0, I)]
        mu, var = ex.mu, np.exp(ex.logvar)
        e_prior = np.sum(0.5 * np.log(2 * np.pi) + 0.5 * (mu ** 2 + var))
        assert ex.expected_energy == pytest.approx(f + e_prior, abs=1e-6)
        # the IWAE estimates approach f
        it = pa.iwae()
        assert abs(it.bound[-1] - f) < 4 * it.stderr[-1] + 1e-3


@pytest.fixture(scope="module")
def point0(shipped_session):
    return shipped_session.point(0)


def test_energy_minus_entropy_is_neg_elbo(point0):
    ex = point0.exact
    assert ex.expected_energy - ex.entropy == pytest.approx(ex.neg_elbo, abs=1e-6)
    assert ex.entropy_grid == pytest.approx(ex.entropy, abs=1e-6)
    assert ex.kl_posterior == pytest.approx(ex.neg_elbo - ex.free_energy, abs=1e-12)
    assert ex.kl_posterior > 0


def test_monte_carlo_agrees_with_quadrature(point0):
    parts = point0.elbo_parts()
    mc = parts.mc
    for key in ("neg_elbo", "expected_energy", "entropy"):
        assert abs(getattr(mc, key) - getattr(parts, key)) < 5 * getattr(mc, key + "_stderr"), key
    cum = point0.cumulants(3)
    assert np.all(np.abs(cum.kappa_mc[:2] - cum.kappa[:2]) < 5 * cum.kappa_mc_stderr[:2])


def test_lambda_one_gives_free_energy(point0):
    ex = point0.exact
    curve = point0.lam_curve([0.0, 0.5, 1.0])
    assert curve.exact[2] == ex.free_energy
    assert curve.exact[0] == pytest.approx(0.0, abs=1e-6)
    # λ = 0.5 < λ*/2: the Monte Carlo error bar means something; at λ = 1 (>= λ*/2, λ* < 2) Var(w) is
    # infinite, so there is none (the estimate is kept)
    assert abs(curve.mc[1] - curve.exact[1]) < 5 * curve.mc_stderr[1]
    assert list(curve.mc_variance_finite) == [True, True, False] and np.isnan(curve.mc_stderr[2])
    assert np.isfinite(curve.mc[2])
    assert np.all(curve.error < 1e-4)


def test_lambda_family_is_concave_and_below_lambda_kappa1(point0):
    # F(λ) = -ln E_q[e^{-λV}] is concave in λ, F(0) = 0, and F(λ) <= λ κ1 (Jensen)
    lams = np.linspace(0.0, 1.0, 11)
    f, err, _ = point0.exact.free_energy_lambda(lams)
    k1 = point0.exact.neg_elbo
    assert np.all(f <= lams * k1 + 1e-6)
    second = f[2:] - 2 * f[1:-1] + f[:-2]
    assert np.all(second <= 1e-6)


def test_series_orders(point0):
    ex = point0.exact
    kappa = ex.cumulants(6)
    assert kappa[0] == pytest.approx(ex.neg_elbo, abs=1e-12)
    ser = series_free_energy(kappa, [1.0, 0.3])
    assert ser[0, 0] == pytest.approx(ex.neg_elbo)
    # order 2 at λ = 1 is closer to -ln p(x) than order 1 (the gap is mostly the variance term)
    assert abs(ser[1, 0] - ex.free_energy) < abs(ser[0, 0] - ex.free_energy)
    # at small λ the series converges: order 6 matches F(0.3) closely
    f03 = ex.free_energy_lambda([0.3])[0][0]
    assert abs(ser[5, 1] - f03) < 1e-3


def test_iwae_decreases_toward_exact(point0):
    f = point0.exact.free_energy
    it = point0.iwae()
    b, se = it.bound, it.stderr
    assert it.k == [1, 10, 100, 1000, 5000]
    assert np.all(np.diff(b) <= 1e-12)
    assert np.all(b >= f - 4 * np.nan_to_num(se, nan=0.0) - 1e-6)
    assert b[0] == pytest.approx(point0.exact.neg_elbo, abs=5 * se[0])
    assert b[-1] - f < 0.05 and b[-1] - f < (b[0] - f) / 10


def test_temperature_bound_and_unit_temperature(point0):
    ex = point0.exact
    res = point0.temperature([0.5, 1.0, 2.0])
    assert res.exact[1] == pytest.approx(ex.free_energy)
    assert res.bound[1] == pytest.approx(ex.neg_elbo, abs=1e-6)
    assert np.all(res.bound >= res.exact - 1e-6)
    assert np.all(res.error < 1e-4)


@settings(max_examples=12, deadline=None)
@given(t=st.floats(0.2, 5.0))
def test_free_energy_temperature_is_concave_bound_holds(point0, t):
    ex = point0.exact
    ts = np.array([t * 0.9, t, t * 1.1])
    exact, bound, err = ex.free_energy_temperature(ts)
    assert np.all(bound >= exact - 1e-6)
    # F_T = -T ln Z_T: its T-derivative is -S_T and S_T decreases... concavity in T: C >= 0
    d1, d2 = (exact[1] - exact[0]) / (ts[1] - ts[0]), (exact[2] - exact[1]) / (ts[2] - ts[1])
    assert d2 <= d1 + 1e-4


def test_posterior_grid_is_a_density(point0):
    g = point0.posterior_grid()
    h1, h2 = np.diff(g.z1)[0], np.diff(g.z2)[0]
    assert g.density.shape == (g.z2.size, g.z1.size)
    assert g.density.sum() * h1 * h2 == pytest.approx(1.0, abs=1e-3)
    assert g.q_density.sum() * h1 * h2 <= 1.0 + 1e-3


@pytest.mark.slow
def test_bound_holds_for_every_test_point(shipped_session):
    """-ELBO > -ln p(x) on all test digits: the shipped split's numbers (explorer/data/vae_gaps_*.npz,
    pinned to the physics layer by tests/vae/test_vae_variational.py) hold it on every digit, and
    every eighth digit is computed here with the grid quadrature, its error estimates included."""
    ds = shipped_session.dataset
    n = ds.test.shape[0]
    with np.load(shipped_split_path(shipped_session), allow_pickle=False) as z:
        shipped = {k: z[k] for k in ("index", "free_energy", "neg_elbo_encoder")}
    assert shipped["index"].tolist() == list(range(n))
    assert np.all(shipped["neg_elbo_encoder"] - shipped["free_energy"] > 2e-4)
    model = shipped_session.model64
    for i in range(0, n, 8):
        ex = PointAnalysis(model, ds.test[i], n_samples=10, n_iwae=10).exact
        assert ex.quadrature_error < 1e-4 and ex.q_quadrature_error < 1e-4
        assert ex.neg_elbo - ex.free_energy > 2e-4, i
        assert ex.free_energy == pytest.approx(shipped["free_energy"][i], abs=1e-5), i
        assert ex.neg_elbo == pytest.approx(shipped["neg_elbo_encoder"][i], abs=1e-5), i


def shipped_split_path(session):
    return os.path.join(SHIPPED_CACHE, os.path.basename(split_cache_path(session)))


@pytest.mark.slow
def test_quadrature_matches_brute_force_grid(shipped_session):
    # a dense uniform grid over the whole prior box, no zooming: the adaptive value must agree
    from scipy.special import logsumexp

    from explorer.vae.quadrature import make_grid
    pa = shipped_session.point(5)
    g = make_grid((-9, 9, -9, 9), 801)
    lj = pa._log_joint_np(g.points)
    brute = -float(logsumexp(lj + g.log_weights))
    assert pa.exact.free_energy == pytest.approx(brute, abs=1e-4)
    levels = [lv["values"][0] for lv in pa.exact.integral.levels]
    assert len(levels) >= 2 and abs(levels[-1] - levels[-2]) < 1e-4


def test_latent_above_two_uses_labelled_iwae_estimate():
    torch.manual_seed(0)
    from explorer.vae import VAE
    model = VAE(16, 8, 3).double().eval()
    x = np.random.default_rng(0).integers(0, 2, 16)
    pa = PointAnalysis(model, x, n_samples=1000, n_iwae=10000)
    rep = pa.report(0.5, 3, 2.0)
    assert rep["exact_method"].startswith("iwae-5000 estimate")
    assert rep["exact_free_energy_stderr"] > 0 and rep["quadrature_error"] is None
    assert rep["cumulants"]["kappa"] is None and rep["temperature"]["exact"] is None
    assert rep["neg_elbo"] >= rep["exact_free_energy"] - 4 * rep["exact_free_energy_stderr"]


def test_bad_point_inputs(shipped_model):
    with pytest.raises(InputError, match="0 and 1"):
        PointAnalysis(shipped_model, np.full(64, 0.5))
    with pytest.raises(InputError, match="64 pixels"):
        PointAnalysis(shipped_model, np.zeros(10))
    pa = PointAnalysis(shipped_model, np.zeros(64), n_samples=100, n_iwae=5000)
    with pytest.raises(InputError, match="lam"):
        pa.lam_curve([2.0])
    with pytest.raises(InputError, match="temperature"):
        pa.temperature([-1.0])
    with pytest.raises(InputError, match="order"):
        pa.cumulants(9)


def test_lambda_family_beyond_one_closed_form_and_divergence():
    # decoder ignores z: E_q[w^λ] = p(x)^λ ∫ q^{1-λ} N(z; 0, I)^λ dz, a Gaussian integral that is
    # finite exactly for λ < λ* = 1 / (1 - σ²) (σ² = 0.25 here: λ* = 4/3)
    model = constant_decoder_vae(seed=2)
    with torch.no_grad():
        model.enc_logvar.weight.zero_()
        model.enc_logvar.bias.fill_(np.log(0.25))
    x = np.random.default_rng(3).integers(0, 2, 16).astype(float)
    pa = PointAnalysis(model, x, n_samples=2000, n_iwae=5000)
    f = closed_form_neg_log_px(model, x)
    mu, var = pa.mu, np.exp(pa.logvar)
    assert pa.lam_critical == pytest.approx(4 / 3)

    def closed(lam):
        a = (1 - lam) / var + lam
        b = (1 - lam) * mu / var
        c = (1 - lam) * mu ** 2 / (2 * var) + (1 - lam) / 2 * np.log(2 * np.pi * var) + lam / 2 * np.log(2 * np.pi)
        return lam * f - float(np.sum(0.5 * np.log(2 * np.pi / a) + b ** 2 / (2 * a) - c))

    lams = [0.3, 0.8, 1.1, 1.25]
    curve = pa.lam_curve(lams + [1.34, 1.5])
    for lam, got in zip(lams, curve.exact):
        assert got == pytest.approx(closed(lam), abs=1e-5), lam
    assert np.all(np.isneginf(curve.exact[4:]))
    assert np.all(np.isfinite(curve.mc))   # what a practitioner sees: finite, and wrong
    rep = pa.report(lam=1.5)
    assert rep["lam"]["diverges"] and rep["lam"]["exact"] == -np.inf


def test_shipped_model_lambda_above_one_diverges(point0):
    crit = point0.lam_critical
    assert 1.0 < crit < 1.1       # q is much narrower than the prior
    curve = point0.lam_curve([crit, 1.5])
    assert np.all(np.isneginf(curve.exact)) and np.all(np.isfinite(curve.mc))


def test_session_explore_for_the_app(shipped_session):
    s = shipped_session
    out = s.explore(7, lams=[0.0, 0.5, 1.0], order=3, temperatures=[0.5, 1.0, 2.0])
    assert s.point(7) is s.point(7)                       # cached per index
    assert out.index == 7 and out.image.shape == (8, 8)
    post = out.posterior
    assert post.density.shape == (post.z2.size, post.z1.size) == post.q_density.shape
    lc = out.lam_curve
    assert lc.exact.shape == lc.mc.shape == lc.mc_stderr.shape == (3,)
    assert lc.exact[2] == pytest.approx(out.report["exact_free_energy"])
    assert out.series.exact_kappa.shape == (3, 3) and out.series.order == [1, 2, 3]
    assert np.all(out.temperature.bound >= out.temperature.exact - 1e-6)
    assert out.iwae.k == [1, 10, 100, 1000, 5000]
    lat = s.latent_means()
    assert lat.mu.shape == (s.n_test, 2) and lat.labels.shape == (s.n_test,)
    np.testing.assert_allclose(lat.mu[7], out.q.mu, atol=1e-6)
