"""The mean-field playground: any q is a bound, the iteration lowers it, the basins' lowest is mean field."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import expit

from explorer.errors import InputError
from explorer.rbm import RBM
from explorer.rbm.meanfield import gbf_free_energy, mean_field
from explorer.rbm.playground import (
    STARTS,
    basins,
    exact_free_energy,
    functionals,
    mean_field_path,
    start_magnetisations,
)
from explorer.rbm.tap import tap
from harness.brute_force import BruteForce

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def models_and_laws(draw):
    nv, nh = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    norm = draw(st.sampled_from([0.0, 0.5, 2.0, 5.0, 15.0]))
    t = draw(st.floats(0.05, 10.0))
    rng = np.random.default_rng(seed)
    rbm = RBM.random(nv, nh, seed=seed, weight_scale=1, bias_scale=1)
    rbm = rbm.with_weight_norm(norm) if norm > 0 else RBM(np.zeros((nv, nh)), rbm.visible_bias, rbm.hidden_bias)
    # a mix of interior values, corners and values next to the corners
    pick = draw(st.sampled_from(["uniform", "corners", "near"]))
    m = rng.uniform(size=nv + nh)
    if pick == "corners":
        m = np.round(m)
    elif pick == "near":
        m = np.where(m < 0.5, 1e-9, 1 - 1e-9)
    return rbm, t, m[:nv], m[nv:]


@SETTINGS
@given(case=models_and_laws())
def test_every_product_law_is_above_the_exact_free_energy(case):
    rbm, t, mv, mh = case
    exact = BruteForce(rbm, t).free_energy
    f = functionals(rbm, t, mv, mh)
    assert f.free_energy >= exact - 1e-10 * max(1.0, abs(exact))
    assert f.free_energy == pytest.approx(gbf_free_energy(rbm, mv, mh, t), abs=1e-12)
    assert exact_free_energy(rbm, t) == pytest.approx(exact, abs=1e-9 * max(1.0, abs(exact)))


@SETTINGS
@given(case=models_and_laws(), damping=st.sampled_from([0.0, 0.3, 0.8]),
       first=st.sampled_from(["hidden", "visible"]))
def test_the_iteration_never_raises_the_bound_and_ends_stationary(case, damping, first):
    rbm, t, mv, mh = case
    path = mean_field_path(rbm, t, mv, mh, damping=damping, first=first, max_iter=20000)
    f = path.free_energy
    assert f[0] == pytest.approx(gbf_free_energy(rbm, mv, mh, t), abs=1e-12)
    np.testing.assert_array_equal(path.visible[0], mv)
    # each (damped) layer update minimises a convex function of that layer: F_q never rises
    assert np.all(np.diff(f) <= 1e-10 * max(1.0, np.abs(f).max()))
    assert f[-1] >= BruteForce(rbm, t).free_energy - 1e-10 * max(1.0, abs(f[-1]))
    assert path.converged
    v, h = path.visible[-1], path.hidden[-1]
    np.testing.assert_allclose(h, expit((rbm.hidden_bias + rbm.weights.T @ v) / t), atol=1e-7)
    np.testing.assert_allclose(v, expit((rbm.visible_bias + rbm.weights @ h) / t), atol=1e-7)


def test_damping_slows_the_path_but_reaches_the_same_point():
    rbm = RBM.random(6, 5, seed=3, weight_scale=2)
    mv, mh = start_magnetisations(rbm, 1.0, "random", seed=4)
    plain = mean_field_path(rbm, 1.0, mv, mh)
    damped = mean_field_path(rbm, 1.0, mv, mh, damping=0.7)
    assert damped.n_iterations > plain.n_iterations
    assert damped.free_energy[-1] == pytest.approx(plain.free_energy[-1], abs=1e-8)
    # the first hidden update is the undamped one mixed with the start
    np.testing.assert_allclose(damped.hidden[1], 0.3 * expit((rbm.hidden_bias + mv @ rbm.weights) / 1.0)
                               + 0.7 * mh, atol=1e-14)


def measured_rbm():
    return RBM.random(5, 4, seed=2, weight_scale=1, bias_scale=1).with_weight_norm(10)


@pytest.mark.parametrize("rbm, t", [
    (measured_rbm(), 0.2), (measured_rbm(), 0.05), (RBM.random(6, 4, seed=7, weight_scale=1).with_weight_norm(6), 0.3),
    (RBM.random(4, 7, seed=8, weight_scale=1).with_weight_norm(3), 0.5), (RBM.random(5, 5, seed=9), 2.0)])
def test_the_lowest_basin_is_mean_field(rbm, t):
    minima = basins(rbm, t, n_starts=200, seed=1)
    assert sum(m.count for m in minima) == 200
    values = [m.free_energy for m in minima]
    assert values == sorted(values)
    assert minima[0].free_energy == pytest.approx(mean_field(rbm, t).free_energy, abs=1e-9)
    for m in minima:   # each is a stationary point with the value it reports
        assert m.free_energy == pytest.approx(gbf_free_energy(rbm, m.visible, m.hidden, t), abs=1e-12)
        np.testing.assert_allclose(m.hidden, expit((rbm.hidden_bias + rbm.weights.T @ m.visible) / t), atol=1e-7)


def test_the_measured_case_has_three_basins():
    minima = basins(measured_rbm(), 0.2, n_starts=100)
    np.testing.assert_allclose([m.free_energy for m in minima], [-10.778840401, -10.658054494, -8.356871098],
                               atol=1e-8)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("t", [0.7, 1.5])
def test_tap_functionals_along_the_path_are_tap_at_its_points(order, t):
    rbm = RBM.random(6, 4, seed=3, weight_scale=1.5)
    res = tap(rbm, t, order=order)
    assert res.converged
    f = functionals(rbm, t, res.visible, res.hidden)
    assert getattr(f, f"tap{order}") == pytest.approx(res.free_energy, abs=1e-12)
    # along a path the same functional is evaluated row by row
    path = mean_field_path(rbm, t, res.visible, res.hidden, max_iter=3)
    assert getattr(path, f"tap{order}")[0] == pytest.approx(res.free_energy, abs=1e-12)
    row = functionals(rbm, t, path.visible[2], path.hidden[2])
    assert path.tap2[2] == pytest.approx(row.tap2, abs=1e-12) and path.tap3[2] == pytest.approx(row.tap3, abs=1e-12)


def test_tap_can_fall_below_the_exact_free_energy_where_the_bound_cannot():
    rbm = RBM.random(6, 5, seed=0, weight_scale=1).with_weight_norm(8)
    t = 0.2
    exact = BruteForce(rbm, t).free_energy
    path = mean_field_path(rbm, t, *start_magnetisations(rbm, t, "half"))
    assert np.all(path.free_energy >= exact)
    # at q = 1/2 every variance is 1/4: the Onsager term -(beta/2) sum W^2/16 overshoots
    assert path.tap2[0] < exact and path.tap3[0] < exact


@pytest.mark.parametrize("t", [0.3, 1.0])
def test_the_named_starts(t):
    rbm = RBM.random(4, 3, seed=5, weight_scale=2)
    bf = BruteForce(rbm, t)
    mv, mh = start_magnetisations(rbm, t, "exact")
    np.testing.assert_allclose(mv, bf.marginals()[0], atol=1e-12)
    np.testing.assert_allclose(mh, bf.marginals()[1], atol=1e-12)
    mv, mh = start_magnetisations(rbm, t, "mean-field")
    assert gbf_free_energy(rbm, mv, mh, t) == pytest.approx(mean_field(rbm, t).free_energy, abs=1e-12)
    for name, value in (("half", 0.5), ("on", 1.0), ("off", 0.0)):
        mv, mh = start_magnetisations(rbm, t, name)
        assert np.all(mv == value) and np.all(mh == value)
    a, b = start_magnetisations(rbm, t, "random", seed=3), start_magnetisations(rbm, t, "random", seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    assert set(STARTS) == {"half", "on", "off", "random", "exact", "mean-field"}


@pytest.mark.parametrize("call, message", [
    (lambda r: functionals(r, 1.0, [0.5, 1.2, 0.0], [0.5, 0.5]), "magnetisations must lie"),
    (lambda r: functionals(r, 1.0, [0.5, 0.5], [0.5, 0.5]), "shape"),
    (lambda r: functionals(r, 1.0, [0.5, np.nan, 0.1], [0.5, 0.5]), "NaN"),
    (lambda r: functionals(r, 0.0, [0.5] * 3, [0.5, 0.5]), "> 0"),
    (lambda r: mean_field_path(r, 1.0, [0.5] * 3, [0.5, 0.5], damping=1.0), "damping"),
    (lambda r: mean_field_path(r, 1.0, [0.5] * 3, [0.5, 0.5], first="both"), "first"),
    (lambda r: start_magnetisations(r, 1.0, "sideways"), "start must be one of"),
    (lambda r: basins(r, 1.0, n_starts=0), "random starts"),
    (lambda r: basins(r, 1.0, n_starts=2.5), "random starts"),
])
def test_bad_input_is_one_readable_line(call, message):
    rbm = RBM.random(3, 2, seed=0)
    with pytest.raises(InputError, match=message) as err:
        call(rbm)
    assert "\n" not in str(err.value)
