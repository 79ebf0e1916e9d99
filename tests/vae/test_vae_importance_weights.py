"""The importance weights' tail: λ*, the exact Pareto shape, PSIS k-hat (ArviZ), and error bars only where
the variance they estimate is finite."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.vae import PointAnalysis, free_energy_lambda_mc, importance_weight_diagnostics, iwae_bounds, psis
from explorer.vae.estimators import pareto_k_threshold
from tests.vae.vae_helpers import constant_decoder_vae


def _fixed_q_vae(variances, seed=2):
    """A decoder that ignores z and an encoder whose q has fixed variances (the means still depend on x)."""
    model = constant_decoder_vae(seed=seed)
    with torch.no_grad():
        model.enc_logvar.weight.zero_()
        model.enc_logvar.bias.copy_(torch.log(torch.tensor(variances, dtype=torch.float64)))
    return model


def _point(variances, n_samples=4000, n_iwae=20000):
    x = np.random.default_rng(3).integers(0, 2, 16).astype(float)
    return PointAnalysis(_fixed_q_vae(variances), x, n_samples=n_samples, n_iwae=n_iwae)


# ------------------------------------------------------------------ λ* and k in closed form
@pytest.mark.parametrize("variances, lam_star", [
    ((0.25, 0.64), 4 / 3),                 # min over axes of 1/(1 - σ²)
    ((0.9, 0.5), 2.0),
    ((0.6, 0.8), 2.5),
    ((1.0, 1.5), math.inf),                # q at least as wide as the prior: bounded weights
])
def test_lam_critical_and_exact_pareto_shape(variances, lam_star):
    pa = _point(variances)
    np.testing.assert_allclose(np.exp(pa.logvar), variances, rtol=1e-12)
    assert pa.lam_critical == pytest.approx(lam_star, rel=1e-12)
    w = pa.importance_weights()
    assert w.lam_critical == pa.lam_critical
    assert w.pareto_k_exact == pytest.approx(0.0 if math.isinf(lam_star) else 1.0 / lam_star, rel=1e-12)
    assert w.variance_finite == (lam_star > 2)


def test_decoder_ignoring_z_weights_have_the_predicted_tail():
    # w = p(x) N(z; 0, 1)/q(z): along an axis, ln w = a + (1 - σ²) ε²/2 with ε ~ N(0, 1), so
    # P(w > t) ~ t^(-1/(1 - σ²)) up to a slowly varying factor: k = 1 - σ² = 1/λ*.
    # (The factor (ln t)^(-1/2) biases a 3√S-draw tail fit; PSIS k-hat lands near, not on, k.)
    pa = _point((0.36, 0.95), n_samples=20000, n_iwae=20000)
    w = pa.importance_weights()
    assert w.pareto_k_exact == pytest.approx(0.64)
    assert abs(w.pareto_k_hat - 0.64) < 0.15
    # log_w are the first n_samples draws of the pool: ln p(x, z) - ln q(z|x)
    lj, lq = pa._pool
    np.testing.assert_array_equal(w.log_w, (lj - lq)[:20000])


# ------------------------------------------------------------------ PSIS k-hat on synthetic weights
@pytest.mark.parametrize("k", [0.2, 0.5, 0.7, 0.9, 1.2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pareto_k_hat_recovers_a_known_shape(k, seed):
    # w = U^(-k) is Pareto with shape k (tail index 1/k); ArviZ fits the largest M = 3√S weights,
    # whose maximum-likelihood shape has standard error ≈ (1 + k)/√M
    n = 5000
    lw = -k * np.log(np.random.default_rng(seed).random(n)) + 7.0
    d = importance_weight_diagnostics(lw, lam_critical=1.0 / k)
    m = math.floor(3 * math.sqrt(n))
    se = (1 + k) / math.sqrt(m)
    assert abs(d.pareto_k_hat - k) < 3 * se, (d.pareto_k_hat, k, se)
    assert d.pareto_k_exact == pytest.approx(k)
    assert d.reliable == (d.pareto_k_hat <= 0.7)


def test_pareto_k_hat_mean_over_replicates():
    # averaged over 40 samples the estimate is within its standard error of the truth
    k, n = 0.5, 5000
    rng = np.random.default_rng(11)
    ks = [psis(-k * np.log(rng.random(n))).k_hat for _ in range(40)]
    se = (1 + k) / math.sqrt(math.floor(3 * math.sqrt(n)))
    assert abs(np.mean(ks) - k) < se / math.sqrt(40) * 3
    assert np.std(ks) == pytest.approx(se, rel=0.35)


def test_psis_free_energy_and_ess():
    rng = np.random.default_rng(5)
    # Pareto k = 0.4: E[w] = 1/(1 - k); the smoothed and the raw estimate both find it
    lw = -0.4 * np.log(rng.random(20000))
    d = importance_weight_diagnostics(lw)
    assert d.raw_free_energy == pytest.approx(-math.log(1 / 0.6), abs=0.03)
    assert d.psis_free_energy == pytest.approx(-math.log(1 / 0.6), abs=0.03)
    assert d.reliable and d.pareto_k_exact == 0.0          # λ* not given: infinite
    # light tail: smoothing changes next to nothing
    lw = rng.normal(3.0, 0.3, 5000)
    d = importance_weight_diagnostics(lw)
    assert d.psis_free_energy == pytest.approx(d.raw_free_energy, abs=1e-3)
    assert d.pareto_k_hat < 0.5 and d.reliable
    assert 0.8 * 5000 < d.ess <= 5000
    # equal weights: ESS = S; one weight dominating: ESS ≈ 1 and k-hat flags it
    assert importance_weight_diagnostics(np.zeros(1000) + rng.normal(0, 1e-9, 1000)).ess == pytest.approx(1000)
    lw = rng.normal(0, 1, 5000)
    lw[7] = 60.0
    d = importance_weight_diagnostics(lw)
    assert d.ess == pytest.approx(1.0, abs=1e-6)
    assert d.raw_free_energy == pytest.approx(-(60 - math.log(5000)), abs=1e-6)


def test_psis_recovers_the_normalisation_exactly():
    # below the tail the smoothed weights are the raw ones: undoing ArviZ's normalisation is exact there
    lw = np.random.default_rng(9).normal(0, 2, 3000)
    ps = psis(lw)
    low = lw < np.median(lw)
    np.testing.assert_allclose(ps.log_weights[low] + ps.log_mean + math.log(lw.size), lw[low], atol=1e-9)


def test_too_few_draws_for_a_tail_fit():
    d = importance_weight_diagnostics(np.linspace(0, 1, 12))
    assert math.isnan(d.pareto_k_hat) and not d.reliable
    assert d.psis_free_energy == pytest.approx(d.raw_free_energy)


def test_k_threshold_follows_the_sample_size():
    assert pareto_k_threshold(5000) == 0.7 and pareto_k_threshold(2500) == 0.7
    assert pareto_k_threshold(300) == pytest.approx(1 - 1 / math.log10(300))
    assert pareto_k_threshold(100) == pytest.approx(0.5)


# ------------------------------------------------------------------ error bars only where they mean something
def test_lam_curve_variance_logic():
    pa = _point((0.25, 0.64))                       # λ* = 4/3: Var(w^λ) finite for λ < 2/3
    lams = np.array([0.0, 0.3, 0.66, 0.67, 1.0, 1.5])
    lc = pa.lam_curve(lams)
    np.testing.assert_array_equal(lc.mc_variance_finite, 2 * lams < 4 / 3)
    assert list(lc.mc_variance_finite) == [True, True, True, False, False, False]
    fin = lc.mc_variance_finite
    assert np.all(np.isfinite(lc.mc_stderr[fin])) and np.all(np.isnan(lc.mc_stderr[~fin]))
    mc, se = free_energy_lambda_mc(pa.log_w, lams)
    np.testing.assert_array_equal(lc.mc, mc)                     # the estimate itself is kept
    np.testing.assert_array_equal(lc.mc_stderr[fin], se[fin])
    mc = pa.monte_carlo(lams, 300)
    np.testing.assert_array_equal(mc.variance_finite, fin)
    assert np.all(np.isnan(mc.stderr[~fin])) and mc.weights.n == 300


@pytest.mark.parametrize("variances", [(0.25, 0.64), (0.6, 0.8)])     # λ* = 4/3 (w: infinite variance), 2.5
def test_iwae_stderr_for_every_k_with_two_groups(variances):
    # the group values ln mean w have a finite variance for every λ* > 0: an error bar at every K whose
    # groups number at least two, whether or not the weights themselves have a finite variance
    pa = _point(variances)
    it = pa.iwae([1, 10, 100, 1000])
    assert it.variance_finite is True
    raw = iwae_bounds(np.subtract(*pa._pool), [1, 10, 100, 1000])
    np.testing.assert_array_equal(it.stderr, raw[1])
    assert np.all(np.isfinite(it.stderr)) and np.all(it.stderr > 0) and it.stderr_valid.all()
    np.testing.assert_array_equal(it.bound, raw[0])
    np.testing.assert_array_equal(it.groups, [20000, 2000, 200, 20])


def test_iwae_no_stderr_where_one_group_fits():
    pa = _point((0.25, 0.64), n_samples=1000, n_iwae=1500)
    it = pa.iwae([1, 10, 1000, 1500])
    assert list(it.groups) == [1500, 150, 1, 1] and list(it.stderr_valid) == [True, True, False, False]
    assert np.all(np.isfinite(it.stderr[:2])) and np.all(np.isnan(it.stderr[2:]))
    assert np.all(np.isfinite(it.bound))                                 # the estimate itself stays


@settings(max_examples=25, deadline=None)
@given(lam_star=st.floats(1.0001, 6.0), lam=st.floats(0.0, 1.5))
def test_variance_finite_iff_twice_lambda_below_lambda_star(lam_star, lam):
    # σ² on one axis from λ* = 1/(1 - σ²); the other axis as wide as the prior (no constraint)
    pa = _point((1.0 - 1.0 / lam_star, 1.0), n_samples=200, n_iwae=1000)
    lc = pa.lam_curve([lam])
    assert bool(lc.mc_variance_finite[0]) == (2 * lam < pa.lam_critical)
    assert np.isnan(lc.mc_stderr[0]) != bool(lc.mc_variance_finite[0])
    it = pa.iwae([1, 10])
    assert it.variance_finite is True and np.all(np.isfinite(it.stderr))      # IWAE: for every λ*


# ------------------------------------------------------------------ the shipped model
def test_shipped_model_weights(shipped_session):
    pa = shipped_session.point(16)
    w = pa.importance_weights()
    assert pa.importance_weights() is w                          # cached
    assert {f.name for f in dataclasses.fields(w)} >= {"log_w", "lam_critical", "pareto_k_exact", "pareto_k_hat",
                                                       "ess", "reliable", "psis_free_energy", "raw_free_energy"}
    assert w.log_w.shape == (pa.n_samples,) and w.n == pa.n_samples
    assert 1.0 < w.lam_critical < 1.1 and 0.9 < w.pareto_k_exact < 1.0
    assert not w.variance_finite
    assert w.pareto_k_hat > 0.7 and not w.reliable          # digit 16: heavy tail, and PSIS sees it
    assert 1 <= w.ess < pa.n_samples
    assert w.raw_free_energy == pytest.approx(pa.lam_curve([1.0]).mc[0], rel=1e-12)
    # IWAE: an error bar at every K (the pool holds 10 or more groups of each), though λ* < 2
    it = pa.iwae()
    assert it.variance_finite and np.all(np.isfinite(it.stderr)) and np.all(it.groups >= 10)
    out = shipped_session.explore(16, lams=[0.25, 0.5, 1.0], order=2, temperatures=[1.0])
    assert out.weights is w and out.renyi_bound_range == (0.0, 1.0) and out.weight_scale == 1.0
    assert list(out.lam_curve.mc_variance_finite) == [True, True, False]
    rep = out.report
    assert rep["lam"]["mc_stderr"] is None and rep["lam"]["mc_variance_finite"] is False
    assert None not in rep["iwae"]["stderr"] and rep["iwae"]["variance_finite"] is True
    assert rep["iwae"]["groups"] == [50000, 5000, 500, 50, 10] and rep["iwae"]["pool"] == 50000
    assert rep["weights"]["pareto_k_hat"] == w.pareto_k_hat


@pytest.mark.parametrize("k_exact, k_hat, reliable, words", [
    (0.968, 0.691, True, ("unreliable at any practical sample size", "PSIS would call the estimate usable",
                          "Why they disagree, and which to trust", "Trust the exact k")),    # digit 358, seed 0
    (0.981, 1.216, False, ("unreliable at any practical sample size", "agrees with the exact k")),   # digit 16
    (0.5, 0.9, False, ("importance sampling is usable", "Why they disagree, and which to trust", "Trust the exact k")),
    (0.4, float("nan"), False, ("importance sampling is usable", "too few draws", "agrees with the exact k")),
])
def test_weights_panel_judges_by_the_exact_k_and_calls_k_hat_an_estimate(k_exact, k_hat, reliable, words):
    import re

    from explorer.views.vae.explorer import ImportanceWeightView
    v = ImportanceWeightView()
    v.show(np.zeros(10), 1 / k_exact, k_exact, k_hat, 5.0, 1.0, 1.0, 1.0, reliable=reliable, k_threshold=0.7)
    text = re.sub("<[^>]+>", "", v.diagnostics.text)          # the words, without the glossary's markup
    for w in words:
        assert w in text, (w, text)
    assert "the estimate is usable" not in text       # the old verdict beside an exact k > 0.7
