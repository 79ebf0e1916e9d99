"""The mean-field playground: any product law q, its functionals, and the iteration from it.

For ``q = prod_i Bernoulli(m_i)`` over the visible and hidden units (docs/physics.md, sections 2-3):

* the Gibbs–Bogoliubov–Feynman functional ``F_q(m) = <E>_q - T S[q] >= F`` for *every* ``m``
  (a bound; :func:`explorer.rbm.meanfield.gbf_free_energy`),
* the TAP functionals ``F_TAP2(m)``, ``F_TAP3(m)`` at the same ``m`` (:func:`explorer.rbm.tap.tap_functional`;
  not bounds: they may fall below ``F``),
* the mean-field iteration from ``m`` with damping ``d``: the same exact layer updates as
  :func:`explorer.rbm.meanfield.mean_field_batch`, ``m_h <- (1-d) sigma((b + W^T m_v)/T) + d m_h``, then
  the visible layer likewise. ``F_q`` restricted to one layer is convex and the undamped update
  is its minimiser, so every damped half step lowers ``F_q`` too (convexity),
* the basins: where ``n`` random starts end, grouped into distinct minima with counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._validation import check_finite_array, check_temperatures
from .exact import free_energy, marginals
from .meanfield import _gbf, hidden_update, mean_field, visible_update
from .tap import tap_functional

#: Starts a student can pick (key -> label).
STARTS = {"half": "all ½", "on": "all on", "off": "all off", "random": "random (seeded)",
          "exact": "exact marginals", "mean-field": "mean-field minimum"}
#: Which layer the iteration updates first.
FIRST_LAYERS = ("hidden", "visible")
#: Largest change of any magnetisation over one iteration that counts as stationary.
STATIONARY_TOL = 1e-10
#: Stationary points closer than this (largest magnetisation difference) are the same minimum.
SAME_POINT = 1e-5
#: Largest damping: at d = 1 nothing would move.
MAX_DAMPING = 0.95


@dataclass(frozen=True)
class Functionals:
    """``F_q`` (the bound), ``F_TAP2`` and ``F_TAP3`` of one product law."""
    free_energy: float
    tap2: float
    tap3: float


@dataclass(frozen=True)
class MeanFieldPath:
    """The mean-field iteration from one start.

    Attributes
    ----------
    visible, hidden : ndarray, shapes (K+1, nv), (K+1, nh)
        Magnetisations before the first iteration (row 0) and after each of ``K`` iterations
        (one iteration updates both layers).
    free_energy, tap2, tap3 : ndarray, shape (K+1,)
        ``F_q`` (non-increasing along the path), ``F_TAP2`` and ``F_TAP3`` at each row.
    converged : bool
        Whether the last iteration moved no magnetisation by more than ``tol``.
    damping : float
    first : str
        The layer updated first in each iteration.
    """
    visible: np.ndarray
    hidden: np.ndarray
    free_energy: np.ndarray
    tap2: np.ndarray
    tap3: np.ndarray
    converged: bool
    damping: float
    first: str

    @property
    def n_iterations(self):
        return self.free_energy.size - 1


@dataclass(frozen=True)
class Minimum:
    """One stationary point reached from the random starts, and how many starts reached it."""
    free_energy: float
    count: int
    visible: np.ndarray
    hidden: np.ndarray


def check_magnetisations(rbm, visible, hidden):
    """``(m_v, m_h)`` as float arrays of the layers' sizes with values in [0, 1]; InputError otherwise."""
    mv = check_finite_array(visible, "visible magnetisations", ndim=1, shape=(rbm.n_visible,))
    mh = check_finite_array(hidden, "hidden magnetisations", ndim=1, shape=(rbm.n_hidden,))
    if np.any((mv < 0) | (mv > 1)) or np.any((mh < 0) | (mh > 1)):
        raise InputError("magnetisations must lie in [0, 1]")
    return mv, mh


def _temperature(temperature):
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("the playground takes one temperature")
    return float(t[0])


