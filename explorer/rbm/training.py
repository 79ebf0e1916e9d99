"""Training RBMs by maximum likelihood: exact, CD-k, PCD and TAP (EMF) gradients.

Every method ascends the mean log-likelihood ``(1/N) sum_n ln p(v_n)`` at ``T = 1``. Its
gradient (docs/physics.md) is a data term minus a model term::

    d/dW <ln p> = <v p(h|v)^T>_data - E_p[v h^T]
    d/da <ln p> = <v>_data          - E_p[v]
    d/db <ln p> = <p(h|v)>_data     - E_p[h]

The methods differ only in the model term:

``exact``
    Enumeration of the smaller layer (:func:`explorer.rbm.sampling.exact_moments`).
``cdK`` (``cd1``, ``cd5``, ...)
    Contrastive divergence: ``k`` Gibbs sweeps started at the minibatch; the point
    estimate ``v_k p(h|v_k)^T`` replaces the expectation (biased toward the data).
``pcd``
    Persistent CD: the chains carry over from one update to the next (``k`` sweeps each).
``tap2``, ``tap3``
    EMF-RBM (Gabrie, Tramel, Krzakala 2015): ``ln Z ~ -F_TAP(m*)/T`` at the TAP fixed
    point ``m*`` (:func:`explorer.rbm.tap.tap`). Because ``m*`` is stationary, the total
    derivative of ``F_TAP(m*(theta), theta)`` equals the partial derivative at fixed ``m``
    (:func:`tap_log_partition_gradient`).

After each epoch the mean log-likelihood of the training data is computed exactly when
the model is enumerable, otherwise estimated with forward AIS (with its standard error).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._special import expit
from ._validation import check_temperatures
from .model import RBM
from .sampling import (
    _binary_data,
    _nonneg_int,
    _positive_int,
    _rng,
    ais_log_partition,
    exact_moments,
)

__all__ = [
    "TrainingResult", "Gradient", "METHODS", "parse_method", "train", "exact_gradient",
    "tap_gradient", "tap_log_partition_gradient", "mean_log_likelihood", "initial_rbm",
]

#: Method names accepted by :func:`train` (``cdK`` needs ``k``; ``cd<k>`` spells it inline).
METHODS = ("exact", "cd1", "cdK", "pcd", "tap2", "tap3")

#: Parameters beyond this magnitude mean the run has diverged (exp(1e8) is no probability).
_MAX_PARAMETER = 1e8

#: Largest ``min(n_visible, n_hidden)`` for which epochs are scored exactly.
DEFAULT_EVAL_LIMIT = 20


@dataclass(frozen=True)
class Gradient:
    """Ascent direction of the mean log-likelihood for ``(W, a, b)``."""
    weights: np.ndarray
    visible_bias: np.ndarray
    hidden_bias: np.ndarray

    def as_tuple(self):
        return self.weights, self.visible_bias, self.hidden_bias


@dataclass(frozen=True)
class TrainingResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    rbm : RBM
        The trained model.
    method : str
        Normalised method name (``"exact"``, ``"cd5"``, ``"pcd"``, ``"tap2"``, ...).
    k : int or None
        Gibbs sweeps per update for CD/PCD.
    epochs : int
    seconds : float
        Wall time of the whole run, evaluation included.
    log_likelihood : ndarray (epochs,)
        Mean ``ln p`` of the training data after each epoch.
    log_likelihood_stderr : ndarray (epochs,)
        0 for exact evaluation, the AIS standard error otherwise.
    evaluation : str
        ``"exact"``, ``"ais"`` or ``"none"``.
    """

    rbm: RBM
    method: str
    k: int | None
    epochs: int
    seconds: float
    log_likelihood: np.ndarray
    log_likelihood_stderr: np.ndarray
    evaluation: str

    def to_dict(self):
        """JSON-ready summary (what ``rbm-train --json`` prints)."""
        return {"method": self.method, "epochs": self.epochs, "seconds": self.seconds,
                "log_likelihood": self.log_likelihood.tolist(),
                "log_likelihood_stderr": self.log_likelihood_stderr.tolist(),
                "evaluation": self.evaluation}


