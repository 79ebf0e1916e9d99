"""Sampling estimators against exact enumeration (issue 3)."""

import math

import numpy as np
import pytest
from scipy.special import expit, logsumexp

from explorer.errors import InputError
from explorer.rbm import RBM, log_partition, marginals
from explorer.rbm.exact import all_states, clamped_free_energy
from explorer.rbm.sampling import (
    ais_log_partition,
    beta_schedule,
    cd_correlation,
    exact_moments,
    exact_samples,
    gibbs_sample,
    gibbs_sweeps,
    importance_log_partition,
    reverse_ais_log_partition,
)


def brute_force(rbm, t):
    """ln Z and moments by enumerating both layers (tiny models only)."""
    v = all_states(rbm.n_visible)
    h = all_states(rbm.n_hidden)
    e = -(v @ rbm.visible_bias)[:, None] - (h @ rbm.hidden_bias)[None, :] - v @ rbm.weights @ h.T
    logp = -e / t
    log_z = logsumexp(logp)
    p = np.exp(logp - log_z)
    return log_z, p.sum(1) @ v, p.sum(0) @ h, v.T @ p @ h


# --------------------------------------------------------------------- forward AIS
@pytest.mark.parametrize("t", [0.3, 1.0, 4.0])
def test_ais_exact_on_zero_coupling_model(t):
    rbm = RBM(np.zeros((7, 4)), np.linspace(-2, 3, 7), np.array([1.5, -0.5, 0.0, 2.0]))
    res = ais_log_partition(rbm, t, n_chains=20, n_steps=15, seed=3)
    assert res.log_partition == pytest.approx(log_partition(rbm, t), abs=1e-12)
    assert res.stderr < 1e-12
    assert np.ptp(res.log_weights) < 1e-12


@pytest.mark.parametrize("nv, nh, t, scale, schedule, base", [
    (6, 4, 1.0, 1.0, "linear", "visible-bias"),
    (10, 8, 0.5, 1.0, "linear", "visible-bias"),
    (8, 12, 1.0, 2.0, "sigmoid", "visible-bias"),
    (12, 6, 2.0, 3.0, "sigmoid", "data"),
    (16, 10, 0.7, 1.5, "linear", "data"),
])
def test_ais_within_few_stderr_of_exact(nv, nh, t, scale, schedule, base):
    rbm = RBM.random(nv, nh, seed=nv + nh, weight_scale=scale)
    data = exact_samples(rbm, 300, t, seed=5)[0] if base == "data" else None
    res = ais_log_partition(rbm, t, n_chains=200, n_steps=1500, schedule=schedule, base=base,
                            data=data, seed=11)
    exact = log_partition(rbm, t)
    assert 0 < res.stderr < 0.02
    assert abs(res.log_partition - exact) < 4 * res.stderr + 1e-3
    assert res.chains == 200 and res.steps == 1500 and res.log_weights.shape == (200,)
    assert res.free_energy == pytest.approx(-t * res.log_partition)
    assert set(res.to_dict()) == {"log_partition", "stderr", "chains", "steps"}


def test_ais_final_states_are_model_samples():
    rbm = RBM.random(6, 5, seed=2, weight_scale=1.5)
    res = ais_log_partition(rbm, 1.0, n_chains=3000, n_steps=200, seed=0)
    mv, _ = marginals(rbm, 1.0)
    # the weights are nearly equal here, so the unweighted final states are close to p
    assert np.max(np.abs(res.samples.mean(0) - mv)) < 4 * 0.5 / math.sqrt(3000) + 0.01


def test_ais_is_seeded():
    rbm = RBM.random(8, 6, seed=1, weight_scale=2.0)
    a = ais_log_partition(rbm, 0.8, n_chains=30, n_steps=100, seed=4)
    b = ais_log_partition(rbm, 0.8, n_chains=30, n_steps=100, seed=4)
    c = ais_log_partition(rbm, 0.8, n_chains=30, n_steps=100, seed=5)
    np.testing.assert_array_equal(a.log_weights, b.log_weights)
    assert not np.array_equal(a.log_weights, c.log_weights)


def grouped_estimates(res, group):
    """Split one vectorised run into independent runs of ``group`` chains each."""
    lw = res.log_weights.reshape(-1, group)
    sign = 1.0 if res.direction == "forward" else -1.0
    return res.log_base_partition + sign * (logsumexp(lw, axis=1) - math.log(group))


