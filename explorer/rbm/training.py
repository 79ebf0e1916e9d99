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
    Contrastive divergence: ``k`` Gibbs sweeps (:func:`explorer.rbm.sampling.gibbs_sweeps`)
    started at the minibatch; the point
    estimate ``v_k p(h|v_k)^T`` replaces the expectation (biased toward the data).
``pcd``
    Persistent CD: the chains carry over from one update to the next (``k`` sweeps each).
``tap2``, ``tap3``
    EMF-RBM (Gabrie, Tramel, Krzakala 2015): ``ln Z ~ -F_TAP(m*)/T`` at the TAP fixed
    point ``m*`` (:func:`explorer.rbm.tap.tap`). Because ``m*`` is stationary, the total
    derivative of ``F_TAP(m*(theta), theta)`` equals the partial derivative at fixed ``m``
    (:func:`tap_log_partition_gradient`).

One update is :func:`sgd_step` (the data term of the minibatch, the model term of
:func:`model_term`, momentum and weight decay); :func:`sgd_epoch` runs them over a shuffled
epoch. :func:`train` and the Learning race (:class:`explorer.rbm.learning.Race`) both train
with these two functions on an :class:`SGDState`.

After each epoch the mean log-likelihood of the training data is computed exactly when
the model is enumerable, otherwise estimated with forward AIS (with its standard error).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from functools import partial

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
    gibbs_sweeps,
)

