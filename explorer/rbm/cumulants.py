"""Cumulant expansion of the free energy around a product reference law (perturbation theory).

Split ``H = H_q + lambda V`` with ``H_q(s) = -T theta.s`` (``theta = logit(m)``) and
``V = E - H_q``. Then (docs/physics.md)::

    F(lambda) = -T ln Z_q - T ln E_q[exp(-lambda V / T)]
              = -T ln Z_q - T sum_n kappa_n (-lambda/T)^n / n!

with ``kappa_n`` the cumulants of ``V`` under ``q``. Order 1 is the GBF bound ``F_q(m)``.

Everything here is exact (no sampling): the smaller layer is enumerated under ``q`` and
the other layer, on which ``V`` is linear and whose units are independent under ``q``,
is treated analytically. Given a state ``s`` of the enumerated layer,
``V = c(s) + sum_j g_j(s) h_j``, so the conditional cumulants are
``kappa_1(s) = c + g.m`` and ``kappa_n(s) = sum_j g_j^n kappa_n^Bern(m_j)``. The total
cumulants follow by power-series algebra on ``ln E_s[exp(K_s(t))]``, centred and scaled
by the standard deviation so the coefficients stay of order one.

Precision: the conversion from moments to cumulants cancels at high order, so precision
is lost as the order grows. Measured against 60-digit brute-force arithmetic over 72 cases
(benchmarks/rbm_cumulant_precision.py: 4 shapes x weight norms 0.3..3 x T 0.3..3 x both
references), the largest relative error of ``kappa_n`` is ~1e-13 up to n = 4, ~1e-10 up to
n = 8, 1e-9 at n = 9 and 6e-7 at n = 12 (worst: strong coupling, low T). Orders above 12
(up to 16) are allowed but less precise still.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np

from ..errors import InputError
from ._special import expit, log_expit, logsumexp
from ._validation import check_couplings, check_finite_array, check_temperatures
from .exact import StateBlocks, check_enumerable, map_batch_chunks, orient
from .meanfield import mean_field_batch

REFERENCES = ("mean-field", "independent")
#: Highest cumulant order computed.
MAX_ORDER = 16
# Elements per slice of the power-series recursion (~0.25 MB per slab: stays in cache).
_SERIES_SLICE = 1 << 15
# Elements (batch x states x other-layer units) per block of the first pass (~4 MB: the
# powers of g are rewritten K times, so the block should stay in a core's cache).
_PASS1_BLOCK = 1 << 19


def _bernoulli_cumulant_polynomials(order):
    """Coefficients (in powers of m) of the Bernoulli cumulants ``kappa_n(m)``, n = 1..order.

    ``kappa_1 = m`` and ``kappa_{n+1} = m (1 - m) d kappa_n / dm`` (integers, exact).
    """
    polys = [np.polynomial.Polynomial([0, 1])]
    var = np.polynomial.Polynomial([0, 1, -1])
    for _ in range(order - 1):
        polys.append(var * polys[-1].deriv())
    return polys


_BERNOULLI = _bernoulli_cumulant_polynomials(MAX_ORDER)


def bernoulli_cumulants(m, order):
    """Cumulants 1..order of Bernoulli(m), shape ``m.shape + (order,)``."""
    m = np.asarray(m, dtype=np.float64)
    return np.stack([p(m) for p in _BERNOULLI[:order]], axis=-1)


def _check_order(order):
    if int(order) != order or not 1 <= order <= MAX_ORDER:
        raise InputError(f"cumulant order must be an integer from 1 to {MAX_ORDER}, got {order}")
    return int(order)


def _check_reference(reference):
    if reference not in REFERENCES:
        raise InputError(f"reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    return reference


def reference_logits(rbm, temperatures, couplings=None, reference="mean-field", mean_field=None):
    """Logits ``theta`` (visible (B, nv), hidden (B, nh)) of the product reference law.

    ``mean-field``: the naive mean-field optimum; ``independent``: ``a/T``, ``b/T`` (the
    couplings are then the whole perturbation: the high-temperature expansion in ``||W||``).
    """
    _check_reference(reference)
    t = check_temperatures(temperatures)
    if reference == "independent":
        return rbm.visible_bias / t[:, None], rbm.hidden_bias / t[:, None]
    mf = mean_field if mean_field is not None else mean_field_batch(rbm, t, couplings)
    return mf["visible_logits"], mf["hidden_logits"]


def _series_exp(a, scale):
    """Coefficients of exp(A(u)) with ``A(u) = sum_{n>=1} scale_n a_n u^n`` (``b_0 = 1``).

    ``a`` has the order axis FIRST (``a[0]`` is ignored) and ``scale`` (K+1, ...) broadcasts
    against ``a[n]``. ``b_n = sum_{k=1}^n k A_k b_{n-k} / n``; with the order axis first
    every term is a whole contiguous array, and the products go into one scratch array, so
    the recursion runs at memory speed without allocating.
    """
    k_max = a.shape[0] - 1
    # ka[k - 1] = k A_k
    ka = a[1:] * (np.arange(1, k_max + 1).reshape((-1,) + (1,) * (scale.ndim - 1)) * scale[1:])
    b = np.empty_like(a)
    tmp = np.empty_like(a[0])
    b[0] = 1.0
    for n in range(1, k_max + 1):
        acc = b[n]
        np.multiply(ka[0], b[n - 1], out=acc)
        for k in range(2, n + 1):
            acc += np.multiply(ka[k - 1], b[n - k], out=tmp)
        acc *= 1.0 / n
    return b


def _series_log(m):
    """Coefficients of ln M(u) for M with m[..., 0] = 1."""
    k_max = m.shape[-1] - 1
    ell = np.zeros_like(m)
    k = np.arange(k_max + 1)
    for n in range(1, k_max + 1):
        # sum_{k=1}^{n-1} k l_k m_{n-k}, with m_{n-1} .. m_1 as a reversed view
        ell[..., n] = m[..., n] - np.einsum("...k,...k->...", (k * ell)[..., 1:n],
                                            m[..., n - 1:0:-1]) / n
    return ell


def _oriented_logits(o, theta_visible, theta_hidden, size):
    """Reference logits as (enumerated layer, other layer), each broadcast to the batch."""
    th_s, th_o = (theta_hidden, theta_visible) if o.swapped else (theta_visible, theta_hidden)
    return (np.broadcast_to(np.asarray(th_s, dtype=np.float64), (size, o.weights.shape[0])),
            np.broadcast_to(np.asarray(th_o, dtype=np.float64), (size, o.weights.shape[1])))


def cumulants_batch(rbm, temperatures, couplings=None, *, order=8, theta_visible, theta_hidden,
                    limit=None):
    """Exact cumulants of ``V`` under the product laws with the given logits.

    Returns
    -------
    dict with ``kappa`` (B, order) and ``log_partition_reference`` (B,) = ``ln Z_q``.
    """
    order = _check_order(order)
    check_enumerable(rbm, limit)
    t = check_temperatures(temperatures)
    c = check_couplings(couplings, t)
    o = orient(rbm)
    th_s, th_o = _oriented_logits(o, theta_visible, theta_hidden, t.size)
    parts = map_batch_chunks(lambda idx: _cumulants_core(o, t[idx], c[idx], th_s[idx], th_o[idx], order),
                             t.size, t.size * (1 << o.weights.shape[0]) * o.weights.shape[1] * order)
    return {key: np.concatenate([p_[key] for p_ in parts]) for key in parts[0]}


def _cumulants_core(o, t, c, th_s, th_o, order):
    """:func:`cumulants_batch` on an oriented RBM for one chunk of the batch."""
    m_o = expit(th_o)
    kb_o = bernoulli_cumulants(m_o, order)                                  # (B, n_o, K)
    tt = t[:, None]
    blocks = StateBlocks(o, batch_size=t.size, block_elements=_PASS1_BLOCK)
    same_coupling = bool(np.all(c == c[0]))
    # Pass 1: conditional cumulants for every state, written straight into the power-series
    # array a (K+1, B, S), order axis first so that the recursion below works on contiguous
    # slabs. Block buffers are allocated once: fresh multi-MB arrays per block cost more in
    # page faults than the arithmetic.
    n_states = blocks.n_blocks * blocks.states_lo.shape[0]
    n_lo, n_o = blocks.states_lo.shape[0], blocks.n_other
    a = np.empty((order + 1, t.size, n_states))
    logq = np.empty((t.size, n_states))
    g = np.empty((t.size, n_lo, n_o))
    gp = np.empty_like(g)
    # g_base repeated over the block's states, so that forming g broadcasts over the batch
    # only, with long contiguous inner loops (broadcasting (B, 1, n_o) is several times slower)
    g_base = np.tile(-o.bias_other + tt * th_o, n_lo).reshape(g.shape)    # (B, R, n_o)
    log_m_s, log_1m_s = log_expit(th_s), log_expit(-th_s)
    for k in range(blocks.n_blocks):
        field_hi, lin_hi = blocks.high(k)
        r0 = k * n_lo
        r1 = r0 + n_lo
        states = blocks.states(k)                                           # (R, n_s)
        field = blocks.field_lo + field_hi                                  # (R, n_o): s W
        lin = blocks.lin_lo + lin_hi                                        # (R,): s . a
        # V(s, h) = c(s) + g(s).h with c(s) = -s.a + T theta_s.s and g = -b - c sW + T theta_o
        if same_coupling:   # a temperature sweep: c sW is shared by the whole batch
            np.subtract(g_base, c[0] * field, out=g)
        else:
            np.subtract(g_base, c[:, None, None] * field[None], out=g)
        a[1, :, r0:r1] = -lin[None, :] + tt * (th_s @ states.T) + (g @ m_o[:, :, None])[..., 0]
        np.multiply(g, g, out=gp)
        for n in range(1, order):
            if n > 1:
                np.multiply(gp, g, out=gp)                                  # g^(n+1)
            a[n + 1, :, r0:r1] = (gp @ kb_o[:, :, n, None])[..., 0]
        # ln q(s) = theta_s.s - sum softplus(theta_s), written with log_expit for stability
        logq[:, r0:r1] = log_m_s @ states.T + log_1m_s @ (1 - states).T    # (B, R)
    q = np.exp(logq - logq.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)                                       # guard rounding
    mean = np.einsum("bs,bs->b", q, a[1])
    a[1] -= mean[:, None]                                                   # centred first order
    var = np.einsum("bs,bs->b", q, a[1] * a[1])
    if order > 1:
        var = var + np.einsum("bs,bs->b", q, a[2])
    # A (nearly) deterministic V has sigma ~ 0; flooring the scale keeps scale^n from
    # underflowing (the rescaled coefficients are then simply tiny).
    scale = np.maximum(np.sqrt(np.maximum(var, 0.0)), 1e-15 * np.maximum(1.0, np.abs(mean)))
    # Power series in u = t * scale: a_n(s) = kappa_n(s) / (n! scale^n).
    n = np.arange(1, order + 1)
    inv = 1.0 / (np.array([factorial(i) for i in n])[None, :] * scale[:, None] ** n[None, :])
    inv_series = np.concatenate([np.ones((1, t.size)), inv.T])[:, :, None]    # (K+1, B, 1)
    # The recursion makes ~K^2/2 passes over (B, S): run it on cache-sized slices of the batch.
    step = max(1, _SERIES_SLICE // a.shape[2])
    moments = np.concatenate([
        np.einsum("bs,nbs->bn", q[i:i + step],
                  _series_exp(a[:, i:i + step], inv_series[:, i:i + step]))
        for i in range(0, a.shape[1], step)])                                 # (B, K+1)
    ell = _series_log(moments)
    kappa = ell[:, 1:] / inv
    kappa[:, 0] = mean
    log_zq = (-log_expit(-th_s)).sum(-1) + (-log_expit(-th_o)).sum(-1)      # sum softplus(theta)
    return dict(kappa=kappa, log_partition_reference=log_zq)


def series_from_cumulants(kappa, log_partition_reference, temperature, lam):
    """Truncated series ``F_K(lambda)`` for K = 1..order.

    Parameters
    ----------
    kappa : array (..., order)
    log_partition_reference : array (...)
    temperature : array (...)
    lam : float or array (L,)

    Returns
    -------
    array (..., L, order) (``L`` axis dropped for a scalar ``lam``).
    """
    kappa = np.asarray(kappa, dtype=np.float64)
    t = np.asarray(temperature, dtype=np.float64)[..., None, None]
    lam_arr = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    order = kappa.shape[-1]
    n = np.arange(1, order + 1)
    fact = np.array([factorial(i) for i in n], dtype=np.float64)
    terms = -t * kappa[..., None, :] * (-lam_arr[:, None] / t) ** n / fact   # (..., L, K)
    out = -t * np.asarray(log_partition_reference)[..., None, None] + np.cumsum(terms, axis=-1)
    return out[..., 0, :] if np.ndim(lam) == 0 else out


def lambda_free_energy_batch(rbm, temperatures, lams, couplings=None, *, theta_visible,
                             theta_hidden, limit=None):
    """Exact ``F(lambda) = -T ln Z_q - T ln E_q[exp(-lambda V / T)]`` for each batch entry and lambda.

    Returns an array (B, L).
    """
    check_enumerable(rbm, limit)
    t = check_temperatures(temperatures)
    lam = check_finite_array(np.atleast_1d(lams), "lambda", ndim=1)
    c = check_couplings(couplings, t)
    o = orient(rbm)
    th_s, th_o = _oriented_logits(o, theta_visible, theta_hidden, t.size)
    log_m, log_1m = log_expit(th_o), log_expit(-th_o)                       # (B, n_o)
    blocks = StateBlocks(o, batch_size=t.size * lam.size)
    tt = t[:, None, None]
    lam3 = lam[None, :, None]
    parts = []
    for k in range(blocks.n_blocks):
        field_hi, lin_hi = blocks.high(k)
        states = blocks.states(k)
        field = blocks.field_lo + field_hi
        lin = blocks.lin_lo + lin_hi
        c_s = -lin[None, :] + t[:, None] * (th_s @ states.T)                # (B, R)
        g = (-o.bias_other + t[:, None] * th_o)[:, None, :] - c[:, None, None] * field[None]
        logq = (states @ log_expit(th_s).T + (1 - states) @ log_expit(-th_s).T).T  # (B, R)
        # ln E_h[exp(-lam g.h / T)] = sum_j ln((1-m_j) + m_j exp(-lam g_j / T))
        x = -lam3[:, :, None, :] * g[:, None, :, :] / tt[..., None]          # (B, L, R, n_o)
        h_part = np.logaddexp(log_1m[:, None, None, :], log_m[:, None, None, :] + x).sum(-1)
        parts.append(logsumexp(logq[:, None, :] - lam3 * c_s[:, None, :] / tt + h_part, axis=-1))
    log_e = logsumexp(np.stack(parts), axis=0)                             # (B, L)
    log_zq = (-log_expit(-th_s)).sum(-1) + (-log_expit(-th_o)).sum(-1)
    return -t[:, None] * (log_zq[:, None] + log_e)


@dataclass(frozen=True)
class CumulantExpansion:
    """Cumulants of ``V`` under a product reference and what they give.

    Attributes
    ----------
    reference : str
    temperature : float
    kappa : ndarray (order,)
        ``kappa_1 .. kappa_K``.
    log_partition_reference : float
        ``ln Z_q``.
    visible, hidden : ndarray
        Magnetisations of the reference law.
    """
    reference: str
    temperature: float
    kappa: np.ndarray
    log_partition_reference: float
    visible: np.ndarray
    hidden: np.ndarray

    @property
    def order(self):
        return self.kappa.size

    def series(self, lam=1.0):
        """``F_K(lambda)`` for K = 1..order (array (order,), or (L, order) for an array lam)."""
        return series_from_cumulants(self.kappa, self.log_partition_reference, self.temperature, lam)


def cumulant_expansion(rbm, temperature=1.0, order=8, reference="mean-field", *, limit=None):
    """Exact cumulants ``kappa_1..kappa_order`` of ``V = E - H_q`` under a product reference.

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    order : int, 1..16
    reference : {"mean-field", "independent"}

    Returns
    -------
    CumulantExpansion
    """
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("cumulant_expansion takes one temperature; use explorer.rbm.sweeps for curves")
    order = _check_order(order)
    th_v, th_h = reference_logits(rbm, t, reference=reference)
    r = cumulants_batch(rbm, t, order=order, theta_visible=th_v, theta_hidden=th_h, limit=limit)
    return CumulantExpansion(reference=reference, temperature=float(t[0]), kappa=r["kappa"][0],
                             log_partition_reference=float(r["log_partition_reference"][0]),
                             visible=expit(th_v[0]), hidden=expit(th_h[0]))


def lambda_free_energy(rbm, lam, temperature=1.0, reference="mean-field", *, limit=None):
    """Exact ``F(lambda)`` of ``H_q + lambda V`` (any real lambda; lambda = 1 is the exact F).

    Returns a float for scalar ``lam``, else an array.
    """
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("lambda_free_energy takes one temperature")
    th_v, th_h = reference_logits(rbm, t, reference=reference)
    out = lambda_free_energy_batch(rbm, t, lam, theta_visible=th_v, theta_hidden=th_h, limit=limit)[0]
    return float(out[0]) if np.ndim(lam) == 0 else out
