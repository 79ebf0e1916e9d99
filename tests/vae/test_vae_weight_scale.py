"""The decoder weight scale c: scaled sessions, the curve along c, checked against a quadrature written here."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from explorer.errors import InputError
from explorer.vae import PointAnalysis, scale_decoder


# ------------------------------------------------------------------ an independent reference
def _decoder_arrays(model):
    """The decoder's weights as numpy arrays (logits = W2 tanh(W1 z + b1) + b2)."""
    l1, l2 = model.decoder[0], model.decoder[2]
    return [t.detach().to("cpu", torch.float64).numpy() for t in (l1.weight, l1.bias, l2.weight, l2.bias)]


def _log_joint_numpy(model, c, x, z, chunk=50000):
    """ln p(x, z) for points z (N, 2) with every decoder weight matrix times c, written with numpy only."""
    w1, b1, w2, b2 = _decoder_arrays(model)
    out = []
    for s in range(0, z.shape[0], chunk):
        h = np.tanh(z[s:s + chunk] @ (c * w1).T + b1)
        logits = h @ (c * w2).T + b2
        # Bernoulli: x * logits - softplus(logits), summed over pixels; prior N(0, I)
        ll = (x * logits - np.logaddexp(0.0, logits)).sum(axis=1)
        out.append(ll - 0.5 * np.sum(z[s:s + chunk] ** 2, axis=1) - math.log(2 * math.pi))
    return np.concatenate(out)


def _grid(lo1, hi1, lo2, hi2, n):
    z1, z2 = np.linspace(lo1, hi1, n), np.linspace(lo2, hi2, n)
    pts = np.stack(np.meshgrid(z1, z2, indexing="xy"), axis=-1).reshape(-1, 2)
    return pts, (z1[1] - z1[0]) * (z2[1] - z2[0])


def brute_force_neg_log_px(model, c, x, n_coarse=121, n_fine=201):
    """-ln ∫ p(x, z) dz: a plain rectangle rule on a uniform grid over the prior's ±9 box, then a
    uniform fine grid over the box where the coarse grid saw more than e^-40 of its peak."""
    pts, area = _grid(-9, 9, -9, 9, n_coarse)
    lj = _log_joint_numpy(model, c, x, pts)
    keep = pts[lj > lj.max() - 40.0]
    pad = 2 * 18.0 / (n_coarse - 1)
    lo, hi = keep.min(axis=0) - pad, keep.max(axis=0) + pad
    pts, area = _grid(lo[0], hi[0], lo[1], hi[1], n_fine)
    lj = _log_joint_numpy(model, c, x, pts)
    return -float(logsumexp(lj) + math.log(area))


def gauss_hermite_neg_elbo(model, c, x, mu, logvar, n=100):
    """E_q[ln q - ln p(x, z)] by a tensor Gauss-Hermite rule in q's own coordinates."""
    t, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    sigma = np.exp(0.5 * np.asarray(logvar))
    e1, e2 = np.meshgrid(t, t, indexing="xy")
    eps = np.stack([e1.ravel(), e2.ravel()], axis=1)
    ww = np.outer(w, w).ravel()
    z = np.asarray(mu) + sigma * eps
    logq = -0.5 * np.sum(eps ** 2, axis=1) - math.log(2 * math.pi) - 0.5 * float(np.sum(logvar))
    return float(np.dot(ww, logq - _log_joint_numpy(model, c, x, z)))


@pytest.fixture(scope="module")
def session(shipped_session):
    return shipped_session


@pytest.mark.parametrize("c", [0.5, 2.0])
@pytest.mark.parametrize("index", [3, 16])
def test_scaled_decoder_matches_independent_quadrature(session, c, index):
    x, _ = session.test_image(index)
    pa = session.scaled(c).point(index)
    ref = brute_force_neg_log_px(session.model64, c, x)
    # the project's refinement stops at 1e-4 nats; here it agrees to ~1e-10
    assert pa.exact.free_energy == pytest.approx(ref, abs=1e-5)
    assert pa.exact.quadrature_error < 1e-4
    # -ELBO with the encoder's (unchanged) q
    ref_elbo = gauss_hermite_neg_elbo(session.model64, c, x, pa.mu, pa.logvar)
    assert pa.exact.neg_elbo == pytest.approx(ref_elbo, abs=1e-5)
    assert pa.exact.neg_elbo_only() == pytest.approx(ref_elbo, abs=1e-5)