def _check_damping(damping):
    try:
        d = float(damping)
    except (TypeError, ValueError):
        raise InputError(f"damping must be a number in [0, {MAX_DAMPING}], got {damping!r}") from None
    if not 0.0 <= d <= MAX_DAMPING:
        raise InputError(f"damping must lie in [0, {MAX_DAMPING}], got {damping!r}")
    return d


def _functionals(rbm, mv, mh, t):
    """``F_q``, ``F_TAP2``, ``F_TAP3`` for stacked magnetisations (..., n)."""
    one = np.array(1.0)
    return (_gbf(rbm, mv, mh, np.array(t), one), tap_functional(rbm, mv, mh, np.array(t), one, 2),
            tap_functional(rbm, mv, mh, np.array(t), one, 3))


def functionals(rbm, temperature, visible, hidden):
    """``F_q`` (a bound: ``>= F`` for every ``m``), ``F_TAP2`` and ``F_TAP3`` (not bounds) at ``m``.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    visible, hidden : array-like of shape (nv,), (nh,), values in [0, 1]

    Returns
    -------
    Functionals
    """
    t = _temperature(temperature)
    mv, mh = check_magnetisations(rbm, visible, hidden)
    f, t2, t3 = _functionals(rbm, mv, mh, t)
    return Functionals(float(f), float(t2), float(t3))


def start_magnetisations(rbm, temperature, start="half", seed=0):
    """The magnetisations ``(m_v, m_h)`` of a named start (see :data:`STARTS`).

    ``random``: uniform in [0, 1] with ``seed``; ``exact``: the exact marginals (by enumeration);
    ``mean-field``: the lowest mean-field minimum (:func:`explorer.rbm.meanfield.mean_field`).
    """
    t = _temperature(temperature)
    nv, nh = rbm.n_visible, rbm.n_hidden
    if start == "half":
        return np.full(nv, 0.5), np.full(nh, 0.5)
    if start == "on":
        return np.ones(nv), np.ones(nh)
    if start == "off":
        return np.zeros(nv), np.zeros(nh)
    if start == "random":
        try:
            rng = np.random.default_rng(int(seed))
        except (TypeError, ValueError):
            raise InputError(f"the seed must be a non-negative integer, got {seed!r}") from None
        return rng.uniform(size=nv), rng.uniform(size=nh)
    if start == "exact":
        mv, mh = marginals(rbm, t)
        return np.asarray(mv, dtype=float), np.asarray(mh, dtype=float)
    if start == "mean-field":
        mf = mean_field(rbm, t)
        return mf.visible.copy(), mf.hidden.copy()
    raise InputError(f"start must be one of {', '.join(STARTS)}, got {start!r}")


def _half_steps(first):
    if first not in FIRST_LAYERS:
        raise InputError(f"first must be one of {', '.join(FIRST_LAYERS)}, got {first!r}")
    return first == "hidden"


def mean_field_path(rbm, temperature, visible, hidden, *, damping=0.0, first="hidden",
                    tol=STATIONARY_TOL, max_iter=2000):
    """The damped mean-field iteration from ``(visible, hidden)``, every iteration recorded.

    One iteration updates the ``first`` layer given the other, then the other layer:
    ``m_h <- (1-d) sigma((b + W^T m_v)/T) + d m_h`` (and likewise ``m_v`` with ``a``, ``W m_h``),
    the core's exact layer updates. ``F_q`` never increases along the path.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    visible, hidden : array-like, values in [0, 1]
        The start.
    damping : float in [0, 0.95]
    first : {"hidden", "visible"}
    tol : float
        Stop when no magnetisation moves by more than ``tol`` in an iteration.
    max_iter : int

    Returns
    -------
    MeanFieldPath
    """
    t = _temperature(temperature)
    mv, mh = check_magnetisations(rbm, visible, hidden)
    d = _check_damping(damping)
    hidden_first = _half_steps(first)
    if int(max_iter) < 0:
        raise InputError(f"max_iter must be >= 0, got {max_iter}")
    vs, hs = [mv], [mh]
    converged = False
    for _ in range(int(max_iter)):
        if hidden_first:
            mh_new = (1 - d) * hidden_update(rbm, mv, t) + d * mh
            mv_new = (1 - d) * visible_update(rbm, mh_new, t) + d * mv
        else:
            mv_new = (1 - d) * visible_update(rbm, mh, t) + d * mv
            mh_new = (1 - d) * hidden_update(rbm, mv_new, t) + d * mh
        moved = max(np.abs(mv_new - mv).max(initial=0.0), np.abs(mh_new - mh).max(initial=0.0))
        mv, mh = mv_new, mh_new
        vs.append(mv)
        hs.append(mh)
        if moved < tol:
            converged = True
            break
    v_path, h_path = np.array(vs), np.array(hs)
    f, t2, t3 = _functionals(rbm, v_path, h_path, t)
    return MeanFieldPath(visible=v_path, hidden=h_path, free_energy=f, tap2=t2, tap3=t3,
                         converged=converged, damping=d, first=first)


