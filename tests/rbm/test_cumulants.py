"""The cumulant expansion: exact cumulants, the truncated series and the exact F(lambda)."""

import numpy as np
import pytest
from scipy.special import expit, logsumexp

from explorer.errors import EnumerationLimitError, InputError
from explorer.rbm import RBM, free_energy
from explorer.rbm.cumulants import (
    bernoulli_cumulants,
    cumulant_expansion,
    cumulants_batch,
    lambda_free_energy,
    reference_logits,
)
from explorer.rbm.meanfield import mean_field
from explorer.rbm.tap import tap_functional
from harness.brute_force import brute_cumulants, joint_energy, joint_states


@pytest.mark.parametrize("reference", ["mean-field", "independent"])
@pytest.mark.parametrize("temperature", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("shape, seed, norm", [((3, 4), 0, 1.0), ((5, 2), 1, 3.0), ((4, 4), 2, 0.5)])
def test_cumulants_to_order_12_match_high_precision_brute_force(reference, temperature, shape, seed, norm):
    rbm = RBM.random(*shape, seed=seed).with_weight_norm(norm)
    th_v, th_h = reference_logits(rbm, [temperature], reference=reference)
    got = cumulants_batch(rbm, [temperature], order=12, theta_visible=th_v, theta_hidden=th_h)["kappa"][0]
    want = brute_cumulants(rbm, temperature, th_v[0], th_h[0], 12)
    # relative error, floored at 1e-12 sigma^n for cumulants that happen to be ~0
    floor = 1e-12 * np.sqrt(want[1]) ** np.arange(1, 13)
    rel_error = np.abs(got - want) / np.maximum(np.abs(want), floor)
    assert rel_error[:4].max() < 1e-11
    assert rel_error.max() < 1e-8


def test_bernoulli_cumulants():
    m = np.array([0.0, 0.2, 0.5, 1.0])
    k = bernoulli_cumulants(m, 4)
    np.testing.assert_allclose(k[:, 0], m)
    np.testing.assert_allclose(k[:, 1], m * (1 - m))
    np.testing.assert_allclose(k[:, 2], m * (1 - m) * (1 - 2 * m))
    np.testing.assert_allclose(k[:, 3], m * (1 - m) * (1 - 6 * m * (1 - m)))


@pytest.mark.parametrize("temperature", [0.4, 1.0, 2.5])
def test_order_one_is_the_mean_field_bound(temperature):
    rbm = RBM.random(6, 5, seed=4, weight_scale=2)
    ce = cumulant_expansion(rbm, temperature, order=3, reference="mean-field")
    assert ce.series(1.0)[0] == pytest.approx(mean_field(rbm, temperature).free_energy, abs=1e-10)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_order_two_around_mean_field_is_the_onsager_term(temperature):
    """At the mean-field optimum, F_2 = F_TAP2 evaluated at the same magnetisations."""
    rbm = RBM.random(7, 4, seed=6, weight_scale=2)
    ce = cumulant_expansion(rbm, temperature, order=2, reference="mean-field")
    want = tap_functional(rbm, ce.visible, ce.hidden, temperature, 1.0, 2)
    assert ce.series(1.0)[1] == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("reference", ["mean-field", "independent"])
@pytest.mark.parametrize("temperature", [0.3, 1.0, 4.0])
def test_exact_lambda_family(reference, temperature):
    rbm = RBM.random(4, 5, seed=3, weight_scale=2)
    lams = np.array([0.0, 0.3, 1.0, 1.7])
    got = lambda_free_energy(rbm, lams, temperature, reference)
    # brute force F(lambda) = -T ln sum exp(-(H_q + lambda V)/T)
    th_v, th_h = reference_logits(rbm, [temperature], reference=reference)
    V, H = joint_states(rbm)
    E = joint_energy(rbm, V, H)
    h_q = -temperature * (V @ th_v[0] + H @ th_h[0])
    want = [-temperature * logsumexp(-((1 - lam) * h_q + lam * E) / temperature) for lam in lams]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-10)
    assert lambda_free_energy(rbm, 1.0, temperature, reference) == pytest.approx(free_energy(rbm, temperature),
                                                                                  rel=1e-12)


def test_independent_reference_is_the_high_temperature_expansion():
    """With the independent reference the series converges to the exact F as order grows at weak coupling."""
    rbm = RBM.random(5, 5, seed=2).with_weight_norm(0.5)
    ce = cumulant_expansion(rbm, 1.0, order=8, reference="independent")
    np.testing.assert_allclose(ce.visible, expit(rbm.visible_bias))
    err = np.abs(ce.series(1.0) - free_energy(rbm))
    assert err[-1] < 1e-8
    assert np.all(np.diff(np.log(err[:6])) < 0)


def test_series_diverges_at_strong_coupling_beyond_lambda_one():
    rbm = RBM.random(6, 6, seed=0).with_weight_norm(8.0)
    ce = cumulant_expansion(rbm, 1.0, order=12, reference="independent")
    exact = lambda_free_energy(rbm, 1.5, 1.0, "independent")
    err = np.abs(ce.series(1.5) - exact)
    assert err[-1] > err[1]


def test_large_other_layer_works():
    """14 x 200: enumerate 2^14 states, the 200 hidden units analytically."""
    rbm = RBM.random(14, 200, seed=0)
    ce = cumulant_expansion(rbm, 1.0, order=12)
    assert ce.kappa.shape == (12,) and np.all(np.isfinite(ce.kappa))
    assert lambda_free_energy(rbm, 1.0) == pytest.approx(free_energy(rbm), rel=1e-12)


def test_bad_arguments():
    rbm = RBM.random(3, 3)
    with pytest.raises(InputError, match="order"):
        cumulant_expansion(rbm, 1.0, order=0)
    with pytest.raises(InputError, match="order"):
        cumulant_expansion(rbm, 1.0, order=40)
    with pytest.raises(InputError, match="reference"):
        cumulant_expansion(rbm, 1.0, reference="bogus")
    with pytest.raises(InputError, match="lambda"):
        lambda_free_energy(rbm, np.nan)
    with pytest.raises(EnumerationLimitError):
        cumulant_expansion(RBM.random(30, 30), 1.0)