@pytest.mark.parametrize("nv, nh, seed, scale, t", [(12, 6, 1, 3.0, 0.7), (10, 8, 7, 2.5, 1.0)])
def test_forward_and_reverse_ais_bracket_ln_z_on_average(nv, nh, seed, scale, t):
    # 400 runs of 10 chains with 3 steps: the Jensen gaps dominate the noise of the average
    rbm = RBM.random(nv, nh, seed=seed, weight_scale=scale)
    exact = log_partition(rbm, t)
    starts = exact_samples(rbm, 4000, t, seed=0)[0]
    fwd = grouped_estimates(ais_log_partition(rbm, t, n_chains=4000, n_steps=3, seed=0), 10) - exact
    rev = grouped_estimates(reverse_ais_log_partition(rbm, starts, t, n_chains=None, n_steps=3,
                                                      seed=0), 10) - exact
    se_f, se_r = fwd.std() / math.sqrt(fwd.size), rev.std() / math.sqrt(rev.size)
    assert fwd.mean() + 2 * se_f < 0 < rev.mean() - 2 * se_r


def test_forward_and_reverse_ais_converge_with_more_steps():
    rbm = RBM.random(10, 8, seed=7, weight_scale=2.5)
    exact = log_partition(rbm, 1.0)
    starts = exact_samples(rbm, 200, 1.0, seed=1)[0]
    f = ais_log_partition(rbm, 1.0, n_chains=200, n_steps=2000, seed=1)
    r = reverse_ais_log_partition(rbm, starts, 1.0, n_chains=None, n_steps=2000, seed=1)
    assert f.stderr < 0.01 and r.stderr < 0.01
    assert abs(f.log_partition - exact) < 4 * f.stderr + 1e-3
    assert abs(r.log_partition - exact) < 4 * r.stderr + 1e-3


def test_reverse_ais_averages_the_weights_not_their_reciprocals():
    rbm = RBM.random(12, 6, seed=1, weight_scale=3.0)
    t = 0.7
    exact = log_partition(rbm, t)
    starts = exact_samples(rbm, 4000, t, seed=2)[0]
    res = reverse_ais_log_partition(rbm, starts, t, n_chains=None, n_steps=5, seed=0)
    lw = res.log_weights
    correct = res.log_base_partition - (logsumexp(lw) - math.log(lw.size))
    assert res.log_partition == pytest.approx(correct, abs=1e-12)
    assert res.direction == "reverse" and res.chains == 4000
    groups = lw.reshape(-1, 10)
    right = grouped_estimates(res, 10) - exact
    wrong = res.log_base_partition + logsumexp(-groups, axis=1) - math.log(10) - exact
    assert np.all(wrong >= right - 1e-12)      # arithmetic-harmonic mean inequality
    assert abs(right.mean()) < 0.5 * abs(wrong.mean())
    # the reciprocal average does not improve with more chains
    wrong_all = res.log_base_partition + logsumexp(-lw) - math.log(lw.size) - exact
    assert wrong_all > 3 * abs(correct - exact)


def test_reverse_ais_base_fitted_to_its_own_starts_biases_downward():
    rbm = RBM.random(10, 8, seed=7, weight_scale=2.5)
    exact = log_partition(rbm, 1.0)
    starts = exact_samples(rbm, 60 * 40, 1.0, seed=1)[0].reshape(60, 40, 10)
    own = [reverse_ais_log_partition(rbm, s, n_chains=None, n_steps=1, base="data",
                                     seed=i).log_partition - exact for i, s in enumerate(starts)]
    vis = [reverse_ais_log_partition(rbm, s, n_chains=None, n_steps=1,
                                     seed=i).log_partition - exact for i, s in enumerate(starts)]
    assert np.mean(own) < 0 < np.mean(vis)


def test_reverse_ais_row_selection():
    rbm = RBM.random(5, 3, seed=0)
    data = exact_samples(rbm, 10, seed=0)[0]
    assert reverse_ais_log_partition(rbm, data, n_chains=25, n_steps=5).chains == 25
    assert reverse_ais_log_partition(rbm, data, n_chains=4, n_steps=5).chains == 4
    assert reverse_ais_log_partition(rbm, data, n_chains=None, n_steps=5).chains == 10


