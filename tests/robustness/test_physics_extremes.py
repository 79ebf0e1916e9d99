"""Every public physics function and the rbm-report CLI at the extremes (hypothesis).

Temperatures 1e-3 .. 1e3, weight norms 0 .. 1e3, biases up to +-1e3, sizes up to the
enumeration limit (explicit examples only: a 24 x 1 and a 1 x 24 model). Every call either
returns finite numbers or raises a clear :class:`explorer.errors.InputError`; warnings are
errors (none may escape to a user). Checked against independent references computed here
by brute force: ``-E_min/T <= ln Z <= -E_min/T + n ln 2``, the Gibbs-Bogoliubov bound for
every product law, probabilities and magnetisations in [0, 1].

tests/rbm/test_properties.py covers mean field vs exact, thermodynamics, marginals, TAP and
the first cumulant on random models; this file adds log_partition / free_energy /
clamped_free_energy / log_likelihood against brute force, the GBF bound at arbitrary and
edge magnetisations, F(lambda), every cumulant order and reference, the three sweeps, AIS,
the CLI, and the limit sizes.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from explorer.cli import EXIT_BAD_INPUT, main
from explorer.errors import EnumerationLimitError, InputError
from explorer.rbm import (
    DEFAULT_ENUMERATION_LIMIT,
    RBM,
    clamped_free_energy,
    free_energy,
    log_likelihood,
    log_partition,
    marginals,
    thermodynamics,
)
from explorer.rbm.cumulants import MAX_ORDER, cumulant_expansion, lambda_free_energy
from explorer.rbm.meanfield import gbf_free_energy, mean_field
from explorer.rbm.sampling import ais_log_partition
from explorer.rbm.sweeps import lambda_sweep, temperature_sweep, weight_norm_sweep
from explorer.rbm.tap import tap

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# log-uniform over [1e-3, 1e3], the ends included
temperatures = st.one_of(st.sampled_from([1e-3, 1.0, 1e3]),
                         st.floats(-3.0, 3.0).map(lambda e: float(10.0 ** e)))
norms = st.one_of(st.sampled_from([0.0, 1e3]), st.floats(-3.0, 3.0).map(lambda e: float(10.0 ** e)))
bias_scales = st.sampled_from([0.0, 1e-3, 1.0, 30.0, 1e3])


@st.composite
def models(draw, max_units=5):
    nv = draw(st.integers(1, max_units))
    nh = draw(st.integers(1, max_units))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = rng.normal(size=(nv, nh))
    w *= draw(norms) / np.linalg.norm(w)
    scale = draw(bias_scales)
    a = np.clip(rng.normal(size=nv) * scale, -1e3, 1e3)
    b = np.clip(rng.normal(size=nh) * scale, -1e3, 1e3)
    if draw(st.booleans()):                     # biases exactly at the edge, mixed signs
        a = np.where(rng.random(nv) < 0.5, -1e3, 1e3) * (scale > 0)
    return RBM(w, a, b)


def strict(fn, *args, **kwargs):
    """Call with every warning an error; an InputError is returned, never raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            assert str(exc) and "\n" not in str(exc)
            return exc


def states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def brute_energies(rbm):
    v, h = states(rbm.n_visible), states(rbm.n_hidden)
    return -(v @ rbm.visible_bias)[:, None] - (h @ rbm.hidden_bias)[None, :] - v @ rbm.weights @ h.T


def tol(scale):
    return 1e-9 * max(1.0, abs(scale))


