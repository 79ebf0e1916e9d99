"""Mean field (the GBF bound) and TAP of orders 2 and 3."""

import numpy as np
import pytest
from scipy.special import expit

from explorer.errors import InputError
from explorer.rbm import RBM, free_energy
from explorer.rbm.meanfield import gbf_free_energy, mean_field, mean_field_batch
from explorer.rbm.tap import tap, tap_batch, tap_functional
from harness.brute_force import TEMPERATURES, small_rbms


@pytest.mark.parametrize("rbm", small_rbms())
@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_mean_field_is_an_upper_bound_and_a_fixed_point(rbm, temperature):
    mf = mean_field(rbm, temperature)
    exact = free_energy(rbm, temperature)
    assert mf.free_energy >= exact - 1e-10
    assert mf.converged
    # stationarity: m_v = sigma((a + W m_h)/T), m_h = sigma((b + W^T m_v)/T)
    np.testing.assert_allclose(mf.visible, expit((rbm.visible_bias + rbm.weights @ mf.hidden) / temperature), atol=1e-8)
    np.testing.assert_allclose(mf.hidden, expit((rbm.hidden_bias + rbm.weights.T @ mf.visible) / temperature),
                               atol=1e-8)
    assert mf.free_energy == pytest.approx(gbf_free_energy(rbm, mf.visible, mf.hidden, temperature), abs=1e-12)
    assert mf.minima[0] == pytest.approx(mf.free_energy)


def test_gbf_bound_holds_for_arbitrary_magnetisations():
    rbm = RBM.random(4, 3, seed=5, weight_scale=3)
    rng = np.random.default_rng(0)
    exact = free_energy(rbm, 0.7)
    for _ in range(50):
        assert gbf_free_energy(rbm, rng.uniform(size=4), rng.uniform(size=3), 0.7) >= exact


def test_mean_field_is_exact_without_couplings():
    rbm = RBM(np.zeros((3, 4)), np.array([1.0, -2.0, 0.3]), np.array([0.5, 0.0, -1.0, 2.0]))
    for t in (0.3, 1.0, 4.0):
        assert mean_field(rbm, t).free_energy == pytest.approx(free_energy(rbm, t), rel=1e-12)


def test_several_minima_are_found_at_strong_coupling():
    """A ferromagnetic RBM at low T has an all-on and an all-off mean-field solution."""
    w = np.full((4, 4), 1.0)
    rbm = RBM(w, -2.0 * np.ones(4), -2.0 * np.ones(4))
    mf = mean_field(rbm, 0.3)
    assert len(mf.minima) >= 2
    assert mf.free_energy == pytest.approx(mf.minima.min())
    high_t = mean_field(rbm, 20.0)
    assert len(high_t.minima) == 1


def test_mean_field_batch_matches_single_calls():
    rbm = RBM.random(6, 5, seed=1, weight_scale=2)
    temps = np.array([0.2, 0.9, 3.0])
    batch = mean_field_batch(rbm, temps)
    for k, t in enumerate(temps):
        assert batch["free_energy"][k] == pytest.approx(mean_field(rbm, t).free_energy, abs=1e-12)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("temperature", [0.7, 1.0, 3.0])
def test_tap_solves_its_equations(order, temperature):
    rbm = RBM.random(6, 4, seed=3, weight_scale=1.5)
    res = tap(rbm, temperature, order=order)
    assert res.converged and res.residual < 1e-8
    assert res.free_energy == pytest.approx(tap_functional(rbm, res.visible, res.hidden, temperature, 1.0, order))
    # a stationary point: the functional does not change to first order in any direction
    rng = np.random.default_rng(0)
    m = np.concatenate([res.visible, res.hidden])
    d = rng.normal(size=m.size) * 1e-6

    def f(x):
        return tap_functional(rbm, x[:6], x[6:], temperature, 1.0, order)

    assert abs(f(m + d) - f(m - d)) < 1e-10


def test_tap_is_not_a_bound():
    """TAP can land on either side of the exact free energy (unlike mean field)."""
    above = below = False
    for seed in range(6):
        rbm = RBM.random(6, 5, seed=seed, weight_scale=3)
        for t in (0.5, 1.0, 2.0):
            res = tap(rbm, t, order=2)
            if not res.converged:
                continue
            gap = res.free_energy - free_energy(rbm, t)
            above |= gap > 1e-6
            below |= gap < -1e-6
    assert above and below


@pytest.mark.slow
def test_error_orders_in_coupling_strength():
    """With W -> eps W the errors of MF, TAP2, TAP3 shrink as eps^2, eps^3, eps^4."""
    base = RBM.random(5, 4, seed=3, weight_scale=1.0)
    eps = np.array([0.2, 0.1, 0.05, 0.025])
    errors = {"mf": [], "tap2": [], "tap3": []}
    for e in eps:
        rbm = RBM(base.weights * e, base.visible_bias, base.hidden_bias)
        exact = free_energy(rbm)
        errors["mf"].append(mean_field(rbm).free_energy - exact)
        errors["tap2"].append(tap(rbm, order=2).free_energy - exact)
        errors["tap3"].append(tap(rbm, order=3).free_energy - exact)
    for name, expected in (("mf", 2), ("tap2", 3), ("tap3", 4)):
        slope = np.polyfit(np.log(eps), np.log(np.abs(errors[name])), 1)[0]
        assert slope == pytest.approx(expected, abs=0.15), (name, slope)


def test_tap_fallback_reports_honestly():
    """At low T with strong coupling the plain iteration fails; the result says what happened."""
    rbm = RBM.random(6, 5, seed=0, weight_scale=3)
    res = tap(rbm, 0.2, order=2)
    assert res.method == "minimisation"
    assert res.converged == (res.residual < 1e-8)
    assert np.isfinite(res.free_energy)
    # the fallback never raises the functional above where the iteration was started
    start = mean_field(rbm, 0.2)
    assert res.free_energy <= tap_functional(rbm, start.visible, start.hidden, 0.2, 1.0, 2) + 1e-9


def test_tap_batch_matches_single_calls():
    rbm = RBM.random(5, 5, seed=2, weight_scale=1.5)
    temps = np.array([0.8, 1.5, 4.0])
    for order in (2, 3):
        b = tap_batch(rbm, temps, order=order)
        for k, t in enumerate(temps):
            assert b["free_energy"][k] == pytest.approx(tap(rbm, t, order=order).free_energy, abs=1e-9)


def test_bad_arguments():
    rbm = RBM.random(3, 3)
    with pytest.raises(InputError, match="order must be 2 or 3"):
        tap(rbm, 1.0, order=4)
    with pytest.raises(InputError, match="temperature"):
        mean_field(rbm, 0.0)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        gbf_free_energy(rbm, [0.5, 1.2, 0.1], [0.5] * 3)
