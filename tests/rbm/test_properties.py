"""Property-based tests (hypothesis): invariants over random models, temperatures and scales."""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.rbm import RBM, log_likelihood, marginals, thermodynamics
from explorer.rbm.cumulants import cumulant_expansion
from explorer.rbm.exact import all_states
from explorer.rbm.meanfield import mean_field
from explorer.rbm.tap import tap


@st.composite
def rbms(draw, max_units=6, max_norm=1e3, max_bias=1e3):
    nv = draw(st.integers(1, max_units))
    nh = draw(st.integers(1, max_units))
    seed = draw(st.integers(0, 2**31 - 1))
    norm = draw(st.floats(0.0, max_norm))
    bias_scale = draw(st.sampled_from([0.0, 0.1, 1.0, 10.0, max_bias]))
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(nv, nh))
    w *= norm / max(np.linalg.norm(w), 1e-300)
    return RBM(w, rng.normal(size=nv) * bias_scale, rng.normal(size=nh) * bias_scale)


temperatures = st.floats(1e-3, 1e3)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(rbm=rbms(), t=temperatures)
def test_mean_field_never_below_exact(rbm, t):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning may escape to a user
        exact = thermodynamics(rbm, t)
        mf = mean_field(rbm, t)
    assert np.isfinite(mf.free_energy) and np.isfinite(exact.free_energy)
    assert mf.free_energy >= exact.free_energy - 1e-12 * max(1.0, abs(exact.free_energy))
    assert np.all((mf.visible >= 0) & (mf.visible <= 1))


@SETTINGS
@given(rbm=rbms(), t=temperatures)
def test_thermodynamics_are_finite_and_consistent(rbm, t):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        th = thermodynamics(rbm, t)
        vis, hid = marginals(rbm, t)
    scale = max(1.0, abs(th.internal_energy), abs(th.free_energy))
    for value in (th.free_energy, th.internal_energy, th.entropy, th.heat_capacity):
        assert np.isfinite(value)
    # S >= 0 for discrete states, hence F <= U; C >= 0; S <= (n units) ln 2
    n = rbm.n_visible + rbm.n_hidden
    assert th.entropy >= -1e-9 * scale / t
    assert th.entropy <= n * np.log(2) + 1e-9
    assert th.free_energy <= th.internal_energy + 1e-9 * scale
    assert th.heat_capacity >= 0
    assert np.all((vis >= 0) & (vis <= 1 + 1e-12)) and np.all((hid >= 0) & (hid <= 1 + 1e-12))


@SETTINGS
@given(rbm=rbms(max_units=5, max_norm=20, max_bias=20), t=st.floats(0.05, 20))
def test_probabilities_sum_to_one(rbm, t):
    p = np.exp(log_likelihood(rbm, all_states(rbm.n_visible), t))
    assert np.all((p >= 0) & (p <= 1 + 1e-12))
    assert abs(p.sum() - 1.0) < 1e-9


@SETTINGS
@given(rbm=rbms(max_units=5, max_norm=30, max_bias=30), t=st.floats(0.05, 20))
def test_first_order_series_is_the_mean_field_bound(rbm, t):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ce = cumulant_expansion(rbm, t, order=4)
        mf = mean_field(rbm, t)
    assert np.all(np.isfinite(ce.kappa))
    assert abs(ce.series(1.0)[0] - mf.free_energy) <= 1e-9 * max(1.0, abs(mf.free_energy))
    assert ce.kappa[1] >= -1e-9 * max(1.0, abs(ce.kappa[0])) ** 2  # a variance


@SETTINGS
@given(rbm=rbms(max_units=5), t=temperatures, order=st.sampled_from([2, 3]))
def test_tap_is_finite_and_reports_convergence(rbm, t, order):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = tap(rbm, t, order=order)
    assert np.isfinite(res.free_energy)
    assert res.converged == (res.residual < 1e-8)
    assert np.all((res.visible >= 0) & (res.visible <= 1))