# --------------------------------------------------------------------------- methods
def parse_method(method, k=None):
    """Normalise a method name: returns ``(kind, k)`` with kind in exact/cd/pcd/tap2/tap3.

    ``"cd1"`` and ``"cd<k>"`` (e.g. ``"cd5"``) carry ``k`` in the name; ``"cdK"`` takes it
    from ``k``; ``"pcd"`` uses ``k`` sweeps per update (default 1). A ``k`` that contradicts
    the name is an error.
    """
    if not isinstance(method, str):
        raise InputError(f"method must be a string, got {method!r}")
    k_given = None if k is None else _positive_int(k, "k")
    m = re.fullmatch(r"cd(\d+)", method)
    if m:
        k_name = int(m.group(1))
        if k_name < 1:
            raise InputError(f"{method}: CD needs at least one Gibbs step")
        if k_given is not None and k_given != k_name:
            raise InputError(f"method {method} contradicts k={k_given}")
        return "cd", k_name
    if method == "cdK":
        if k_given is None:
            raise InputError("method cdK needs k (e.g. --k 5), or spell it cd5")
        return "cd", k_given
    if method == "pcd":
        return "pcd", 1 if k_given is None else k_given
    if method in ("exact", "tap2", "tap3"):
        if k_given is not None:
            raise InputError(f"k applies only to CD and PCD, not to {method}")
        return method, None
    raise InputError(f"unknown method {method!r}; choose one of exact, cd1, cd<k> (e.g. cd5), "
                     f"cdK with k, pcd, tap2, tap3")


def _method_name(kind, k):
    return f"cd{k}" if kind == "cd" else kind


# ------------------------------------------------------------------------- gradients
def _positive_phase(rbm, v, t):
    ph = expit((v @ rbm.weights + rbm.hidden_bias) / t)
    n = v.shape[0]
    return (v.T @ ph) / n, v.mean(axis=0), ph.mean(axis=0)


def exact_gradient(rbm, data, temperature=1.0, *, limit=None):
    """Exact gradient of the mean log-likelihood ``<ln p(v)>_data`` at temperature ``T``.

    ``d<ln p>/dW = (<v p(h|v)^T>_data - E_p[v h^T]) / T`` and likewise for the biases; the
    model term is computed by enumeration.

    Returns
    -------
    Gradient
    """
    t = float(check_temperatures(temperature)[0])
    v = _binary_data(data, rbm.n_visible)
    pw, pa, pb = _positive_phase(rbm, v, t)
    mom = exact_moments(rbm, t, limit=limit)
    return Gradient((pw - mom.correlation) / t, (pa - mom.visible) / t, (pb - mom.hidden) / t)


def tap_log_partition_gradient(rbm, m_v, m_h, temperature=1.0, order=2):
    """Partial derivatives of ``ln Z_TAP = -F_TAP(m)/T`` w.r.t. ``(W, a, b)`` at fixed ``m``.

    With ``beta = 1/T``, ``var = m - m^2`` (docs/physics.md formulas)::

        d/dW_ij = beta [m_i m_j + beta W_ij var_i var_j
                        + 2 beta^2 W_ij^2 var_i (1/2 - m_i) var_j (1/2 - m_j)]   (last: order 3)
        d/da = beta m_v,   d/db = beta m_h

    At a stationary point of ``F_TAP`` these equal the total derivatives.
    """
    if order not in (2, 3):
        raise InputError(f"TAP order must be 2 or 3, got {order!r}")
    beta = 1.0 / float(check_temperatures(temperature)[0])
    m_v = np.asarray(m_v, dtype=np.float64)
    m_h = np.asarray(m_h, dtype=np.float64)
    w = rbm.weights
    var_v, var_h = m_v - m_v ** 2, m_h - m_h ** 2
    gw = np.outer(m_v, m_h) + beta * w * np.outer(var_v, var_h)
    if order == 3:
        gw = gw + 2.0 * beta ** 2 * w ** 2 * np.outer(var_v * (0.5 - m_v), var_h * (0.5 - m_h))
    return Gradient(beta * gw, beta * m_v, beta * m_h)


def _tap_fixed_point(rbm, order, temperature=1.0):
    from .tap import tap

    res = tap(rbm, temperature, order=order)
    return res.visible, res.hidden


def tap_gradient(rbm, data, order=2, temperature=1.0):
    """EMF gradient of the mean log-likelihood: data term minus the TAP model term.

    The model term is :func:`tap_log_partition_gradient` at the fixed point returned by
    ``explorer.rbm.tap.tap(rbm, temperature, order)``.
    """
    t = float(check_temperatures(temperature)[0])
    v = _binary_data(data, rbm.n_visible)
    pw, pa, pb = _positive_phase(rbm, v, t)
    m_v, m_h = _tap_fixed_point(rbm, order, t)
    g = tap_log_partition_gradient(rbm, m_v, m_h, t, order)
    return Gradient(pw / t - g.weights, pa / t - g.visible_bias, pb / t - g.hidden_bias)


