"""Naive mean field: the Gibbs–Bogoliubov–Feynman (GBF) variational bound.

For a product trial law with magnetisations ``m`` (docs/physics.md)::

    F_q(m) = -a.m_v - b.m_h - m_v^T W m_h - T sum_i H_b(m_i)  >=  F.

Its stationary points satisfy ``m_v = sigma((a + W m_h)/T)``, ``m_h = sigma((b + W^T m_v)/T)``.
The graph is bipartite, so updating one whole layer given the other is an *exact*
minimisation of ``F_q`` over that layer: the alternating iteration lowers ``F_q`` at every
half step and converges without damping. At low T / strong coupling several minima
exist; several starts are run from *each* layer and the lowest kept: a start on the hidden
side reaches minima that no visible start reaches (a hidden start takes one visible half step
first). Where the half-step map is a contraction there is one minimum and one start suffices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ._numerics import binary_entropy
from ._special import expit
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


def hidden_update(rbm, visible, t, c=1.0):
    """Exact minimiser of ``F_q`` over the hidden layer given the visible one.

    ``m_h = sigma((b + c W^T m_v)/T)``; ``visible`` (..., nv), ``t`` and ``c`` broadcast against it.
    """
    return expit((rbm.hidden_bias + c * (visible @ rbm.weights)) / t)


def visible_update(rbm, hidden, t, c=1.0):
    """Exact minimiser of ``F_q`` over the visible layer given the hidden one: ``sigma((a + c W m_h)/T)``."""
    return expit((rbm.visible_bias + c * (hidden @ rbm.weights.T)) / t)


def _layer_starts(n_units, bias, t, n_per_layer, rng):
    """Starts of one layer (B, S, n): uniform 1/2, independent units, all on, all off, random corners.

    Random *corners* (not random points inside the cube): at low temperature the minima sit
    near corners, and a corner of one layer pins the other layer's response most strongly.
    """
    b = t.size
    fixed = [np.full((b, n_units), 0.5), expit(bias / t[:, None]),
             np.ones((b, n_units)), np.zeros((b, n_units))]
    starts = fixed[:n_per_layer]
    n_random = n_per_layer - len(starts)
    if n_random > 0:
        corners = (rng.uniform(size=(n_random, n_units)) < 0.5).astype(float)
        starts += [np.broadcast_to(r, (b, n_units)) for r in corners]
    return np.stack(starts, axis=1)


def _starts(rbm, t, c, n_per_layer, seed):
    """Initial visible magnetisations (B, 2S, nv): S starts from each layer.

    A hidden start ``m_h`` enters as its visible half step ``sigma((a + c W m_h)/T)``; the
    iteration is the same from there.
    """
    rng = np.random.default_rng(seed)
    from_visible = _layer_starts(rbm.n_visible, rbm.visible_bias, t, n_per_layer, rng)
    from_hidden = _layer_starts(rbm.n_hidden, rbm.hidden_bias, t, n_per_layer, rng)
    from_hidden = visible_update(rbm, from_hidden, t[:, None, None], c[:, None, None])
    return np.concatenate([from_visible, from_hidden], axis=1)


def _contracting(rbm, t, c):
    """Entries where the half-step map is a contraction, so ``F_q`` has one stationary point.

    ``sigma' <= 1/4``, so the map ``m_v -> m_h`` is Lipschitz with constant ``|c| ||W||_2 / (4T)``
    (spectral norm), and so is ``m_h -> m_v``. Below 1 the alternating iteration converges to
    the same point from every start (Banach): one start suffices.
    """
    w = rbm.weights
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    spectral = float(np.sqrt(max(np.linalg.eigvalsh(gram)[-1], 0.0))) if gram.size else 0.0
    return np.abs(c) * spectral < 4.0 * t * (1.0 - 1e-9)


def mean_field_batch(rbm, temperatures, couplings=None, *, n_starts=6, seed=0, tol=1e-10,
                     max_iter=5000):
    """Mean-field minima for a batch of (temperature, coupling scale) pairs.

    Entry ``k`` is the RBM with ``W -> couplings[k] W`` at temperature ``temperatures[k]``.
    ``n_starts`` starts are run from each layer (see :func:`mean_field`), only the first where
    the half-step map is a contraction (a single minimum).

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
    t3, c3 = t[:, None, None], c[:, None, None]
    mv = _starts(rbm, t, c, int(n_starts), seed)                         # (B, S, nv)
    n_runs = mv.shape[1]
    converged = np.zeros(mv.shape[:2], dtype=bool)
    # Flatten (batch, start) and iterate only the runs not yet converged: near a critical
    # temperature a few runs need thousands of sweeps, the rest a few dozen. Where the map
    # contracts, every start reaches the same point: only the first is run, the others copy it.
    single = _contracting(rbm, t, c)
    flat_mv = mv.reshape(-1, rbm.n_visible).copy()
    flat_t = np.repeat(t, n_runs)[:, None]
    flat_c = np.repeat(c, n_runs)[:, None]
    flat_conv = converged.reshape(-1)
    skipped = np.repeat(single, n_runs) & (np.arange(flat_mv.shape[0]) % n_runs != 0)
    active = np.flatnonzero(~skipped)
    for _ in range(int(max_iter)):
        m, tt, cc = flat_mv[active], flat_t[active], flat_c[active]
        m_new = visible_update(rbm, hidden_update(rbm, m, tt, cc), tt, cc)
        done = np.abs(m_new - m).max(axis=-1) < tol
        flat_mv[active] = m_new
        flat_conv[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break
    first = np.flatnonzero(skipped) // n_runs * n_runs
    flat_mv[skipped], flat_conv[skipped] = flat_mv[first], flat_conv[first]
    mv = flat_mv.reshape(mv.shape)
    converged = flat_conv.reshape(converged.shape)
    # Final hidden update so that (mv, mh) are consistent with their logits.
    th_h = (rbm.hidden_bias + c3 * (mv @ rbm.weights)) / t3
    mh = expit(th_h)
    th_v = (rbm.visible_bias + c3 * (mh @ rbm.weights.T)) / t3
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


def mean_field(rbm, temperature=1.0, *, n_starts=6, seed=0, tol=1e-10, max_iter=5000):
    """Naive mean field: minimise the GBF bound ``F_q(m)`` over product laws.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    n_starts : int
        Starts of the alternating iteration from *each* layer (uniform 1/2, independent
        units, all on, all off, then seeded random corners); a hidden start first takes one
        visible half step. The lowest minimum is kept. Where the half-step map is a
        contraction (``||W||_2 < 4T``) the minimum is unique and only the first start is run.
    seed : int
        Seed of the random corners.
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
