"""Naive mean field: the Gibbs–Bogoliubov–Feynman (GBF) variational bound.

For a product trial law with magnetisations ``m`` (docs/physics.md)::

    F_q(m) = -a.m_v - b.m_h - m_v^T W m_h - T sum_i H_b(m_i)  >=  F.

Its stationary points satisfy ``m_v = sigma((a + W m_h)/T)``, ``m_h = sigma((b + W^T m_v)/T)``.
The graph is bipartite, so updating one whole layer given the other is an *exact*
minimisation of ``F_q`` over that layer: the alternating iteration lowers ``F_q`` at every
half step and converges without damping. At low T / strong coupling several minima
exist; several starts are run and the lowest kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from ..errors import InputError
from ._numerics import binary_entropy
from ._validation import check_couplings, check_finite_array, check_temperatures

#: Free energies closer than this (relative) count as the same local minimum.
_SAME_MINIMUM = 1e-7


@dataclass(frozen=True)
class MeanFieldResult:
    """The naive mean-field (GBF) solution at one temperature.

    Attributes
    ----------
    free_energy : float
        ``F_q(m)`` at the lowest minimum found; an upper bound on the exact ``F``.
    visible, hidden : ndarray
        Magnetisations ``m_v``, ``m_h`` of that minimum.
    converged : bool
        Whether the iteration reached ``tol`` for that minimum.
    minima : ndarray
        Distinct local-minimum free energies found from the starts, ascending.
    """
    free_energy: float
    visible: np.ndarray
    hidden: np.ndarray
    converged: bool
    minima: np.ndarray = field(repr=False)


def gbf_free_energy(rbm, visible, hidden, temperature=1.0):
    """The variational free energy ``F_q(m)`` of a product law with magnetisations ``m``.

    Valid for any ``m`` in [0, 1]; it is never below the exact free energy.
    """
    t = float(check_temperatures(temperature)[0])
    mv = check_finite_array(visible, "visible", ndim=1, shape=(rbm.n_visible,))
    mh = check_finite_array(hidden, "hidden", ndim=1, shape=(rbm.n_hidden,))
    if np.any((mv < 0) | (mv > 1)) or np.any((mh < 0) | (mh > 1)):
        raise InputError("magnetisations must lie in [0, 1]")
    return float(_gbf(rbm, mv, mh, np.array(t), np.array(1.0)))


def _gbf(rbm, mv, mh, t, c):
    """``F_q`` for batched magnetisations (..., n) with temperature/coupling broadcast on (...)."""
    energy = (-(mv @ rbm.visible_bias) - (mh @ rbm.hidden_bias)
              - c * np.einsum("...i,ij,...j->...", mv, rbm.weights, mh))
    return energy - t * (binary_entropy(mv).sum(-1) + binary_entropy(mh).sum(-1))


def _starts(rbm, t, n_starts, seed):
    """Initial visible magnetisations (B, S, nv): uniform, independent units, all on, all off, random."""
    b = t.size
    fixed = [np.full((b, rbm.n_visible), 0.5), expit(rbm.visible_bias / t[:, None]),
             np.ones((b, rbm.n_visible)), np.zeros((b, rbm.n_visible))]
    starts = fixed[:n_starts]
    n_random = n_starts - len(starts)
    if n_random > 0:
        rng = np.random.default_rng(seed)
        rnd = rng.uniform(size=(n_random, rbm.n_visible))
        starts += [np.broadcast_to(r, (b, rbm.n_visible)) for r in rnd]
    return np.stack(starts, axis=1)


def mean_field_batch(rbm, temperatures, couplings=None, *, n_starts=8, seed=0, tol=1e-10,
                     max_iter=5000):
    """Mean-field minima for a batch of (temperature, coupling scale) pairs.

    Entry ``k`` is the RBM with ``W -> couplings[k] W`` at temperature ``temperatures[k]``.

    Returns
    -------
    dict of arrays over the batch: ``free_energy`` (B,), ``visible`` (B, nv), ``hidden`` (B, nh),
    ``visible_logits``, ``hidden_logits`` (the fields ``(a + cW m_h)/T`` etc. whose sigmoids
    are the magnetisations), ``converged`` (B,) and ``minima`` (list of arrays).
    """
    if int(n_starts) < 1:
        raise InputError(f"n_starts must be >= 1, got {n_starts}")
    t = check_temperatures(temperatures)
    c = check_couplings(couplings, t)
    w, a, b = rbm.weights, rbm.visible_bias, rbm.hidden_bias
    t3, c3 = t[:, None, None], c[:, None, None]
    mv = _starts(rbm, t, int(n_starts), seed)                           # (B, S, nv)
    converged = np.zeros(mv.shape[:2], dtype=bool)
    # Flatten (batch, start) and iterate only the runs not yet converged: near a critical
    # temperature a few runs need thousands of sweeps, the rest a few dozen.
    flat_mv = mv.reshape(-1, rbm.n_visible).copy()
    flat_t = np.repeat(t, mv.shape[1])[:, None]
    flat_c = np.repeat(c, mv.shape[1])[:, None]
    flat_conv = converged.reshape(-1)
    active = np.arange(flat_mv.shape[0])
    for _ in range(int(max_iter)):
        m, tt, cc = flat_mv[active], flat_t[active], flat_c[active]
        m_h = expit((b + cc * (m @ w)) / tt)
        m_new = expit((a + cc * (m_h @ w.T)) / tt)
        done = np.abs(m_new - m).max(axis=-1) < tol
        flat_mv[active] = m_new
        flat_conv[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break
    mv = flat_mv.reshape(mv.shape)
    converged = flat_conv.reshape(converged.shape)
    # Final hidden update so that (mv, mh) are consistent with their logits.
    th_h = (b + c3 * (mv @ w)) / t3
    mh = expit(th_h)
    th_v = (a + c3 * (mh @ w.T)) / t3
    f = _gbf(rbm, mv, mh, t[:, None], c[:, None])                        # (B, S)
    best = np.argmin(f, axis=1)
    rows = np.arange(t.size)
    minima = []
    for k in range(t.size):
        vals = np.sort(f[k][converged[k]] if converged[k].any() else f[k])
        keep = [vals[0]]
        for v_ in vals[1:]:
            if abs(v_ - keep[-1]) > _SAME_MINIMUM * max(1.0, abs(v_)):
                keep.append(v_)
        minima.append(np.array(keep))
    return dict(free_energy=f[rows, best], visible=mv[rows, best], hidden=mh[rows, best],
                visible_logits=th_v[rows, best], hidden_logits=th_h[rows, best],
                converged=converged[rows, best], minima=minima)


def mean_field(rbm, temperature=1.0, *, n_starts=8, seed=0, tol=1e-10, max_iter=5000):
    """Naive mean field: minimise the GBF bound ``F_q(m)`` over product laws.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    n_starts : int
        Starts of the alternating iteration (uniform 1/2, independent units, all on,
        all off, then seeded random ones); the lowest minimum is kept.
    seed : int
        Seed of the random starts.
    tol : float
        Convergence threshold on the largest change of a magnetisation.
    max_iter : int

    Returns
    -------
    MeanFieldResult
    """
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("mean_field takes one temperature; use explorer.rbm.sweeps for curves")
    r = mean_field_batch(rbm, t, n_starts=n_starts, seed=seed, tol=tol, max_iter=max_iter)
    return MeanFieldResult(free_energy=float(r["free_energy"][0]), visible=r["visible"][0],
                           hidden=r["hidden"][0], converged=bool(r["converged"][0]),
                           minima=r["minima"][0])
