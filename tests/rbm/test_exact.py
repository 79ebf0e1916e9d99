"""Exact enumeration against brute force over every joint state, and thermodynamic identities."""

import os

import numpy as np
import pytest

from explorer.errors import EnumerationLimitError, InputError
from explorer.rbm import (
    RBM,
    clamped_free_energy,
    entropy,
    free_energy,
    heat_capacity,
    internal_energy,
    log_likelihood,
    log_partition,
    marginals,
    thermodynamics,
)
from explorer.rbm.exact import all_states, exact_batch
from harness.brute_force import TEMPERATURES, small_rbms


@pytest.mark.parametrize("rbm", small_rbms())
@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_thermodynamics_match_brute_force(rbm, temperature, brute_force):
    bf = brute_force(rbm, temperature)
    th = thermodynamics(rbm, temperature)
    assert th.log_partition == pytest.approx(bf.log_z, rel=1e-12, abs=1e-10)
    assert th.free_energy == pytest.approx(bf.free_energy, rel=1e-12, abs=1e-10)
    assert th.internal_energy == pytest.approx(bf.internal_energy, rel=1e-10, abs=1e-10)
    assert th.heat_capacity == pytest.approx(bf.heat_capacity, rel=1e-9, abs=1e-10)
    assert th.entropy == pytest.approx(bf.entropy, rel=1e-9, abs=1e-10)
    vis, hid = marginals(rbm, temperature)
    bv, bh = bf.marginals()
    np.testing.assert_allclose(vis, bv, atol=1e-12)
    np.testing.assert_allclose(hid, bh, atol=1e-12)


def test_scalar_functions_agree_with_thermodynamics():
    rbm = RBM.random(5, 4, seed=7, weight_scale=2)
    th = thermodynamics(rbm, 0.7)
    assert free_energy(rbm, 0.7) == th.free_energy
    assert log_partition(rbm, 0.7) == th.log_partition
    assert internal_energy(rbm, 0.7) == th.internal_energy
    assert entropy(rbm, 0.7) == th.entropy
    assert heat_capacity(rbm, 0.7) == th.heat_capacity
    assert isinstance(free_energy(rbm, 0.7), float)


def test_array_of_temperatures_equals_pointwise():
    rbm = RBM.random(6, 5, seed=3, weight_scale=3)
    temps = np.array([0.1, 0.3, 1.0, 4.0])
    np.testing.assert_allclose(free_energy(rbm, temps), [free_energy(rbm, t) for t in temps], rtol=1e-13)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 3.0])
def test_scaling_parameters_by_inverse_temperature_is_temperature(temperature):
    """docs/physics.md: every parameter times 1/T at T = 1 is the same model as temperature T."""
    rbm = RBM.random(6, 4, seed=11, weight_scale=2)
    scaled = rbm.scaled(1.0 / temperature)
    assert log_partition(scaled, 1.0) == pytest.approx(log_partition(rbm, temperature), rel=1e-12)
    assert free_energy(rbm, temperature) == pytest.approx(temperature * free_energy(scaled, 1.0), rel=1e-12)


@pytest.mark.parametrize("temperature", [0.4, 1.0, 2.5])
def test_internal_energy_is_beta_derivative_of_beta_f(temperature):
    """U = d(beta F)/d beta and Var(E) = d^2 ln Z / d beta^2, by central finite differences."""
    rbm = RBM.random(5, 6, seed=5, weight_scale=2)
    beta, h = 1.0 / temperature, 1e-4

    def ln_z(b):
        return log_partition(rbm, 1.0 / b)

    u_fd = -(ln_z(beta + h) - ln_z(beta - h)) / (2 * h)
    var_fd = (ln_z(beta + h) - 2 * ln_z(beta) + ln_z(beta - h)) / h ** 2
    th = thermodynamics(rbm, temperature)
    assert th.internal_energy == pytest.approx(u_fd, rel=1e-7, abs=1e-8)
    assert th.heat_capacity * temperature ** 2 == pytest.approx(var_fd, rel=1e-4)


