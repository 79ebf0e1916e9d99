"""Naive mean field: the Gibbs–Bogoliubov–Feynman (GBF) variational bound.

For a product trial law with magnetisations ``m`` (docs/physics.md)::

    F_q(m) = -a.m_v - b.m_h - m_v^T W m_h - T sum_i H_b(m_i)  >=  F.

Its stationary points satisfy ``m_v = sigma((a + W m_h)/T)``, ``m_h = sigma((b + W^T m_v)/T)``.
The graph is bipartite, so updating one whole layer given the other is an *exact*
minimisation of ``F_q`` over that layer: the alternating iteration lowers ``F_q`` at every
half step and converges without damping. At low T / strong coupling several minima
exist; several starts are run from *each* layer and the lowest kept: a start on the hidden
side reaches minima that no visible start reaches (a hidden start takes one visible half step
first). Where the smaller layer has at most :data:`CORNER_LIMIT` units, the clamped free energy
``F_c(s)`` of every corner ``s`` of that layer is computed and the :data:`CORNER_STARTS` lowest
corners are starts too (:func:`mean_field` says what this guarantees). Where the half-step map
is a contraction there is one minimum and one start suffices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ._numerics import _PRODUCT_GROUP, binary_entropy, sum_log_of_products
from ._special import expit
from ._validation import check_couplings, check_finite_array, check_temperatures

#: Largest smaller layer (units) whose corners are all searched: the clamped free energy of
#: each of its 2^n corners is bounded or computed (2^14 = 16384 per temperature, at most the
#: cost of one exact enumeration) and the lowest are iteration starts. Above it no corner is
#: searched and the result is the lowest minimum found (``exhaustive`` False). 14 is the app's
#: enumeration limit, so every model the app shows is searched (measured 2026-12-06: a 14 x 14
#: temperature sweep 1.43 s -> 1.80 s against a limit of 12, one BLAS thread).
CORNER_LIMIT = 14
#: Corners of lowest clamped free energy the iteration starts from (every corner when the
#: smaller layer has at most 4 units). Measured: in 5387 random non-contracting models (2 to 10
#: units a layer, ||W|| 0.5 to 12, T 0.03 to 5) the lowest minimum was always reached from one
#: of the 3 lowest corners (from the lowest in 5360): 16 leaves a margin. Running every
#: corner instead made the app's default temperature sweep ~20 times slower.
CORNER_STARTS = 16
#: Largest accepted ``corner_limit`` (2^20 corners per temperature).
_MAX_CORNER_LIMIT = 20
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
    exhaustive : bool
        True where the search covered the whole cube: either the half-step map is a
        contraction (one stationary point, so ``free_energy`` *is* the minimum of ``F_q``), or
        the smaller layer has at most :data:`CORNER_LIMIT` units and every one of its corners
        was ranked by its clamped free energy ``F_c(s)``, the lowest being starts. That
        guarantees ``free_energy <= min_s F_c(s) <= F + T n ln 2`` (see :func:`mean_field`) and
        has returned the lowest stationary point in every model tested
        (``tests/rbm/test_meanfield_lowest.py``), but it is not a proof that no lower
        stationary point exists. False (a larger smaller layer, map not contracting): the
        lowest minimum found from the sampled starts; a lower one may exist and the
        ``T n ln 2`` guarantee does not apply.
    n_starts : int
        Starts the iteration ran from (1 where the map contracts).
    """
    free_energy: float
    visible: np.ndarray
    hidden: np.ndarray
    converged: bool
    minima: np.ndarray = field(repr=False)
    exhaustive: bool = True
    n_starts: int = 1


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


def _corners(n):
    """Every corner of {0,1}^n, (2^n, n), in the binary order of their index."""
    idx = np.arange(1 << n)
    return ((idx[:, None] >> np.arange(n)) & 1).astype(float)