def test_beta_schedules():
    lin = beta_schedule(10, "linear")
    sig = beta_schedule(1000, "sigmoid")
    for b in (lin, sig):
        assert b[0] == 0.0 and b[-1] == 1.0 and np.all(np.diff(b) > 0)
    np.testing.assert_allclose(lin, np.linspace(0, 1, 11))
    d = np.diff(sig)
    assert d[-1] < d[0] / 50          # denser near beta = 1
    custom = ais_log_partition(RBM.random(4, 3), schedule=[0, 0.3, 1.0], seed=0)
    assert custom.steps == 2 and custom.schedule == "custom"


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(temperature=0.0), "temperature"),
    (dict(temperature=-1.0), "temperature"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(n_chains=0), "n_chains"),
    (dict(n_chains=2.5), "n_chains"),
    (dict(n_steps=0), "n_steps"),
    (dict(schedule="cosine"), "schedule"),
    (dict(schedule=[0.0, 0.7, 0.5, 1.0]), "schedule"),
    (dict(base="uniform"), "base"),
    (dict(base="data"), "needs data"),
    (dict(base="data", data=np.zeros((3, 5))), "columns"),
    (dict(base="data", data=np.full((3, 4), 0.5)), "0 and 1"),
    (dict(seed="x"), "seed"),
])
def test_ais_rejects_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match) as err:
        ais_log_partition(RBM.random(4, 3), **kwargs)
    assert "\n" not in str(err.value)


def test_other_estimators_reject_bad_input():
    rbm = RBM.random(4, 3)
    with pytest.raises(InputError, match="data"):
        reverse_ais_log_partition(rbm, np.zeros((0, 4)))
    with pytest.raises(InputError, match="temperature"):
        reverse_ais_log_partition(rbm, np.zeros((2, 4)), 0.0)
    with pytest.raises(InputError, match="n_samples"):
        importance_log_partition(rbm, n_samples=0, proposal=(np.full(4, .5), np.full(3, .5)))
    with pytest.raises(InputError, match="shape"):
        importance_log_partition(rbm, proposal=(np.full(3, .5), np.full(3, .5)))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        importance_log_partition(rbm, proposal=(np.full(4, 1.5), np.full(3, .5)))
    with pytest.raises(InputError, match="n_steps"):
        gibbs_sample(rbm, n_steps=-1)
    with pytest.raises(InputError, match="init"):
        gibbs_sample(rbm, init=np.ones((2, 5)))
    with pytest.raises(InputError, match="k"):
        cd_correlation(rbm, np.zeros((2, 4)), k=-1)
    with pytest.raises(InputError, match="enumerate"):
        exact_moments(RBM.random(22, 22), limit=20)


# --------------------------------------------------------- importance sampling
def test_importance_sampling_with_mean_field_proposal_is_unbiased_at_high_t():
    rbm = RBM.random(8, 6, seed=4, weight_scale=1.0)
    t = 3.0
    res = importance_log_partition(rbm, t, n_samples=4000, seed=0)
    exact = log_partition(rbm, t)
    assert 0 < res.stderr < 0.02
    assert abs(res.log_partition - exact) < 4 * res.stderr + 1e-3
    rb = importance_log_partition(rbm, t, n_samples=4000, seed=0, sum_hidden=True)
    assert rb.stderr < res.stderr
    assert abs(rb.log_partition - exact) < 4 * rb.stderr + 1e-3


def test_importance_sampling_variance_explodes_at_low_t():
    rbm = RBM.random(10, 8, seed=1, weight_scale=3.0)
    n = 2000
    hot = importance_log_partition(rbm, 4.0, n_samples=n, seed=1)
    cold = importance_log_partition(rbm, 0.5, n_samples=n, seed=1)
    assert hot.effective_sample_size > 0.5 * n
    assert cold.effective_sample_size < 0.05 * n
    assert cold.stderr > 10 * hot.stderr


def test_importance_sampling_accepts_explicit_proposal_and_clips():
    rbm = RBM.random(5, 4, seed=0)
    res = importance_log_partition(rbm, 1.0, n_samples=20000, seed=0,
                                   proposal=(np.full(5, 0.5), np.array([0.0, 1.0, 0.5, 0.5])))
    assert np.all(np.isfinite(res.log_weights))
    assert res.proposal_hidden[0] > 0 and res.proposal_hidden[1] < 1
    uniform = importance_log_partition(rbm, 1.0, n_samples=20000, seed=0,
                                       proposal=(np.full(5, 0.5), np.full(4, 0.5)))
    assert abs(uniform.log_partition - log_partition(rbm)) < 4 * uniform.stderr + 1e-3


