"""Mean field returns the lowest minimum of the GBF functional (issue 14's core fix).

The reference is a brute-force minimisation of ``F_q(m)`` written here independently of
explorer.rbm.meanfield: box-constrained L-BFGS-B (scipy) from random points of the cube, and
the alternating iteration from every corner of each layer (at low T the minima sit near
corners). Mean field must never be above that minimum.
"""

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, xlogy

from explorer.rbm import RBM, free_energy
from explorer.rbm.cumulants import cumulant_expansion
from explorer.rbm.meanfield import mean_field, mean_field_batch
from explorer.rbm.sweeps import temperature_sweep, weight_norm_sweep
from explorer.rbm.tap import tap_batch

#: The measured case of issue 14: visible starts only reached -10.658054.
MEASURED = dict(lowest=-10.778840401, exact=-10.838830515, old=-10.658054494)


def measured_rbm():
    return RBM.random(5, 4, seed=2, weight_scale=1, bias_scale=1).with_weight_norm(10)


def gbf(rbm, t, m):
    """``F_q`` and its gradient for stacked magnetisations ``m = (m_v, m_h)``."""
    nv = rbm.n_visible
    mv, mh = m[:nv], m[nv:]
    entropy = -(xlogy(m, m) + xlogy(1 - m, 1 - m)).sum()
    value = -rbm.visible_bias @ mv - rbm.hidden_bias @ mh - mv @ rbm.weights @ mh - t * entropy
    logit = np.log(m) - np.log1p(-m)
    grad = np.concatenate([-rbm.visible_bias - rbm.weights @ mh, -rbm.hidden_bias - rbm.weights.T @ mv])
    return value, grad + t * logit


def iterate(rbm, t, mv, iterations=5000, tol=1e-12):
    """``F_q`` at the end of the alternating iteration from visible magnetisations (S, nv)."""
    w, a, b = rbm.weights, rbm.visible_bias, rbm.hidden_bias
    mv = np.array(mv, dtype=float)
    active = np.arange(len(mv))
    for _ in range(iterations):
        new = expit((a + expit((b + mv[active] @ w) / t) @ w.T) / t)
        moved = np.abs(new - mv[active]).max(axis=1)
        mv[active] = new
        active = active[moved >= tol]
        if active.size == 0:
            break
    mh = expit((b + mv @ w) / t)
    return [gbf(rbm, t, np.clip(np.concatenate([v, h]), 1e-300, 1 - 1e-16))[0] for v, h in zip(mv, mh)]


def corner_minima(rbm, t):
    """``F_q`` after iterating from every corner of each layer (a hidden corner: visible half step first)."""
    corners_v = np.array(list(itertools.product([0.0, 1.0], repeat=rbm.n_visible)))
    corners_h = np.array(list(itertools.product([0.0, 1.0], repeat=rbm.n_hidden)))
    return iterate(rbm, t, np.concatenate([corners_v, expit((rbm.visible_bias + corners_h @ rbm.weights.T) / t)]))


def brute_force_minimum(rbm, t, n_random=12, seed=0):
    """The lowest ``F_q`` over corner iterations and L-BFGS-B runs from random points."""
    rng = np.random.default_rng(seed)
    n = rbm.n_visible + rbm.n_hidden
    eps = 1e-12
    values = corner_minima(rbm, t)
    for _ in range(n_random):
        res = minimize(lambda m: gbf(rbm, t, m), rng.uniform(eps, 1 - eps, size=n), jac=True,
                       method="L-BFGS-B", bounds=[(eps, 1 - eps)] * n,
                       options=dict(maxiter=5000))
        values.append(res.fun)
    return min(values)


def cases():
    out = []
    for (nv, nh), seed in (((5, 4), 11), ((8, 6), 12), ((10, 3), 13), ((3, 7), 14), ((6, 6), 15)):
        base = RBM.random(nv, nh, seed=seed, weight_scale=1, bias_scale=1)
        for norm in (1.0, 3.0, 10.0):
            out.append(pytest.param(base.with_weight_norm(norm), id=f"{nv}x{nh}-s{seed}-norm{norm}"))
    out.append(pytest.param(measured_rbm(), id="issue14-measured"))
    return out


