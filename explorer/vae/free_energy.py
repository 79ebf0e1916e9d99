"""Exact free energies of one data point for a 2-D latent space (quadrature), and cumulant algebra.

Conventions (docs/physics.md, VAE): ``H(z) = -ln p(x, z)``, ``V = ln q(z|x) - ln p(x, z)``,
``F = -ln p(x) = -ln ∫ exp(-H) dz``, ``-ELBO = E_q[V] = E_q[H] - S[q]``,
``F(λ) = -ln E_q[exp(-λ V)]`` (λ = 1 gives F), ``F_T = -T ln ∫ exp(-H/T) dz``.

The functions here take the joint as a plain callable on numpy points, so the
analytic test cases (Gaussian joints, a decoder that ignores z) use the same code
as the trained VAE.
"""

from __future__ import annotations

import math
from functools import cached_property
from types import SimpleNamespace

import numpy as np
from scipy.special import logsumexp

from ..errors import InputError
from ._validation import check_array_1d, check_int
from .quadrature import DEFAULT_TOL, integrate_2d, union_box
from .results import PosteriorGrid

LOG_2PI = math.log(2.0 * math.pi)
BOX_SIGMAS = 9.0    # the grid covers the prior and q(z|x) out to ±9 standard deviations
MAX_ORDER = 8


# ------------------------------------------------------------------ cumulants
def cumulants_from_moments(mean, central):
    """Cumulants κ_1..κ_K from the mean and central moments μ_2..μ_K.

    Uses ``κ_n = μ_n - Σ_{k=1}^{n-1} C(n-1, k-1) κ_k μ_{n-k}`` on the centred variable
    (whose κ_1 is 0), then restores κ_1 = mean; centring first avoids the cancellation
    that raw moments of a large-mean V would suffer.

    Parameters
    ----------
    mean : float
    central : sequence of float
        ``[μ_2, ..., μ_K]``.

    Returns
    -------
    ndarray (K,)
    """
    order = len(central) + 1
    mom = np.zeros(order + 1)
    mom[0], mom[1] = 1.0, 0.0
    mom[2:] = central
    kappa = np.zeros(order + 1)
    for n in range(2, order + 1):
        kappa[n] = mom[n] - sum(math.comb(n - 1, k - 1) * kappa[k] * mom[n - k] for k in range(2, n))
    kappa[1] = mean
    return kappa[1:]


