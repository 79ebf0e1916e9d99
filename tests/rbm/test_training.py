"""Training: gradients against finite differences, methods on bars-and-stripes, the CLI."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer.cli import main
from explorer.errors import InputError
from explorer.rbm import RBM, log_likelihood, log_partition
from explorer.rbm.datasets import bars_and_stripes
from explorer.rbm.meanfield import mean_field
from explorer.rbm.sampling import cd_correlation, exact_moments, exact_samples, gibbs_sweeps
from explorer.rbm.tap import tap
from explorer.rbm.training import (
    SGDState,
    exact_gradient,
    initial_rbm,
    mean_log_likelihood,
    model_term,
    parse_method,
    sgd_epoch,
    sgd_step,
    tap_gradient,
    tap_log_partition_gradient,
    train,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "explorer" / "data" / "rbm_bars_stripes_3x3.npz"
OPTIMUM_3X3 = -math.log(14)


def _perturbed(rbm, which, index, eps):
    arrays = {"weights": np.array(rbm.weights), "visible_bias": np.array(rbm.visible_bias),
              "hidden_bias": np.array(rbm.hidden_bias)}
    arrays[which][index] += eps
    return RBM(**arrays)


def _finite_difference(fun, rbm, which, eps=1e-5):
    shape = getattr(rbm, which).shape
    out = np.zeros(shape)
    for index in np.ndindex(shape):
        out[index] = (fun(_perturbed(rbm, which, index, eps))
                      - fun(_perturbed(rbm, which, index, -eps))) / (2 * eps)
    return out


# ------------------------------------------------------------------- gradients
@pytest.mark.parametrize("nv, nh, t", [(5, 4, 1.0), (4, 6, 0.7)])
def test_exact_gradient_matches_finite_differences(nv, nh, t):
    rbm = RBM.random(nv, nh, seed=3, weight_scale=1.5)
    data = exact_samples(RBM.random(nv, nh, seed=9), 7, seed=1)[0]

    def mean_ll(model):
        return float(np.mean(log_likelihood(model, data, t)))

    g = exact_gradient(rbm, data, t)
    for which, analytic in zip(("weights", "visible_bias", "hidden_bias"), g.as_tuple()):
        np.testing.assert_allclose(analytic, _finite_difference(mean_ll, rbm, which),
                                   atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("order, t", [(2, 1.0), (3, 1.0), (2, 1.6), (3, 1.6)])
def test_tap_model_term_is_the_derivative_of_ln_z_tap(order, t):
    # envelope theorem: at the stationary m the partial derivative is the total one
    rbm = RBM.random(5, 4, seed=1, weight_scale=0.8 * t)

    def ln_z_tap(model):
        res = tap(model, t, order=order)
        assert res.converged
        return -res.free_energy / t

    res = tap(rbm, t, order=order)
    g = tap_log_partition_gradient(rbm, res.visible, res.hidden, t, order)
    for which, analytic in zip(("weights", "visible_bias", "hidden_bias"), g.as_tuple()):
        np.testing.assert_allclose(analytic, _finite_difference(ln_z_tap, rbm, which),
                                   atol=1e-6)
    if order == 3:   # the order-3 term is resolved by this check (100x the tolerance)
        g2 = tap_log_partition_gradient(rbm, res.visible, res.hidden, t, 2)
        assert np.abs(g.weights - g2.weights).max() > 1e-4 / t


def test_tap_model_term_error_shrinks_with_order():
    """E_p[v h^T] from MF, TAP2, TAP3 vs exact: errors O(W), O(W^2), O(W^3)."""
    errors = {}
    for scale in (0.05, 0.1):
        rbm = RBM.random(6, 5, seed=2, weight_scale=scale)
        exact = exact_moments(rbm).correlation
        mf = mean_field(rbm)
        errs = [np.abs(np.outer(mf.visible, mf.hidden) - exact).max()]
        for order in (2, 3):
            res = tap(rbm, 1.0, order=order)
            g = tap_log_partition_gradient(rbm, res.visible, res.hidden, 1.0, order)
            errs.append(np.abs(g.weights - exact).max())
        errors[scale] = np.array(errs)
    assert errors[0.1][0] > 30 * errors[0.1][1] > 30 * errors[0.1][2]
    slopes = np.log2(errors[0.1] / errors[0.05])
    np.testing.assert_allclose(slopes, [1, 2, 3], atol=0.3)


def test_tap_gradient_is_data_term_minus_tap_term():
    data = bars_and_stripes(2)
    rbm = RBM.random(4, 5, seed=2, weight_scale=0.5)
    g = tap_gradient(rbm, data, order=2)
    exact = exact_gradient(rbm, data)
    # the weak-coupling TAP term is close to the exact one
    np.testing.assert_allclose(g.weights, exact.weights, atol=2e-3)
    np.testing.assert_allclose(g.visible_bias, exact.visible_bias, atol=2e-3)


# ------------------------------------------------------------------- one SGD step
def test_sgd_step_is_momentum_ascent_along_the_exact_gradient():
    """theta <- theta + v,  v <- momentum v + lr (grad - weight_decay W): two steps by hand."""
    rbm = RBM.random(4, 3, seed=5, weight_scale=0.8)
    batch = bars_and_stripes(2)
    lr, mom, wd = 0.3, 0.6, 0.05
    state = SGDState.start(rbm, "exact", None, 0)
    w, a, b = np.array(rbm.weights), np.array(rbm.visible_bias), np.array(rbm.hidden_bias)
    vel = [np.zeros_like(w), np.zeros_like(a), np.zeros_like(b)]
    for _ in range(2):
        g = exact_gradient(RBM(w, a, b), batch)
        vel = [mom * vel[0] + lr * (g.weights - wd * w), mom * vel[1] + lr * g.visible_bias,
               mom * vel[2] + lr * g.hidden_bias]
        w, a, b = w + vel[0], a + vel[1], b + vel[2]
        assert sgd_step(state, batch, learning_rate=lr, momentum=mom, weight_decay=wd)
    for got, want in zip((state.w, state.a, state.b, *state.velocity), (w, a, b, *vel)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert not sgd_step(state, batch, learning_rate=1e12, momentum=0.0)     # left [-1e8, 1e8]


def test_cd_and_pcd_model_terms_are_the_gibbs_sampler():
    rbm = RBM.random(5, 4, seed=1, weight_scale=1.0)
    batch = (np.random.default_rng(0).random((7, 5)) < 0.5).astype(float)
    cd = SGDState.start(rbm, "cd", 3, 4)
    corr, mv, mh = model_term(cd, rbm, batch)
    # the CD-k point estimate of cd_correlation, from the same stream
    np.testing.assert_allclose(corr, cd_correlation(rbm, batch, k=3, seed=4, exact=False).estimate, rtol=1e-12)
    v, ph = gibbs_sweeps(rbm, batch, 3, seed=4)
    np.testing.assert_array_equal(mv, v.mean(axis=0))
    np.testing.assert_array_equal(mh, ph.mean(axis=0))
    assert cd.chains is None
    # PCD starts from its own chains (drawn from the data first) and keeps where they went
    pcd = SGDState.start(rbm, "pcd", 2, 4, data=batch, n_chains=3)
    ref = np.random.default_rng(4)
    start = batch[ref.integers(0, 7, size=3)]
    np.testing.assert_array_equal(pcd.chains, start)
    model_term(pcd, rbm, batch)
    np.testing.assert_array_equal(pcd.chains, gibbs_sweeps(rbm, start, 2, seed=ref)[0])


def test_sgd_epoch_visits_every_row_once_and_stops_or_diverges():
    data = bars_and_stripes(3)
    rbm = initial_rbm(data, 4, seed=0)
    seen = []

    def spy(state, current, batch):
        seen.append(batch)
        return model_term(state, current, batch)

    state = SGDState.start(rbm, "exact", None, 2)
    kw = dict(learning_rate=0.1, momentum=0.5)
    assert sgd_epoch(state, data, 4, term=spy, **kw) == "done"
    assert [len(x) for x in seen] == [4, 4, 4, 2]
    order = np.random.default_rng(2).permutation(len(data))
    np.testing.assert_array_equal(np.concatenate(seen), data[order])
    before = state.w.copy()
    asked = []
    assert sgd_epoch(state, data, 4, stop=lambda: asked.append(1) or len(asked) > 2, **kw) == "stopped"
    assert len(asked) == 3 and not np.array_equal(state.w, before)
    assert sgd_epoch(state, data, 4, learning_rate=1e12, momentum=0.0) == "diverged"
    with pytest.raises(InputError, match="diverged in epoch 1"):
        train(data, 4, epochs=2, learning_rate=1e12, progress=False)


# --------------------------------------------------------------------- training
def test_exact_gradient_reaches_bars_and_stripes_target():
    x = bars_and_stripes(3)
    res = train(x, 12, method="exact", epochs=300, learning_rate=0.2, momentum=0.9, seed=0,
                progress=False)
    assert res.log_likelihood.shape == (300,) and res.evaluation == "exact"
    assert np.all(res.log_likelihood_stderr == 0)
    assert res.log_likelihood[-1] > OPTIMUM_3X3 - 0.35
    assert res.log_likelihood[-1] <= OPTIMUM_3X3 + 1e-9       # cannot beat the data entropy
    assert res.log_likelihood[-1] == pytest.approx(np.mean(log_likelihood(res.rbm, x)), abs=1e-12)


def test_cd1_bias_visible_against_exact_gradient():
    x = bars_and_stripes(3)
    kwargs = dict(epochs=300, learning_rate=0.2, momentum=0.9, seed=0, progress=False)
    exact = train(x, 12, method="exact", **kwargs)
    cd1 = train(x, 12, method="cd1", **kwargs)
    assert cd1.method == "cd1" and cd1.k == 1
    assert cd1.log_likelihood[-1] < exact.log_likelihood[-1] - 0.2


def test_training_is_seeded():
    x = bars_and_stripes(3)
    kwargs = dict(epochs=20, learning_rate=0.1, momentum=0.5, progress=False, batch_size=4)
    a = train(x, 6, method="cd1", seed=3, **kwargs)
    b = train(x, 6, method="cd1", seed=3, **kwargs)
    c = train(x, 6, method="cd1", seed=4, **kwargs)
    np.testing.assert_array_equal(a.rbm.weights, b.rbm.weights)
    np.testing.assert_array_equal(a.log_likelihood, b.log_likelihood)
    assert not np.array_equal(a.rbm.weights, c.rbm.weights)


def test_cd5_and_cdk_spellings_agree():
    x = bars_and_stripes(2)
    kwargs = dict(epochs=10, progress=False, seed=1)
    a = train(x, 4, method="cd5", **kwargs)
    b = train(x, 4, method="cdK", k=5, **kwargs)
    assert a.method == b.method == "cd5"
    np.testing.assert_array_equal(a.rbm.weights, b.rbm.weights)


def test_pcd_learns_bars_and_stripes():
    x = bars_and_stripes(3)
    res = train(x, 12, method="pcd", epochs=500, learning_rate=0.05, momentum=0.0,
                batch_size=2, seed=0, progress=False)
    assert res.method == "pcd" and res.k == 1
    assert res.log_likelihood[-1] > res.log_likelihood[0] + 0.4


@pytest.mark.parametrize("method", ["tap2", "tap3"])
def test_tap_training_learns_bars_and_stripes(method):
    x = bars_and_stripes(3)
    res = train(x, 12, method=method, epochs=100, learning_rate=0.2, momentum=0.9, seed=0,
                progress=False)
    assert res.method == method and res.k is None
    assert res.log_likelihood[-1] > res.log_likelihood[0] + 0.3


def test_weight_decay_shrinks_weights():
    x = bars_and_stripes(2)
    kwargs = dict(epochs=100, learning_rate=0.2, momentum=0.5, seed=0, progress=False)
    free = train(x, 4, method="exact", **kwargs)
    decayed = train(x, 4, method="exact", weight_decay=0.05, **kwargs)
    assert decayed.rbm.weight_norm < 0.8 * free.rbm.weight_norm


def test_ais_evaluation_when_not_enumerable():
    x = bars_and_stripes(3)
    res = train(x, 6, method="cd1", epochs=3, seed=0, progress=False, eval_limit=2,
                ais_chains=200, ais_steps=500)
    assert res.evaluation == "ais"
    exact = np.mean(log_likelihood(res.rbm, x))
    assert np.all(res.log_likelihood_stderr > 0)
    assert abs(res.log_likelihood[-1] - exact) < 4 * res.log_likelihood_stderr[-1] + 1e-3
    value, se, how = mean_log_likelihood(res.rbm, x, limit=2, ais_chains=200, ais_steps=500)
    assert how == "ais" and abs(value - exact) < 4 * se + 1e-3


def test_progress_bar_runs(capsys):
    train(bars_and_stripes(2), 3, epochs=2, progress=True)
    assert "rbm exact" in capsys.readouterr().err


def test_initial_rbm():
    x = bars_and_stripes(3)
    r = initial_rbm(x, 5, seed=0)
    assert r.weights.shape == (9, 5) and np.all(r.hidden_bias == 0)
    assert np.abs(r.weights).max() < 0.1
    np.testing.assert_allclose(r.visible_bias, 0.0, atol=1e-12)     # pixels on half the time


@pytest.mark.parametrize("method, k, expected", [
    ("exact", None, ("exact", None)), ("cd1", None, ("cd", 1)), ("cd12", None, ("cd", 12)),
    ("cdK", 3, ("cd", 3)), ("cd3", 3, ("cd", 3)), ("pcd", None, ("pcd", 1)),
    ("pcd", 4, ("pcd", 4)), ("tap2", None, ("tap2", None)), ("tap3", None, ("tap3", None)),
])
def test_parse_method(method, k, expected):
    assert parse_method(method, k) == expected


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="cdK"), "needs k"),
    (dict(method="cd3", k=2), "contradicts"),
    (dict(method="cd0"), "at least one"),
    (dict(method="exact", k=2), "k applies"),
    (dict(method="sgd"), "unknown method"),
    (dict(epochs=0), "epochs"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(learning_rate=float("nan")), "learning_rate"),
    (dict(momentum=1.0), "momentum"),
    (dict(weight_decay=-1.0), "weight_decay"),
    (dict(batch_size=0), "batch_size"),
    (dict(n_hidden=0), "n_hidden"),
    (dict(n_hidden=None), "n_hidden"),
])
def test_train_rejects_bad_input(kwargs, match):
    args = dict(n_hidden=3, progress=False, epochs=1)
    args.update(kwargs)
    with pytest.raises(InputError, match=match) as err:
        train(bars_and_stripes(2), **args)
    assert "\n" not in str(err.value)


def test_train_rejects_bad_data():
    with pytest.raises(InputError, match="2-D"):
        train(np.zeros(4), 3, progress=False)
    with pytest.raises(InputError, match="0 and 1"):
        train(np.full((3, 4), 0.3), 3, progress=False)
    with pytest.raises(InputError, match="diverged"):
        train(bars_and_stripes(3), 4, learning_rate=1e308, momentum=0.9, progress=False,
              epochs=30)


# --------------------------------------------------------------------- shipped model
def test_shipped_model_is_near_optimal():
    rbm = RBM.load(SHIPPED)
    assert (rbm.n_visible, rbm.n_hidden) == (9, 12)
    assert np.mean(log_likelihood(rbm, bars_and_stripes(3))) > OPTIMUM_3X3 - 0.35


# ---------------------------------------------------------------------------- CLI
def test_cli_json(tmp_path, capsys):
    out = tmp_path / "m.npz"
    rc = main(["rbm-train", "--dataset", "bars-and-stripes", "--size", "3", "--hidden", "12",
               "--method", "exact", "--epochs", "300", "--seed", "0", "--out", str(out), "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert {"method", "epochs", "seconds", "log_likelihood"} <= set(d)
    assert d["method"] == "exact" and d["epochs"] == 300 and len(d["log_likelihood"]) == 300
    assert d["log_likelihood"][-1] > OPTIMUM_3X3 - 0.35
    rbm = RBM.load(out)
    assert d["log_likelihood"][-1] == pytest.approx(np.mean(log_likelihood(rbm, bars_and_stripes(3))))


def test_saved_model_loads_in_rbm_report(tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert main(["rbm-train", "--size", "2", "--hidden", "3", "--epochs", "5", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["rbm-report", "--weights", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_visible"] == 4 and report["n_hidden"] == 3
    assert report["log_partition"] == pytest.approx(log_partition(RBM.load(out)), abs=1e-10)


def test_cli_cd_spellings(capsys):
    outs = []
    for args in (["--method", "cd5"], ["--method", "cdK", "--k", "5"]):
        assert main(["rbm-train", "--size", "2", "--hidden", "3", "--epochs", "4", "--json"] + args) == 0
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0]["method"] == outs[1]["method"] == "cd5"
    assert outs[0]["log_likelihood"] == outs[1]["log_likelihood"]


def test_cli_text_output(capsys):
    assert main(["rbm-train", "--size", "2", "--hidden", "3", "--epochs", "3"]) == 0
    assert "final mean ln p" in capsys.readouterr().out


@pytest.mark.parametrize("args, match", [
    (["--size", "5"], "size"),
    (["--dataset", "digits", "--size", "3"], "--size"),
    (["--method", "cdK"], "needs k"),
    (["--method", "foo"], "unknown method"),
    (["--epochs", "0"], "epochs"),
    (["--hidden", "-1"], "n_hidden"),
    (["--lr", "nan"], "learning_rate"),
    (["--momentum", "2"], "momentum"),
    (["--out", "/nonexistent/dir/m.npz"], "no such directory"),
    (["--out", "model.txt"], ".npz"),
])
def test_cli_bad_input_is_one_line_exit_2(args, match, capsys):
    assert main(["rbm-train", "--epochs", "1"] + args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and match in err and "\n" not in err


def test_cli_subprocess_exit_code():
    proc = subprocess.run([sys.executable, "-m", "explorer", "rbm-train", "--size", "9"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