def test_orientation_does_not_matter():
    rbm = RBM.random(7, 3, seed=2, weight_scale=2)
    for t in (0.3, 1.0):
        a, b = thermodynamics(rbm, t), thermodynamics(rbm.transposed(), t)
        assert a.free_energy == pytest.approx(b.free_energy, rel=1e-13)
        assert a.heat_capacity == pytest.approx(b.heat_capacity, rel=1e-10)
    v1, h1 = marginals(rbm, 0.5)
    v2, h2 = marginals(rbm.transposed(), 0.5)
    np.testing.assert_allclose(v1, h2, atol=1e-13)
    np.testing.assert_allclose(h1, v2, atol=1e-13)


def test_block_and_thread_path_matches_single_block(monkeypatch):
    """Force many small blocks and the thread pool: the result must not change."""
    import explorer.rbm.exact as exact

    rbm = RBM.random(12, 30, seed=4, weight_scale=2)
    temps = np.array([0.2, 1.0, 3.0])
    ref = exact_batch(rbm, temps, moments=True, marginals=True)
    monkeypatch.setattr(exact, "_BLOCK_ELEMENTS", 256)
    monkeypatch.setattr(exact, "_THREAD_MIN_ELEMENTS", 0)
    got = exact_batch(rbm, temps, moments=True, marginals=True)
    for key in ref:
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-12, atol=1e-12)


def test_coupling_batch_moments_on_the_thread_path_match_one_by_one(monkeypatch):
    """A weight-norm sweep (per-entry couplings) through many blocks and the pool."""
    import explorer.rbm.exact as exact

    rbm = RBM.random(9, 7, seed=6, weight_scale=1.5)
    temps, couplings = np.array([0.3, 1.0, 2.0]), np.array([0.5, 1.0, 3.0])
    monkeypatch.setattr(exact, "_BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(exact, "_THREAD_MIN_ELEMENTS", 0)
    got = exact_batch(rbm, temps, couplings, moments=True)
    for k, (t, c) in enumerate(zip(temps, couplings)):
        scaled = RBM(c * rbm.weights, rbm.visible_bias, rbm.hidden_bias)
        one = thermodynamics(scaled, t)
        assert got["internal_energy"][k] == pytest.approx(one.internal_energy, rel=1e-11)
        assert got["energy_variance"][k] / t ** 2 == pytest.approx(one.heat_capacity, rel=1e-10)


def test_calls_from_inside_a_pool_worker_run_serially(monkeypatch):
    """A nested call must not wait on the pool it occupies (that would deadlock)."""
    import explorer.rbm.exact as exact

    monkeypatch.setattr(exact, "_THREAD_MIN_ELEMENTS", 0)
    monkeypatch.setattr(exact, "_BLOCK_ELEMENTS", 64)
    rbm = RBM.random(8, 6, seed=2)
    ref = exact_batch(rbm, np.array([0.5, 1.5]), moments=True)["internal_energy"]
    pool = exact._worker_pool()
    if pool is None:
        pytest.skip("one core: no worker pool")
    # one nested call per worker at once: without the guard every worker would wait on
    # blocks that no free worker can run
    futures = [pool.submit(lambda: exact_batch(rbm, np.array([0.5, 1.5]), moments=True))
               for _ in range(os.cpu_count())]
    for f in futures:
        np.testing.assert_allclose(f.result(timeout=60)["internal_energy"], ref, rtol=1e-13)


def test_very_low_temperature_takes_the_stable_path(brute_force):
    """Fields of hundreds of kT overflow exp(): the stable softplus path must take over."""
    rbm = RBM.random(4, 5, seed=9, weight_scale=5)
    t = 0.005
    bf = brute_force(rbm, t)
    th = thermodynamics(rbm, t)
    assert th.free_energy == pytest.approx(bf.free_energy, rel=1e-12)
    assert np.isfinite(th.heat_capacity) and th.heat_capacity >= 0


def test_couplings_batch_equals_rescaled_models():
    rbm = RBM.random(5, 5, seed=1)
    c = np.array([0.0, 0.5, 2.0])
    got = exact_batch(rbm, np.ones(3), c)["log_partition"]
    want = [log_partition(RBM(rbm.weights * ci, rbm.visible_bias, rbm.hidden_bias)) for ci in c]
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_clamped_free_energy_and_log_likelihood(brute_force):
    rbm = RBM.random(5, 4, seed=8, weight_scale=2)
    v = all_states(5)
    for t in (0.5, 1.0, 2.0):
        bf = brute_force(rbm, t)
        ll = log_likelihood(rbm, v, t)
        np.testing.assert_allclose(ll, bf.log_p_visible(v), atol=1e-11)
        assert np.exp(ll).sum() == pytest.approx(1.0, abs=1e-12)
        # F_c(v) = -T ln sum_h exp(-E(v,h)/T)
        fc = clamped_free_energy(rbm, v, t)
        np.testing.assert_allclose(fc, -t * (bf.log_p_visible(v) + bf.log_z), atol=1e-11)
    # a single row works and returns one value
    assert clamped_free_energy(rbm, v[3]).shape == (1,)


def test_log_partition_of_a_zero_coupling_model_is_closed_form():
    rbm = RBM(np.zeros((3, 4)), np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, -0.3, 0.2]))
    t = 0.8
    want = np.sum(np.logaddexp(0, rbm.visible_bias / t)) + np.sum(np.logaddexp(0, rbm.hidden_bias / t))
    assert log_partition(rbm, t) == pytest.approx(want, rel=1e-14)


