"""The quadrature and cumulant algebra on joints with closed forms (no neural network needed)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.errors import InputError
from explorer.vae import ExactPoint, cumulants_from_moments, integrate_2d, series_free_energy, weighted_cumulants
from explorer.vae.quadrature import make_grid

LOG_2PI = math.log(2 * math.pi)


def log_gauss(points, m, s):
    d = (points - m) / s
    return -0.5 * np.sum(d * d, axis=1) - LOG_2PI - np.sum(np.log(s))


def gaussian_joint(c, m, s):
    """ln p(x, z) = c + ln N(z; m, diag s²): p(x) = e^c, posterior N(m, s²)."""
    m, s = np.asarray(m, float), np.asarray(s, float)
    return lambda p: c + log_gauss(p, m, s)


def kl_gauss(mu, sig, m, s):
    return float(np.sum(np.log(s / sig) + (sig ** 2 + (mu - m) ** 2) / (2 * s ** 2) - 0.5))


@settings(max_examples=25, deadline=None)
@given(c=st.floats(-40, 5), m1=st.floats(-3, 3), m2=st.floats(-3, 3),
       s1=st.floats(0.02, 2), s2=st.floats(0.02, 2), dmu=st.floats(-1, 1), ratio=st.floats(0.5, 1.5))
def test_gaussian_joint_matches_closed_forms(c, m1, m2, s1, s2, dmu, ratio):
    m, s = np.array([m1, m2]), np.array([s1, s2])
    mu, sig = m + dmu * s, s * ratio
    ex = ExactPoint(gaussian_joint(c, m, s), mu, 2 * np.log(sig))
    assert ex.free_energy == pytest.approx(-c, abs=1e-6)
    assert ex.quadrature_error < 1e-4
    kl = kl_gauss(mu, sig, m, s)
    assert ex.kl_posterior == pytest.approx(kl, abs=1e-6)
    assert ex.neg_elbo == pytest.approx(-c + kl, abs=1e-6)
    # expected energy - entropy = -ELBO, with S[q] in closed form and E_q[H] by quadrature
    assert ex.expected_energy - ex.entropy == pytest.approx(ex.neg_elbo, abs=1e-8)
    assert ex.entropy_grid == pytest.approx(ex.entropy, abs=1e-8)


@settings(max_examples=25, deadline=None)
@given(b1=st.floats(-2, 2), b2=st.floats(-2, 2), c=st.floats(-30, 0),
       lam=st.floats(0, 1.5))
def test_gaussian_v_order_two_series_is_exact(b1, b2, c, lam):
    # q = prior N(0, I) and ln p(x, z) = ln N(z; 0, I) + b.z + c  =>  V = -(b.z + c) is Gaussian,
    # so κ_n = 0 for n >= 3 and F(λ) = -λ c - λ² |b|² / 2 exactly at order 2.
    b = np.array([b1, b2])
    ex = ExactPoint(lambda p: log_gauss(p, np.zeros(2), np.ones(2)) + p @ b + c, [0.0, 0.0], [0.0, 0.0])
    exact = -lam * c - lam ** 2 * (b @ b) / 2
    kappa = ex.cumulants(4)
    np.testing.assert_allclose(kappa[:2], [-c, b @ b], atol=1e-6)
    np.testing.assert_allclose(kappa[2:], 0.0, atol=1e-5)
    series = series_free_energy(kappa, [lam])
    assert series[1, 0] == pytest.approx(exact, abs=1e-5)
    assert ex.free_energy_lambda([lam])[0][0] == pytest.approx(exact, abs=1e-5)
    # order 1 misses the λ² term unless b = 0
    assert series[0, 0] - exact == pytest.approx(lam ** 2 * (b @ b) / 2, abs=1e-5)


def test_lambda_one_is_free_energy_and_zero_is_zero():
    ex = ExactPoint(gaussian_joint(-7.0, [0.5, -0.2], [0.3, 0.6]), [0.4, 0.0], np.log([0.2, 0.5]) * 2)
    vals, errs, _ = ex.free_energy_lambda([0.0, 1.0])
    assert vals[0] == pytest.approx(0.0, abs=1e-9)
    assert vals[1] == pytest.approx(ex.free_energy, abs=1e-12)
    assert vals[1] == pytest.approx(7.0, abs=1e-6)


@pytest.mark.parametrize("T", [0.2, 0.5, 1.0, 2.0, 4.0])
def test_tempered_gaussian_free_energy(T):
    c, m, s = -5.0, np.array([1.0, -2.0]), np.array([0.3, 0.1])
    ex = ExactPoint(gaussian_joint(c, m, s), m, 2 * np.log(s))
    exact, bound, err = ex.free_energy_temperature([T])
    # ∫ (e^c N(z; m, s²))^(1/T) dz = e^(c/T) (2π s²)^(-1/(2T)) (2π s² T)^(1/2) per axis
    log_z = c / T + np.sum(-np.log(2 * np.pi * s ** 2) / (2 * T) + 0.5 * np.log(2 * np.pi * s ** 2 * T))
    assert exact[0] == pytest.approx(-T * log_z, abs=1e-6)
    assert err[0] < 1e-4
    assert bound[0] >= exact[0] - 1e-9  # Gibbs–Bogoliubov: E_q[H] - T S[q] >= F_T


def test_narrow_posterior_far_from_q_is_found():
    # posterior width 1e-3 at (2.5, -1.7); q elsewhere and wide: the zoom must find the peak
    m, s = np.array([2.5, -1.7]), np.array([1e-3, 2e-3])
    ex = ExactPoint(gaussian_joint(-3.0, m, s), [0.0, 0.0], [0.0, 0.0])
    assert ex.free_energy == pytest.approx(3.0, abs=1e-6)
    assert ex.integral.converged and ex.quadrature_error < 1e-4
    kl = kl_gauss(np.zeros(2), np.ones(2), m, s)
    assert ex.neg_elbo == pytest.approx(3.0 + kl, rel=1e-9)
    # F(λ) interpolates between q (λ = 0) and the posterior (λ = 1), each on its own zoomed grid
    vals, errs, _ = ex.free_energy_lambda([0.0, 0.5, 1.0])
    assert vals[0] == pytest.approx(0.0, abs=1e-6) and vals[2] == pytest.approx(3.0, abs=1e-6)
    assert np.all(errs < 1e-4)


def test_refinement_converges_monotonically_for_a_skewed_integrand():
    # a banana-shaped, non-Gaussian integrand: successive refinements must agree ever better
    def f(p):
        return -0.5 * (p[:, 0] ** 2 / 0.5 + (p[:, 1] - 0.8 * p[:, 0] ** 2) ** 2 / 0.05)

    res = integrate_2d(lambda p: (f(p), None), (-9, 9, -9, 9), tol=1e-8, n_max=513)
    vals = [lv["values"][0] for lv in res.levels]
    changes = np.abs(np.diff(vals))
    assert len(changes) >= 2
    assert res.converged and changes[-1] < 1e-8
    assert np.all(changes[1:] <= changes[:-1])
    # reference: z2 is a Gaussian around 0.8 z1², then z1 a Gaussian: 2π sqrt(0.5 * 0.05)
    exact = math.log(2 * math.pi * math.sqrt(0.5 * 0.05))
    assert abs(res.log_value - exact) <= max(res.error, 1e-9)
    # and the reported error at the coarse levels is honest: each level is as far from exact
    # as the change to the next one says (to a factor 2)
    for lo, hi in zip(vals[:-1], vals[1:]):
        assert abs(lo - exact) <= 2 * abs(hi - lo) + 1e-9


def test_grid_weights_integrate_constants():
    g = make_grid((-1.0, 2.0, 0.0, 0.5), 17)
    assert np.exp(g.log_weights).sum() == pytest.approx(1.5)
    assert g.shape == (17, 17) and g.on_boundary().sum() == 4 * 16


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=20, max_size=60), st.floats(-10, 10))
def test_cumulants_shift_and_known_moments(values, shift):
    v = np.array(values)
    w = np.ones_like(v)
    k = weighted_cumulants(v, w, 4)
    ks = weighted_cumulants(v + shift, w, 4)
    assert ks[0] == pytest.approx(k[0] + shift, abs=1e-9)
    assert np.all(np.abs(ks[1:] - k[1:]) <= 1e-6 * (1 + np.abs(k[1:])))
    c = v - v.mean()
    assert k[1] == pytest.approx(np.mean(c ** 2), abs=1e-9)
    assert k[3] == pytest.approx(np.mean(c ** 4) - 3 * np.mean(c ** 2) ** 2, abs=1e-7)


def test_cumulants_of_exponential_law():
    # Exp(1): κ_n = (n-1)!; central moments from the known raw moments n!
    raw = [math.factorial(n) for n in range(9)]
    central = [sum(math.comb(n, k) * raw[k] * (-1) ** (n - k) for k in range(n + 1)) for n in range(2, 9)]
    np.testing.assert_allclose(cumulants_from_moments(1.0, central), [math.factorial(n - 1) for n in range(1, 9)])


def test_bad_inputs_are_input_errors():
    ex = ExactPoint(gaussian_joint(0.0, [0, 0], [1, 1]), [0, 0], [0, 0])
    with pytest.raises(InputError, match="temperature"):
        ex.free_energy_temperature([0.0])
    with pytest.raises(InputError, match="temperature"):
        ex.free_energy_temperature([float("nan")])
    with pytest.raises(InputError, match="order"):
        ex.cumulants(0)
    with pytest.raises(InputError, match="2-D"):
        ExactPoint(lambda p: p[:, 0], [0, 0, 0], [0, 0, 0])
    with pytest.raises(InputError, match="NaN"):
        _ = ExactPoint(lambda p: np.full(len(p), np.nan), [0, 0], [0, 0]).free_energy