# ------------------------------------------------------------------------ evaluation
def mean_log_likelihood(rbm, data, *, limit=DEFAULT_EVAL_LIMIT, ais_chains=100, ais_steps=1000,
                        seed=0):
    """Mean ``ln p`` of ``data`` at T = 1: exact when enumerable, else AIS.

    Returns
    -------
    (value, stderr, how) with ``how`` in {"exact", "ais"}; ``stderr`` is 0 when exact.
    """
    from .exact import clamped_free_energy, log_likelihood

    v = _binary_data(data, rbm.n_visible)
    if min(rbm.n_visible, rbm.n_hidden) <= limit:
        return float(np.mean(log_likelihood(rbm, v, 1.0, limit=limit))), 0.0, "exact"
    ais = ais_log_partition(rbm, 1.0, n_chains=ais_chains, n_steps=ais_steps, base="data",
                            data=v, seed=seed)
    value = float(-np.mean(clamped_free_energy(rbm, v, 1.0)) - ais.log_partition)
    return value, float(ais.stderr), "ais"


# -------------------------------------------------------------------------- training
def initial_rbm(data, n_hidden, *, seed=0, weight_scale=0.01):
    """Hinton's starting point: ``W ~ N(0, weight_scale^2)``, ``a`` = logit of the smoothed
    data means, ``b = 0``."""
    v = _data_matrix(data)
    nh = _positive_int(n_hidden, "n_hidden")
    rng = _rng(seed)
    p = (v.sum(axis=0) + 0.5) / (v.shape[0] + 1.0)
    return RBM(rng.normal(0.0, weight_scale, size=(v.shape[1], nh)), np.log(p) - np.log1p(-p),
               np.zeros(nh))


def _data_matrix(data):
    if np.ndim(data) != 2 or np.shape(data)[1] == 0:
        raise InputError(f"data must be a 2-D array with one row per pattern, got shape {np.shape(data)}")
    return _binary_data(data, np.shape(data)[1])