# ------------------------------------------------------------------------ exact layer
@FAST
@given(rbm=models(), t=temperatures)
def test_exact_layer_is_finite_and_within_brute_force_bounds(rbm, t):
    ln_z = strict(log_partition, rbm, t)
    f = strict(free_energy, rbm, t)
    th = strict(thermodynamics, rbm, t)
    vis, hid = strict(marginals, rbm, t)
    for x in (ln_z, f, th.free_energy, th.internal_energy, th.entropy, th.heat_capacity):
        assert isinstance(x, float) and math.isfinite(x)
    e_min = brute_energies(rbm).min()
    n = rbm.n_visible + rbm.n_hidden
    assert -e_min / t - tol(e_min / t) <= ln_z <= -e_min / t + n * math.log(2) + tol(e_min / t)
    assert f == pytest.approx(-t * ln_z, rel=1e-12, abs=1e-300)
    assert th.free_energy == pytest.approx(f, rel=1e-12, abs=1e-12)
    assert e_min - tol(e_min) <= th.internal_energy
    assert np.all((vis >= 0) & (vis <= 1)) and np.all((hid >= 0) & (hid <= 1))
    # an array of temperatures gives the same numbers as scalars
    both = strict(log_partition, rbm, np.array([t, 2 * t]))
    assert both[0] == pytest.approx(ln_z, rel=1e-12)
    # ln Z is invariant under swapping the layers, and T is the same as scaling every parameter by 1/T
    assert strict(log_partition, rbm.transposed(), t) == pytest.approx(ln_z, rel=1e-10, abs=1e-10)
    if rbm.weight_norm / t < 1e6 and np.abs(rbm.visible_bias).max() / t < 1e6:
        assert strict(log_partition, rbm.scaled(1.0 / t), 1.0) == pytest.approx(ln_z, rel=1e-9, abs=1e-9)


@FAST
@given(rbm=models(), t=temperatures)
def test_clamped_free_energy_and_log_likelihood_are_probabilities(rbm, t):
    v = states(rbm.n_visible)
    fc = strict(clamped_free_energy, rbm, v, t)
    ll = strict(log_likelihood, rbm, v, t)
    assert fc.shape == ll.shape == (v.shape[0],)
    assert np.all(np.isfinite(fc)) and np.all(np.isfinite(ll))
    # F_c(v) by brute force over h
    e = brute_energies(rbm)
    m = (-e / t).max(axis=1)
    ref = -t * (m + np.log(np.exp(-e / t - m[:, None]).sum(axis=1)))
    np.testing.assert_allclose(fc, ref, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(ref).max()))
    p = np.exp(ll)
    assert np.all(ll <= 0) and np.all((p >= 0) & (p <= 1))
    assert p.sum() == pytest.approx(1.0, rel=1e-6)


def test_log_likelihood_is_never_positive():
    rbm = RBM(np.zeros((1, 1)), [0.7], [0.3])
    assert log_likelihood(rbm, [[1.0]], 1e-3)[0] <= 0.0


def test_exact_marginals_never_exceed_one():
    rbm = RBM(np.zeros((2, 1)), [1000.0, 1000.0], [0.0])
    vis, hid = marginals(rbm, 1.0)
    assert np.all((vis >= 0) & (vis <= 1)) and np.all((hid >= 0) & (hid <= 1))


# ------------------------------------------------------------------------ bounds
@FAST
@given(rbm=models(), t=temperatures, data=st.data())
def test_gbf_bound_holds_for_every_product_law_and_the_mean_field_minimum(rbm, t, data):
    f = strict(free_energy, rbm, t)
    unit = st.one_of(st.sampled_from([0.0, 1.0, 1e-300, 1 - 1e-16, 0.5]), st.floats(0.0, 1.0))
    mv = np.array(data.draw(st.lists(unit, min_size=rbm.n_visible, max_size=rbm.n_visible)))
    mh = np.array(data.draw(st.lists(unit, min_size=rbm.n_hidden, max_size=rbm.n_hidden)))
    fq = strict(gbf_free_energy, rbm, mv, mh, t)
    assert math.isfinite(fq) and fq >= f - tol(f)
    mf = strict(mean_field, rbm, t)
    assert math.isfinite(mf.free_energy) and f - tol(f) <= mf.free_energy <= fq + tol(fq) * 1e3
    assert np.all((mf.visible >= 0) & (mf.visible <= 1)) and np.all((mf.hidden >= 0) & (mf.hidden <= 1))
    assert np.all(np.isfinite(mf.minima)) and mf.minima[0] == pytest.approx(mf.free_energy)
    # magnetisations outside [0, 1] are a clear error, not a NaN
    bad = strict(gbf_free_energy, rbm, mv + 2.0, mh, t)
    assert isinstance(bad, InputError)