def test_enumeration_limit_is_named_and_configurable():
    rbm = RBM.random(25, 26, seed=0)
    with pytest.raises(EnumerationLimitError, match=r"exceeds the limit of 24.*sampling"):
        log_partition(rbm)
    small = RBM.random(10, 30, seed=0)
    with pytest.raises(EnumerationLimitError, match="limit of 8"):
        log_partition(small, limit=8)
    assert np.isfinite(log_partition(small, limit=10))


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, [1.0, 0.0]])
def test_bad_temperatures_are_refused(bad):
    rbm = RBM.random(3, 3)
    with pytest.raises(InputError, match="temperature"):
        free_energy(rbm, bad)


def test_bad_visible_rows_are_refused():
    rbm = RBM.random(3, 3)
    with pytest.raises(InputError, match="3 columns"):
        clamped_free_energy(rbm, np.zeros((2, 4)))
    with pytest.raises(InputError, match="NaN"):
        clamped_free_energy(rbm, [[0, np.nan, 1]])
    with pytest.raises(InputError, match="only 0 and 1"):
        log_likelihood(rbm, [[0, 0.5, 1]])


@pytest.mark.parametrize("shape", [(4, 3), (3, 5)])
def test_exact_moments_and_state_weights_match_brute_force(shape, brute_force):
    from scipy.special import logsumexp

    from explorer.rbm.exact import exact_moments, state_log_weights

    rbm = RBM.random(*shape, seed=12, weight_scale=2)
    bf = brute_force(rbm, 0.6)
    mom = exact_moments(rbm, 0.6)
    np.testing.assert_allclose(mom.correlation, np.einsum("s,si,sj->ij", bf.p, bf.V, bf.H), atol=1e-12)
    np.testing.assert_allclose(mom.visible, bf.marginals()[0], atol=1e-12)
    assert mom.log_partition == pytest.approx(bf.log_z, rel=1e-13)
    o, logw = state_log_weights(rbm, 0.6)
    assert logw.size == 2 ** min(shape) and logsumexp(logw) == pytest.approx(bf.log_z, rel=1e-13)