@pytest.mark.parametrize("rbm", cases())
@pytest.mark.parametrize("temperature", [0.05, 0.2, 1.0])
def test_mean_field_is_the_lowest_minimum(rbm, temperature):
    best = brute_force_minimum(rbm, temperature)
    mf = mean_field(rbm, temperature)
    assert mf.free_energy <= best + 1e-9 * max(1.0, abs(best))
    exact = free_energy(rbm, temperature)
    assert mf.free_energy >= exact - 1e-12 * abs(exact)


def test_the_measured_case_finds_the_hidden_side_minimum():
    rbm = measured_rbm()
    mf = mean_field(rbm, 0.2)
    assert mf.free_energy == pytest.approx(MEASURED["lowest"], abs=1e-8)
    assert free_energy(rbm, 0.2) == pytest.approx(MEASURED["exact"], abs=1e-8)
    # the old answer is still a minimum, now the second lowest
    assert any(abs(m - MEASURED["old"]) < 1e-6 for m in mf.minima[1:])
    # the old starts, all on the visible side (1/2, independent units, on, off, random
    # points), do not reach it: the hidden starts matter
    t = 0.2
    old_starts = np.concatenate([np.full((1, 5), 0.5), expit(rbm.visible_bias / t)[None], np.ones((1, 5)),
                                 np.zeros((1, 5)), np.random.default_rng(0).uniform(size=(4, 5))])
    assert min(iterate(rbm, t, old_starts)) == pytest.approx(MEASURED["old"], abs=1e-8)


def test_the_cumulant_reference_and_the_tap_start_inherit_the_fix():
    rbm = measured_rbm()
    lowest = MEASURED["lowest"]
    # the mean-field reference: order 1 of the series is F_q at the reference law
    assert cumulant_expansion(rbm, 0.2, order=2).series(1.0)[0] == pytest.approx(lowest, abs=1e-8)
    curves = temperature_sweep(rbm, np.array([0.2, 1.0]), order=2)
    assert curves.mean_field[0] == pytest.approx(lowest, abs=1e-8)
    assert curves.series[0][0] == pytest.approx(lowest, abs=1e-8)
    norms = weight_norm_sweep(RBM.random(5, 4, seed=2, weight_scale=1, bias_scale=1), np.array([10.0]),
                              temperature=0.2, order=2)
    assert norms.mean_field[0] == pytest.approx(lowest, abs=1e-8)
    # TAP's default start is mean_field_batch, whose lowest minimum is now the hidden-side one
    start = mean_field_batch(rbm, [0.2])
    assert start["free_energy"][0] == pytest.approx(lowest, abs=1e-8)
    default = tap_batch(rbm, [0.2], order=2)
    explicit = tap_batch(rbm, [0.2], order=2, start=start)
    np.testing.assert_allclose(default["visible"], explicit["visible"], atol=1e-12)
    assert default["free_energy"][0] == pytest.approx(explicit["free_energy"][0], abs=1e-12)


def test_a_contracting_map_has_one_minimum_and_agrees_with_every_start():
    """Where ||W||_2 < 4T only one start is run: the answer matches running all of them."""
    rbm = RBM.random(7, 5, seed=4, weight_scale=1).with_weight_norm(2.0)
    spectral = np.linalg.norm(rbm.weights, 2)
    t = np.array([spectral / 4 * 1.05, spectral / 4 * 3.0])
    batch = mean_field_batch(rbm, t)
    assert all(m.size == 1 for m in batch["minima"])
    for k, temp in enumerate(t):
        best = brute_force_minimum(rbm, temp)
        assert batch["free_energy"][k] <= best + 1e-9 * max(1.0, abs(best))