# ------------------------------------------------------------------ Gibbs, CD
def test_gibbs_chains_reach_exact_marginals():
    rbm = RBM.random(6, 4, seed=8, weight_scale=1.5)
    t = 0.8
    res = gibbs_sample(rbm, t, n_chains=4000, n_steps=100, seed=0)
    mv, mh = marginals(rbm, t)
    tol = 4 * 0.5 / math.sqrt(4000)
    assert np.max(np.abs(res.visible.mean(0) - mv)) < tol
    assert np.max(np.abs(res.hidden.mean(0) - mh)) < tol
    assert np.max(np.abs(res.hidden_probabilities.mean(0) - mh)) < tol
    assert set(np.unique(res.visible)) <= {0.0, 1.0}
    again = gibbs_sample(rbm, t, n_chains=4000, n_steps=100, seed=0)
    np.testing.assert_array_equal(res.visible, again.visible)


def test_gibbs_sweeps_draw_each_layer_from_its_conditional_with_two_uniform_arrays_per_sweep():
    """The one sampler, written out by hand: per sweep one uniform array for h, one for v (the
    stream training shares is advanced by exactly that), both conditionals at 1/T."""
    rbm = RBM.random(5, 3, seed=2, weight_scale=1.0)
    t, k = 0.7, 3
    v0 = (np.random.default_rng(1).random((6, 5)) < 0.5).astype(float)
    rng = np.random.default_rng(9)
    v, ph = gibbs_sweeps(rbm, v0, k, temperature=t, seed=rng)
    ref, want = np.random.default_rng(9), v0.copy()
    for _ in range(k):
        h = (ref.random((6, 3)) < expit((want @ rbm.weights + rbm.hidden_bias) / t)).astype(float)
        want = (ref.random((6, 5)) < expit((h @ rbm.weights.T + rbm.visible_bias) / t)).astype(float)
    np.testing.assert_array_equal(v, want)
    np.testing.assert_allclose(ph, expit((want @ rbm.weights + rbm.hidden_bias) / t), rtol=1e-12)
    assert rng.bit_generator.state == ref.bit_generator.state
    np.testing.assert_array_equal(v0, (np.random.default_rng(1).random((6, 5)) < 0.5))   # not modified
    # gibbs_sample and cd_correlation are this sampler (same seed, same chains)
    np.testing.assert_array_equal(gibbs_sample(rbm, t, init=v0, n_steps=k, seed=9).visible, v)
    cd = cd_correlation(rbm, v0, t, k=k, seed=9, exact=False)
    np.testing.assert_allclose(cd.estimate, v.T @ ph / 6, rtol=1e-12)
    with pytest.raises(InputError, match="only 0 and 1"):
        gibbs_sweeps(rbm, v0 * 0.5, 1)
    with pytest.raises(InputError, match="columns"):
        gibbs_sweeps(rbm, np.ones((2, 4)), 1)
    with pytest.raises(InputError, match="n_steps"):
        gibbs_sweeps(rbm, v0, -1)


def test_gibbs_from_given_states_with_zero_steps_keeps_them():
    rbm = RBM.random(4, 3, seed=0)
    init = np.array([[1, 0, 1, 0], [0, 0, 0, 1.0]])
    res = gibbs_sample(rbm, init=init, n_steps=0)
    np.testing.assert_array_equal(res.visible, init)


@pytest.mark.parametrize("nv, nh, t", [(5, 7, 1.0), (7, 4, 0.6)])
def test_exact_moments_match_brute_force(nv, nh, t):
    rbm = RBM.random(nv, nh, seed=nv, weight_scale=2.0)
    log_z, mv, mh, corr = brute_force(rbm, t)
    mom = exact_moments(rbm, t)
    assert mom.log_partition == pytest.approx(log_z, abs=1e-10)
    np.testing.assert_allclose(mom.visible, mv, atol=1e-12)
    np.testing.assert_allclose(mom.hidden, mh, atol=1e-12)
    np.testing.assert_allclose(mom.correlation, corr, atol=1e-12)


def test_exact_moments_across_blocks():
    rbm = RBM.random(15, 16, seed=1, weight_scale=1.0)   # 2^15 states: two blocks
    mom = exact_moments(rbm, 1.3)
    mv, mh = marginals(rbm, 1.3)
    assert mom.log_partition == pytest.approx(log_partition(rbm, 1.3), abs=1e-9)
    np.testing.assert_allclose(mom.visible, mv, atol=1e-10)
    np.testing.assert_allclose(mom.hidden, mh, atol=1e-10)


