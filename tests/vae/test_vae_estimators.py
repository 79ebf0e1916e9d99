"""Monte Carlo estimators as pure functions of samples: invariants and known laws."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from explorer.errors import InputError
from explorer.vae import free_energy_lambda_mc, iwae_bounds, sample_cumulants

log_weight_pools = arrays(np.float64, st.integers(1, 4).map(lambda m: 100 * m), elements=st.floats(-300, 50))


@settings(max_examples=40, deadline=None)
@given(log_weight_pools)
def test_iwae_is_non_increasing_in_k_and_k1_is_the_elbo(lw):
    # pool size a multiple of every K and each K dividing the next: nested groups, monotone for every pool
    ks = [1, 2, 10, 50, 100]
    bound, se, groups = iwae_bounds(lw, ks)
    assert np.all(np.diff(bound) <= 1e-9 * (1 + np.abs(bound[:-1])))
    assert bound[0] == pytest.approx(-lw.mean(), rel=1e-12, abs=1e-9)
    assert list(groups) == [lw.size // k for k in ks]
    # K = pool size: -ln mean w of the whole pool
    whole, _, _ = iwae_bounds(lw, [lw.size])
    from scipy.special import logsumexp
    assert whole[0] == pytest.approx(-(logsumexp(lw) - math.log(lw.size)))


@settings(max_examples=40, deadline=None)
@given(log_weight_pools)
def test_lambda_mc_is_concave_and_zero_at_zero(lw):
    lams = np.linspace(0, 1.5, 7)
    f, se = free_energy_lambda_mc(lw, lams)
    assert f[0] == pytest.approx(0.0, abs=1e-12) and se[0] == pytest.approx(0.0, abs=1e-12)
    second = f[2:] - 2 * f[1:-1] + f[:-2]
    assert np.all(second <= 1e-7 * (1 + np.abs(f[1:-1])))
    # Jensen: F(λ) <= λ E[-ln w]
    assert np.all(f <= lams * (-lw.mean()) + 1e-7 * (1 + np.abs(f)))


def test_lambda_mc_stable_for_huge_log_weights():
    lw = np.array([-1e4, -1e4 + 1.0, -1e4 + 2.0])
    f, se = free_energy_lambda_mc(lw, [1.0])
    expected = -(-1e4 + math.log(np.mean(np.exp([0.0, 1.0, 2.0]))))
    assert f[0] == pytest.approx(expected) and np.isfinite(se[0])


def test_sample_cumulants_of_known_laws():
    rng = np.random.default_rng(0)
    normal = rng.normal(3.0, 2.0, 20000)
    k, se = sample_cumulants(normal, 6, n_boot=60)
    assert abs(k[0] - 3.0) < 4 * se[0] and abs(k[1] - 4.0) < 4 * se[1]
    assert np.all(np.abs(k[2:]) < 4 * se[2:] + 1e-9)
    expo = rng.exponential(1.0, 20000)
    k, se = sample_cumulants(expo, 4, n_boot=60)
    truth = np.array([1.0, 1.0, 2.0, 6.0])   # κ_n = (n-1)!
    assert np.all(np.abs(k - truth) < 4 * se)


def test_estimator_bad_inputs():
    with pytest.raises(InputError, match="K = 10"):
        iwae_bounds(np.zeros(5), [10])
    with pytest.raises(InputError, match="order"):
        sample_cumulants(np.zeros(50), 0)
    with pytest.raises(InputError, match="lam"):
        free_energy_lambda_mc(np.zeros(5), [float("nan")])