@FAST
@given(rbm=models(max_units=4), t=temperatures, order=st.sampled_from([2, 3]))
def test_tap_is_finite_with_magnetisations_in_unit_interval(rbm, t, order):
    res = strict(tap, rbm, t, order=order)
    assert math.isfinite(res.free_energy)
    assert np.all((res.visible >= 0) & (res.visible <= 1)) and np.all((res.hidden >= 0) & (res.hidden <= 1))


# ------------------------------------------------------------------------ perturbation theory
@FAST
@given(rbm=models(max_units=4), t=temperatures, reference=st.sampled_from(["mean-field", "independent"]),
       order=st.sampled_from([1, 2, 5, MAX_ORDER]))
def test_cumulant_series_is_finite_and_starts_at_a_bound(rbm, t, reference, order):
    f = strict(free_energy, rbm, t)
    ce = strict(cumulant_expansion, rbm, t, order=order, reference=reference)
    assert ce.kappa.shape == (order,) and np.all(np.isfinite(ce.kappa))
    series = ce.series(1.0)
    assert np.all(np.isfinite(series))
    assert series[0] >= f - tol(f)                       # first order = GBF bound of that reference
    if order >= 2:
        assert ce.kappa[1] >= -1e-9 * max(1.0, abs(ce.kappa[0])) ** 2      # a variance
    assert np.all((ce.visible >= 0) & (ce.visible <= 1)) and np.all((ce.hidden >= 0) & (ce.hidden <= 1))


@FAST
@given(rbm=models(max_units=4), t=temperatures, reference=st.sampled_from(["mean-field", "independent"]))
def test_lambda_free_energy_is_exact_at_one_and_concave(rbm, t, reference):
    f = strict(free_energy, rbm, t)
    lams = np.linspace(-0.5, 1.5, 9)
    fl = strict(lambda_free_energy, rbm, lams, t, reference=reference)
    assert fl.shape == lams.shape and np.all(np.isfinite(fl))
    assert strict(lambda_free_energy, rbm, 1.0, t, reference=reference) == pytest.approx(f, rel=1e-9, abs=1e-9)
    # F(lambda) = -T ln E_q exp(-lambda V / T) is concave in lambda
    second = fl[:-2] - 2 * fl[1:-1] + fl[2:]
    assert np.all(second <= 1e-7 * max(1.0, np.abs(fl).max()))
    # and lies below its tangent at 0: the first-order series
    ce = strict(cumulant_expansion, rbm, t, order=1, reference=reference)
    first = ce.series(lams)[:, 0]
    assert np.all(fl <= first + 1e-9 * max(1.0, np.abs(first).max()))


# ------------------------------------------------------------------------ sweeps
def _check_curves(c, n_units):
    for name in ("exact", "internal_energy", "entropy", "heat_capacity", "mean_field", "tap2", "tap3",
                 "kappa", "series", "exact_lambda"):
        assert np.all(np.isfinite(getattr(c, name))), name
    scale = np.maximum(1.0, np.abs(c.exact))
    assert np.all(c.mean_field >= c.exact - 1e-9 * scale)
    assert np.all(c.series[:, 0] >= c.exact_lambda - 1e-9 * scale) or c.lam != 1.0
    assert np.all(c.entropy >= -1e-9 * scale / c.temperature)
    assert np.all(c.entropy <= n_units * math.log(2) + 1e-9)
    assert np.all(c.heat_capacity >= -1e-9)


@SLOW
@given(rbm=models(max_units=4), order=st.sampled_from([1, 4, 8]), lam=st.sampled_from([1.0, 0.5, 1.5]),
       reference=st.sampled_from(["mean-field", "independent"]))
def test_temperature_sweep_over_six_decades(rbm, order, lam, reference):
    ts = np.geomspace(1e-3, 1e3, 13)
    c = strict(temperature_sweep, rbm, ts, order=order, lam=lam, reference=reference)
    _check_curves(c, rbm.n_visible + rbm.n_hidden)
    assert c.series.shape == (ts.size, order)


