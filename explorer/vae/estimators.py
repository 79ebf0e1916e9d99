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
from .results import ImportanceWeights, PSISResult

DEFAULT_IWAE_KS = (1, 10, 100, 1000, 5000)
CHUNK = 16384
PSIS_K_MAX = 0.7        # Vehtari et al.: importance sampling is unreliable for k-hat above min(1 - 1/log10 S, 0.7)


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

    The groups are independent, so the standard deviation of their values over sqrt(groups) is the
    standard error of the estimate. It is a valid one whenever the group value has a finite
    variance: it lies between the mean and the maximum of its K values ``ln w``, so it does whenever
    ``ln w`` does, e.g. for weights with a Pareto tail of any index λ* > 0 (``ln w`` then has an
    exponential right tail) and a light left tail (docs/physics.md, section 7). Finite moments of
    ``w`` itself are not needed.

    Returns
    -------
    bound, stderr : ndarray
        ``stderr`` is NaN where only one group fits (no spread to measure).
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


def pareto_k_threshold(n_samples):
    """The k-hat above which an importance-sampling estimate from ``n_samples`` draws is unreliable.

    ``min(1 - 1/log10(S), 0.7)`` (Vehtari, Simpson, Gelman, Yao, Gabry, "Pareto smoothed importance
    sampling", JMLR 2024): 0.7 from S ≈ 2154 draws on, stricter below.
    """
    n = int(n_samples)
    return float(min(1.0 - 1.0 / math.log10(n), PSIS_K_MAX)) if n > 10 else 0.0


def psis(log_w):
    """Pareto-smoothed importance sampling of the weights ``exp(log_w)`` (ArviZ's implementation).

    Fits a generalized Pareto law to the largest ``3 sqrt(S)`` weights (``r_eff = 1``: independent
    draws) and replaces them by its quantiles; its shape is k-hat.

    Returns
    -------
    PSISResult
    """
    # lazy: about 1 s of imports (scipy.signal) that a kernel may never need
    from arviz_stats.base import array_stats

    lw = np.asarray(log_w, dtype=np.float64).reshape(-1)
    top = float(lw.max())
    try:
        # arviz-stats takes minus the log ratios (a log-likelihood, as in PSIS-LOO)
        smoothed, k_hat = array_stats.psislw(-lw, r_eff=1.0)
    except ValueError:                            # fewer than 5 tail draws, or a flat tail
        smoothed, k_hat = lw - logsumexp(lw), math.nan
    smoothed = np.asarray(smoothed, dtype=np.float64)
    k_hat = float(k_hat)
    # smoothed = (lw - max) - C below the tail (the fit replaces only the largest draws), where
    # C = ln Σ exp(smoothed shifted weights): recover it from the lower half to undo the normalisation
    low = lw <= np.median(lw)
    c = float(np.median((lw[low] - top) - smoothed[low]))
    return PSISResult(k_hat=k_hat, log_mean=top + c - math.log(lw.size),
                      ess=float(1.0 / np.sum(np.exp(2.0 * smoothed))), log_weights=smoothed)


def importance_weight_diagnostics(log_w, lam_critical=math.inf):
    """What the importance weights ``w = p(x, z)/q(z|x)`` of draws z ~ q say about their own estimates.

    Parameters
    ----------
    log_w : array-like
        ln w of independent draws from q.
    lam_critical : float
        λ* (E_q[w^s] is finite exactly for s < λ*), known exactly for the VAE; inf for a light tail.

    Returns
    -------
    ImportanceWeights
    """
    lw = np.asarray(log_w, dtype=np.float64).reshape(-1)
    lam = float(lam_critical)
    total = logsumexp(lw)
    ps = psis(lw)
    k_hat = ps.k_hat
    threshold = pareto_k_threshold(lw.size)
    return ImportanceWeights(
        log_w=lw,
        n=int(lw.size),
        lam_critical=lam,
        pareto_k_exact=0.0 if math.isinf(lam) else 1.0 / lam,
        pareto_k_hat=k_hat,
        k_threshold=threshold,
        reliable=bool(math.isfinite(k_hat) and k_hat <= threshold),
        ess=float(1.0 / np.sum(np.exp(2.0 * (lw - total)))),
        psis_ess=ps.ess,
        raw_free_energy=-float(total - math.log(lw.size)),
        psis_free_energy=-ps.log_mean,
        variance_finite=bool(lam > 2.0),
    )
