"""Sampling estimates for RBMs: AIS, reverse AIS, importance sampling, Gibbs chains, CD-k.

Every estimator takes a temperature ``T`` and a seed and is vectorised over chains. A
model at temperature ``T`` is the same as the model with every parameter divided by
``T`` at ``T = 1`` (docs/physics.md), so internally all parameters are scaled by ``1/T``.

Annealed importance sampling (AIS)
----------------------------------
The path of distributions joins a base model with no couplings (visible biases ``a0``,
hidden biases 0) at ``beta = 0`` to the RBM at ``beta = 1``; with the hidden layer summed
out analytically the unnormalised marginal at ``beta`` is::

    f_beta(v) = exp((1 - beta) a0.v + beta a.v) * prod_j (1 + exp(beta (b_j + (W^T v)_j)))

i.e. ``ln f_beta(v) = -F_c^beta(v)``, the clamped free energy of the intermediate model.
``Z_0 = prod_i (1 + exp(a0_i)) * 2^n_hidden`` and ``f_1`` is the RBM's marginal, so the
forward weights ``w = sum_k ln f_{beta_k}(v_{k-1}) - ln f_{beta_{k-1}}(v_{k-1})`` give
``E[exp(w)] = Z / Z_0``. The forward estimate of ``ln Z`` is a stochastic lower bound
(Jensen: ``E[ln Z_hat] <= ln Z``).

Reverse AIS runs the same chain from ``beta = 1`` down to ``0`` started at states
``v ~ p`` (ideally exact model samples; data are the usual stand-in). Its weights satisfy
``E[exp(w)] = Z_0 / Z``: the estimate of ``1/Z`` is the *mean of the weights*, so
``ln Z_hat = ln Z_0 - ln mean(exp(w))``, a stochastic *upper* bound on ``ln Z`` when the
starting states are model samples. Averaging the reciprocals instead,
``ln Z_0 + ln mean(exp(-w))`` (as one well-known library does), is never below the correct
value (arithmetic-harmonic mean inequality) and is not consistent: ``E[exp(-w)] >= Z/Z_0``
with a gap that does not vanish as chains are added, only as the chain equilibrates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ._numerics import sum_softplus
from ._special import expit, logsumexp
from ._validation import check_binary, check_finite_array, check_states, check_temperatures
from .exact import ExactMoments, exact_moments, state_log_weights  # ExactMoments, exact_moments re-exported (__all__)

__all__ = [
    "AISResult", "ImportanceResult", "GibbsResult", "CDEstimate", "ExactMoments",
    "ais_log_partition", "reverse_ais_log_partition", "importance_log_partition",
    "gibbs_sweeps", "gibbs_sample", "cd_correlation", "exact_moments", "exact_samples", "beta_schedule",
    "SCHEDULES", "BASES",
]

#: Names accepted by ``schedule=``.
SCHEDULES = ("linear", "sigmoid")
#: Names accepted by ``base=``.
BASES = ("visible-bias", "data")

#: Largest layer enumerated by :func:`exact_samples` by default (it keeps every state's probability).
DEFAULT_SAMPLING_LIMIT = 20


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class AISResult:
    """An annealed-importance-sampling estimate of ``ln Z(T)``.

    Attributes
    ----------
    log_partition : float
        Estimate of ``ln Z``.
    stderr : float
        Standard error of ``log_partition`` (delta method on the mean weight); NaN with
        one chain.
    log_weights : ndarray of shape (chains,)
        Per-chain log importance weights (forward: estimates of ``Z/Z_0``; reverse: of
        ``Z_0/Z``).
    chains, steps : int
        Number of chains and of intermediate distributions.
    log_base_partition : float
        ``ln Z_0`` of the base model.
    temperature : float
    schedule, base, direction : str
        ``direction`` is ``"forward"`` (lower bound on average) or ``"reverse"`` (upper
        bound on average when started from model samples).
    samples : ndarray of shape (chains, n_visible)
        Final visible states of the chains (approximate model samples for forward AIS).
    """

    log_partition: float
    stderr: float
    log_weights: np.ndarray
    chains: int
    steps: int
    log_base_partition: float
    temperature: float
    schedule: str
    base: str
    direction: str
    samples: np.ndarray = field(repr=False)

    @property
    def free_energy(self) -> float:
        """``-T ln Z_hat``."""
        return -self.temperature * self.log_partition

    @property
    def effective_sample_size(self) -> float:
        """``(sum w)^2 / sum w^2`` of the importance weights."""
        return _ess(self.log_weights)

    def to_dict(self):
        """The keys ``rbm-report`` prints: ``log_partition, stderr, chains, steps``."""
        return {"log_partition": self.log_partition, "stderr": self.stderr,
                "chains": self.chains, "steps": self.steps}


@dataclass(frozen=True)
class ImportanceResult:
    """A plain importance-sampling estimate of ``ln Z(T)`` with a product proposal ``q``.

    Attributes
    ----------
    log_partition, stderr : float
    log_weights : ndarray of shape (n_samples,)
        ``ln [exp(-E/T) / q]`` per sample (or ``-F_c(v)/T - ln q(v)`` with the hidden
        layer summed out).
    n_samples : int
    effective_sample_size : float
        ``(sum w)^2 / sum w^2``; it collapses toward 1 as ``T`` falls.
    proposal_visible, proposal_hidden : ndarray
        The magnetisations of ``q`` actually used (clipped into ``[1e-10, 1 - 1e-10]``).
    temperature : float
    """

    log_partition: float
    stderr: float
    log_weights: np.ndarray
    n_samples: int
    effective_sample_size: float
    proposal_visible: np.ndarray
    proposal_hidden: np.ndarray
    temperature: float

    def to_dict(self):
        return {"log_partition": self.log_partition, "stderr": self.stderr,
                "samples": self.n_samples, "effective_sample_size": self.effective_sample_size}


@dataclass(frozen=True)
class GibbsResult:
    """Final states of block-Gibbs chains.

    Attributes
    ----------
    visible : ndarray of shape (chains, n_visible)
    hidden : ndarray of shape (chains, n_hidden)
        Sampled after the last visible update (so ``(visible, hidden)`` is a joint sample).
    hidden_probabilities : ndarray of shape (chains, n_hidden)
        ``p(h_j = 1 | visible)``.
    steps : int
    temperature : float
    """

    visible: np.ndarray
    hidden: np.ndarray
    hidden_probabilities: np.ndarray
    steps: int
    temperature: float


@dataclass(frozen=True)
class CDEstimate:
    """Contrastive-divergence point estimate of ``E_p[v h^T]`` after ``k`` Gibbs steps.

    Attributes
    ----------
    estimate : ndarray (n_visible, n_hidden)
        ``mean_chains v_k p(h | v_k)^T``.
    stderr : ndarray (n_visible, n_hidden)
        Standard error of each entry over chains.
    exact : ndarray or None
        Exact ``E_p[v h^T]`` (None when the model is too large to enumerate).
    k, chains : int
    temperature : float
    """

    estimate: np.ndarray
    stderr: np.ndarray
    exact: np.ndarray | None
    k: int
    chains: int
    temperature: float

    @property
    def bias(self):
        """``estimate - exact`` (None without the exact value)."""
        return None if self.exact is None else self.estimate - self.exact

    @property
    def max_abs_error(self):
        """``max |estimate - exact|`` (None without the exact value)."""
        return None if self.exact is None else float(np.max(np.abs(self.estimate - self.exact)))


# ------------------------------------------------------------------------ validation
def _temperature(temperature):
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("this estimator takes one temperature, got several")
    return float(t[0])


def _positive_int(x, name):
    if isinstance(x, (bool, np.bool_)):
        raise InputError(f"{name} must be a positive integer, got {x!r}")
    try:
        xi = int(x)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a positive integer, got {x!r}") from None
    if xi != x or xi < 1:
        raise InputError(f"{name} must be a positive integer, got {x!r}")
    return xi


def _nonneg_int(x, name):
    if isinstance(x, (bool, np.bool_)):
        raise InputError(f"{name} must be an integer >= 0, got {x!r}")
    try:
        xi = int(x)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be an integer >= 0, got {x!r}") from None
    if xi != x or xi < 0:
        raise InputError(f"{name} must be an integer >= 0, got {x!r}")
    return xi


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (bool, np.bool_)):
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise InputError(f"seed must be an integer >= 0, got {seed!r}") from None


def _binary_data(data, n_visible, name="data"):
    arr = check_binary(check_states(data, n_visible, name), name)
    if arr.shape[0] == 0:
        raise InputError(f"{name} has no rows")
    return arr


def _scaled(rbm, t):
    return rbm.weights / t, rbm.visible_bias / t, rbm.hidden_bias / t


def _ess(log_weights):
    lw = np.asarray(log_weights, dtype=np.float64)
    return float(np.exp(2 * logsumexp(lw) - logsumexp(2 * lw)))


def _log_mean_and_stderr(log_weights):
    """``ln mean(exp(lw))`` and its delta-method standard error."""
    lw = np.asarray(log_weights, dtype=np.float64)
    n = lw.size
    log_mean = float(logsumexp(lw) - math.log(n))
    if n < 2:
        return log_mean, float("nan")
    r = np.exp(lw - lw.max())
    stderr = float(np.std(r, ddof=1) / (math.sqrt(n) * r.mean()))
    return log_mean, stderr


# ------------------------------------------------------------------------- schedules
def beta_schedule(n_steps, schedule="linear"):
    """Inverse-temperature path ``0 = beta_0 < ... < beta_K = 1`` with ``K = n_steps``.

    Parameters
    ----------
    n_steps : int
        Number of intermediate transitions ``K`` (>= 1).
    schedule : {"linear", "sigmoid"} or array-like
        ``"linear"``: equal steps. ``"sigmoid"``: the upper half of a logistic curve,
        ``beta(u) = (sigma(6u) - 1/2) / (sigma(6) - 1/2)`` for ``u`` evenly spaced in
        ``[0, 1]``: steps shrink toward ``beta = 1``, where the distributions change
        fastest for a trained RBM (the last step is ~100x smaller than the first). An
        explicit increasing array from 0 to 1 is used as given (``n_steps`` is then ignored).

    Returns
    -------
    ndarray of shape (K + 1,)
    """
    if not isinstance(schedule, str):
        betas = check_finite_array(schedule, "schedule", ndim=1)
        if betas.size < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) <= 0):
            raise InputError("an explicit schedule must increase strictly from 0 to 1")
        return betas
    k = _positive_int(n_steps, "n_steps")
    u = np.linspace(0.0, 1.0, k + 1)
    if schedule == "linear":
        return u
    if schedule == "sigmoid":
        s = 6.0
        betas = (expit(s * u) - 0.5) / (expit(s) - 0.5)
        betas[0], betas[-1] = 0.0, 1.0
        return betas
    raise InputError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")


def _base_bias(base, a_scaled, data, n_visible):
    """Visible biases ``a0`` of the base model (no couplings, hidden biases 0)."""
    if base == "visible-bias":
        return np.array(a_scaled)
    if base == "data":
        if data is None:
            raise InputError("base='data' needs data (binary rows, one column per visible unit)")
        d = _binary_data(data, n_visible)
        # Smoothed data means (never exactly 0 or 1): (count + 1/2) / (N + 1).
        p = (d.sum(axis=0) + 0.5) / (d.shape[0] + 1.0)
        return np.log(p) - np.log1p(-p)
    raise InputError(f"unknown base {base!r}; choose one of {', '.join(BASES)}")


# ------------------------------------------------------------------------ the kernel
def _anneal(w, a, b, a0, betas, v, rng, final_transition=True):
    """Run AIS along ``betas`` from states ``v``; return (log weights, final v).

    For each step ``beta -> beta'``: add ``ln f_beta'(v) - ln f_beta(v)`` to the weights,
    then move ``v`` with one block-Gibbs sweep that leaves ``f_beta'`` invariant.
    """
    n, nv = v.shape
    nh = w.shape[1]
    # One product gives both the hidden fields and (a - a0).v.
    wx = np.ascontiguousarray(np.concatenate([w, (a - a0)[:, None]], axis=1))
    wt = np.ascontiguousarray(w.T)
    logw = np.zeros(n)
    two = np.empty((2, n, nh))
    n_trans = betas.size - 1
    chunk = 64
    u = None
    for k in range(n_trans):
        beta, beta_next = betas[k], betas[k + 1]
        x = v @ wx
        field = x[:, :nh]
        field += b
        np.multiply(field, beta_next, out=two[0])
        np.multiply(field, beta, out=two[1])
        sp = sum_softplus(two)
        logw += (beta_next - beta) * x[:, nh] + (sp[0] - sp[1])
        if k == n_trans - 1 and not final_transition:
            break
        j = k % chunk
        if j == 0:
            u = rng.random((min(chunk, n_trans - k), n, nh + nv))
        h = (u[j, :, :nh] < expit(two[0])).astype(np.float64)
        vf = h @ wt
        vf += a
        vf *= beta_next
        vf += (1.0 - beta_next) * a0
        v = (u[j, :, nh:] < expit(vf)).astype(np.float64)
    return logw, v


# ------------------------------------------------------------------------------- AIS
def ais_log_partition(rbm, temperature=1.0, *, n_chains=100, n_steps=1000, schedule="linear",
                      base="visible-bias", data=None, seed=0):
    """Forward annealed importance sampling estimate of ``ln Z(T)``.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    n_chains : int, >= 1
        Independent chains, run together (vectorised).
    n_steps : int, >= 1
        Number of transitions ``K`` between ``beta = 0`` and ``beta = 1``.
    schedule : {"linear", "sigmoid"} or array-like
        See :func:`beta_schedule`.
    base : {"visible-bias", "data"}
        Base model with zero couplings, hidden biases 0 and visible biases ``a/T`` (the
        RBM's own) or the logits of the (smoothed) data means of ``data``.
    data : array-like of shape (n, n_visible), optional
        Binary rows; needed for ``base="data"``.
    seed : int or numpy.random.Generator

    Returns
    -------
    AISResult
        ``E[ln Z_hat] <= ln Z`` (a stochastic lower bound). With zero couplings and
        ``base="visible-bias"`` every weight is equal and the estimate is exact.

    Notes
    -----
    The hidden layer is summed out: weights use the clamped free energy of the intermediate
    model at each ``beta``, which removes the hidden-unit noise from the weights.
    """
    t = _temperature(temperature)
    chains = _positive_int(n_chains, "n_chains")
    betas = beta_schedule(n_steps, schedule)
    rng = _rng(seed)
    w, a, b = _scaled(rbm, t)
    a0 = _base_bias(base, a, data, rbm.n_visible)
    log_z0 = float(sum_softplus(a0) + rbm.n_hidden * math.log(2.0))
    v0 = (rng.random((chains, rbm.n_visible)) < expit(a0)).astype(np.float64)
    logw, v = _anneal(w, a, b, a0, betas, v0, rng, final_transition=True)
    log_mean, stderr = _log_mean_and_stderr(logw)
    return AISResult(log_partition=log_z0 + log_mean, stderr=stderr, log_weights=logw,
                     chains=chains, steps=betas.size - 1, log_base_partition=log_z0,
                     temperature=t, schedule=schedule if isinstance(schedule, str) else "custom",
                     base=base, direction="forward", samples=v)


def reverse_ais_log_partition(rbm, data, temperature=1.0, *, n_chains=100, n_steps=1000,
                              schedule="linear", base="visible-bias", base_data=None, seed=0):
    """Reverse AIS estimate of ``ln Z(T)``, annealing from states ``data`` down to the base.

    Parameters
    ----------
    rbm : RBM
    data : array-like of shape (n, n_visible)
        Binary starting states. The estimate is a stochastic *upper* bound on ``ln Z``
        when they are samples of the model at ``T`` (e.g. :func:`exact_samples`); training
        data of a well-fitted model are the usual stand-in.
    temperature : float, > 0
    n_chains : int or None
        Chains to run; rows of ``data`` are drawn without replacement (with replacement
        when ``n_chains > n``). ``None``: one chain per row, in order.
    n_steps, schedule, seed
        As in :func:`ais_log_partition`.
    base : {"visible-bias", "data"}
        Base model at ``beta = 0``: the RBM's visible biases (default) or the data-mean
        biases of ``base_data``.
    base_data : array-like, optional
        Rows whose means set the ``"data"`` base; default ``data`` itself. A base fitted to
        the very states the chains start from favours them and biases ``ln Z_hat``
        *downward* (about -0.1 nats with 50 starting rows on a 10 x 8 model and few steps),
        which can break the upper-bound property: prefer an independent set or the
        ``"visible-bias"`` base.

    Returns
    -------
    AISResult
        ``direction="reverse"``. The weights estimate ``Z_0/Z``; they are averaged as
        weights, ``ln Z_hat = ln Z_0 - ln mean(exp(w))`` (never the mean of ``exp(-w)``).
    """
    t = _temperature(temperature)
    d = _binary_data(data, rbm.n_visible)
    betas = beta_schedule(n_steps, schedule)[::-1].copy()
    rng = _rng(seed)
    if n_chains is None:
        v0 = d.copy()
    else:
        chains = _positive_int(n_chains, "n_chains")
        rows = rng.choice(d.shape[0], size=chains, replace=chains > d.shape[0])
        v0 = d[rows]
    w, a, b = _scaled(rbm, t)
    a0 = _base_bias(base, a, d if base_data is None else base_data, rbm.n_visible)
    log_z0 = float(sum_softplus(a0) + rbm.n_hidden * math.log(2.0))
    logw, v = _anneal(w, a, b, a0, betas, v0, rng, final_transition=False)
    log_mean, stderr = _log_mean_and_stderr(logw)
    return AISResult(log_partition=log_z0 - log_mean, stderr=stderr, log_weights=logw,
                     chains=v0.shape[0], steps=betas.size - 1, log_base_partition=log_z0,
                     temperature=t, schedule=schedule if isinstance(schedule, str) else "custom",
                     base=base, direction="reverse", samples=v)


# ---------------------------------------------------------------- importance sampling
_Q_CLIP = 1e-10


def importance_log_partition(rbm, temperature=1.0, *, n_samples=1000, proposal=None,
                             sum_hidden=False, seed=0):
    """Plain importance sampling of ``Z(T)`` with a product (mean-field) proposal ``q``.

    ``Z = E_q[exp(-E(v, h)/T) / q(v, h)]``: the estimate is unbiased for ``Z`` for any
    ``q`` with full support, but its variance grows with the mismatch between ``p`` and
    ``q``. From high ``T`` down to the coupling scale the effective sample size collapses
    (from ~n to a few percent of n on a 10 x 8 model with ``weight_scale=3``). At very low
    ``T`` both laws concentrate: the estimate is good if ``q`` sits on the ground state and
    confidently wrong (small ``stderr``, missing mass) if mean field picked another minimum:
    the variance is then effectively infinite but the samples cannot show it.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    n_samples : int, >= 1
    proposal : None, object with ``.visible`` and ``.hidden``, or (m_v, m_h)
        Magnetisations of ``q``. ``None``: the naive mean-field optimum
        ``explorer.rbm.meanfield.mean_field(rbm, temperature)``. Values are clipped into
        ``[1e-10, 1 - 1e-10]`` so that ``q`` covers every state.
    sum_hidden : bool
        Sample only ``v ~ q_v`` and sum the hidden layer out exactly
        (``w = exp(-F_c(v)/T) / q_v(v)``): lower variance, same expectation.
    seed : int or numpy.random.Generator

    Returns
    -------
    ImportanceResult
    """
    t = _temperature(temperature)
    n = _positive_int(n_samples, "n_samples")
    rng = _rng(seed)
    if proposal is None:
        from .meanfield import mean_field

        proposal = mean_field(rbm, t)
    if hasattr(proposal, "visible") and hasattr(proposal, "hidden"):
        m_v, m_h = proposal.visible, proposal.hidden
    else:
        try:
            m_v, m_h = proposal
        except (TypeError, ValueError):
            raise InputError("proposal must be a mean-field result or a pair (m_v, m_h)") from None
    m_v = check_finite_array(m_v, "proposal visible magnetisations", ndim=1, shape=(rbm.n_visible,))
    m_h = check_finite_array(m_h, "proposal hidden magnetisations", ndim=1, shape=(rbm.n_hidden,))
    if np.any((m_v < 0) | (m_v > 1)) or np.any((m_h < 0) | (m_h > 1)):
        raise InputError("proposal magnetisations must lie in [0, 1]")
    m_v = np.clip(m_v, _Q_CLIP, 1 - _Q_CLIP)
    m_h = np.clip(m_h, _Q_CLIP, 1 - _Q_CLIP)
    w, a, b = _scaled(rbm, t)
    v = (rng.random((n, rbm.n_visible)) < m_v).astype(np.float64)
    log_q = v @ (np.log(m_v) - np.log1p(-m_v)) + np.sum(np.log1p(-m_v))
    if sum_hidden:
        log_f = v @ a + sum_softplus(v @ w + b)
    else:
        h = (rng.random((n, rbm.n_hidden)) < m_h).astype(np.float64)
        log_q = log_q + h @ (np.log(m_h) - np.log1p(-m_h)) + np.sum(np.log1p(-m_h))
        log_f = v @ a + h @ b + np.einsum("ni,ij,nj->n", v, w, h)
    logw = log_f - log_q
    log_mean, stderr = _log_mean_and_stderr(logw)
    return ImportanceResult(log_partition=log_mean, stderr=stderr, log_weights=logw, n_samples=n,
                            effective_sample_size=_ess(logw), proposal_visible=m_v,
                            proposal_hidden=m_h, temperature=t)


# ------------------------------------------------------------------------------ Gibbs
def gibbs_sweeps(rbm, v, n_steps, *, temperature=1.0, seed=0, check_input=True):
    """Run ``n_steps`` block-Gibbs sweeps ``v -> h -> v`` from the given visible states.

    The one Gibbs sampler of the package: :func:`gibbs_sample`, :func:`cd_correlation` and
    the CD / PCD model terms of training (:func:`explorer.rbm.training.model_term`) all call it.
    With ``beta = 1/T`` and ``sigma`` the logistic function, a sweep draws every hidden unit,
    then every visible unit, from its exact conditional law::

        p(h_j = 1 | v) = sigma(beta (b_j + (W^T v)_j)),    h ~ Bernoulli(p(h | v))
        p(v_i = 1 | h) = sigma(beta (a_i + (W h)_i)),      v ~ Bernoulli(p(v | h))

    which leaves ``p(v, h) = exp(-E(v, h)/T) / Z`` invariant. Each sweep draws, from ``seed``
    and in this order, one uniform array of shape ``(n_chains, n_hidden)`` and one of shape
    ``(n_chains, n_visible)`` (nothing else): a generator passed as ``seed`` is advanced by
    exactly that much, so callers that share one stream (training) stay reproducible.

    Parameters
    ----------
    rbm : RBM
    v : ndarray of shape (n_chains, n_visible)
        Starting visible states in {0, 1}, one row per chain (not modified).
    n_steps : int, >= 0
        Full sweeps ``k``; with 0 the states are returned as given.
    temperature : float, > 0
    seed : int or numpy.random.Generator
    check_input : bool, default=True
        Check ``v``, ``n_steps`` and ``temperature`` (as scikit-learn's ``check_input``). Callers
        that checked them already pass False, in training's inner loop, where the checks
        would cost about a third of a small minibatch's sweep; ``temperature`` must then be a
        float and ``n_steps`` an int.

    Returns
    -------
    visible : ndarray of shape (n_chains, n_visible)
        The states ``v_k`` after the last sweep.
    hidden_probabilities : ndarray of shape (n_chains, n_hidden)
        ``p(h = 1 | v_k)``, the conditional expectation of the hidden layer at ``v_k`` (CD's
        negative phase uses these probabilities, not samples).
    """
    rng = _rng(seed)
    if check_input:
        t = _temperature(temperature)
        k = _nonneg_int(n_steps, "n_steps")
        v = check_binary(check_states(v, rbm.n_visible, "v"), "v")
    else:
        t, k = temperature, n_steps
    w, a, b = _scaled(rbm, t)
    for _ in range(k):
        ph = expit(v @ w + b)
        h = (rng.random(ph.shape) < ph).astype(np.float64)
        pv = expit(h @ w.T + a)
        v = (rng.random(pv.shape) < pv).astype(np.float64)
    return v, expit(v @ w + b)


def _init_states(init, n_chains, n_visible, rng):
    if init is None:
        chains = _positive_int(n_chains, "n_chains")
        return (rng.random((chains, n_visible)) < 0.5).astype(np.float64)
    v = check_binary(check_states(init, n_visible, "init"), "init")
    if v.shape[0] == 0:
        raise InputError("init has no rows")
    return v.copy()


def gibbs_sample(rbm, temperature=1.0, *, n_chains=100, n_steps=1000, init=None, seed=0):
    """Run block-Gibbs chains ``v -> h -> v`` at temperature ``T``.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    n_chains : int, >= 1
        Ignored when ``init`` is given (one chain per row of ``init``).
    n_steps : int, >= 0
        Full sweeps.
    init : array-like of shape (chains, n_visible), optional
        Binary starting states; default uniform random.
    seed : int or numpy.random.Generator

    Returns
    -------
    GibbsResult
    """
    t = _temperature(temperature)
    k = _nonneg_int(n_steps, "n_steps")
    rng = _rng(seed)
    v = _init_states(init, n_chains, rbm.n_visible, rng)
    v, ph = gibbs_sweeps(rbm, v, k, temperature=t, seed=rng, check_input=False)
    h = (rng.random(ph.shape) < ph).astype(np.float64)
    return GibbsResult(visible=v, hidden=h, hidden_probabilities=ph, steps=k, temperature=t)


# ------------------------------------------------------------------------ enumeration
def exact_samples(rbm, n_samples, temperature=1.0, *, seed=0, limit=None):
    """Independent exact samples ``(v, h) ~ p`` of an enumerable RBM.

    The smaller layer is drawn from its exact marginal (the other layer summed out), then
    the other layer from its conditional.

    Parameters
    ----------
    rbm : RBM
    n_samples : int, >= 1
    temperature : float, > 0
    seed : int or numpy.random.Generator
    limit : int, optional
        Largest ``min(n_visible, n_hidden)`` enumerated (default 20).

    Returns
    -------
    (v, h) : ndarrays of shape (n_samples, n_visible) and (n_samples, n_hidden)
    """
    t = _temperature(temperature)
    n_samples = _positive_int(n_samples, "n_samples")
    rng = _rng(seed)
    o, logf = state_log_weights(rbm, t, limit=DEFAULT_SAMPLING_LIMIT if limit is None else limit)
    p = np.exp(logf - logsumexp(logf))
    n = o.weights.shape[0]
    idx = rng.choice(p.size, size=n_samples, p=p / p.sum())
    s = ((idx[:, None] >> np.arange(n)) & 1).astype(np.float64)
    po = expit((s @ o.weights + o.bias_other) / t)
    other = (rng.random(po.shape) < po).astype(np.float64)
    return (other, s) if o.swapped else (s, other)


# ----------------------------------------------------------------------- CD estimate
def cd_correlation(rbm, data, temperature=1.0, *, k=1, n_chains=None, seed=0, exact=True,
                   limit=None):
    """Contrastive-divergence point estimate of ``E_p[v h^T]`` and the exact value.

    Chains start at rows of ``data`` and take ``k`` block-Gibbs sweeps; the estimate is
    ``mean v_k p(h | v_k)^T`` (hidden probabilities, not samples, as in CD training).
    With ``k`` small and data unlike the model, the estimate is biased toward the data;
    the bias shrinks as ``k`` grows.

    Parameters
    ----------
    rbm : RBM
    data : array-like (n, n_visible), binary
    temperature : float, > 0
    k : int, >= 0
    n_chains : int or None
        ``None``: one chain per data row; otherwise rows drawn with replacement.
    seed : int or numpy.random.Generator
    exact : bool
        Also compute the exact expectation (needs an enumerable model).
    limit : int, optional
        Enumeration limit for the exact value.

    Returns
    -------
    CDEstimate
    """
    t = _temperature(temperature)
    k = _nonneg_int(k, "k")
    rng = _rng(seed)
    d = _binary_data(data, rbm.n_visible)
    if n_chains is None:
        v = d.copy()
    else:
        chains = _positive_int(n_chains, "n_chains")
        v = d[rng.integers(0, d.shape[0], size=chains)]
    v, ph = gibbs_sweeps(rbm, v, k, temperature=t, seed=rng, check_input=False)
    prod = v[:, :, None] * ph[:, None, :]
    est = prod.mean(axis=0)
    se = prod.std(axis=0, ddof=1) / math.sqrt(v.shape[0]) if v.shape[0] > 1 else np.full(est.shape, np.nan)
    ex = exact_moments(rbm, t, limit=limit).correlation if exact else None
    return CDEstimate(estimate=est, stderr=se, exact=ex, k=k, chains=v.shape[0], temperature=t)