def basins(rbm, temperature, n_starts=50, *, seed=0, damping=0.0, tol=STATIONARY_TOL, max_iter=5000):
    """Where ``n_starts`` random starts end: the distinct minima, lowest first, with counts.

    Each start is a uniform random ``m`` in [0, 1]^(nv+nh); half of them update the hidden layer
    first, half the visible layer (so both layers' random values matter). The runs iterate
    together (vectorised). Stationary points whose ``F_q`` agree to 1e-7 (relative) and whose
    magnetisations agree to :data:`SAME_POINT` are one minimum.

    Returns
    -------
    list of Minimum, ascending in ``free_energy``; the counts add up to ``n_starts``.
    """
    t = _temperature(temperature)
    d = _check_damping(damping)
    n = int(n_starts) if np.ndim(n_starts) == 0 and float(n_starts) == int(n_starts) else -1
    if not 1 <= n <= 10_000:
        raise InputError(f"the number of random starts must be an integer from 1 to 10000, got {n_starts!r}")
    rng = np.random.default_rng(int(seed))
    mv = rng.uniform(size=(n, rbm.n_visible))
    mh = rng.uniform(size=(n, rbm.n_hidden))
    # a visible-first start is the same iteration after one visible update: do that update now
    visible_first = np.arange(n) % 2 == 1
    mv[visible_first] = (1 - d) * visible_update(rbm, mh[visible_first], t) + d * mv[visible_first]
    active = np.arange(n)
    for _ in range(int(max_iter)):
        v, h = mv[active], mh[active]
        h_new = (1 - d) * hidden_update(rbm, v, t) + d * h
        v_new = (1 - d) * visible_update(rbm, h_new, t) + d * v
        moved = np.maximum(np.abs(v_new - v).max(axis=1, initial=0.0), np.abs(h_new - h).max(axis=1, initial=0.0))
        mv[active], mh[active] = v_new, h_new
        active = active[moved >= tol]
        if active.size == 0:
            break
    f = _gbf(rbm, mv, mh, np.array(t), np.array(1.0))
    order = np.argsort(f, kind="stable")
    groups = []                       # [value, count, mv, mh]
    for k in order:
        for g in groups:
            distance = max(np.abs(mv[k] - g[2]).max(initial=0.0), np.abs(mh[k] - g[3]).max(initial=0.0))
            if abs(f[k] - g[0]) <= 1e-7 * max(1.0, abs(g[0])) and distance <= SAME_POINT:
                g[1] += 1
                break
        else:
            groups.append([f[k], 1, mv[k], mh[k]])
    return [Minimum(free_energy=float(g[0]), count=int(g[1]), visible=g[2].copy(), hidden=g[3].copy())
            for g in groups]


def exact_free_energy(rbm, temperature):
    """The exact ``F = -T ln Z`` (by enumeration), the floor every ``F_q`` stays above."""
    return free_energy(rbm, _temperature(temperature))


__all__ = ["STARTS", "FIRST_LAYERS", "Functionals", "MeanFieldPath", "Minimum", "functionals",
           "start_magnetisations", "mean_field_path", "basins", "exact_free_energy", "check_magnetisations"]
