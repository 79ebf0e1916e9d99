"""Monte Carlo estimates from samples z ~ q(z|x): what a practitioner would see.

All reductions run in float64 with log-sum-exp, so that ``ln mean w`` of 5000
importance weights spanning hundreds of nats neither overflows nor underflows.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats
import torch
from scipy.special import logsumexp

from ..errors import InputError
from ._validation import check_array_1d, check_int
from .free_energy import MAX_ORDER, cumulants_from_moments

DEFAULT_IWAE_KS = (1, 10, 100, 1000, 5000)
CHUNK = 16384


@torch.no_grad()
def sample_log_weights(model, x, mu, logvar, n_samples, seed=0, chunk=CHUNK):
    """Draw z ~ q(z|x) and return ``ln p(x, z)`` and ``ln q(z|x)`` as float64 numpy arrays.

    Parameters
    ----------
    model : VAE
        Evaluated in its own dtype on its own device (use a float64 copy for exact work).
    x : tensor (n_input,)
    mu, logvar : tensor (n_latent,)
    n_samples : int
    seed : int
        Seeds a generator on the model's device.
    chunk : int
        Samples per decoder call (bounds memory).

    Returns
    -------
    log_joint, log_q : ndarray (n_samples,)
    """
    n_samples = check_int(n_samples, "n_samples", lo=2)
    gen = torch.Generator(device=model.device).manual_seed(int(seed))
    std = torch.exp(0.5 * logvar)
    lj, lq = [], []
    for start in range(0, n_samples, chunk):
        m = min(chunk, n_samples - start)
        eps = torch.randn((m, mu.shape[-1]), dtype=mu.dtype, device=mu.device, generator=gen)
        z = mu + std * eps
        lj.append(model.log_joint(x, z).double().cpu())
        lq.append(model.log_q(z, mu, logvar).double().cpu())
    return torch.cat(lj).numpy(), torch.cat(lq).numpy()


def mean_stderr(values):
    """Sample mean and its standard error."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def iwae_bounds(log_w, ks=DEFAULT_IWAE_KS):
    """IWAE free energies ``-L_K = -E[ln (1/K) Σ_k w_k]`` for each K, from one pool of log weights.

    The pool is cut into consecutive groups of K (a remainder is left out); each group gives
    one ``ln mean w`` (stable log-mean-exp). When the pool size is a multiple of every K and
    each K divides the next (50 000 and K = 1, 10, 100, 1000, 5000), groups of a larger K are
    unions of groups of the smaller one, so the estimates are non-increasing in K for every
    pool (concavity of ln), not just on average.

    Returns
    -------
    bound, stderr : ndarray
        ``stderr`` is NaN where only one group fits.
    n_groups : ndarray of int
    """
    lw = np.asarray(log_w, dtype=np.float64)
    ks = [check_int(k, "K", lo=1) for k in np.atleast_1d(ks)]
    bound, se, groups = [], [], []
    for k in ks:
        g = lw.size // k
        if g < 1:
            raise InputError(f"IWAE with K = {k} needs at least {k} samples, have {lw.size}")
        lme = logsumexp(lw[:g * k].reshape(g, k), axis=1) - math.log(k)
        bound.append(-float(lme.mean()))
        se.append(float(lme.std(ddof=1) / math.sqrt(g)) if g > 1 else float("nan"))
        groups.append(g)
    return np.array(bound), np.array(se), np.array(groups)


def free_energy_lambda_mc(log_w, lams):
    """``F(λ) = -ln mean(w^λ)`` and its delta-method standard error, for each λ.

    The standard error of ``ln mean r`` is ``sd(r) / (sqrt(n) mean(r))`` with
    ``r = exp(λ ln w - max)`` (the shift cancels in the ratio).
    """
    lw = np.asarray(log_w, dtype=np.float64)
    lams = check_array_1d(lams, "lam", lo=0.0)
    vals, ses = [], []
    for lam in lams:
        a = lam * lw
        vals.append(-float(logsumexp(a) - math.log(a.size)))
        r = np.exp(a - a.max())
        ses.append(float(r.std(ddof=1) / (math.sqrt(r.size) * r.mean())))
    return np.array(vals), np.array(ses)


def _sample_cumulants(v, order):
    """k-statistics (unbiased) up to order 4 via scipy.stats.kstat; plug-in cumulants above."""
    out = [float(scipy.stats.kstat(v, n)) for n in range(1, min(order, 4) + 1)]
    if order > 4:
        c = v - v.mean()
        central = [float(np.mean(c ** n)) for n in range(2, order + 1)]
        out += list(cumulants_from_moments(float(v.mean()), central)[4:])
    return np.array(out)


def sample_cumulants(values, order=4, n_boot=100, seed=0):
    """Cumulants of V from samples with bootstrap standard errors.

    Parameters
    ----------
    values : array-like
        Samples of V = ln q - ln p(x, z), z ~ q.
    order : int
        Highest order (k-statistics up to 4, plug-in sample cumulants above).
    n_boot : int
        Bootstrap resamples for the error bars.

    Returns
    -------
    kappa, stderr : ndarray (order,)
    """
    order = check_int(order, "order", lo=1, hi=MAX_ORDER)
    v = np.asarray(values, dtype=np.float64)
    if v.size < 5:
        raise InputError("sample cumulants need at least 5 samples")
    kappa = _sample_cumulants(v, order)
    rng = np.random.default_rng(seed)
    boots = np.array([_sample_cumulants(v[rng.integers(0, v.size, v.size)], order) for _ in range(n_boot)])
    return kappa, boots.std(axis=0, ddof=1)