def test_reference_quadrature_is_itself_right_at_c1(session):
    # the test's own quadrature agrees with the project's at the trained decoder (a check of the check)
    x, _ = session.test_image(5)
    assert brute_force_neg_log_px(session.model64, 1.0, x) == pytest.approx(session.point(5).exact.free_energy,
                                                                             abs=1e-5)


def test_scale_decoder_scales_weights_only(session):
    m = session.model64
    s = scale_decoder(m, 3.0)
    for (name, p), (_, q) in zip(m.named_parameters(), s.named_parameters()):
        if name.startswith("decoder") and name.endswith("weight"):
            torch.testing.assert_close(q, 3.0 * p)
        else:
            torch.testing.assert_close(q, p)      # biases and the whole encoder unchanged
    assert s.weight_scale == 3.0 and scale_decoder(s, 0.5).weight_scale == 1.5
    assert getattr(m, "weight_scale", 1.0) == 1.0      # the original is untouched


def test_scaled_sessions_are_cached_and_share_the_encoder(session):
    assert session.scaled(1.0) is session and session.scaled(1) is session
    s2 = session.scaled(2.0)
    assert s2 is session.scaled(2.0) and s2.weight_scale == 2.0 and session.weight_scale == 1.0
    assert s2.scaled(1.0) is session and s2.scaled(0.5) is session.scaled(0.5)   # c is relative to the trained model
    assert s2.dataset is session.dataset and s2.n_test == session.n_test
    p1, p2 = session.point(3), s2.point(3)
    assert p2 is not p1 and s2.point(3) is p2
    np.testing.assert_array_equal(p1.mu, p2.mu)                  # same q(z|x)
    np.testing.assert_array_equal(p1.logvar, p2.logvar)
    assert p2.lam_critical == p1.lam_critical                      # λ* depends on q only
    assert p2.exact.free_energy != pytest.approx(p1.exact.free_energy, abs=0.1)
    rep = s2.report(3)
    assert rep["weight_scale"] == 2.0 and rep["exact_free_energy"] == p2.exact.free_energy
    assert session.report(3)["weight_scale"] == 1.0
    # only a few scaled sessions are kept
    for c in (0.3, 0.4, 0.6, 0.7, 0.8):
        session.scaled(c)
    assert len(session._scaled) <= 4


@pytest.mark.parametrize("bad, match", [(0.0, "must be > 0"), (-1.0, "must be > 0"), (math.nan, "finite"),
                                        (math.inf, "finite"), ("two", "must be a number")])
def test_bad_weight_scale(session, bad, match):
    with pytest.raises(InputError, match=match) as exc:
        session.scaled(bad)
    assert "\n" not in str(exc.value) and "weight_scale" in str(exc.value)
    with pytest.raises(InputError, match="weight_scale"):
        session.weight_scale_curve(0, [1.0, bad])
    with pytest.raises(InputError):
        scale_decoder(session.model64, bad)


def test_weight_scale_curve(session):
    scales = np.geomspace(0.25, 4.0, 5)
    cur = session.weight_scale_curve(16, scales)
    assert {f.name for f in dataclasses.fields(cur)} >= {"scale", "exact", "neg_elbo", "gap"}
    np.testing.assert_array_equal(cur.scale, scales)
    np.testing.assert_allclose(cur.gap, cur.neg_elbo - cur.exact, rtol=0, atol=1e-12)
    assert np.all(cur.gap > 0) and np.all(cur.error < 1e-4) and cur.method == "quadrature"
    # c = 1 is the trained model; the other points are the scaled sessions' exact numbers
    assert cur.exact[2] == pytest.approx(session.point(16).exact.free_energy, abs=1e-12)
    pa = session.scaled(scales[3]).point(16)
    assert cur.exact[3] == pytest.approx(pa.exact.free_energy, abs=1e-9)
    assert cur.neg_elbo[3] == pytest.approx(pa.exact.neg_elbo, abs=1e-4)
    assert session.weight_scale_curve(16, scales) is cur          # cached
    assert session.scaled(2.0).weight_scale_curve(16, scales) is cur   # c stays relative to the trained model
    # a much stronger decoder with the same q: the encoder's q fits far worse
    assert cur.gap[-1] > 3 * cur.gap[2]


@settings(max_examples=6, deadline=None)
@given(c=st.floats(0.25, 4.0))
def test_neg_elbo_bounds_neg_log_px_for_every_scale(session, c):
    x, _ = session.test_image(11)
    pa = PointAnalysis(scale_decoder(session.model64, c), x, n_samples=10, n_iwae=10)
    ex = pa.exact
    assert ex.neg_elbo_only() >= ex.free_energy > 0
    assert ex.quadrature_error < 1e-4
