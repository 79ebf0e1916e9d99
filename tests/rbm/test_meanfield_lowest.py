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
from harness.brute_force import BruteForce

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


# ---------------------------------------------------------------------------------------------
# Issue 24: the lowest minimum at low T and strong coupling, on every machine. Mean field also
# starts from the corners of the smaller layer of lowest clamped free energy; the reference
# below is a dense search written here, independent of explorer.rbm.meanfield.

#: Measured misses before the corner starts (mean field's answer then, the lowest stationary
#: point, exact F): reconstructed from the shapes, norms and temperatures of issue 24.
ISSUE24 = [
    dict(nv=5, nh=4, seed=24, kw=dict(weight_scale=1, bias_scale=1), norm=10.0, t=0.1,
         old=-8.601386480501828, lowest=-8.943517279631156),
    dict(nv=7, nh=3, seed=37, kw={}, norm=3.0, t=0.05, old=-2.3016273982627706,
         lowest=-2.3766208012792047),
]


def issue24_rbm(case):
    return RBM.random(case["nv"], case["nh"], seed=case["seed"], **case["kw"]).with_weight_norm(case["norm"])


def all_corners(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def clamped_free_energies(rbm, t):
    """``F_c(s)`` of every corner of the smaller layer (the other layer summed out), by a plain sum."""
    w, a, b = rbm.weights, rbm.visible_bias, rbm.hidden_bias
    if rbm.n_visible <= rbm.n_hidden:
        s = all_corners(rbm.n_visible)
        return -(s @ a) - t * np.logaddexp(0.0, (b + s @ w) / t).sum(axis=1)
    s = all_corners(rbm.n_hidden)
    return -(s @ b) - t * np.logaddexp(0.0, (a + s @ w.T) / t).sum(axis=1)


def dense_minimum(rbm, t, n_random=64, n_lbfgs=1, seed=0):
    """The lowest ``F_q`` over a dense search: the alternating iteration from every corner of *both*
    layers and from ``n_random`` random points of each layer, and L-BFGS-B from random points."""
    rng = np.random.default_rng(seed)
    w, a = rbm.weights, rbm.visible_bias
    hidden_starts = np.concatenate([all_corners(rbm.n_hidden), rng.uniform(size=(n_random, rbm.n_hidden))])
    starts = np.concatenate([all_corners(rbm.n_visible), rng.uniform(size=(n_random, rbm.n_visible)),
                             expit((a + hidden_starts @ w.T) / t)])
    values = iterate(rbm, t, starts, iterations=20000)
    n, eps = rbm.n_visible + rbm.n_hidden, 1e-12
    for _ in range(n_lbfgs):
        res = minimize(lambda m: gbf(rbm, t, m), rng.uniform(eps, 1 - eps, size=n), jac=True,
                       method="L-BFGS-B", bounds=[(eps, 1 - eps)] * n, options=dict(maxiter=5000))
        values.append(res.fun)
    return min(values)


def sweep_cases(n_cases=110, seed=2037):
    """Random models: shapes up to 8x8 (5x4 and 7x3 among them), ||W|| up to 10, T in [0.05, 10]
    (log-uniform, most of the weight at low T where minima multiply), several bias scales."""
    rng = np.random.default_rng(seed)
    shapes = [(5, 4), (7, 3), (8, 8), (3, 8), (6, 6), (8, 2), (1, 5), (4, 7)]
    out = []
    for k in range(n_cases):
        nv, nh = shapes[k] if k < len(shapes) else (int(x) for x in rng.integers(1, 9, size=2))
        bias = [0.0, 0.5, 1.0, 3.0][k % 4]
        base = RBM.random(nv, nh, seed=int(rng.integers(1 << 30)), weight_scale=1.0, bias_scale=bias)
        norm = float(rng.uniform(0.5, 10.0))
        t = float(np.exp(rng.uniform(np.log(0.05), np.log(10.0))))
        out.append((base.with_weight_norm(norm), t))
    return out


def check_lowest(rbm, t, mf, best):
    """Mean field at or below the dense search's minimum, at or above the exact F, within the corners' bound."""
    exact = BruteForce(rbm, t).free_energy
    scale = max(1.0, abs(best))
    assert mf.free_energy <= best + 1e-9 * scale, (mf.free_energy, best)
    assert mf.free_energy >= exact - 1e-10 * max(1.0, abs(exact))
    assert mf.exhaustive
    # the guarantee of the corner search: F_q <= min_s F_c(s) <= F + T n ln 2
    assert mf.free_energy <= clamped_free_energies(rbm, t).min() + 1e-9 * scale
    assert mf.free_energy <= exact + t * min(rbm.n_visible, rbm.n_hidden) * np.log(2) + 1e-9 * scale


def test_mean_field_reaches_the_dense_search_minimum_over_a_seeded_sweep():
    """110 random models: the bound, the guarantee and the lowest stationary point (one test, ~6 s).

    The seed is one whose sweep holds models where the starts without corners miss the lowest
    minimum (about 1 model in 100 does; checked below, so the sweep keeps its teeth)."""
    misses_without_corners = 0
    for rbm, t in sweep_cases():
        best = dense_minimum(rbm, t)
        check_lowest(rbm, t, mean_field(rbm, t), best)
        misses_without_corners += mean_field(rbm, t, corner_limit=0).free_energy > best + 1e-9 * max(1.0, abs(best))
    assert misses_without_corners >= 1


@pytest.mark.parametrize("case", ISSUE24, ids=["5x4-norm10-T0.1", "7x3-norm3-T0.05"])
def test_the_issue24_cases_find_the_lowest_minimum(case):
    rbm, t = issue24_rbm(case), case["t"]
    mf = mean_field(rbm, t)
    assert mf.free_energy == pytest.approx(case["lowest"], abs=1e-8)
    check_lowest(rbm, t, mf, dense_minimum(rbm, t))
    # the old starts alone (no corners) still miss it: the corners are what finds it
    old = mean_field(rbm, t, corner_limit=0)
    assert old.free_energy == pytest.approx(case["old"], abs=1e-8)
    assert not old.exhaustive
    # every corner run, or only the lowest few: the same answer
    every = mean_field(rbm, t, corner_starts=1 << min(rbm.n_visible, rbm.n_hidden))
    assert every.free_energy == pytest.approx(mf.free_energy, abs=1e-10)


@pytest.mark.parametrize("case", ISSUE24, ids=["5x4-norm10-T0.1", "7x3-norm3-T0.05"])
def test_the_series_reference_and_the_sweeps_inherit_the_corner_starts(case):
    from explorer.rbm.explore import point_quantities

    rbm, t = issue24_rbm(case), case["t"]
    lowest = case["lowest"]
    # order 1 of the series around the mean-field reference is F_q at that reference
    assert cumulant_expansion(rbm, t, order=2).series(1.0)[0] == pytest.approx(lowest, abs=1e-8)
    curves = temperature_sweep(rbm, np.array([t, 1.0, 5.0]), order=2)
    assert curves.mean_field[0] == pytest.approx(lowest, abs=1e-8)
    assert curves.series[0][0] == pytest.approx(lowest, abs=1e-8)
    base = RBM.random(case["nv"], case["nh"], seed=case["seed"], **case["kw"])
    norms = weight_norm_sweep(base, np.array([1.0, case["norm"]]), temperature=t, order=2)
    assert norms.mean_field[1] == pytest.approx(lowest, abs=1e-8)
    assert point_quantities(rbm, t, [0.0, 1.0], order=2).mean_field_free_energy == pytest.approx(lowest, abs=1e-8)


def test_a_batch_gets_the_corners_at_every_temperature_and_coupling():
    """The batched solve (sweeps) matches one mean_field call per entry, couplings included."""
    rbm = RBM.random(9, 6, seed=3, weight_scale=1, bias_scale=1)
    t = np.array([0.05, 0.1, 0.3, 1.0, 4.0, 0.07])
    c = np.array([1.0, 0.5, 1.5, 1.0, 1.0, 1.2])
    batch = mean_field_batch(rbm, t, c)
    for k in range(t.size):
        scaled = RBM(rbm.weights * c[k], rbm.visible_bias, rbm.hidden_bias)
        one = mean_field(scaled, t[k])
        assert batch["free_energy"][k] == pytest.approx(one.free_energy, abs=1e-10)
        assert batch["exhaustive"][k] and one.exhaustive
        assert batch["free_energy"][k] <= clamped_free_energies(scaled, t[k]).min() + 1e-9


def test_above_the_corner_limit_the_result_says_it_is_the_lowest_found():
    from explorer.rbm.meanfield import CORNER_LIMIT

    big = RBM.random(CORNER_LIMIT + 1, CORNER_LIMIT + 2, seed=1).with_weight_norm(8.0)
    spectral = np.linalg.norm(big.weights, 2)
    low, high = mean_field(big, 0.2), mean_field(big, spectral / 4 * 2.0)
    assert not low.exhaustive and low.n_starts > 1
    assert high.exhaustive and high.n_starts == 1         # a contraction: one minimum, proven
    fits = RBM.random(CORNER_LIMIT, 20, seed=1).with_weight_norm(8.0)
    r = mean_field(fits, 0.2)
    assert r.exhaustive and r.free_energy <= clamped_free_energies(fits, 0.2).min() + 1e-9


def test_the_cli_json_reports_mean_fields_answer_and_whether_the_search_was_exhaustive(capsys):
    import json

    from explorer.cli import main

    case = ISSUE24[1]
    assert main(["rbm-meanfield", "--random", f"{case['nv']}x{case['nh']}", "--seed", str(case["seed"]),
                 "--weight-norm", str(case["norm"]), "--temperature", str(case["t"]), "--starts", "5",
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert {"path", "minima", "exact_free_energy", "n_starts"} <= set(rep)        # the old keys stay
    assert set(rep["mean_field"]) == {"free_energy", "exhaustive", "n_starts", "visible", "hidden"}
    assert rep["mean_field"]["free_energy"] == pytest.approx(case["lowest"], abs=1e-8)
    assert rep["mean_field"]["exhaustive"] is True
    assert rep["mean_field"]["free_energy"] >= rep["exact_free_energy"]


@pytest.mark.parametrize("shape", [(9, 7), (6, 11), (12, 3)])
def test_the_corner_ranking_picks_the_corners_of_lowest_clamped_free_energy(shape):
    """The pruned ranking (bounds on F_c, only candidates evaluated) equals a full sort, both orientations."""
    from explorer.rbm.meanfield import _lowest_corners

    rbm = RBM.random(*shape, seed=sum(shape), bias_scale=1.0).with_weight_norm(4.0)
    t = np.array([0.05, 0.3, 1.0, 10.0, 0.5])
    c = np.array([1.0, 2.0, 0.5, 1.0, 0.0])
    n = min(shape)
    for k in (1, 16):
        chosen = _lowest_corners(rbm, t, c, k)
        for j in range(t.size):
            scaled = RBM(rbm.weights * c[j], rbm.visible_bias, rbm.hidden_bias)
            fc = clamped_free_energies(scaled, t[j])
            # all_corners enumerates in itertools order: first unit most significant
            picked = fc[(chosen[j] @ (1 << np.arange(n)[::-1])).astype(int)]
            np.testing.assert_allclose(np.sort(picked), np.sort(fc)[:k], rtol=1e-12, atol=1e-10)