def _check_real(x, name, low=None, high=None, low_open=False, high_open=False):
    try:
        xf = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {x!r}") from None
    if not math.isfinite(xf):
        raise InputError(f"{name} must be finite, got {x!r}")
    if low is not None and (xf < low or (low_open and xf == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low}, got {x!r}")
    if high is not None and (xf > high or (high_open and xf == high)):
        raise InputError(f"{name} must be {'<' if high_open else '<='} {high}, got {x!r}")
    return xf


def train(data, n_hidden=None, *, method="exact", k=None, epochs=100, learning_rate=0.1,
          momentum=0.5, weight_decay=0.0, batch_size=None, seed=0, init=None,
          n_persistent=None, evaluate=True, eval_limit=DEFAULT_EVAL_LIMIT, ais_chains=100,
          ais_steps=1000, progress=True):
    """Train a binary RBM on ``data`` by stochastic gradient ascent of the mean ``ln p``.

    Parameters
    ----------
    data : array-like (n, n_visible), binary
    n_hidden : int
        Hidden units (needed unless ``init`` is given).
    method : str
        ``"exact"``, ``"cd1"``, ``"cd<k>"`` (e.g. ``"cd5"``), ``"cdK"`` with ``k``,
        ``"pcd"``, ``"tap2"`` or ``"tap3"`` (see the module docstring).
    k : int, optional
        Gibbs sweeps per update for ``cdK`` / ``pcd`` (``pcd`` default 1).
    epochs : int, >= 1
    learning_rate : float, > 0
    momentum : float in [0, 1)
        Classical momentum on the parameter velocity.
    weight_decay : float, >= 0
        L2 penalty ``weight_decay * W`` subtracted from the weight gradient.
    batch_size : int, optional
        Rows per update (default ``min(n, 100)``); rows are reshuffled every epoch.
    seed : int
        Seeds initialisation, shuffling, Gibbs chains and AIS: same seed, same result.
    init : RBM, optional
        Starting model (default :func:`initial_rbm`).
    n_persistent : int, optional
        PCD chains (default ``batch_size``).
    evaluate : bool
        Score each epoch (exact when ``min(n_visible, n_hidden) <= eval_limit``, else AIS
        with ``ais_chains`` x ``ais_steps`` and the data-mean base).
    progress : bool
        Show a ``tqdm.auto`` bar (a widget in notebooks, text in terminals).

    Returns
    -------
    TrainingResult
    """
    t0 = time.perf_counter()
    kind, k = parse_method(method, k)
    if init is None:
        if n_hidden is None:
            raise InputError("train needs n_hidden (or an initial RBM via init=)")
        v = _data_matrix(data)
        rbm = initial_rbm(v, n_hidden, seed=seed)
    else:
        if not isinstance(init, RBM):
            raise InputError("init must be an RBM")
        if n_hidden is not None and _positive_int(n_hidden, "n_hidden") != init.n_hidden:
            raise InputError(f"n_hidden={n_hidden} contradicts init with {init.n_hidden} hidden units")
        rbm = init
        v = _binary_data(data, rbm.n_visible)
    epochs = _positive_int(epochs, "epochs")
    lr = _check_real(learning_rate, "learning_rate", low=0.0, low_open=True)
    mom = _check_real(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    wd = _check_real(weight_decay, "weight_decay", low=0.0)
    n = v.shape[0]
    bs = min(n, 100) if batch_size is None else _positive_int(batch_size, "batch_size")
    bs = min(bs, n)
    eval_limit = _nonneg_int(eval_limit, "eval_limit")
    ais_chains = _positive_int(ais_chains, "ais_chains")
    ais_steps = _positive_int(ais_steps, "ais_steps")
    rng = _rng(seed)
    if kind in ("exact",) and min(rbm.n_visible, rbm.n_hidden) > eval_limit:
        raise InputError(f"the exact gradient needs an enumerable model: min(n_visible, n_hidden) = "
                         f"{min(rbm.n_visible, rbm.n_hidden)} exceeds {eval_limit}")

    w = np.array(rbm.weights)
    a = np.array(rbm.visible_bias)
    b = np.array(rbm.hidden_bias)
    vel = [np.zeros_like(w), np.zeros_like(a), np.zeros_like(b)]
    chains = None
    if kind == "pcd":
        n_pers = bs if n_persistent is None else _positive_int(n_persistent, "n_persistent")
        chains = v[rng.integers(0, n, size=n_pers)].copy()

    lls, ses, how = [], [], "none"
    from tqdm.auto import tqdm

    bar = tqdm(range(epochs), desc=f"rbm {_method_name(kind, k)}", disable=not progress,
               leave=False)
    for epoch in bar:
        order = rng.permutation(n)
        for start in range(0, n, bs):
            batch = v[order[start:start + bs]]
            current = RBM(w, a, b)
            pw, pa, pb = _positive_phase(current, batch, 1.0)
            if kind == "exact":
                mom_ = exact_moments(current, 1.0, limit=eval_limit)
                nw, na, nb = mom_.correlation, mom_.visible, mom_.hidden
            elif kind in ("cd", "pcd"):
                start_v = batch if kind == "cd" else chains
                vk = start_v
                for _ in range(k):
                    ph = expit(vk @ w + b)
                    h = (rng.random(ph.shape) < ph).astype(np.float64)
                    pv = expit(h @ w.T + a)
                    vk = (rng.random(pv.shape) < pv).astype(np.float64)
                phk = expit(vk @ w + b)
                nw, na, nb = (vk.T @ phk) / vk.shape[0], vk.mean(axis=0), phk.mean(axis=0)
                if kind == "pcd":
                    chains = vk
            else:
                m_v, m_h = _tap_fixed_point(current, int(kind[-1]), 1.0)
                g = tap_log_partition_gradient(current, m_v, m_h, 1.0, int(kind[-1]))
                nw, na, nb = g.as_tuple()
            with np.errstate(over="ignore", invalid="ignore"):
                grads = (pw - nw - wd * w, pa - na, pb - nb)
                for vel_i, g_i, p_i in zip(vel, grads, (w, a, b)):
                    vel_i *= mom
                    vel_i += lr * g_i
                    p_i += vel_i
            if not all(np.all(np.abs(p_i) < _MAX_PARAMETER) for p_i in (w, a, b)):
                raise InputError(f"training diverged in epoch {epoch + 1} (a parameter left "
                                 f"[-1e8, 1e8] or is not finite); lower the learning rate")
        if evaluate:
            ll, se, how = mean_log_likelihood(RBM(w, a, b), v, limit=eval_limit,
                                              ais_chains=ais_chains, ais_steps=ais_steps,
                                              seed=rng)
            if not math.isfinite(ll):
                raise InputError(f"training diverged in epoch {epoch + 1} (log-likelihood {ll}); "
                                 f"lower the learning rate")
            lls.append(ll)
            ses.append(se)
            bar.set_postfix(ll=f"{ll:.4f}")
    bar.close()
    return TrainingResult(rbm=RBM(w, a, b), method=_method_name(kind, k), k=k, epochs=epochs,
                          seconds=time.perf_counter() - t0, log_likelihood=np.array(lls),
                          log_likelihood_stderr=np.array(ses), evaluation=how)