def weighted_cumulants(values, weights, order):
    """Cumulants κ_1..κ_order of ``values`` under normalised ``weights`` (a discrete law)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    v = np.asarray(values, dtype=np.float64)
    mean = float(np.dot(w, v))
    c = v - mean
    central, p = [], c * c
    for _ in range(2, order + 1):
        central.append(float(np.dot(w, p)))
        p = p * c
    return cumulants_from_moments(mean, central)


def series_free_energy(kappa, lams, temperature=1.0):
    """Truncated cumulant series ``F_K(λ) = -T Σ_{n<=K} κ_n (-λ/T)^n / n!`` at every order K.

    With ``T = 1`` and ``Z_q = 1`` (a normalised q) this is the VAE's series; order 1 is
    ``λ κ_1`` (λ times -ELBO).

    Returns
    -------
    ndarray (len(kappa), len(lams))
        Row ``K - 1`` is the series truncated after order K.
    """
    lams = np.atleast_1d(np.asarray(lams, dtype=np.float64))
    kappa = np.asarray(kappa, dtype=np.float64)
    t = float(temperature)
    terms = np.array([-t * kappa[n - 1] * (-lams / t) ** n / math.factorial(n)
                      for n in range(1, kappa.size + 1)])
    return np.cumsum(terms, axis=0)


# --------------------------------------------------------------- exact point
def _slim(res):
    """Keep the numbers of an Integral, drop its grid arrays (caches hold many of them)."""
    return SimpleNamespace(log_value=res.log_value, error=res.error, edge_fraction=res.edge_fraction)


def gaussian_box(mu, sigma, k=BOX_SIGMAS):
    return (mu[0] - k * sigma[0], mu[0] + k * sigma[0], mu[1] - k * sigma[1], mu[1] + k * sigma[1])


class ExactPoint:
    """Exact free energies of one data point x with a 2-D latent space.

    Parameters
    ----------
    log_joint : callable
        ``log_joint(points) -> ln p(x, z)`` for an (N, 2) float64 array of z, returning (N,).
    mu, logvar : array-like (2,)
        The encoder's q(z|x) = N(mu, diag(exp(logvar))).
    tol : float
        Refine the quadrature until the change is below this (nats).
    bounded_likelihood : bool
        True when ``ln p(x|z)`` is bounded in z (a decoder with bounded logits, such as the
        tanh MLP). Then ``E_q[w^λ]`` is finite exactly for ``λ < λ* = min_i 1/(1 - σ_i²)``
        (over the axes with σ_i < 1), because far out ``q^{1-λ} p(z)^λ`` is a Gaussian whose
        precision ``λ - (λ-1)/σ_i²`` turns negative at λ*; F(λ) is then -inf for λ >= λ*.

    Notes
    -----
    ``F`` comes from a grid zoomed onto the posterior mass (found by scanning the prior's
    and q's ±9σ boxes); expectations under q (-ELBO, E_q[H], cumulants of V) from a grid
    on q's ±9σ box; each F(λ) and F_T from its own zoomed grid. Every grid is refined
    until its values change by less than ``tol``. S[q] and KL(q‖prior) are closed forms.
    """

    def __init__(self, log_joint, mu, logvar, tol=DEFAULT_TOL, bounded_likelihood=False):
        self._log_joint = log_joint
        self.mu = np.asarray(mu, dtype=np.float64).reshape(-1)
        self.logvar = np.asarray(logvar, dtype=np.float64).reshape(-1)
        if self.mu.shape != (2,) or self.logvar.shape != (2,):
            raise InputError("exact quadrature needs a 2-D latent space")
        if not (np.all(np.isfinite(self.mu)) and np.all(np.isfinite(self.logvar))):
            raise InputError("q(z|x) parameters are not finite")
        self.sigma = np.exp(0.5 * self.logvar)
        self.tol = float(tol)
        self.bounded_likelihood = bool(bounded_likelihood)
        self._memo = {}
        # per-λ and per-T integrals, so that a slider revisiting a value costs nothing
        self._lam_cache, self._t_cache = {}, {}

    @property
    def lam_critical(self):
        """λ* above which F(λ) = -inf (E_q[w^λ] diverges); None when not known (unbounded likelihood)."""
        if not self.bounded_likelihood:
            return None
        var = np.exp(self.logvar)
        small = var[var < 1.0]
        return float(np.min(1.0 / (1.0 - small))) if small.size else math.inf

    # ------------------------------------------------------------ internals
    def log_joint(self, points):
        """ln p(x, z) with a small memo: the coarse scans repeat across temperatures."""
        key = (points.shape, hash(np.ascontiguousarray(points).tobytes()))
        hit = self._memo.get(key)
        if hit is None:
            hit = np.asarray(self._log_joint(points), dtype=np.float64).reshape(-1)
            if len(self._memo) < 8:
                self._memo[key] = hit
        return hit

    def log_q(self, points):
        d = (points - self.mu) / self.sigma
        return -0.5 * np.sum(d * d, axis=1) - LOG_2PI - 0.5 * np.sum(self.logvar)

    def q_box(self):
        return gaussian_box(self.mu, self.sigma)

    def outer_box(self, temperature=1.0):
        # exp(-H/T) <= p(z)^(1/T): the tempered prior N(0, T) bounds the mass far out.
        r = BOX_SIGMAS * math.sqrt(max(1.0, temperature))
        return union_box((-r, r, -r, r), self.q_box())

    def _q_weights(self, grid, logq):
        lw = logq + grid.log_weights
        return np.exp(lw - logsumexp(lw))

    @cached_property
    def integral(self):
        """The T = 1 :class:`~explorer.vae.quadrature.Integral` of ``p(x, z)`` (zoomed to the posterior)."""
        return integrate_2d(lambda p: (self.log_joint(p), None), self.outer_box(), tol=self.tol)

    @cached_property
    def q_integral(self):
        """Expectations under q: refined on q's own ±9σ box (log-integrand ln q, aux ln p(x, z)).

        A separate grid because q and the posterior may differ in place and width (a
        poorly fitted encoder); each grid then resolves its own density.
        """

        def monitors(grid, logq, lj, log_value):
            w = self._q_weights(grid, logq)
            v = logq - lj
            m = float(np.dot(w, v))
            return [m, float(np.dot(w, (v - m) ** 2))]   # -ELBO and κ2 must settle too

        return integrate_2d(lambda p: (self.log_q(p), self.log_joint(p)), self.q_box(),
                            monitors=monitors, tol=self.tol, zoom=False)

    @cached_property
    def _elbo_integral(self):
        """Like :attr:`q_integral`, refined until -ELBO alone settles (κ2 needs one or two levels more
        when the decoder is much sharper than q)."""

        def monitors(grid, logq, lj, log_value):
            return [float(np.dot(self._q_weights(grid, logq), logq - lj))]

        return integrate_2d(lambda p: (self.log_q(p), self.log_joint(p)), self.q_box(),
                            monitors=monitors, tol=self.tol, zoom=False)

    def neg_elbo_only(self):
        """-ELBO (to ``tol``) at the least cost: :attr:`neg_elbo` when the q grid is already refined,
        else from a grid refined for -ELBO only (what a sweep along the weight scale needs)."""
        if "q_integral" in self.__dict__:
            return self.neg_elbo
        res = self._elbo_integral
        return float(np.dot(self._q_weights(res.grid, res.log_f), res.log_f - res.aux))

    @property
    def _lj(self):
        return self.q_integral.aux

    @property
    def _logq(self):
        return self.q_integral.log_f

    @cached_property
    def _qw(self):
        return self._q_weights(self.q_integral.grid, self._logq)

    # ------------------------------------------------------------- results
    @property
    def free_energy(self):
        """F = -ln p(x) (nats)."""
        return -self.integral.log_value

    @property
    def quadrature_error(self):
        """Estimated quadrature error of F (nats)."""
        return self.integral.error

    @property
    def q_quadrature_error(self):
        """Estimated quadrature error of the expectations under q (-ELBO, E_q[H]; nats)."""
        return self.q_integral.error

    @property
    def expected_energy(self):
        """E_q[H] = -E_q[ln p(x, z)]."""
        return float(-np.dot(self._qw, self._lj))

    @property
    def entropy(self):
        """S[q] (closed form for the Gaussian)."""
        return float(0.5 * np.sum(1.0 + LOG_2PI + self.logvar))

    @property
    def entropy_grid(self):
        """S[q] by quadrature (a check of the grid; equals :attr:`entropy` to quadrature accuracy)."""
        return float(-np.dot(self._qw, self._logq))

    @property
    def neg_elbo(self):
        """-ELBO = E_q[V] = E_q[H] - S[q] by quadrature."""
        return float(np.dot(self._qw, self._logq - self._lj))

    @property
    def kl_prior(self):
        """KL(q ‖ N(0, I)) (closed form)."""
        return float(-0.5 * np.sum(1.0 + self.logvar - self.mu ** 2 - np.exp(self.logvar)))

    @property
    def kl_posterior(self):
        """KL(q ‖ p(z|x)) = -ELBO - F (the exact gap)."""
        return self.neg_elbo - self.free_energy

    def cumulants(self, order=4):
        """Exact cumulants κ_1..κ_order of V under q (κ_1 = -ELBO)."""
        order = check_int(order, "order", lo=1, hi=MAX_ORDER)
        return weighted_cumulants(self._logq - self._lj, self._qw, order)

    def free_energy_lambda(self, lams):
        """F(λ) = -ln E_q[(p(x,z)/q)^λ] = -ln ∫ q^{1-λ} p(x,z)^λ dz, each by its own adaptive quadrature.

        λ = 1 is the same integral as :attr:`free_energy`.

        Returns
        -------
        values : ndarray
            ``-inf`` where E_q[w^λ] diverges (λ >= :attr:`lam_critical`).
        errors : ndarray
            Quadrature error estimate of each value (nats).
        edge_fraction : ndarray
            Share of each integral on the edge of its (possibly expanded) outer box: near 0
            when the box holds the mass. For λ > 1 the integrand ``p^λ / q^(λ-1)`` decays
            slowly near λ*; a non-negligible share means the value is the box's integral.
        """
        lams = check_array_1d(lams, "lam", lo=0.0)
        crit = self.lam_critical
        vals, errs, edges = [], [], []
        for lam in lams:
            if crit is not None and lam >= crit:
                # proven divergent (see bounded_likelihood): no quadrature can give a finite value
                vals.append(-math.inf)
                errs.append(0.0)
                edges.append(1.0)
                continue
            if lam == 1.0:
                res = self.integral
            elif float(lam) in self._lam_cache:
                res = self._lam_cache[float(lam)]
            else:
                # below λ* the integral converges (the outer box may grow 8-fold to hold it);
                # with an unbounded likelihood the value beyond that is the box's, flagged by the edge share
                res = integrate_2d(lambda p, lam=lam: ((1.0 - lam) * self.log_q(p) + lam * self.log_joint(p), None),
                                   self.outer_box(), tol=self.tol)
                self._lam_cache[float(lam)] = _slim(res)
            vals.append(-res.log_value)
            errs.append(res.error)
            edges.append(res.edge_fraction)
        return np.array(vals), np.array(errs), np.array(edges)

    def free_energy_temperature(self, temperatures):
        """Exact F_T = -T ln ∫ exp(-H/T) dz and the bound E_q[H] - T S[q] for each T.

        Returns
        -------
        exact, bound, error : ndarray
            ``error`` is the quadrature error estimate of each F_T (nats).
        """
        ts = check_array_1d(temperatures, "temperature", positive=True)
        exact, err = [], []
        for t in ts:
            if t == 1.0:
                res = self.integral
            elif float(t) in self._t_cache:
                res = self._t_cache[float(t)]
            else:
                res = integrate_2d(lambda p, t=t: (self.log_joint(p) / t, None), self.outer_box(t),
                                   tol=self.tol / t)
                self._t_cache[float(t)] = res = _slim(res)
            exact.append(-t * res.log_value)
            err.append(t * res.error)
        bound = self.expected_energy - ts * self.entropy
        return np.array(exact), bound, np.array(err)

    def posterior_grid(self, max_points=129):
        """The true posterior p(z|x) on the quadrature grid (for plotting).

        Returns
        -------
        PosteriorGrid
            With ``q_density`` (q(z|x) on the same grid); subsampled to at most ``max_points`` per axis.
        """
        g = self.integral.grid
        step = max(1, int(math.ceil((g.z1.size - 1) / (max_points - 1))))
        dens = np.exp(self.integral.log_f - self.integral.log_value).reshape(g.shape)[::step, ::step]
        qd = np.exp(self.log_q(g.points)).reshape(g.shape)[::step, ::step]
        return PosteriorGrid(z1=g.z1[::step], z2=g.z2[::step], density=dens, q_density=qd)