@pytest.mark.parametrize("nv, nh", [(4, 6), (6, 3)])
def test_exact_samples_follow_p(nv, nh):
    rbm = RBM.random(nv, nh, seed=2, weight_scale=2.0)
    n = 20000
    v, h = exact_samples(rbm, n, 0.7, seed=0)
    assert v.shape == (n, nv) and h.shape == (n, nh)
    mom = exact_moments(rbm, 0.7)
    tol = 4 * 0.5 / math.sqrt(n)
    assert np.max(np.abs(v.mean(0) - mom.visible)) < tol
    assert np.max(np.abs(h.mean(0) - mom.hidden)) < tol
    assert np.max(np.abs(v.T @ h / n - mom.correlation)) < tol


def test_cd_estimate_from_model_samples_is_unbiased():
    rbm = RBM.random(6, 5, seed=3, weight_scale=2.0)
    data = exact_samples(rbm, 4000, 1.0, seed=9)[0]
    cd = cd_correlation(rbm, data, 1.0, k=1, seed=0)
    z = np.abs(cd.estimate - cd.exact) / cd.stderr
    assert z.max() < 4.5
    assert cd.chains == 4000 and cd.k == 1


def test_cd_bias_shrinks_with_k():
    rbm = RBM.random(8, 6, seed=5, weight_scale=2.0)
    t = 0.7
    data = np.zeros((2000, 8))            # far from the model
    data[:, :2] = 1
    cd0 = cd_correlation(rbm, data, t, k=0, seed=0)
    cd1 = cd_correlation(rbm, data, t, k=1, seed=0)
    cd_long = cd_correlation(rbm, data, t, k=300, seed=0)
    ph = 1 / (1 + np.exp(-(data[0] @ rbm.weights + rbm.hidden_bias) / t))
    np.testing.assert_allclose(cd0.estimate, np.outer(data[0], ph))
    assert cd1.max_abs_error > 5 * cd_long.max_abs_error
    assert cd_long.max_abs_error < 4 * cd_long.stderr.max() + 1e-3
    assert np.array_equal(cd1.bias, cd1.estimate - cd1.exact)


@pytest.mark.parametrize("base", ["visible-bias", "data"])
def test_one_step_ais_weights_are_clamped_free_energy_differences(base):
    # with beta going 0 -> 1 in one step, each weight is ln f_1(v) - ln f_0(v) for the
    # chain's base sample v: -F_c(v)/T - a0.v - n_hidden ln 2
    rbm = RBM.random(5, 4, seed=6, weight_scale=2.0)
    t = 0.8
    data = np.array([[1, 0, 0, 1, 1], [1, 1, 0, 0, 1], [0, 0, 0, 1, 1.0]])
    res = ais_log_partition(rbm, t, n_chains=64, n_steps=1, base=base, data=data, seed=2)
    if base == "visible-bias":
        a0 = rbm.visible_bias / t
    else:
        p = (data.sum(0) + 0.5) / (len(data) + 1)
        a0 = np.log(p / (1 - p))
    v = all_states(5)
    possible = -clamped_free_energy(rbm, v, t) / t - v @ a0 - 4 * math.log(2)
    gaps = np.abs(res.log_weights[:, None] - possible[None, :]).min(axis=1)
    assert gaps.max() < 1e-10
    assert res.log_base_partition == pytest.approx(np.sum(np.logaddexp(0, a0)) + 4 * math.log(2))


def test_ais_on_the_shipped_trained_model():
    # a trained model (||W|| ~ 36) is peaked: the data-mean base helps a lot
    from pathlib import Path

    from explorer.rbm.datasets import bars_and_stripes

    path = Path(__file__).resolve().parents[2] / "explorer" / "data" / "rbm_bars_stripes_3x3.npz"
    rbm = RBM.load(path)
    x = bars_and_stripes(3)
    exact = log_partition(rbm)
    data_base = ais_log_partition(rbm, n_chains=200, n_steps=2000, base="data", data=x, seed=0)
    own_base = ais_log_partition(rbm, n_chains=200, n_steps=2000, seed=0)
    assert data_base.stderr < 0.03 and data_base.stderr < own_base.stderr / 2
    assert abs(data_base.log_partition - exact) < 4 * data_base.stderr + 1e-3
    rev = reverse_ais_log_partition(rbm, x, n_chains=None, n_steps=2000, seed=0)
    assert abs(rev.log_partition - exact) < 4 * rev.stderr + 1e-3
