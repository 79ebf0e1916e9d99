"""The IWAE coverage experiment's pieces (tests/vae/test_vae_iwae_stderr.py measures the coverage,
benchmarks/quoted_numbers.py quotes its counts): fixed seeds, independent pools, and the exact
expectation of the K = 2 estimate by quadrature."""

import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from explorer.vae import PointAnalysis
from explorer.vae.device import cpu_threads

DIGIT = 16
REPEATS = 200


def seeds(k, n=REPEATS):
    """``n`` seeds for torch's generator, spread out by numpy's SeedSequence (not consecutive integers)."""
    return [int(s) for s in np.random.SeedSequence([20261206, k]).generate_state(n)]


def pools(model, x, k, pool):
    """The IWAE estimate and standard error at K = k of REPEATS independent pools of ``pool`` draws."""
    est, se = [], []
    with cpu_threads(1):                   # a tiny encoder call per pool: no thread pool to wake
        for seed in seeds(k):
            it = PointAnalysis(model, x, n_samples=100, n_iwae=pool, seed=seed).iwae([k])
            est.append(it.bound[0])
            se.append(it.stderr[0])
    return np.array(est), np.array(se)


def iwae2_exact(pa, nodes=64):
    """E[-ln((w_1 + w_2)/2)], z_1, z_2 ~ q independent: a tensor Gauss–Hermite rule over (ε_1, ε_2) ∈ R⁴."""
    xs, ws = hermegauss(nodes)
    ws = ws / math.sqrt(2 * math.pi)
    e1, e2 = np.meshgrid(xs, xs, indexing="ij")
    eps = np.stack([e1.ravel(), e2.ravel()], axis=1)
    weight = np.outer(ws, ws).ravel()
    sd = np.exp(0.5 * pa.logvar)
    log_q = -0.5 * np.sum(eps ** 2, axis=1) - np.sum(np.log(sd)) - math.log(2 * math.pi)
    lw = pa._log_joint_np(pa.mu + sd * eps) - log_q
    total = sum(weight[s:s + 512] @ (np.logaddexp(lw[s:s + 512, None], lw[None, :]) @ weight)
                for s in range(0, lw.size, 512))
    k1 = -float(weight @ lw)                # K = 1: -ELBO, known from the adaptive quadrature
    return k1, -(total - math.log(2.0))
