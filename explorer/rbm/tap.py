"""TAP / Plefka corrections to mean field (the EMF-RBM free energy). Not a bound.

With ``var_i = m_i (1 - m_i)`` and ``beta = 1/T`` (docs/physics.md)::

    F_TAP2(m) = F_q(m) - (beta/2)   sum_ij W_ij^2 var_i var_j
    F_TAP3(m) = F_TAP2(m) - (2 beta^2/3) sum_ij W_ij^3 var_i (1/2 - m_i) var_j (1/2 - m_j)

evaluated at a stationary point of the functional. Writing the stationarity condition as
``m = sigma(phi(m))`` gives the TAP equations, solved from the mean-field solution by
Newton's method (fast) and, where that fails, by damped alternating iteration. Where
neither settles (low T, strong coupling) the functional is minimised directly: with one layer fixed it separates into
one-dimensional problems per unit, so alternating exact layer minimisation lowers F_TAP at
every step and ends at a stationary point. The result reports whether the final point
satisfies the TAP equations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._special import expit
from ._validation import check_couplings, check_temperatures
from .meanfield import _gbf, mean_field_batch

#: Largest ``|m - sigma(phi(m))|`` accepted as a solution of the TAP equations.
TAP_TOLERANCE = 1e-8


@dataclass(frozen=True)
class TAPResult:
    """TAP free energy at a stationary point of the TAP functional.

    Attributes
    ----------
    free_energy : float
    visible, hidden : ndarray
        Magnetisations at the stationary point.
    order : int
        2 or 3.
    converged : bool
        Whether the magnetisations satisfy the TAP equations to ``TAP_TOLERANCE``.
    method : str
        ``"newton"``, ``"iteration"`` (damped) or ``"minimisation"`` (the fallback).
    residual : float
        ``max |m - sigma(phi(m))|``.
    """
    free_energy: float
    visible: np.ndarray
    hidden: np.ndarray
    order: int
    converged: bool
    method: str
    residual: float


def _check_order(order):
    if order not in (2, 3):
        raise InputError(f"TAP order must be 2 or 3, got {order}")
    return int(order)


def _f3(m):
    """``var (1/2 - m)``: the third-order weight of one unit."""
    return m * (1.0 - m) * (0.5 - m)


def tap_functional(rbm, mv, mh, t, c, order):
    """``F_TAP`` for batched magnetisations (..., n); ``t``, ``c`` broadcast over (...)."""
    beta = 1.0 / t
    w = rbm.weights
    var_v, var_h = mv * (1 - mv), mh * (1 - mh)
    f = _gbf(rbm, mv, mh, t, c) - 0.5 * beta * c ** 2 * np.einsum("...i,ij,...j->...", var_v, w ** 2, var_h)
    if order == 3:
        f = f - (2.0 / 3.0) * beta ** 2 * c ** 3 * np.einsum(
            "...i,ij,...j->...", _f3(mv), w ** 3, _f3(mh))
    return f


def _tap_logits(rbm, mv, mh, t, c, order, layer):
    """The logits ``phi`` that the TAP equation prescribes for one layer given both layers.

    ``dF_TAP/dm = T (logit(m) - phi)``, so the gradient comes for free.
    """
    w, beta = rbm.weights, 1.0 / t
    if layer == "visible":
        m, other, bias, wt = mv, mh, rbm.visible_bias, w
    else:
        m, other, bias, wt = mh, mv, rbm.hidden_bias, w.T
    field = bias + c * (other @ wt.T)
    field = field + 0.5 * beta * c ** 2 * (1 - 2 * m) * ((other * (1 - other)) @ (wt.T ** 2))
    if order == 3:
        df3 = 0.5 - 3 * m + 3 * m * m                                  # d/dm [var (1/2 - m)]
        field = field + (2.0 / 3.0) * beta ** 2 * c ** 3 * df3 * (_f3(other) @ (wt.T ** 3))
    return beta * field


def _residual(rbm, mv, mh, t, c, order):
    rv = np.abs(mv - expit(_tap_logits(rbm, mv, mh, t, c, order, "visible"))).max(-1)
    rh = np.abs(mh - expit(_tap_logits(rbm, mv, mh, t, c, order, "hidden"))).max(-1)
    return np.maximum(rv, rh)


def _layer_terms(rbm, mv, mh, t, c, order, layer):
    """Coefficients of one layer's TAP functional given the other layer (separable per unit).

    With the other layer fixed, unit i contributes ``-h_i m - T H_b(m) - A_i var(m) - B_i f(m)``
    with ``f(m) = var(m)(1/2 - m)``: n independent one-dimensional problems.
    """
    w, beta = rbm.weights, 1.0 / t
    if layer == "visible":
        other, bias, wt = mh, rbm.visible_bias, w
    else:
        other, bias, wt = mv, rbm.hidden_bias, w.T
    h = bias + c * (other @ wt.T)
    a = 0.5 * beta * c ** 2 * ((other * (1 - other)) @ (wt.T ** 2))
    b = (2.0 / 3.0) * beta ** 2 * c ** 3 * (_f3(other) @ (wt.T ** 3)) if order == 3 else np.zeros_like(h)
    return h, a, b


def _unit_objective(theta, h, a, b, t):
    """One unit's TAP objective ``g`` and ``r = dg/dm = T theta - (h + A(1-2m) + B f'(m))``."""
    m = expit(theta)
    var = m * (1 - m)
    # -T H_b(m) = T (theta m - softplus(theta)), written stably with logaddexp
    g = -h * m + t * (theta * m - np.logaddexp(0.0, theta)) - a * var - b * var * (0.5 - m)
    r = t * theta - (h + a * (1 - 2 * m) + b * (0.5 - 3 * m + 3 * m * m))
    return g, r, m


def _minimise_layer(h, a, b, t, n_grid=33, n_newton=30):
    """Minimise each unit's 1-D TAP objective over its logit, vectorised.

    ``dg/dtheta = m(1-m) r(theta)`` and the bounded right side of ``r`` brackets every
    stationary logit: ``r < 0`` below the bracket, ``> 0`` above. A grid locates each
    minimum (a sign change of ``r`` from - to +; order 3 can have two) and keeps the lowest;
    safeguarded Newton steps on ``r`` inside that grid cell then converge quadratically.
    """
    span = (np.abs(a) + 0.5 * np.abs(b)) / t
    lo, hi = h / t - span - 1.0, h / t + span + 1.0
    grid = lo[..., None] + (hi - lo)[..., None] * np.linspace(0.0, 1.0, n_grid)
    g, r, _ = _unit_objective(grid, h[..., None], a[..., None], b[..., None], t[..., None])
    crossing = (r[..., :-1] <= 0) & (r[..., 1:] > 0)
    g_cell = np.where(crossing, np.minimum(g[..., :-1], g[..., 1:]), np.inf)
    j = np.argmin(g_cell, axis=-1)[..., None]
    left = np.take_along_axis(grid, j, -1)[..., 0]
    right = np.take_along_axis(grid, j + 1, -1)[..., 0]
    theta = 0.5 * (left + right)
    for _ in range(n_newton):
        _, r, m = _unit_objective(theta, h, a, b, t)
        left = np.where(r <= 0, theta, left)
        right = np.where(r > 0, theta, right)
        slope = t + m * (1 - m) * (2 * a + 3 * b - 6 * b * m)
        step = theta - r / np.where(slope > 0, slope, np.inf)
        inside = (step > left) & (step < right) & (slope > 0)
        new = np.where(inside, step, 0.5 * (left + right))
        moved = np.abs(new - theta).max() if new.size else 0.0
        theta = new
        if moved < 1e-12:
            break
    return expit(theta)


def _block_descent(rbm, mv, mh, t, c, order, tol, max_iter):
    """Alternating exact minimisation over whole layers: F_TAP never increases."""
    for _ in range(int(max_iter)):
        mh = _minimise_layer(*_layer_terms(rbm, mv, mh, t, c, order, "hidden"), t)
        mv = _minimise_layer(*_layer_terms(rbm, mv, mh, t, c, order, "visible"), t)
        if np.all(_residual(rbm, mv, mh, t, c, order) < tol):
            break
    return mv, mh


def _newton(rbm, mv, mh, t, c, order, tol, n_iter=25, max_step=4.0):
    """Newton's method on the TAP equations in logit space, vectorised over the batch.

    Solves ``r(theta) = dF_TAP/dm = 0`` with ``m = sigma(theta)``. The Jacobian
    ``dr/dtheta = H diag(m(1-m))`` has ``T`` plus bounded terms on its diagonal, so it stays
    well conditioned even for saturated units. Steps are capped and halved until the
    residual drops; entries that do not converge are left to the slower, safer methods.
    Quadratic convergence makes this the fast path of the sweeps.
    """
    w = rbm.weights
    nv = rbm.n_visible
    w2, w3 = w ** 2, w ** 3

    def logit(m):
        m = np.clip(m, 1e-300, 1.0)
        return np.log(m) - np.log1p(-np.minimum(m, 1 - 1e-16))

    theta = np.concatenate([logit(mv), logit(mh)], axis=1)
    theta = np.clip(theta, -700.0, 700.0)

    def state(th):
        m = expit(th)
        return m[:, :nv], m[:, nv:]

    def gradient(th):
        return gradient_at(th, t, c)

    def gradient_at(th, t, c):
        a_v, a_h = state(th)
        g_v = t * (th[:, :nv] - _tap_logits(rbm, a_v, a_h, t, c, order, "visible"))
        g_h = t * (th[:, nv:] - _tap_logits(rbm, a_v, a_h, t, c, order, "hidden"))
        return np.concatenate([g_v, g_h], axis=1)

    def jacobian_at(th, t, c):
        beta = 1.0 / t
        a_v, a_h = state(th)
        d_v, d_h = a_v * (1 - a_v), a_h * (1 - a_h)
        cc = c[:, :, None]
        bb = beta[:, :, None]
        # second derivatives of the corrections (the entropy part gives T / (m(1-m)))
        diag_v = beta * c ** 2 * (d_h @ w2.T)
        diag_h = beta * c ** 2 * (d_v @ w2)
        cross = -cc * w - 0.5 * bb * cc ** 2 * w2 * (1 - 2 * a_v)[:, :, None] * (1 - 2 * a_h)[:, None, :]
        if order == 3:
            k3 = (2.0 / 3.0) * beta ** 2 * c ** 3
            diag_v = diag_v - k3 * (-3 + 6 * a_v) * (_f3(a_h) @ w3.T)
            diag_h = diag_h - k3 * (-3 + 6 * a_h) * (_f3(a_v) @ w3)
            df_v, df_h = 0.5 - 3 * a_v + 3 * a_v ** 2, 0.5 - 3 * a_h + 3 * a_h ** 2
            cross = cross - k3[:, :, None] * w3 * df_v[:, :, None] * df_h[:, None, :]
        n = th.shape[1]
        jac = np.zeros((th.shape[0], n, n))
        d = np.concatenate([d_v, d_h], axis=1)
        idx = np.arange(n)
        jac[:, idx, idx] = t + d * np.concatenate([diag_v, diag_h], axis=1)
        jac[:, :nv, nv:] = cross * d_h[:, None, :]
        jac[:, nv:, :nv] = np.swapaxes(cross, 1, 2) * d_v[:, None, :]
        return jac

    res = np.abs(gradient(theta)).max(axis=1) / t[:, 0]
    active = np.flatnonzero(res >= tol * 1e-3)
    for _ in range(int(n_iter)):
        if active.size == 0:
            break
        # Only unsolved entries are stepped: after a few iterations most of the batch is done.
        th, tt, cc = theta[active], t[active], c[active]
        g = gradient_at(th, tt, cc)
        with np.errstate(all="ignore"):
            try:
                step = -np.linalg.solve(jacobian_at(th, tt, cc), g[:, :, None])[..., 0]
            except np.linalg.LinAlgError:
                break
        step = np.where(np.isfinite(step), step, 0.0)
        big = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, max_step / np.maximum(big, 1e-300))
        scale = np.ones((active.size, 1))
        old = res[active]
        for _halving in range(6):
            trial = th + scale * step
            new_res = np.abs(gradient_at(trial, tt, cc)).max(axis=1) / tt[:, 0]
            ok = new_res < old
            if ok.all():
                break
            scale = np.where(ok[:, None], scale, 0.5 * scale)
        theta[active] = np.where(ok[:, None], trial, th)
        res[active] = np.where(ok, new_res, old)
        # stop an entry once solved, or once no step improves it (left to the fallbacks)
        active = active[ok & (res[active] >= tol * 1e-3)]
    a_v, a_h = state(theta)
    return a_v, a_h


#: TAP settings of every curve the explorer draws (sweeps and the point under the cursor):
#: Newton from the mean-field solution only. Where Newton fails (low T, strong coupling) the
#: slow fallbacks did not rescue one point of a 200-point sweep in their interactive budget
#: (measured), so such points are reported as not converged.
SWEEP_TAP = dict(max_iter=0, fallback=False)


def _damped_sweep(rbm, mv, mh, t, c, order, damping):
    """One damped sweep of the TAP equations, hidden layer first: ``m <- (1 - d) m + d sigma(phi(m))``."""
    mh = (1 - damping) * mh + damping * expit(_tap_logits(rbm, mv, mh, t, c, order, "hidden"))
    mv = (1 - damping) * mv + damping * expit(_tap_logits(rbm, mv, mh, t, c, order, "visible"))
    return mv, mh


def tap_batch(rbm, temperatures, couplings=None, *, order=2, start=None, damping=0.5,
              tol=TAP_TOLERANCE, max_iter=100, block_iter=500, fallback=True):
    """TAP stationary points for a batch of (temperature, coupling scale) pairs.

    Parameters
    ----------
    start : dict, optional
        Mean-field solution from :func:`mean_field_batch` (computed when not given).

    Returns
    -------
    dict of arrays over the batch: ``free_energy``, ``visible``, ``hidden``, ``converged``,
    ``residual`` and ``method`` (list of str).
    """
    order = _check_order(order)
    t = check_temperatures(temperatures)
    c = check_couplings(couplings, t)
    if start is None:
        start = mean_field_batch(rbm, t, c)
    mv0, mh0 = start["visible"], start["hidden"]
    t2, c2 = t[:, None], c[:, None]
    # Fast path: Newton from the mean-field solution.
    mv, mh = _newton(rbm, mv0, mh0, t2, c2, order, tol)
    res = _residual(rbm, mv, mh, t2, c2, order)
    method = np.array(["newton"] * t.size, dtype=object)
    # Entries Newton could not solve restart from mean field with the damped iteration.
    active = np.flatnonzero(~(res < tol))
    if active.size:
        mv[active], mh[active] = mv0[active], mh0[active]
        res[active] = _residual(rbm, mv[active], mh[active], t2[active], c2[active], order)
        method[active] = "iteration"
    for _ in range(int(max_iter)):
        if active.size == 0:
            break
        # Only entries not yet solved are iterated: easy temperatures cost nothing more.
        a_t, a_c = t2[active], c2[active]
        a_v, a_h = _damped_sweep(rbm, mv[active], mh[active], a_t, a_c, order, damping)
        mv[active], mh[active] = a_v, a_h
        res[active] = _residual(rbm, a_v, a_h, a_t, a_c, order)
        active = active[~(res[active] < tol)]
    hard = np.flatnonzero(~(res < tol))
    if fallback and hard.size:
        mv_k, mh_k = _block_descent(rbm, mv[hard], mh[hard], t2[hard], c2[hard], order, tol,
                                    max_iter=block_iter)
        better = _residual(rbm, mv_k, mh_k, t2[hard], c2[hard], order) < res[hard]
        idx = hard[better]
        mv[idx], mh[idx] = mv_k[better], mh_k[better]
        method[idx] = "minimisation"
        res = _residual(rbm, mv, mh, t2, c2, order)
    f = tap_functional(rbm, mv, mh, t, c, order)
    return dict(free_energy=f, visible=mv, hidden=mh, converged=res < tol, residual=res,
                method=list(method))


def tap_follow(rbm, visible, hidden, order=2, temperature=1.0, *, dampings=(0.5, 0.2), n_iter=100,
               tol=TAP_TOLERANCE):
    """A solution of the TAP equations reached from given magnetisations, or None.

    For training with persistent magnetisations (EMF, Gabrié, Tramel & Krzakala 2015): the
    previous update's fixed point is the start. Newton's method from it first (one small step
    of the parameters moves a fixed point a little); where that fails, the branch being
    followed has usually ended (strong couplings give the TAP equations several solutions, and
    a branch ends where two of them merge: in the Learning tab's race, past ||W|| ~ 8, the
    solution found is then 0.3-0.5 away from the start in some unit, measured), so the damped
    iteration ``m <- (1 - d) m + d sigma(phi(m))``
    from the start, one ``d`` of ``dampings`` after the other, runs ``n_iter`` sweeps toward a
    nearby stable solution and Newton's method finishes it. Each try costs a few ms; None when
    none reaches ``tol`` (the caller then solves from mean field, :func:`tap`).

    Returns
    -------
    (visible, hidden) magnetisations with ``max |m - sigma(phi(m))| < tol``, or None.
    """
    order = _check_order(order)
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("tap_follow takes one temperature")
    t2, c2 = t[:, None], np.ones((1, 1))
    mv0 = np.asarray(visible, dtype=np.float64).reshape(1, -1)
    mh0 = np.asarray(hidden, dtype=np.float64).reshape(1, -1)
    mv, mh = _newton(rbm, mv0, mh0, t2, c2, order, tol)
    if _residual(rbm, mv, mh, t2, c2, order)[0] < tol:
        return mv[0], mh[0]
    for d in dampings:
        a_v, a_h = mv0.copy(), mh0.copy()
        for _ in range(int(n_iter)):
            a_v, a_h = _damped_sweep(rbm, a_v, a_h, t2, c2, order, d)
        mv, mh = _newton(rbm, a_v, a_h, t2, c2, order, tol)
        if _residual(rbm, mv, mh, t2, c2, order)[0] < tol:
            return mv[0], mh[0]
    return None


def tap(rbm, temperature=1.0, order=2, **kwargs):
    """TAP free energy of order 2 or 3 at a stationary point of the TAP functional.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    order : {2, 3}
    **kwargs
        Passed to :func:`tap_batch` (``damping``, ``tol``, ``max_iter``, ``fallback``).

    Returns
    -------
    TAPResult
    """
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("tap takes one temperature; use explorer.rbm.sweeps for curves")
    r = tap_batch(rbm, t, order=order, **kwargs)
    return TAPResult(free_energy=float(r["free_energy"][0]), visible=r["visible"][0],
                     hidden=r["hidden"][0], order=_check_order(order),
                     converged=bool(r["converged"][0]), method=r["method"][0],
                     residual=float(r["residual"][0]))