__all__ = [
    "TrainingResult", "Gradient", "METHODS", "parse_method", "train", "exact_gradient",
    "tap_gradient", "tap_log_partition_gradient", "mean_log_likelihood", "initial_rbm",
    "SGDState", "model_term", "sgd_step", "sgd_epoch", "EPOCH_DONE", "EPOCH_STOPPED", "EPOCH_DIVERGED",
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


# ------------------------------------------------------------------ one SGD step
@dataclass
class SGDState:
    """What one run of stochastic gradient ascent carries from one minibatch to the next.

    :func:`train` holds one; every lane of the Learning race
    (:class:`explorer.rbm.learning.Race`) is one. Both advance it with :func:`sgd_epoch`
    (minibatches of :func:`sgd_step`), so a lane is ``train`` run one epoch at a time.

    Attributes
    ----------
    kind : {"exact", "cd", "pcd", "tap2", "tap3"}
        The model term (:func:`model_term`), from :func:`parse_method`.
    k : int or None
        Gibbs sweeps per update (CD, PCD).
    rng : numpy.random.Generator
        The run's one random stream: minibatch orders, then the Gibbs chains, in that order.
    w : ndarray of shape (n_visible, n_hidden)
    a : ndarray of shape (n_visible,)
    b : ndarray of shape (n_hidden,)
        The parameters ``(W, a, b)``, updated in place.
    velocity : list of three ndarrays shaped like ``w``, ``a``, ``b``
        The momentum's velocity, updated in place.
    chains : ndarray of shape (n_chains, n_visible) or None
        PCD's persistent chains (their visible states).
    magnetisations : tuple (m_v, m_h) or None
        TAP: the fixed point of the last update (where a persistent TAP lane starts from).
    tap_restarts : int
        TAP updates after the first that were solved from mean field (cold), not followed
        from the last fixed point.
    """

    kind: str
    k: int | None
    rng: np.random.Generator
    w: np.ndarray
    a: np.ndarray
    b: np.ndarray
    velocity: list
    chains: np.ndarray | None = None
    magnetisations: tuple | None = None
    tap_restarts: int = 0

    @classmethod
    def start(cls, rbm, kind, k, seed, *, data=None, n_chains=None, **fields):
        """A run starting at ``rbm`` with zero velocity and the stream ``_rng(seed)``.

        PCD draws its ``n_chains`` persistent chains from the rows of ``data`` first (with
        replacement), from the same stream. ``fields`` go to a subclass's own attributes.
        """
        rng = _rng(seed)
        state = cls(kind=kind, k=k, rng=rng, w=np.array(rbm.weights), a=np.array(rbm.visible_bias),
                    b=np.array(rbm.hidden_bias),
                    velocity=[np.zeros_like(rbm.weights), np.zeros_like(rbm.visible_bias),
                              np.zeros_like(rbm.hidden_bias)], **fields)
        if kind == "pcd":
            state.chains = data[rng.integers(0, data.shape[0], size=n_chains)].copy()
        return state

    def model(self):
        """The current parameters as an (immutable, copied) :class:`RBM`."""
        return RBM(self.w, self.a, self.b)


def model_term(state, rbm, batch, *, persistent_tap=False, limit=None):
    """The model term (negative phase) of the gradient at ``T = 1``, by ``state.kind``.

    The ascent direction of the mean log-likelihood is a data term minus this term
    (module docstring), an estimate of::

        (E_p[v h^T], E_p[v], E_p[h])

    ``exact``
        Enumeration of the smaller layer (:func:`explorer.rbm.exact.exact_moments`).
    ``cd``
        ``k`` sweeps of :func:`explorer.rbm.sampling.gibbs_sweeps` from the minibatch, and
        the point estimate ``(1/B) sum_n v_k p(h | v_k)^T`` (hidden probabilities, not samples).
    ``pcd``
        The same from ``state.chains``, which are replaced by the chains' new states.
    ``tap2``, ``tap3``
        :func:`tap_log_partition_gradient` at a TAP fixed point ``m*``: solved from mean field
        (:func:`explorer.rbm.tap.tap`, what :func:`train` does), or with ``persistent_tap``
        followed from ``state.magnetisations`` (:func:`explorer.rbm.tap.tap_follow`), solving
        from mean field only where that fails (counted in ``state.tap_restarts``). The fixed
        point is kept in ``state.magnetisations``.

    Parameters
    ----------
    state : SGDState
        Its ``rng`` (CD, PCD), ``chains`` (PCD) and ``magnetisations`` (TAP) are used and advanced.
    rbm : RBM
        The current model, ``state.model()``.
    batch : ndarray of shape (batch_size, n_visible)
        The minibatch (CD's chains start at its rows).
    persistent_tap : bool
    limit : int, optional
        Largest layer enumerated by the exact term.

    Returns
    -------
    correlation : ndarray of shape (n_visible, n_hidden)
    visible : ndarray of shape (n_visible,)
    hidden : ndarray of shape (n_hidden,)
    """
    kind = state.kind
    if kind == "exact":
        m = exact_moments(rbm, 1.0, limit=limit)
        return m.correlation, m.visible, m.hidden
    if kind in ("cd", "pcd"):
        # the rows and k were checked by train() / Race (the check would cost a third of a sweep)
        vk, phk = gibbs_sweeps(rbm, batch if kind == "cd" else state.chains, state.k, seed=state.rng,
                               check_input=False)
        if kind == "pcd":
            state.chains = vk
        return (vk.T @ phk) / vk.shape[0], vk.mean(axis=0), phk.mean(axis=0)
    order = int(kind[-1])
    fixed = None
    if persistent_tap and state.magnetisations is not None:
        from .tap import tap_follow

        # Newton from the last fixed point; where that branch has ended, the damped iteration
        # from it to a nearby solution (tap_follow); mean field only if both fail
        fixed = tap_follow(rbm, *state.magnetisations, order=order)
    if fixed is None:
        state.tap_restarts += state.magnetisations is not None
        fixed = _tap_fixed_point(rbm, order, 1.0)
    state.magnetisations = fixed
    return tap_log_partition_gradient(rbm, *fixed, 1.0, order).as_tuple()


def sgd_step(state, batch, *, learning_rate, momentum, weight_decay=0.0, term=None):
    """One minibatch update of ``state``'s parameters by gradient ascent with momentum.

    With ``theta = (W, a, b)``, the data term of the batch ``(1/B) sum_n (v_n p(h|v_n)^T,
    v_n, p(h|v_n))`` and the model term ``(E[v h^T], E[v], E[h])`` of ``term``::

        g = data term - model term - (weight_decay W, 0, 0)
        velocity <- momentum * velocity + learning_rate * g
        theta    <- theta + velocity

    (classical momentum; scikit-learn's ``BernoulliRBM._fit`` is close to the case
    ``momentum = weight_decay = 0`` with PCD-1's model term). Inputs are not checked here:
    :func:`train` and :class:`~explorer.rbm.learning.Race` check them.

    Parameters
    ----------
    state : SGDState
        Updated in place.
    batch : ndarray of shape (batch_size, n_visible)
    learning_rate : float, > 0
    momentum : float in [0, 1)
    weight_decay : float, >= 0
    term : callable ``(state, rbm, batch) -> (correlation, visible, hidden)``, optional
        The model term; default :func:`model_term` with its defaults.

    Returns
    -------
    bool
        Whether every parameter is still finite and inside ``[-1e8, 1e8]`` (False: the run
        has diverged).
    """
    current = state.model()
    pw, pa, pb = _positive_phase(current, batch, 1.0)
    nw, na, nb = (model_term if term is None else term)(state, current, batch)
    params = (state.w, state.a, state.b)
    with np.errstate(over="ignore", invalid="ignore"):
        grads = (pw - nw - weight_decay * state.w, pa - na, pb - nb)
        for vel, g, p in zip(state.velocity, grads, params):
            vel *= momentum
            vel += learning_rate * g
            p += vel
    return all(np.all(np.abs(p) < _MAX_PARAMETER) for p in params)


#: What :func:`sgd_epoch` returns.
EPOCH_DONE, EPOCH_STOPPED, EPOCH_DIVERGED = "done", "stopped", "diverged"


def sgd_epoch(state, data, batch_size, *, learning_rate, momentum, weight_decay=0.0, term=None, stop=None):
    """One pass over ``data`` in minibatches of :func:`sgd_step`, in a fresh random order.

    The order is ``state.rng.permutation(n)``; the batches are its consecutive slices of
    ``batch_size`` rows (the last may be shorter).

    Parameters
    ----------
    state : SGDState
    data : ndarray of shape (n, n_visible)
    batch_size : int, >= 1
    learning_rate, momentum, weight_decay, term
        As in :func:`sgd_step`.
    stop : callable, optional
        Asked before every batch; when it returns true the epoch ends there.

    Returns
    -------
    str
        ``"done"`` (:data:`EPOCH_DONE`), ``"stopped"`` by ``stop`` before a batch, or
        ``"diverged"`` (the batch that made a parameter leave ``[-1e8, 1e8]`` is the last).
    """
    n = data.shape[0]
    order = state.rng.permutation(n)
    for start in range(0, n, batch_size):
        if stop is not None and stop():
            return EPOCH_STOPPED
        if not sgd_step(state, data[order[start:start + batch_size]], learning_rate=learning_rate,
                        momentum=momentum, weight_decay=weight_decay, term=term):
            return EPOCH_DIVERGED
    return EPOCH_DONE


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

    n_chains = None
    if kind == "pcd":
        n_chains = bs if n_persistent is None else _positive_int(n_persistent, "n_persistent")
    state = SGDState.start(rbm, kind, k, rng, data=v, n_chains=n_chains)
    term = partial(model_term, limit=eval_limit)

    lls, ses, how = [], [], "none"
    from tqdm.auto import tqdm

    bar = tqdm(range(epochs), desc=f"rbm {_method_name(kind, k)}", disable=not progress,
               leave=False)
    for epoch in bar:
        if sgd_epoch(state, v, bs, learning_rate=lr, momentum=mom, weight_decay=wd,
                     term=term) == EPOCH_DIVERGED:
            raise InputError(f"training diverged in epoch {epoch + 1} (a parameter left "
                             f"[-1e8, 1e8] or is not finite); lower the learning rate")
        if evaluate:
            ll, se, how = mean_log_likelihood(state.model(), v, limit=eval_limit,
                                              ais_chains=ais_chains, ais_steps=ais_steps,
                                              seed=rng)
            if not math.isfinite(ll):
                raise InputError(f"training diverged in epoch {epoch + 1} (log-likelihood {ll}); "
                                 f"lower the learning rate")
            lls.append(ll)
            ses.append(se)
            bar.set_postfix(ll=f"{ll:.4f}")
    bar.close()
    return TrainingResult(rbm=state.model(), method=_method_name(kind, k), k=k, epochs=epochs,
                          seconds=time.perf_counter() - t0, log_likelihood=np.array(lls),
                          log_likelihood_stderr=np.array(ses), evaluation=how)