@SLOW
@given(rbm=models(max_units=4), t=temperatures)
def test_weight_norm_sweep_up_to_1e3(rbm, t):
    c = strict(weight_norm_sweep, rbm, [0.0, 1e-3, 1.0, 30.0, 1e3], temperature=t, order=4)
    if rbm.weight_norm == 0:
        assert isinstance(c, InputError)
        return
    _check_curves(c, rbm.n_visible + rbm.n_hidden)
    np.testing.assert_allclose(c.weight_norm, [0.0, 1e-3, 1.0, 30.0, 1e3], rtol=1e-12)


@SLOW
@given(rbm=models(max_units=4), t=temperatures)
def test_lambda_sweep(rbm, t):
    lams = np.linspace(-1.0, 2.0, 13)
    c = strict(lambda_sweep, rbm, lams, temperature=t, order=6)
    f = strict(free_energy, rbm, t)
    assert np.all(np.isfinite(c.exact)) and np.all(np.isfinite(c.series)) and np.all(np.isfinite(c.kappa))
    assert c.exact[np.argmin(abs(lams - 1.0))] == pytest.approx(f, rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------------ sampling
@SLOW
@given(rbm=models(max_units=5), t=temperatures, chains=st.sampled_from([1, 7]), steps=st.sampled_from([1, 20]))
def test_ais_is_finite(rbm, t, chains, steps):
    r = strict(ais_log_partition, rbm, t, n_chains=chains, n_steps=steps, seed=0)
    assert math.isfinite(r.log_partition) and np.all(np.isfinite(r.log_weights))
    assert math.isfinite(r.stderr) or chains == 1
    assert set(np.unique(r.samples)) <= {0.0, 1.0}
    # with no couplings every weight is equal and the estimate is exact
    if rbm.weight_norm == 0:
        assert r.log_partition == pytest.approx(strict(log_partition, rbm, t), rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------------ bad input is a clear error
@pytest.mark.parametrize("call", [
    lambda r: log_partition(r, 0.0), lambda r: free_energy(r, -1.0), lambda r: thermodynamics(r, float("nan")),
    lambda r: marginals(r, float("inf")), lambda r: clamped_free_energy(r, [[0, 1]], 1.0),
    lambda r: log_likelihood(r, [[0.5, 0, 1]], 1.0), lambda r: mean_field(r, 0.0), lambda r: tap(r, 1.0, order=4),
    lambda r: cumulant_expansion(r, 1.0, order=MAX_ORDER + 1), lambda r: cumulant_expansion(r, 1.0, order=0),
    lambda r: cumulant_expansion(r, 1.0, reference="nope"), lambda r: lambda_free_energy(r, float("nan"), 1.0),
    lambda r: temperature_sweep(r, []), lambda r: weight_norm_sweep(r, [-1.0]),
    lambda r: lambda_sweep(r, [float("inf")]), lambda r: ais_log_partition(r, 1.0, n_chains=0),
    lambda r: ais_log_partition(r, 1e-3, n_steps=0), lambda r: RBM([[1e400]], [0.0], [0.0]),
], ids=lambda c: "")
def test_bad_input_is_an_input_error(call):
    rbm = RBM.random(3, 2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError) as info:
            call(rbm)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------ the enumeration limit
def _ln_z_one_hidden(w, a, b, t):
    """Independent reference for n_hidden = 1: sum h in {0, 1}, softplus over the visibles."""
    terms = [b[0] * h / t + np.logaddexp(0.0, (a + w[:, 0] * h) / t).sum() for h in (0.0, 1.0)]
    return float(np.logaddexp(*terms))


@pytest.mark.parametrize("t", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("weight_norm,bias", [(1.0, 0.5), (1e3, 1e3)])
def test_log_partition_at_the_size_limit(t, weight_norm, bias):
    n = DEFAULT_ENUMERATION_LIMIT
    rng = np.random.default_rng(7)
    w = rng.normal(size=(n, 1))
    w *= weight_norm / np.linalg.norm(w)
    a = bias * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    b = np.array([-bias])
    ref = _ln_z_one_hidden(w, a, b, t)
    tall, wide = RBM(w, a, b), RBM(w.T, b, a)          # 24 x 1 and 1 x 24
    for rbm in (tall, wide):
        ln_z = strict(log_partition, rbm, t)
        assert ln_z == pytest.approx(ref, rel=1e-11, abs=1e-11)
        th = strict(thermodynamics, rbm, t)
        assert all(math.isfinite(x) for x in (th.free_energy, th.internal_energy, th.entropy, th.heat_capacity))
        assert 0.0 - 1e-9 <= th.entropy <= (n + 1) * math.log(2) + 1e-9
        mf = strict(mean_field, rbm, t)
        assert mf.free_energy >= th.free_energy - tol(th.free_energy)


def test_too_large_to_enumerate_is_a_clear_error():
    n = DEFAULT_ENUMERATION_LIMIT + 1
    rbm = RBM(np.zeros((n, n)), np.zeros(n), np.zeros(n))
    for call in (lambda: log_partition(rbm), lambda: thermodynamics(rbm), lambda: cumulant_expansion(rbm),
                 lambda: temperature_sweep(rbm, [1.0])):
        with pytest.raises(EnumerationLimitError, match="exceeds the limit"):
            call()


# ------------------------------------------------------------------------ the CLI
def _finite_numbers(obj, path=""):
    """Every number in a JSON document, with the keys that hold null (non-finite becomes null)."""
    nulls = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            nulls += _finite_numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            nulls += _finite_numbers(v, f"{path}[{i}]")
    elif obj is None:
        nulls.append(path)
    elif isinstance(obj, float):
        assert math.isfinite(obj), path
    return nulls


@SLOW
@given(rbm=models(max_units=5), t=temperatures, order=st.integers(1, 8), lam=st.sampled_from([0.0, 0.5, 1.0, 1.5]),
       reference=st.sampled_from(["mean-field", "independent"]), norm=st.one_of(st.none(), norms))
@example(rbm=RBM(np.full((3, 2), 1e3 / math.sqrt(6)), [1e3, -1e3, 1e3], [-1e3, 1e3]), t=1e-3, order=8,
         lam=1.5, reference="independent", norm=1e3)
def test_rbm_report_json_is_finite(rbm, t, order, lam, reference, norm, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "model.npz"
    rbm.save(path)
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["rbm-report", "--weights", str(path), "--temperature", repr(t), "--order", str(order),
            "--lam", repr(lam), "--reference", reference, "--ais-chains", "3", "--ais-steps", "5", "--json"]
    if norm is not None:
        argv += ["--weight-norm", repr(norm)]
    with warnings.catch_warnings(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        warnings.simplefilter("error")
        code = main(argv)
    out, err = stdout.getvalue(), stderr.getvalue()
    if code == EXIT_BAD_INPUT:                  # scaling an all-zero W is refused, in one line
        assert norm is not None and rbm.weight_norm == 0 and err.startswith("error: ") and err.count("\n") == 1
        return
    assert code == 0 and err == ""
    rep = json.loads(out)
    nulls = _finite_numbers(rep)
    assert nulls == [], nulls
    assert rep["mean_field"]["free_energy"] >= rep["free_energy"] - tol(rep["free_energy"])
    assert rep["cumulants"]["series"][0] >= rep["cumulants"]["exact"] - tol(rep["free_energy"]) or lam != 1.0
    assert 0 <= min(rep["mean_field"]["visible"]) and max(rep["mean_field"]["visible"]) <= 1


@pytest.mark.parametrize("argv", [
    ["--temperature", "0"], ["--temperature=-1e-3"], ["--temperature", "nan"], ["--temperature", "inf"],
    ["--order", "0"], ["--order", "99"], ["--lam", "nan"], ["--weight-norm=-1"], ["--weight-norm", "inf"],
    ["--ais-chains", "0"], ["--ais-chains", "2", "--ais-steps", "0"],
])
def test_rbm_report_bad_numbers_are_one_line_errors(argv, capsys):
    code = main(["rbm-report", "--random", "3x2"] + argv)
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_rbm_report_too_large_to_enumerate_still_answers(capsys):
    code = main(["rbm-report", "--random", "25x25", "--json", "--ais-chains", "2", "--ais-steps", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rep = json.loads(out)
    assert rep["exact_available"] is False
    assert math.isfinite(rep["mean_field"]["free_energy"])