def _lowest_corners(rbm, t, c, k):
    """The ``K = min(k, 2^n)`` corners (B, K, n) of the smaller layer (n units) with the lowest
    clamped free energy ``F_c(s)`` at each entry (all corners, in index order, when ``2^n <= k``).

    ``F_c(s) = -a_s.s - T sum_j softplus((b_o + c W s)_j / T)`` with ``a_s`` the smaller layer's
    biases and ``b_o`` the other's: ``F_q`` at the corner ``s`` and the other layer's exact half
    step (the other layer summed out).
    """
    w = rbm.weights
    small_is_visible = rbm.n_visible <= rbm.n_hidden
    n = min(rbm.n_visible, rbm.n_hidden)
    corners = _corners(n)
    if small_is_visible:
        bias_s, bias_o, field_o = rbm.visible_bias, rbm.hidden_bias, corners @ w
    else:
        bias_s, bias_o, field_o = rbm.hidden_bias, rbm.visible_bias, corners @ w.T
    kk = min(int(k), corners.shape[0])
    if kk == corners.shape[0]:
        chosen = np.broadcast_to(corners, (t.size,) + corners.shape)
    else:
        # T softplus(x/T) = relu(x) + T ln(1 + exp(-|x|/T)), so with E0(s) = -a_s.s - sum relu(x)
        # (the clamped energy at T = 0, shared by every temperature of one coupling scale),
        # E0(s) - T m ln 2 <= F_c(s) <= E0(s). The K corners of lowest E0 have F_c <= U (their
        # largest F_c), so the K-th smallest F_c is <= U and a corner with E0(s) - T m ln 2 > U
        # cannot be among the K lowest. Only the others (few at low T) are evaluated.
        # (Fields stored (m, 2^n): numpy sums a short last axis slowly.)
        linear = corners @ bias_s
        field_t = np.ascontiguousarray(field_o.T)
        bias_t = bias_o[:, None]
        index = np.empty((t.size, kk), dtype=np.intp)
        spread = field_t.shape[0] * np.log(2.0)
        relu = np.empty_like(field_t)
        for scale in np.unique(c):
            group = np.flatnonzero(c == scale)
            np.multiply(field_t, scale, out=relu)
            relu += bias_t
            np.maximum(relu, 0.0, out=relu)
            e0 = -linear - relu.sum(axis=0)
            first = np.argpartition(e0, kk - 1)[:kk]
            for ent in group:
                upper = _clamped(e0, field_t, bias_t, scale, first, t[ent]).max()
                cand = np.flatnonzero(e0 - t[ent] * spread <= upper + 1e-9 * (1.0 + abs(upper)))
                fc = _clamped(e0, field_t, bias_t, scale, cand, t[ent])
                index[ent] = cand[np.argpartition(fc, kk - 1)[:kk]]
        chosen = corners[index]
    return chosen


def _clamped(e0, field_t, bias_t, scale, rows, t):
    """``F_c`` of the corners ``rows``: ``E0 - T sum_j ln(1 + exp(-|x_j|/T))``, ``x = b_o + c W s``
    (``field_t``: the fields ``W s`` of every corner, (m, 2^n))."""
    e = np.abs(bias_t + scale * field_t[:, rows])
    e *= -1.0 / t
    np.exp(e, out=e)
    e += 1.0
    return e0[rows] - t * sum_log_of_products(e, _PRODUCT_GROUP, axis=0)


def _corner_starts(rbm, t, c, k):
    """Visible starts (B, K, nv) from the corners of :func:`_lowest_corners`.

    A visible corner is a start as it is (the first iteration's hidden update is its exact half
    step); a hidden corner enters as its visible half step ``sigma((a + c W s)/T)``.
    """
    chosen = _lowest_corners(rbm, t, c, k)
    if rbm.n_visible <= rbm.n_hidden:
        return chosen
    return visible_update(rbm, chosen, t[:, None, None], c[:, None, None])


def mean_field_batch(rbm, temperatures, couplings=None, *, n_starts=6, seed=0, tol=1e-10,
                     max_iter=5000, corner_limit=None, corner_starts=None):
    """Mean-field minima for a batch of (temperature, coupling scale) pairs.

    Entry ``k`` is the RBM with ``W -> couplings[k] W`` at temperature ``temperatures[k]``.
    The starts are those of :func:`mean_field`: ``n_starts`` from each layer and, where the
    smaller layer has at most ``corner_limit`` units, the ``corner_starts`` corners of lowest
    clamped free energy of that layer. Where the half-step map is a contraction (a single
    minimum) only the first start is run.

    Returns
    -------
    dict of arrays over the batch: ``free_energy`` (B,), ``visible`` (B, nv), ``hidden`` (B, nh),
    ``visible_logits``, ``hidden_logits`` (the fields ``(a + cW m_h)/T`` etc. whose sigmoids
    are the magnetisations), ``converged`` (B,), ``minima`` (list of arrays), ``exhaustive``
    (B,) bool (see :class:`MeanFieldResult`) and ``n_starts`` (B,) int, the starts run.
    """
    if int(n_starts) < 1:
        raise InputError(f"n_starts must be >= 1, got {n_starts}")
    limit = CORNER_LIMIT if corner_limit is None else int(corner_limit)
    if not 0 <= limit <= _MAX_CORNER_LIMIT:
        raise InputError(f"corner_limit must lie in 0..{_MAX_CORNER_LIMIT}, got {corner_limit}")
    n_corner = CORNER_STARTS if corner_starts is None else int(corner_starts)
    if n_corner < 1:
        raise InputError(f"corner_starts must be >= 1, got {corner_starts}")
    t = check_temperatures(temperatures)
    c = check_couplings(couplings, t)
    t3, c3 = t[:, None, None], c[:, None, None]
    mv = _starts(rbm, t, c, int(n_starts), seed)                         # (B, S, nv)
    single = _contracting(rbm, t, c)
    corners = min(rbm.n_visible, rbm.n_hidden) <= limit
    if corners:
        # The corners of lowest F_c, ranked only where the map does not contract (the other
        # entries run their first start alone); the contracting entries' rows are never run.
        extra = np.repeat(mv[:, :1], min(n_corner, 1 << min(rbm.n_visible, rbm.n_hidden)), axis=1)
        hard = np.flatnonzero(~single)
        if hard.size:
            extra[hard] = _corner_starts(rbm, t[hard], c[hard], n_corner)
        mv = np.concatenate([mv, extra], axis=1)
    n_runs = mv.shape[1]
    converged = np.zeros(mv.shape[:2], dtype=bool)
    # Flatten (batch, start) and iterate only the runs not yet converged: near a critical
    # temperature a few runs need thousands of sweeps, the rest a few dozen. Where the map
    # contracts, every start reaches the same point: only the first is run, the others copy it.
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
                converged=converged[rows, best], minima=minima, exhaustive=single | corners,
                n_starts=np.where(single, 1, n_runs))


