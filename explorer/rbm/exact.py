"""Exact enumeration: ln Z, F, U, S, C, marginals, clamped free energies and ln p(v).

The smaller layer is enumerated and the larger one summed analytically
(docs/physics.md: cost ``2^min(nv, nh) * nv * nh``). The energy is symmetric in the
two layers, so the code works on an *oriented* RBM whose rows are the
enumerated layer.

States are built from two tables instead of a matrix product: the low bits of
the state index select a row of a precomputed table of ``s_lo W_lo`` and the
high bits add one vector, so each block costs one broadcast add. The softplus
over ``2^n x n_other`` values dominates; see :func:`._numerics.sum_softplus`.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import EnumerationLimitError
from ._numerics import sum_log_of_products, sum_softplus
from ._special import logsumexp
from ._validation import check_binary, check_couplings, check_states, check_temperatures

#: Largest ``min(n_visible, n_hidden)`` enumerated by default (2^24 states).
DEFAULT_ENUMERATION_LIMIT = 24

# Elements (batch x states x other-layer units) processed per block: ~4 MB of float64,
# large enough to amortise Python overhead, small enough to stay near the caches.
_BLOCK_ELEMENTS = 1 << 19
# Below this much work threads cost more than they save.
_THREAD_MIN_ELEMENTS = 1 << 22


def check_enumerable(rbm, limit=None):
    """Raise :class:`EnumerationLimitError` when ``rbm`` is too large to enumerate."""
    limit = DEFAULT_ENUMERATION_LIMIT if limit is None else int(limit)
    n_small = min(rbm.n_visible, rbm.n_hidden)
    if n_small > limit:
        raise EnumerationLimitError(
            f"cannot enumerate this RBM exactly: min(n_visible, n_hidden) = {n_small} exceeds the "
            f"limit of {limit} (2^{limit} states); use a sampling estimate of ln Z instead "
            f"(annealed importance sampling), or raise the limit with limit=...")


@dataclass(frozen=True)
class _Oriented:
    """RBM parameters with the enumerated layer first."""
    weights: np.ndarray       # (n_small, n_other)
    bias_small: np.ndarray    # (n_small,)
    bias_other: np.ndarray    # (n_other,)
    swapped: bool             # True when the enumerated layer is the hidden one


def orient(rbm):
    """Put the smaller layer first (ties: visible first)."""
    if rbm.n_visible <= rbm.n_hidden:
        return _Oriented(rbm.weights, rbm.visible_bias, rbm.hidden_bias, False)
    return _Oriented(rbm.weights.T, rbm.hidden_bias, rbm.visible_bias, True)


def all_states(n):
    """All ``2^n`` binary vectors of length ``n`` as float64 rows (bit i of the index is unit i)."""
    idx = np.arange(1 << n, dtype=np.int64)
    return ((idx[:, None] >> np.arange(n)) & 1).astype(np.float64)


class StateBlocks:
    """Enumerate the states of the smaller layer block by block.

    Block ``k`` holds the ``2^lo`` states whose high bits encode ``k``. The low bits index
    precomputed tables, so a block costs one broadcast add instead of a matrix product.
    """

    def __init__(self, oriented, batch_size=1, block_elements=None):
        w, a = oriented.weights, oriented.bias_small
        n, n_other = w.shape
        per_state = max(1, batch_size * n_other)
        block_elements = _BLOCK_ELEMENTS if block_elements is None else int(block_elements)
        lo = int(np.clip(np.floor(np.log2(max(1, block_elements // per_state))), 0, n))
        self.n, self.lo, self.n_other = n, lo, n_other
        self.states_lo = all_states(lo)
        self.field_lo = self.states_lo @ w[:lo]          # (R, n_other): s_lo W_lo
        self.lin_lo = self.states_lo @ a[:lo]            # (R,): s_lo . a_lo
        self._w_hi, self._a_hi = w[lo:], a[lo:]
        self.n_blocks = 1 << (n - lo)

    def high_bits(self, k):
        return ((k >> np.arange(self.n - self.lo)) & 1).astype(np.float64)

    def high(self, k):
        """``(s_hi W_hi, s_hi . a_hi)`` shared by every state of block ``k``."""
        s_hi = self.high_bits(k)
        return s_hi @ self._w_hi, float(s_hi @ self._a_hi)

    def states(self, k):
        s_hi = np.broadcast_to(self.high_bits(k), (self.states_lo.shape[0], self.n - self.lo))
        return np.hstack([self.states_lo, s_hi])


_POOL = None
_POOL_LOCK = threading.Lock()
_IN_WORKER = threading.local()


def _mark_worker():
    _IN_WORKER.active = True


def _worker_pool():
    """One thread per core, kept for the life of the process.

    Kept rather than created per call: a fresh pool costs thread start-up, and its new
    threads would allocate fresh scratch buffers (page faults) on every call.
    Returns None inside a worker, so that nested calls run serially instead of waiting on
    a pool they occupy.
    """
    global _POOL
    n_workers = os.cpu_count() or 1
    if n_workers < 2 or getattr(_IN_WORKER, "active", False):
        return None
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="explorer-exact",
                                       initializer=_mark_worker)
    return _POOL


def _map_blocks(fn, n_blocks, work):
    pool = _worker_pool() if work >= _THREAD_MIN_ELEMENTS and n_blocks > 1 else None
    if pool is None:
        return [fn(k) for k in range(n_blocks)]
    # numpy's ufuncs release the GIL: threads use both cores.
    return list(pool.map(fn, range(n_blocks)))


def map_batch_chunks(fn, size, work):
    """Apply ``fn`` to index chunks of a batch of ``size`` entries, one chunk per core.

    Batch entries are independent, and numpy releases the GIL inside its kernels, so large
    batches split over threads use every core. Returns the list of results in order.
    """
    pool = _worker_pool() if work >= _THREAD_MIN_ELEMENTS and size >= 2 else None
    if pool is None:
        return [fn(np.arange(size))]
    chunks = np.array_split(np.arange(size), min(os.cpu_count(), size))
    return list(pool.map(fn, chunks))


_THREAD_BUFFERS = threading.local()


def _scratch(name, shape):
    """A float64 scratch array of ``shape``, kept per thread and reused across blocks and calls.

    Freshly allocated multi-MB temporaries are returned to the OS when freed, so every block
    would pay page faults for them: more time than the arithmetic done in them (measured).
    """
    arrays = getattr(_THREAD_BUFFERS, "arrays", None)
    if arrays is None:
        arrays = _THREAD_BUFFERS.arrays = {}
    a = arrays.get(name)
    if a is None or a.shape != shape:
        a = arrays[name] = np.empty(shape)
    return a


# exp() of arguments up to this stays far from float64 overflow (exp(709) is the limit).
_EXP_SAFE = 600.0


def exact_batch(rbm, temperatures, couplings=None, *, moments=False, marginals=False,
                correlations=False, limit=None):
    """Exact statistics for a batch of (temperature, coupling scale) pairs in one pass.

    Entry ``k`` of the batch is the RBM with ``W`` replaced by ``couplings[k] * W`` at
    temperature ``temperatures[k]``. This is the vectorised workhorse behind every
    public function here and behind the sweeps.

    Returns
    -------
    dict with ``log_partition`` (B,), and when asked ``internal_energy`` and
    ``energy_variance`` (B,), ``visible`` (B, n_visible) and ``hidden`` (B, n_hidden)
    exact marginals, ``correlation`` (B, n_visible, n_hidden) = ``E_p[v h^T]``.

    Notes
    -----
    With ``x = (b + c s W)/T`` the weight of a state of the enumerated layer is
    ``exp(s.a/T) prod_j (1 + exp(x_j))``. Because ``x`` splits into a low-bit table and a
    per-block vector, ``exp(x)`` is a product of two precomputed exponentials; the product
    over j is taken in groups small enough that it cannot overflow, so a block costs about
    three passes over memory instead of the seven of a stable softplus. Blocks whose fields
    are too large for that (very low T) take the stable softplus path.
    """
    check_enumerable(rbm, limit)
    t = check_temperatures(temperatures)
    c = check_couplings(couplings, t)
    o = orient(rbm)
    blocks = StateBlocks(o, batch_size=t.size)
    scale = c / t                                                        # (B,)
    n_o = blocks.n_other
    # Layout (other unit j, batch b, state r): the product over j and the sums over j in
    # the moments then run over whole contiguous (B, R) slabs instead of short rows.
    field_lo = np.ascontiguousarray(blocks.field_lo.T)                  # (n_o, R)
    tab = o.bias_other[:, None, None] / t[None, :, None] + scale[None, :, None] * field_lo[:, None, :]
    tab_bound = np.abs(tab).max(axis=(1, 2))                             # (n_o,)
    exp_tab = np.exp(np.minimum(tab, _EXP_SAFE))
    lin_lo = blocks.lin_lo[None, :] / t[:, None]                         # (B, R)
    marginals = marginals or correlations
    need_sigmoid = moments or marginals
    same_coupling = bool(np.all(c == c[0]))

    def one_block(k):
        field_hi, lin_hi = blocks.high(k)
        x_hi = field_hi[:, None] * scale[None, :]                        # (n_o, B)
        lin = lin_lo + lin_hi / t[:, None]                               # (B, R)
        col_bound = float((tab_bound + np.abs(x_hi).max(axis=1)).max())
        if col_bound <= _EXP_SAFE:
            group = int(np.clip(_EXP_SAFE // max(col_bound, 1.0), 1, n_o))
            # per-thread buffers: allocating multi-MB arrays per block costs more in page
            # faults than the arithmetic done in them
            ex, one_plus = _scratch("ex", exp_tab.shape), _scratch("one_plus", exp_tab.shape)
            np.multiply(exp_tab, np.exp(x_hi)[:, :, None], out=ex)       # exp(x), no overflow
            np.add(ex, 1.0, out=one_plus)
            logw = lin + sum_log_of_products(one_plus, group, axis=0)
            sig = np.divide(ex, one_plus, out=ex) if need_sigmoid else None
        else:
            one_plus = None
            x = tab + x_hi[:, :, None]
            logw = lin + sum_softplus(x, axis=0)
            if need_sigmoid:
                e = np.exp(-np.abs(x))
                sig = np.where(x >= 0, 1.0, e) / (1.0 + e)
        # logsumexp over the block's states (written out: scipy's general version costs
        # twice as much on these small rows, and logw is always finite here)
        top = logw.max(axis=1)
        p = np.exp(logw - top[:, None])
        total = p.sum(axis=1)
        lse = top + np.log(total)                                        # (B,)
        out = {"lse": lse}
        if not need_sigmoid:
            return out
        p /= total[:, None]                                              # (B, R), rows sum to 1
        if moments:
            field = np.add(field_lo, field_hi[:, None], out=_scratch("field", field_lo.shape))
            lin_e = lin * t[:, None]                                     # s . a
            # sigma (1 - sigma) = sigma / (1 + e^x): one pass instead of two
            if one_plus is not None:
                sig_var = np.divide(sig, one_plus, out=one_plus)
            else:
                sig_var = sig * (1.0 - sig)
            if same_coupling:
                # a temperature sweep: b + c sW is the same for every entry, compute it once
                pre = np.multiply(field, c[0], out=field)                # (n_o, R)
            else:
                pre = np.multiply(field[:, None, :], c[None, :, None],
                                  out=_scratch("pre", (n_o, t.size, field.shape[1])))
            # in place: "bias + c * field" with a fresh temporary is many times slower
            pre += o.bias_other.reshape((-1,) + (1,) * (pre.ndim - 1))
            pre2 = np.multiply(pre, pre, out=_scratch("pre2", pre.shape))
            subs = "jr,jbr->br" if same_coupling else "jbr,jbr->br"
            mean_s = -lin_e - np.einsum(subs, pre, sig)
            var_s = np.einsum(subs, pre2, sig_var)
            mean = np.einsum("br,br->b", p, mean_s)
            out["mean"] = mean
            out["m2"] = np.einsum("br,br->b", p, var_s + (mean_s - mean[:, None]) ** 2)
        if marginals:
            states = blocks.states(k)
            out["small"] = p @ states                                    # (B, n_small)
            out["other"] = np.einsum("br,jbr->bj", p, sig)               # (B, n_o)
        if correlations:
            out["corr"] = np.einsum("br,ri,jbr->bij", p, states, sig)    # (B, n_small, n_o)
        return out

    parts = _map_blocks(one_block, blocks.n_blocks, t.size * (1 << o.weights.shape[0]) * n_o)
    lse = np.stack([p_["lse"] for p_ in parts])                          # (n_blocks, B)
    log_z = logsumexp(lse, axis=0)
    result = {"log_partition": log_z}
    if need_sigmoid:
        w = np.exp(lse - log_z)                                          # block weights (n_blocks, B)
    if moments:
        means = np.stack([p_["mean"] for p_ in parts])
        mean = np.sum(w * means, axis=0)
        # Chan et al.: pooled variance = mean within-block variance + spread of block means
        m2 = np.sum(w * (np.stack([p_["m2"] for p_ in parts]) + (means - mean) ** 2), axis=0)
        result["internal_energy"] = mean
        result["energy_variance"] = np.maximum(m2, 0.0)
    if marginals:
        small = np.einsum("kb,kbi->bi", w, np.stack([p_["small"] for p_ in parts]))
        other = np.einsum("kb,kbj->bj", w, np.stack([p_["other"] for p_ in parts]))
        vis, hid = (other, small) if o.swapped else (small, other)
        # probabilities: rounding in the weighted sums must not push them past [0, 1]
        result["visible"], result["hidden"] = np.clip(vis, 0.0, 1.0), np.clip(hid, 0.0, 1.0)
    if correlations:
        corr = np.einsum("kb,kbij->bij", w, np.stack([p_["corr"] for p_ in parts]))
        result["correlation"] = np.swapaxes(corr, 1, 2) if o.swapped else corr
    return result


def _as_input(temperature, values):
    """Return a float for a scalar temperature, the array otherwise."""
    return float(values[0]) if np.ndim(temperature) == 0 else values


def log_partition(rbm, temperature=1.0, *, limit=None):
    """Exact ``ln Z(T) = ln sum_{v,h} exp(-E(v,h)/T)``.

    Parameters
    ----------
    rbm : RBM
    temperature : float or 1-D array of float, > 0
    limit : int, optional
        Largest ``min(n_visible, n_hidden)`` to enumerate (default 24).

    Returns
    -------
    float, or an array when ``temperature`` is an array.
    """
    t = check_temperatures(temperature)
    return _as_input(temperature, exact_batch(rbm, t, limit=limit)["log_partition"])


def free_energy(rbm, temperature=1.0, *, limit=None):
    """Exact equilibrium free energy ``F(T) = -T ln Z(T)``."""
    t = check_temperatures(temperature)
    return _as_input(temperature, -t * exact_batch(rbm, t, limit=limit)["log_partition"])


@dataclass(frozen=True)
class Thermodynamics:
    """Exact thermodynamic quantities at one or several temperatures."""
    temperature: np.ndarray | float
    log_partition: np.ndarray | float
    free_energy: np.ndarray | float
    internal_energy: np.ndarray | float
    entropy: np.ndarray | float
    heat_capacity: np.ndarray | float


def thermodynamics(rbm, temperature=1.0, *, limit=None):
    """Exact ``ln Z``, ``F = -T ln Z``, ``U = <E>``, ``S = (U - F)/T`` and ``C = Var(E)/T^2``."""
    t = check_temperatures(temperature)
    r = exact_batch(rbm, t, moments=True, limit=limit)
    f = -t * r["log_partition"]
    u = r["internal_energy"]
    vals = dict(temperature=t, log_partition=r["log_partition"], free_energy=f, internal_energy=u,
                entropy=(u - f) / t, heat_capacity=r["energy_variance"] / t ** 2)
    return Thermodynamics(**{k: _as_input(temperature, v) for k, v in vals.items()})


def internal_energy(rbm, temperature=1.0, *, limit=None):
    """Exact ``U = <E>``."""
    return thermodynamics(rbm, temperature, limit=limit).internal_energy


def entropy(rbm, temperature=1.0, *, limit=None):
    """Exact entropy ``S = (U - F)/T`` in nats."""
    return thermodynamics(rbm, temperature, limit=limit).entropy


def heat_capacity(rbm, temperature=1.0, *, limit=None):
    """Exact heat capacity ``C = Var(E)/T^2``."""
    return thermodynamics(rbm, temperature, limit=limit).heat_capacity


def marginals(rbm, temperature=1.0, *, limit=None):
    """Exact magnetisations ``(<v>, <h>)`` at one temperature."""
    t = check_temperatures(temperature)
    if t.size != 1:
        from ..errors import InputError
        raise InputError("marginals takes one temperature")
    r = exact_batch(rbm, t, marginals=True, limit=limit)
    return r["visible"][0], r["hidden"][0]


@dataclass(frozen=True)
class ExactMoments:
    """Exact first and second moments of an enumerable RBM.

    Attributes
    ----------
    visible : ndarray (n_visible,)   ``E_p[v]``
    hidden : ndarray (n_hidden,)     ``E_p[h]``
    correlation : ndarray (n_visible, n_hidden)   ``E_p[v h^T]``
    log_partition : float            ``ln Z(T)``
    """

    visible: np.ndarray
    hidden: np.ndarray
    correlation: np.ndarray
    log_partition: float


def exact_moments(rbm, temperature=1.0, *, limit=None):
    """Exact ``E_p[v]``, ``E_p[h]`` and ``E_p[v h^T]`` (the negative phase of the likelihood gradient)."""
    t = check_temperatures(temperature)
    if t.size != 1:
        from ..errors import InputError
        raise InputError("exact_moments takes one temperature")
    r = exact_batch(rbm, t, correlations=True, limit=limit)
    return ExactMoments(visible=r["visible"][0], hidden=r["hidden"][0],
                        correlation=r["correlation"][0], log_partition=float(r["log_partition"][0]))


def state_log_weights(rbm, temperature=1.0, *, limit=None):
    """Every state ``s`` of the smaller layer with ``ln sum_other exp(-E/T)`` (unnormalised).

    Returns
    -------
    oriented : the RBM with the enumerated layer first (``oriented.swapped`` tells which)
    log_weights : ndarray (2^n_small,), indexed like :func:`all_states`
    """
    check_enumerable(rbm, limit)
    t = float(check_temperatures(temperature)[0])
    o = orient(rbm)
    blocks = StateBlocks(o)
    parts = []
    for k in range(blocks.n_blocks):
        field_hi, lin_hi = blocks.high(k)
        x = (o.bias_other + blocks.field_lo + field_hi) / t
        parts.append((blocks.lin_lo + lin_hi) / t + sum_softplus(x))
    return o, np.concatenate(parts)


def clamped_free_energy(rbm, v, temperature=1.0):
    """Free energy with the visible units clamped: ``F_c(v) = -a.v - T sum_j softplus((b_j + (W^T v)_j)/T)``.

    Vectorised over rows of ``v``; equals scikit-learn's ``BernoulliRBM._free_energy`` at T = 1.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    t = check_temperatures(temperature)
    if t.size != 1:
        from ..errors import InputError
        raise InputError("clamped_free_energy takes one temperature")
    t = float(t[0])
    v = check_states(v, rbm.n_visible)
    return -(v @ rbm.visible_bias) - t * sum_softplus((v @ rbm.weights + rbm.hidden_bias) / t)


def log_likelihood(rbm, v, temperature=1.0, *, limit=None):
    """Exact ``ln p(v) = (F - F_c(v)) / T`` for each row of binary ``v``."""
    v = check_binary(check_states(v, rbm.n_visible))
    t = float(check_temperatures(temperature)[0])
    # ln p <= 0 exactly; dividing the rounding error of F - F_c by a small T could break that
    return np.minimum((free_energy(rbm, t, limit=limit) - clamped_free_energy(rbm, v, t)) / t, 0.0)
