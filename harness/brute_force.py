"""Brute force over all joint states: the reference every exact RBM quantity is tested against.

Imported by the tests (tests/rbm, tests/cli, tests/app) and by
benchmarks/rbm_cumulant_precision.py (the 60-digit cumulants). It sums ``exp(-E/T)`` over all
``2^(n_visible + n_hidden)`` joint states, independently of explorer.rbm's enumeration.
"""

import mpmath
import numpy as np
from scipy.special import logsumexp

from explorer.rbm import RBM


def joint_states(rbm):
    """All (v, h) pairs: arrays V (S, nv), H (S, nh) with S = 2^(nv+nh)."""
    n = rbm.n_visible + rbm.n_hidden
    idx = np.arange(1 << n)
    bits = ((idx[:, None] >> np.arange(n)) & 1).astype(float)
    return bits[:, :rbm.n_visible], bits[:, rbm.n_visible:]


def joint_energy(rbm, V, H):
    return -(V @ rbm.visible_bias) - (H @ rbm.hidden_bias) - np.einsum("si,ij,sj->s", V, rbm.weights, H)


class BruteForce:
    """Exact thermodynamics by summing exp(-E/T) over every joint state."""

    def __init__(self, rbm, temperature):
        self.rbm, self.t = rbm, temperature
        self.V, self.H = joint_states(rbm)
        self.E = joint_energy(rbm, self.V, self.H)
        self.log_z = logsumexp(-self.E / temperature)
        self.p = np.exp(-self.E / temperature - self.log_z)

    @property
    def free_energy(self):
        return -self.t * self.log_z

    @property
    def internal_energy(self):
        return self.p @ self.E

    @property
    def heat_capacity(self):
        return self.p @ (self.E - self.internal_energy) ** 2 / self.t ** 2

    @property
    def entropy(self):
        return -(self.p @ np.log(self.p))

    def marginals(self):
        return self.p @ self.V, self.p @ self.H

    def log_p_visible(self, v):
        """ln p(v) by summing over h."""
        out = []
        for row in np.atleast_2d(v):
            mask = np.all(self.V == row, axis=1)
            out.append(logsumexp(-self.E[mask] / self.t) - self.log_z)
        return np.array(out)

    def perturbation(self, mv, mh):
        """(q, V) over joint states for the product law with magnetisations (mv, mh)."""
        th_v, th_h = np.log(mv) - np.log1p(-mv), np.log(mh) - np.log1p(-mh)
        h_q = -self.t * (self.V @ th_v + self.H @ th_h)
        log_q = -h_q / self.t
        q = np.exp(log_q - logsumexp(log_q))
        return q, self.E - h_q, h_q


def small_rbms():
    """A spread of small models: sizes (both orientations), weight norms 0.1..10, as pytest params."""
    import pytest  # only the tests parametrize with these; the benchmarks need no pytest

    cases = []
    for (nv, nh), seed in (((3, 4), 0), ((5, 3), 1), ((4, 4), 2), ((2, 6), 3)):
        base = RBM.random(nv, nh, seed=seed)
        for norm in (0.1, 1.0, 3.0, 10.0):
            cases.append(pytest.param(base.with_weight_norm(norm), id=f"{nv}x{nh}-s{seed}-norm{norm}"))
    return cases


TEMPERATURES = (0.2, 0.5, 1.0, 2.0, 5.0)


def brute_cumulants(rbm, t, th_v, th_h, order, digits=60):
    """Cumulants of V under q by summing over all joint states in 60-digit arithmetic."""
    V, H = joint_states(rbm)
    E = joint_energy(rbm, V, H)
    h_q = -t * (V @ th_v + H @ th_h)
    log_q = -h_q / t
    log_q = log_q - logsumexp(log_q)
    with mpmath.workdps(digits):
        q = [mpmath.exp(mpmath.mpf(x)) for x in log_q]
        z = mpmath.fsum(q)
        q = [x / z for x in q]
        vals = [mpmath.mpf(e) - mpmath.mpf(h) for e, h in zip(E, h_q)]
        raw = [mpmath.fsum(p * v ** n for p, v in zip(q, vals)) for n in range(order + 1)]
        kappa = []
        for n in range(1, order + 1):
            k = raw[n] - mpmath.fsum(mpmath.binomial(n - 1, j - 1) * kappa[j - 1] * raw[n - j]
                                     for j in range(1, n))
            kappa.append(k)
        return np.array([float(k) for k in kappa])