def mean_field(rbm, temperature=1.0, *, n_starts=6, seed=0, tol=1e-10, max_iter=5000,
               corner_limit=None, corner_starts=None):
    """Naive mean field: minimise the GBF bound ``F_q(m)`` over product laws.

    The alternating iteration (each half step the exact minimiser of ``F_q`` over one layer)
    runs from a set of starts and the lowest stationary point is kept:

    * ``n_starts`` starts from *each* layer (uniform 1/2, independent units, all on, all off,
      then seeded random corners; a hidden start first takes one visible half step);
    * where the smaller layer has ``n <= corner_limit`` units (default :data:`CORNER_LIMIT`),
      the ``corner_starts`` corners ``s`` in {0,1}^n of that layer (default
      :data:`CORNER_STARTS`) with the lowest clamped free energy ``F_c(s)``, the other layer
      following by its exact half step.

    Why the corners. At a corner the entropy of the smaller layer vanishes and the half step
    minimises over the other layer, so the start's ``F_q`` is the clamped free energy (the
    other layer summed out; ``a_s`` the smaller layer's biases, ``b_o`` the other's)::

        F_c(s) = -a_s.s - T sum_j softplus((b_o + W^T s)_j / T).

    Every corner is ranked (exactly, or excluded by ``E0(s) - T m ln 2 <= F_c(s) <= E0(s)``
    with ``E0`` its value at ``T = 0`` and ``m`` the other layer's size), so the lowest corner
    is always a start. The iteration never raises ``F_q``, which guarantees

        F  <=  F_q  <=  min_s F_c(s)  <=  F + T n ln 2,

    the last step because ``F = -T ln sum_s exp(-F_c(s)/T)`` has ``2^n`` terms. At low ``T`` and
    strong coupling the minima of ``F_q`` sit near such saturated configurations (a corner and
    the other layer's response to it), the lowest one near the corners of lowest ``F_c``,
    where a few generic starts miss it. What is *not* proven: that the lowest end point of
    these starts is the lowest stationary point of ``F_q`` (a lower one need not lie in the
    basin of a low-``F_c`` corner). ``tests/rbm/test_meanfield_lowest.py`` checks it against an
    independent dense search (random starts and the iteration from every corner of *both*
    layers) over many random models and temperatures. ``MeanFieldResult.exhaustive`` says
    whether the corner search (or a contraction) backs the result. Where the half-step map is
    a contraction (``||W||_2 < 4T``) the minimum is unique and only the first start is run.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    n_starts : int
        Starts of the alternating iteration from *each* layer, besides the corners.
    seed : int
        Seed of the random corners.
    tol : float
        Convergence threshold on the largest change of a magnetisation.
    max_iter : int
    corner_limit : int, optional
        Largest smaller layer whose corners are searched (default :data:`CORNER_LIMIT`; 0: none).
    corner_starts : int, optional
        Corners of lowest ``F_c`` run (default :data:`CORNER_STARTS`; ``2**n``: every corner).

    Returns
    -------
    MeanFieldResult
    """
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("mean_field takes one temperature; use explorer.rbm.sweeps for curves")
    r = mean_field_batch(rbm, t, n_starts=n_starts, seed=seed, tol=tol, max_iter=max_iter,
                         corner_limit=corner_limit, corner_starts=corner_starts)
    return MeanFieldResult(free_energy=float(r["free_energy"][0]), visible=r["visible"][0],
                           hidden=r["hidden"][0], converged=bool(r["converged"][0]),
                           minima=r["minima"][0], exhaustive=bool(r["exhaustive"][0]),
                           n_starts=int(r["n_starts"][0]))
