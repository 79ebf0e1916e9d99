"""Sweeps return, point for point, what the single-point functions give."""

import numpy as np
import pytest

from explorer.errors import InputError
from explorer.rbm import RBM, thermodynamics
from explorer.rbm.cumulants import cumulant_expansion, lambda_free_energy
from explorer.rbm.meanfield import mean_field
from explorer.rbm.sweeps import lambda_sweep, temperature_sweep, weight_norm_sweep
from explorer.rbm.tap import tap


@pytest.fixture(scope="module")
def rbm():
    return RBM.random(6, 5, seed=3, weight_scale=2)


def test_temperature_sweep_matches_pointwise(rbm):
    temps = np.array([0.5, 1.0, 3.0])
    c = temperature_sweep(rbm, temps, order=4, lam=0.7)
    assert c.axis == "temperature" and np.array_equal(c.x, temps)
    for k, t in enumerate(temps):
        th = thermodynamics(rbm, t)
        assert c.exact[k] == pytest.approx(th.free_energy, rel=1e-13)
        assert c.internal_energy[k] == pytest.approx(th.internal_energy, rel=1e-11)
        assert c.entropy[k] == pytest.approx(th.entropy, rel=1e-9, abs=1e-12)
        assert c.heat_capacity[k] == pytest.approx(th.heat_capacity, rel=1e-9)
        assert c.mean_field[k] == pytest.approx(mean_field(rbm, t).free_energy, abs=1e-10)
        assert c.tap2[k] == pytest.approx(tap(rbm, t, order=2).free_energy, abs=1e-8)
        assert c.tap3[k] == pytest.approx(tap(rbm, t, order=3).free_energy, abs=1e-8)
        ce = cumulant_expansion(rbm, t, order=4)
        np.testing.assert_allclose(c.kappa[k], ce.kappa, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(c.series[k], ce.series(0.7), rtol=1e-10)
        assert c.exact_lambda[k] == pytest.approx(lambda_free_energy(rbm, 0.7, t), rel=1e-12)


def test_weight_norm_sweep_rescales_couplings(rbm):
    norms = np.array([0.0, 1.0, 4.0])
    c = weight_norm_sweep(rbm, norms, temperature=0.8, order=3, reference="independent")
    np.testing.assert_allclose(c.weight_norm, norms)
    for k, s in enumerate(norms):
        model = RBM(rbm.weights * (s / rbm.weight_norm), rbm.visible_bias, rbm.hidden_bias)
        assert c.exact[k] == pytest.approx(thermodynamics(model, 0.8).free_energy, rel=1e-13)
        assert c.mean_field[k] == pytest.approx(mean_field(model, 0.8).free_energy, abs=1e-10)
        np.testing.assert_allclose(c.series[k], cumulant_expansion(model, 0.8, 3, "independent").series(1.0),
                                   rtol=1e-10)
    # without couplings every approximation is exact
    assert c.mean_field[0] == pytest.approx(c.exact[0], abs=1e-12)
    assert c.tap2[0] == pytest.approx(c.exact[0], abs=1e-12)


def test_lambda_sweep(rbm):
    lams = np.linspace(0, 1.5, 7)
    c = lambda_sweep(rbm, lams, temperature=0.9, order=5)
    np.testing.assert_allclose(c.exact, lambda_free_energy(rbm, lams, 0.9), rtol=1e-12)
    assert c.series.shape == (7, 5)
    # at lambda = 0 every order gives -T ln Z_q, equal to the exact F(0)
    np.testing.assert_allclose(c.series[0], c.exact[0], rtol=1e-12)
    assert c.exact[lams == 1.0][0] == pytest.approx(thermodynamics(rbm, 0.9).free_energy, rel=1e-12)


def test_sweep_bad_input(rbm):
    with pytest.raises(InputError, match="temperatures"):
        temperature_sweep(rbm, [1.0, -1.0])
    with pytest.raises(InputError, match="weight norms"):
        weight_norm_sweep(rbm, [-1.0])
    with pytest.raises(InputError, match="lambda"):
        lambda_sweep(rbm, [np.inf])


def test_sweep_tap_reports_points_newton_cannot_solve():
    """At low T and strong coupling Newton fails: the sweep says so instead of inventing a value."""
    rbm = RBM.random(6, 5, seed=0, weight_scale=3)
    temps = np.array([0.2, 1.0])
    fast = temperature_sweep(rbm, temps, order=2)
    full = temperature_sweep(rbm, temps, order=2, tap_fallback=True)
    assert fast.tap2_converged[1] and full.tap2_converged[1]
    assert fast.tap2[1] == pytest.approx(full.tap2[1], abs=1e-9)
    assert not fast.tap2_converged[0]
    assert full.tap2[0] == pytest.approx(tap(rbm, 0.2, order=2).free_energy, abs=1e-8)


def test_random_trial_laws_never_beat_the_exact_free_energy():
    """Gibbs–Bogoliubov–Feynman for arbitrary product laws: F_q >= F, mean field the lowest."""
    from explorer.rbm import RBM
    from explorer.rbm.explore import random_trial_laws

    rbm = RBM.random(6, 5, seed=1).with_weight_norm(4.0)
    for t in (0.3, 1.0, 3.0):
        laws = random_trial_laws(rbm, t, n_laws=80, seed=2)
        assert np.all(laws["free_energy"] >= laws["exact"] - 1e-9)
        assert laws["mean_field"] >= laws["exact"] - 1e-9
        assert laws["mean_field"] <= laws["free_energy"].min() + 1e-9
        assert laws["distance"].shape == (80,)
