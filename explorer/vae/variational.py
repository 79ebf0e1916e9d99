"""Hold q in your hands: any Gaussian q(z) on the 2-D latent space, its exact bound, and the best q.

Conventions (docs/physics.md, VAE): ``H(z) = -ln p(x, z)``, ``-ELBO(q) = E_q[H] - S[q] ≥ F = -ln p(x)``,
``KL(q ‖ p(z|x)) = -ELBO(q) - F``, ``V = ln q - ln p(x, z)``, ``F(λ) = -ln E_q[exp(-λ V)]``.

Here q is *any* Gaussian ``q(z) = N(μ, Σ)`` with ``Σ = L Lᵀ`` (``L`` lower-triangular), not only
the encoder's ``q(z|x)``:

* ``E_q[H]`` (and the cumulants of V under q) by a tensor Gauss–Hermite rule in q's own
  coordinates ``z = μ + L ξ``, ``ξ ~ N(0, I)``: ``E_q[f] ≈ Σ_ij w_i w_j f(μ + L (ξ_i, ξ_j))``.
  The rule follows q wherever it is moved, is exact for the prior's quadratic part, and
  converges exponentially for the analytic tanh-MLP likelihood; differentiable in (μ, L) by
  autograd, which is what the fits use.
* ``S[q]`` in closed form (:class:`torch.distributions.MultivariateNormal`).
* ``F = -ln p(x)`` from the existing adaptive quadrature of :class:`~explorer.vae.analysis.PointAnalysis`
  (not recomputed).
* ``F(λ)`` for that q by the same adaptive quadrature as the encoder's (:class:`GaussianExactPoint`).

Fits: the exact -ELBO minimised by :class:`torch.optim.LBFGS` (float64, strong Wolfe line search)
over a diagonal Gaussian ``(μ, ln σ²)``, then over a full-covariance one ``(μ, L)``. -ELBO has several
local minima where the posterior has several modes (a diagonal q sits in one of them), so the optimum
reported is the **lowest of several starts** (:meth:`VariationalPoint.fit`): the encoder's q, a Gaussian
at each mode of the exact posterior (local maxima of ln p(x, z) on the quadrature's grid, curvature
from the Hessian there) and the posterior's moment-matched Gaussian; the full covariance starts from
every diagonal optimum, the modes' full Laplace Gaussians and the moment-matched one. Every start is
first fitted on a cheap Gauss–Hermite rule; the distinct optima near the lowest are then polished on the
exact rules. The gaps of Cremer, Li & Duvenaud (2018), exact here:

* amortisation ``= -ELBO(q_encoder) - -ELBO(q*_diag)``,
* approximation ``= -ELBO(q*_diag) - F``,
* full_covariance ``= -ELBO(q*_diag) - -ELBO(q*_full)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.polynomial.hermite_e import hermegauss
from torch.distributions import MultivariateNormal

from .._cache import cache_dir
from .._hashing import file_sha256
from ..errors import InputError
from ._validation import check_array_1d, check_int
from .device import cpu_threads
from .free_energy import MAX_ORDER, ExactPoint, gaussian_box, series_free_energy, weighted_cumulants
from .results import (
    GAP_KEYS,
    BoundTerms,
    FitStarts,
    GaussianFits,
    PosteriorGrid,
    SplitGaps,
    VariationalGaps,
)

#: Gauss–Hermite nodes per axis. Measured on the shipped model: for the encoder's q and the fitted ones 48 nodes
#: agree with 160 to 1e-8 nats; a q wider than a sharp posterior needs more (digit 16, σ = (0.4, 0.25),
#: ρ = -0.7: 48 nodes are 9e-5 nats off, 96 nodes 2e-6), hence 96.
N_NODES = 96
#: A coarser rule whose difference to ``N_NODES`` is reported as the error estimate (an overestimate).
N_NODES_CHECK = 64
#: The fits first converge on this cheaper rule, then polish on ``N_NODES`` (a few iterations).
N_NODES_COARSE = 48
#: Stop the fit when the gradient norm of -ELBO in the parameters falls below this (or when it is below
#: GRAD_REQUIRED and the bound no longer falls by more than round-off).
GRAD_TOL = 1e-7
#: The issue's requirement on a reported optimum (tested).
GRAD_REQUIRED = 1e-6
MAX_ITER = 300
RHO_MAX = 0.99
#: Gauss–Hermite nodes per axis of the screening fits: every start of :meth:`VariationalPoint.fit` converges on
#: this cheap rule first (about a tenth of the cost of ``N_NODES_COARSE``); only the distinct optima within
#: ``SCREEN_MARGIN`` of the lowest go on to ``N_NODES_COARSE`` and ``N_NODES``.
N_NODES_SCREEN = 16
#: Screened optima less than this many nats above the lowest screened one are polished on the exact rule (the
#: screening rule's error at the screened optima: median ~1e-5 nats, largest measured 1.1e-2 (digit 31, full),
#: on 30 digits of the shipped model, 2026-12-06).
SCREEN_MARGIN = 0.05
#: Two screened optima are one when their parameters differ by less than this (max norm).
SAME_OPTIMUM = 1e-3
#: Posterior modes used as starts: local maxima of ln p(x, z) over their 8 neighbours on the quadrature's
#: grid, highest first, at most ``MAX_MODES`` of them and none more than ``MODE_DEPTH`` nats below the highest
#: (a q around such a mode holds about e^-MODE_DEPTH of the posterior's mass: its KL is about MODE_DEPTH).
MAX_MODES = 4
MODE_DEPTH = 12.0
#: Bump when the numbers of :func:`split_gaps` change (the disk cache is keyed on it). "2": the fits are the
#: lowest of several starts (the encoder's q alone missed the best diagonal q by up to 4 nats).
CODE_VERSION = "2"


# --------------------------------------------------------------- the Gaussian
@dataclass(frozen=True)
class GaussianQ:
    """A Gaussian ``q(z) = N(mu, L Lᵀ)`` on the 2-D latent space.

    Attributes
    ----------
    mu : ndarray (2,)
    scale_tril : ndarray (2, 2)
        Lower-triangular ``L`` with a positive diagonal.
    """

    mu: np.ndarray
    scale_tril: np.ndarray

    def __post_init__(self):
        mu = np.asarray(self.mu, dtype=np.float64).reshape(-1)
        L = np.asarray(self.scale_tril, dtype=np.float64)
        if mu.shape != (2,) or L.shape != (2, 2):
            raise InputError("q needs a 2-D mean and a 2 x 2 scale")
        if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(L))):
            raise InputError("q's parameters must be finite")
        if L[0, 1] != 0.0 or L[0, 0] <= 0.0 or L[1, 1] <= 0.0:
            raise InputError("q's scale must be lower-triangular with a positive diagonal")
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "scale_tril", L)

    @classmethod
    def diagonal(cls, mu, logvar):
        """``N(mu, diag(exp(logvar)))`` (the encoder's form)."""
        lv = check_array_1d(logvar, "logvar")
        if lv.shape != (2,):
            raise InputError("logvar must have 2 entries")
        return cls(mu, np.diag(np.exp(0.5 * lv)))

    @classmethod
    def from_sigmas(cls, mu, sigma1, sigma2, rho=0.0):
        """``Σ = [[σ1², ρσ1σ2], [ρσ1σ2, σ2²]]`` with ``σ > 0`` and ``|ρ| ≤ 0.99``.

        ``L = [[σ1, 0], [ρσ2, σ2√(1-ρ²)]]`` (the Cholesky factor).
        """
        s1, s2 = (float(v) for v in check_array_1d([sigma1, sigma2], "sigma", positive=True))
        rho = float(check_array_1d(rho, "rho", lo=-RHO_MAX, hi=RHO_MAX)[0])
        return cls(mu, np.array([[s1, 0.0], [rho * s2, s2 * math.sqrt(1.0 - rho * rho)]]))

    @classmethod
    def from_cov(cls, mu, cov):
        cov = np.asarray(cov, dtype=np.float64)
        try:
            return cls(mu, np.linalg.cholesky(cov))
        except np.linalg.LinAlgError:
            raise InputError("q's covariance must be positive definite") from None

    @property
    def cov(self):
        """Σ = L Lᵀ, shape (2, 2)."""
        return self.scale_tril @ self.scale_tril.T

    @property
    def sigma(self):
        """Marginal standard deviations ``√Σ_ii``, shape (2,)."""
        return np.sqrt(np.diag(self.cov))

    @property
    def rho(self):
        """Correlation ``Σ_12 / (σ1 σ2)``."""
        s = self.sigma
        return float(self.cov[0, 1] / (s[0] * s[1]))

    @property
    def logvar(self):
        """``ln Σ_ii`` (the diagonal Gaussian's parameters when ρ = 0)."""
        return np.log(np.diag(self.cov))

    @property
    def is_diagonal(self):
        return self.scale_tril[1, 0] == 0.0

    def with_mean(self, mu):
        return GaussianQ(mu, self.scale_tril)

    def log_density(self, points):
        """ln q at an (N, 2) array of points, shape (N,)."""
        d = np.linalg.solve(self.scale_tril, (np.asarray(points, dtype=np.float64) - self.mu).T)
        return -0.5 * np.sum(d * d, axis=0) - math.log(2.0 * math.pi) - np.sum(np.log(np.diag(self.scale_tril)))

    def ellipse(self, level=1.0):
        """The ``level``-σ ellipse as Bokeh's ellipse parameters: centre, full axes and angle (radians).

        Returns
        -------
        dict with ``x``, ``y``, ``width``, ``height``, ``angle``: the axes are
        ``2 · level · √(eigenvalue)`` of Σ, ``angle`` that of the first eigenvector.
        """
        vals, vecs = np.linalg.eigh(self.cov)
        return {"x": float(self.mu[0]), "y": float(self.mu[1]), "width": float(2 * level * math.sqrt(vals[1])),
                "height": float(2 * level * math.sqrt(vals[0])),
                "angle": float(math.atan2(vecs[1, 1], vecs[0, 1]))}

    def as_dict(self):
        return {"mu": self.mu.tolist(), "cov": self.cov.tolist(), "sigma": self.sigma.tolist(), "rho": self.rho}


# ---------------------------------------------------------- exact point for q
class GaussianExactPoint(ExactPoint):
    """:class:`ExactPoint` for a full-covariance q, sharing the posterior's integral of ``base``.

    The expectations under q (the adaptive grid on q's ±9σ box) and F(λ) use this q; F = -ln p(x)
    (the ``integral``) is the base point's, computed once.

    Parameters
    ----------
    base : ExactPoint
        The encoder's exact point of the same data point.
    q : GaussianQ
    """

    def __init__(self, base, q):
        super().__init__(base._log_joint, q.mu, q.logvar, tol=base.tol, bounded_likelihood=base.bounded_likelihood)
        self.q = q
        self.__dict__["integral"] = base.integral    # -ln p(x) does not depend on q

    @property
    def lam_critical(self):
        """λ* = min over the eigenvalues s < 1 of Σ of 1/(1 - s): far out along an eigenvector,
        ``q^{1-λ} p(z)^λ`` is a Gaussian of precision ``(1-λ)/s + λ``, negative past λ*."""
        if not self.bounded_likelihood:
            return None
        s = np.linalg.eigvalsh(self.q.cov)
        small = s[s < 1.0]
        return float(np.min(1.0 / (1.0 - small))) if small.size else math.inf

    def log_q(self, points):
        return self.q.log_density(points)

    def q_box(self):
        return gaussian_box(self.mu, self.q.sigma)

    @property
    def entropy(self):
        return float(MultivariateNormal(torch.as_tensor(self.q.mu), scale_tril=torch.as_tensor(self.q.scale_tril))
                     .entropy())

    @property
    def kl_prior(self):
        cov = self.q.cov
        return float(0.5 * (np.trace(cov) + self.q.mu @ self.q.mu - 2.0 - math.log(np.linalg.det(cov))))


# ------------------------------------------------------------- one data point
def gauss_hermite_2d(n):
    """Tensor Gauss–Hermite rule for ``E[f(ξ)]``, ``ξ ~ N(0, I₂)``.

    Returns
    -------
    nodes : ndarray (n², 2)
    weights : ndarray (n²,)
        Summing to 1 (the probabilists' weights divided by 2π).
    """
    n = check_int(n, "n_nodes", lo=2, hi=400)
    x, w = hermegauss(n)
    w = w / math.sqrt(2.0 * math.pi)
    xi = np.stack(np.meshgrid(x, x, indexing="xy"), axis=-1).reshape(-1, 2)
    return xi, np.outer(w, w).ravel()


@dataclass
class FitResult:
    """A fitted Gaussian.

    Attributes
    ----------
    q : GaussianQ
    neg_elbo : float
        The exact -ELBO at the optimum.
    grad_norm : float
        Euclidean norm of the gradient of -ELBO in the fitted parameters at the end.
    path_mu : ndarray (n_iter + 1, 2)
        q's mean at the start and after each L-BFGS iteration.
    path_neg_elbo : ndarray (n_iter + 1,)
        -ELBO at each iterate on the quadrature rule in use then (see ``VariationalPoint._fit``): it falls
        along each rule's stretch and may step by that rule's error where the rule changes.
    path_scale_tril : ndarray (n_iter + 1, 2, 2)
    kind : str
        ``"diagonal"`` or ``"full"``.
    n_iter : int
        L-BFGS iterations of the winning start (every rule together).
    start : str
        Where the winning fit started: ``"encoder"``, ``"mode k"`` (the k-th highest posterior mode),
        ``"moments"`` (the posterior's moment-matched Gaussian), ``"diagonal optimum k"`` (full fits), or
        ``"given"`` (a single-start fit).
    starts : tuple of str
        Every start tried; ``n_starts`` is their number: the result is the lowest of ``n_starts`` fits.
    n_optima : int
        Distinct local optima the starts reached (on the screening rule).
    path_nodes : ndarray (n_iter + 1,) of int
        Gauss–Hermite nodes per axis of the rule each iterate's -ELBO was computed on.
    """

    q: GaussianQ
    neg_elbo: float
    grad_norm: float
    path_mu: np.ndarray
    path_neg_elbo: np.ndarray
    path_scale_tril: np.ndarray
    kind: str
    n_iter: int = field(default=0)
    start: str = field(default="given")
    starts: tuple = field(default=("given",))
    n_optima: int = field(default=1)
    path_nodes: np.ndarray = field(default=None)

    @property
    def n_starts(self):
        """How many starts the fit is the lowest of."""
        return len(self.starts)


class _Run:
    """One L-BFGS minimisation of -ELBO(θ) for :class:`VariationalPoint`, taken rule after rule (its curvature
    pairs carry over from one rule to the next, see :meth:`_regrade`); every iterate is recorded with its -ELBO on
    the rule in use then.

    One L-BFGS iteration per step (its history stays in the optimiser's state), so that every iterate is
    recorded; max_eval must be given: its default (5/4 of max_iter) stops the line search at once.
    """

    def __init__(self, vp, theta0, unpack, kind, label="given"):
        self.vp, self.unpack, self.kind, self.label = vp, unpack, kind, label
        self.theta = torch.tensor(np.asarray(theta0, dtype=np.float64), dtype=torch.float64,
                                  device=vp.model.device, requires_grad=True)
        self._new_optimiser()
        self.path, self.n_iter, self.rule, self.loss = [], 0, None, math.inf

    def _new_optimiser(self):
        self.opt = torch.optim.LBFGS([self.theta], lr=1.0, max_iter=1, max_eval=50, history_size=20,
                                     line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)

    @property
    def theta_np(self):
        return self.theta.detach().cpu().numpy().copy()

    def q(self):
        with torch.no_grad():
            mu, L = (a.cpu().numpy() for a in self.unpack(self.theta))
        return GaussianQ(mu, L)

    def _regrade(self):
        """On a change of rule, L-BFGS's stored gradient at the previous iterate is recomputed on the new rule:
        the next curvature pair then compares gradients of one rule. (The gradient jumps by the rules'
        difference; a pair straddling it is wrong: measured on digit 31, L-BFGS's scale fell to 1e-5 and it
        crawled for 300 iterations. The older pairs, each within one rule, stay.)"""
        st = self.opt.state.get(self.theta)
        if not st or st.get("d") is None or st.get("prev_flat_grad") is None:
            return
        with torch.no_grad():
            prev = (self.theta - st["d"] * st["t"]).detach().requires_grad_(True)
        with cpu_threads(1):
            loss = self.vp._neg_elbo_t(*self.unpack(prev), self.rule)
            (g,) = torch.autograd.grad(loss, prev)
        st["prev_flat_grad"] = g.detach().reshape(-1).clone()

    def _closure(self):
        self.opt.zero_grad()
        loss = self.vp._neg_elbo_t(*self.unpack(self.theta), self.rule)
        loss.backward()
        return loss

    def _record(self, loss):
        with torch.no_grad():
            mu, L = self.unpack(self.theta)
            self.path.append((mu.cpu().numpy().copy(), L.cpu().numpy().copy(), loss,
                              int(round(math.sqrt(self.rule[0].shape[0])))))

    def converge(self, rule, final):
        """Iterate on ``rule`` (nodes, weights) until the gradient norm falls below GRAD_REQUIRED or the bound
        no longer falls beyond round-off; with ``final``, until it falls below GRAD_TOL (or below GRAD_REQUIRED
        and stalled). The iterations of all rules together stop at MAX_ITER.

        On the final rule a stall above GRAD_REQUIRED restarts L-BFGS without its history (a guard: a history
        that no longer fits can leave it a direction the line search cannot use); a second stall in a row ends
        the run.
        """
        switched = self.rule is not None and rule is not self.rule
        self.rule = rule
        if switched:
            self._regrade()
        with cpu_threads(1):
            before = float(self._closure().detach())
            if not self.path:
                self._record(before)
            self.loss = before
            fresh = False
            while self.n_iter < MAX_ITER:
                self.n_iter += 1
                self.opt.step(self._closure)
                loss = float(self._closure().detach())
                self._record(loss)
                self.loss = loss
                grad = float(self.theta.grad.norm())
                stalled = before - loss < 1e-13     # no decrease beyond round-off
                if final and (grad < GRAD_TOL or (stalled and grad < GRAD_REQUIRED)):
                    break
                if not final and (grad < GRAD_REQUIRED or stalled):
                    break
                if stalled:
                    if fresh:
                        break
                    self._new_optimiser()
                fresh = stalled
                before = loss
        return self

    def result(self):
        """The :class:`FitResult` at the current θ: -ELBO and its gradient norm on the fine rule."""
        with cpu_threads(1):
            self.theta.grad = None
            loss = self.vp._neg_elbo_t(*self.unpack(self.theta))
            loss.backward()
            grad = float(self.theta.grad.norm())
        mu, L = (a.detach().cpu().numpy() for a in self.unpack(self.theta))
        p = self.path
        return FitResult(GaussianQ(mu, L), float(loss.detach()), grad, np.array([s[0] for s in p]),
                         np.array([s[2] for s in p]), np.array([s[1] for s in p]), self.kind, self.n_iter,
                         start=self.label, starts=(self.label,), path_nodes=np.array([s[3] for s in p]))


class VariationalPoint:
    """Any Gaussian q for one data point: exact -ELBO, its parts, KL, F(λ), the series, and fits.

    Parameters
    ----------
    analysis : PointAnalysis
        The data point (its float64 model, x, the encoder's q and the exact F).
    n_nodes : int
        Gauss–Hermite nodes per axis.
    """

    def __init__(self, analysis, n_nodes=N_NODES):
        if not analysis.is_exact:
            raise InputError("holding q needs a 2-D latent space (exact quadrature)")
        self.analysis = analysis
        self.model = analysis.model
        self.x = analysis.x
        self.n_nodes = check_int(n_nodes, "n_nodes", lo=2, hi=400)
        self._rules = {}
        self._xi, self._w = self._rule(self.n_nodes)
        self._fits = None

    def _rule(self, n):
        hit = self._rules.get(n)
        if hit is None:
            xi, w = gauss_hermite_2d(n)
            dev = self.model.device
            hit = self._rules[n] = (torch.as_tensor(xi, dtype=torch.float64, device=dev),
                                    torch.as_tensor(w, dtype=torch.float64, device=dev))
        return hit

    # ------------------------------------------------------------ basics
    @property
    def free_energy(self):
        """F = -ln p(x), exact (the analysis' adaptive quadrature)."""
        return self.analysis.exact.free_energy

    @property
    def encoder_q(self):
        return GaussianQ.diagonal(self.analysis.mu, self.analysis.logvar)

    def _expected_energy_t(self, mu, L, xi=None, w=None):
        """E_q[H] as a differentiable tensor (Gauss–Hermite in q's coordinates)."""
        xi = self._xi if xi is None else xi
        w = self._w if w is None else w
        z = mu + xi @ L.T
        return -(w * self.model.log_joint(self.x, z)).sum()

    def _neg_elbo_t(self, mu, L, rule=None):
        entropy = MultivariateNormal(mu, scale_tril=L, validate_args=False).entropy()
        xi, w = (self._xi, self._w) if rule is None else rule
        return self._expected_energy_t(mu, L, xi, w) - entropy

    def _tensors(self, q):
        dev = self.model.device
        return (torch.as_tensor(q.mu, dtype=torch.float64, device=dev),
                torch.as_tensor(q.scale_tril, dtype=torch.float64, device=dev))

    @torch.no_grad()
    def posterior_density(self, box, n=161):
        """p(z|x) = exp(ln p(x, z) + F) on an ``n x n`` grid over ``box = (lo1, hi1, lo2, hi2)`` (a picture
        sharper than the quadrature's grid where the view zooms in).

        Returns
        -------
        PosteriorGrid
            ``z1`` (n,), ``z2`` (n,), ``density`` (n, n), rows are z2; no ``q_density``.
        """
        n = check_int(n, "n", lo=2, hi=1025)
        lo1, hi1, lo2, hi2 = (float(v) for v in check_array_1d(box, "box"))
        if not (hi1 > lo1 and hi2 > lo2):
            raise InputError(f"empty box {box}")
        z1, z2 = np.linspace(lo1, hi1, n), np.linspace(lo2, hi2, n)
        pts = np.stack(np.meshgrid(z1, z2, indexing="xy"), axis=-1).reshape(-1, 2)
        with cpu_threads(1):
            lj = self.model.log_joint(self.x, torch.as_tensor(pts, dtype=torch.float64, device=self.model.device))
        dens = np.exp(lj.cpu().numpy() + self.free_energy).reshape(n, n)
        return PosteriorGrid(z1=z1, z2=z2, density=dens)

    # ------------------------------------------------------------ terms
    @torch.no_grad()
    def _log_joint_at_nodes(self, q, rule=None):
        """ln p(x, z) at the nodes ``z = μ + L ξ`` of ``rule`` (default: the fine one), and ln q there."""
        xi, w = (self._xi, self._w) if rule is None else rule
        mu, L = self._tensors(q)
        with cpu_threads(1):
            lj = self.model.log_joint(self.x, mu + xi @ L.T).cpu().numpy()
        logq = -0.5 * np.sum(xi.cpu().numpy() ** 2, axis=1) - math.log(2 * math.pi) \
            - float(np.sum(np.log(np.diag(q.scale_tril))))
        return lj, logq, w.cpu().numpy()

    def terms(self, q, order=None):
        """Every exact term of the bound for ``q``.

        Parameters
        ----------
        q : GaussianQ
        order : int, optional
            Also the cumulants κ_1..κ_order of V under q (from the same evaluation).

        Returns
        -------
        BoundTerms
            With ``cumulants`` when ``order`` is given.
        """
        lj, logq, w = self._log_joint_at_nodes(q)
        eh = -float(np.dot(w, lj))
        lj_c, _, w_c = self._log_joint_at_nodes(q, self._rule(min(N_NODES_CHECK, self.n_nodes - 1)))
        eh_check = -float(np.dot(w_c, lj_c))
        s = float(MultivariateNormal(torch.as_tensor(q.mu), scale_tril=torch.as_tensor(q.scale_tril)).entropy())
        f = self.free_energy
        cov = q.cov
        kl_prior = 0.5 * (np.trace(cov) + q.mu @ q.mu - 2.0 - math.log(np.linalg.det(cov)))
        cumulants = None
        if order is not None:
            order = check_int(order, "order", lo=1, hi=MAX_ORDER)
            cumulants = weighted_cumulants(logq - lj, w, order)
        return BoundTerms(neg_elbo=eh - s, expected_energy=eh, entropy=s, free_energy=f, kl_posterior=eh - s - f,
                          kl_prior=float(kl_prior), quadrature_error=abs(eh - eh_check),
                          free_energy_error=self.analysis.exact.quadrature_error, cumulants=cumulants)

    def neg_elbo(self, q):
        """-ELBO(q) = E_q[H] - S[q] (exact: Gauss–Hermite and closed form)."""
        return self.terms(q).neg_elbo

    def cumulants(self, q, order=4):
        """κ_1..κ_order of V = ln q - ln p(x, z) under q (Gauss–Hermite; κ_1 = -ELBO)."""
        order = check_int(order, "order", lo=1, hi=MAX_ORDER)
        lj, logq, w = self._log_joint_at_nodes(q)
        return weighted_cumulants(logq - lj, w, order)

    def series(self, q, lams, order=4):
        """The cumulant series of orders 1..order along ``lams`` (rows: order)."""
        lams = check_array_1d(lams, "lam", lo=0.0)
        return series_free_energy(self.cumulants(q, order), lams)

    def exact_point(self, q):
        """:class:`GaussianExactPoint` of ``q``: F(λ) (``free_energy_lambda``), F_T bound, cumulants by the
        adaptive grid (slower than :meth:`cumulants`; an independent check)."""
        return GaussianExactPoint(self.analysis.exact, q)

    def lam_curve(self, q, lams):
        """F(λ) = -ln E_q[w^λ] for this q (adaptive quadrature; -inf past λ*)."""
        vals, _, _ = self.exact_point(q).free_energy_lambda(lams)
        return vals

    # ------------------------------------------------------------ fits
    def _polish_rules(self):
        """The rules a fit converges on, cheapest first: ``N_NODES_COARSE`` then ``N_NODES`` (the first rule's
        optimum moves by its error only, so the fine rule takes a few iterations)."""
        fine = (self._xi, self._w)
        return [fine] if self.n_nodes <= N_NODES_COARSE else [self._rule(N_NODES_COARSE), fine]

    def _fit(self, theta0, unpack, kind):
        """L-BFGS on -ELBO(θ) from one start: first on the coarse rule, then polished on the fine one (few
        iterations, since the optimum moves by the coarse rule's error only). Every iterate is recorded with its
        -ELBO on the rule in use then (``FitResult.path_nodes``; the coarse rule's value differs from the exact
        one by its error, 1e-5 nats or less at the iterates measured, the screening rule's of :meth:`fit` by up to
        1e-2; the app recomputes every shown step exactly)."""
        run = _Run(self, theta0, unpack, kind)
        rules = self._polish_rules()
        for j, rule in enumerate(rules):
            run.converge(rule, final=j == len(rules) - 1)
        return run.result()

    @staticmethod
    def _diagonal_theta(q):
        return np.concatenate([q.mu, np.log(np.diag(q.cov))])

    @staticmethod
    def _diagonal_unpack(t):
        return t[:2], torch.diag(torch.exp(0.5 * t[2:]))

    @staticmethod
    def _full_theta(q):
        L = q.scale_tril
        return np.array([*q.mu, math.log(L[0, 0]), math.log(L[1, 1]), L[1, 0]])

    @staticmethod
    def _full_unpack(t):
        zero = torch.zeros((), dtype=t.dtype, device=t.device)
        L = torch.stack([torch.stack([torch.exp(t[2]), zero]), torch.stack([t[4], torch.exp(t[3])])])
        return t[:2], L

    def fit_diagonal(self, start=None):
        """Minimise -ELBO over ``N(μ, diag(exp(ln σ²)))`` from one ``start`` (default: the encoder's q): the
        local optimum of that start (:meth:`fit` keeps the lowest of several starts).

        Returns
        -------
        FitResult
        """
        start = self.encoder_q if start is None else start
        return self._fit(self._diagonal_theta(start), self._diagonal_unpack, "diagonal")

    def fit_full(self, start=None):
        """Minimise -ELBO over ``N(μ, L Lᵀ)``, ``L = [[e^a, 0], [c, e^b]]``, from one ``start``
        (default: the best diagonal q of :meth:`fit`).

        Returns
        -------
        FitResult
        """
        start = self.fit().diagonal.q if start is None else start
        return self._fit(self._full_theta(start), self._full_unpack, "full")

    # ------------------------------------------------------------ starts
    @torch.no_grad()
    def _posterior_moments(self):
        """Mean and covariance of the exact posterior on the quadrature's grid."""
        integ = self.analysis.exact.integral
        lw = integ.log_f + integ.grid.log_weights
        w = np.exp(lw - lw.max())
        w /= w.sum()
        pts = integ.grid.points
        mean = w @ pts
        d = pts - mean
        return mean, (d * w[:, None]).T @ d

    def posterior_modes(self, max_modes=MAX_MODES, depth=MODE_DEPTH):
        """Modes of the exact posterior p(z|x) as the fits' starts: the points of the quadrature's grid where
        ln p(x, z) is at least that of all 8 neighbours, highest first, no more than ``depth`` nats below the
        highest, at most ``max_modes``; a maximum within 2 grid cells of a higher one (a flat top) is dropped.

        Returns
        -------
        modes : ndarray (k, 2)
        log_density : ndarray (k,)
            ln p(z|x) there.
        """
        max_modes = check_int(max_modes, "max_modes", lo=1, hi=100)
        exact = self.analysis.exact
        g, lf = exact.integral.grid, exact.integral.log_f.reshape(exact.integral.grid.shape)
        n2, n1 = lf.shape
        pad = np.pad(lf, 1, constant_values=-np.inf)
        is_max = np.isfinite(lf)
        for a in (-1, 0, 1):
            for b in (-1, 0, 1):
                if a or b:
                    is_max &= lf >= pad[1 + a:1 + a + n2, 1 + b:1 + b + n1]
        i2, i1 = np.nonzero(is_max)
        vals = lf[i2, i1]
        order = np.argsort(-vals, kind="stable")
        cell = np.array([g.z1[1] - g.z1[0], g.z2[1] - g.z2[0]])
        modes, dens = [], []
        for j in order:
            if len(modes) == max_modes or vals[j] < vals[order[0]] - depth:
                break
            z = np.array([g.z1[i1[j]], g.z2[i2[j]]])
            if any(np.all(np.abs(z - m) <= 2.0 * cell + 1e-12) for m in modes):
                continue
            modes.append(z)
            dens.append(vals[j] + exact.free_energy)
        return np.array(modes).reshape(-1, 2), np.array(dens)

    def _log_joint_hessians(self, points):
        """∂²ln p(x, z)/∂z² at each of ``points`` (k, 2), shape (k, 2, 2) (autograd)."""
        z = torch.as_tensor(points, dtype=torch.float64, device=self.model.device).requires_grad_(True)
        with torch.enable_grad(), cpu_threads(1):
            (g,) = torch.autograd.grad(self.model.log_joint(self.x, z).sum(), z, create_graph=True)
            rows = [torch.autograd.grad(g[:, k].sum(), z, retain_graph=k == 0)[0] for k in range(2)]
        return torch.stack(rows, dim=1).detach().cpu().numpy()

    def fit_starts(self):
        """The starts of :meth:`fit` (before the diagonal optima, which start the full fits too).

        Returns
        -------
        FitStarts
            ``diagonal`` and ``full``: lists of ``(label, GaussianQ)``. Diagonal: the encoder's q, at each
            posterior mode (:meth:`posterior_modes`) the diagonal Gaussian whose precisions are the diagonal of
            -∂²ln p(x, z)/∂z² there (the best diagonal q for a Gaussian posterior; the posterior's marginal
            σ where that curvature is not positive), and the moment-matched ``N(mean, diag(var))``. Full: the
            Laplace Gaussian ``N(mode, (-∂²ln p)⁻¹)`` at each mode where that is positive definite, and
            ``N(mean, cov)`` of the posterior.
        """
        mean, cov = self._posterior_moments()
        sd = np.sqrt(np.clip(np.diag(cov), 1e-12, None))
        modes, _ = self.posterior_modes()
        diag, full = [("encoder", self.encoder_q)], []
        if modes.size:
            for k, (z, h) in enumerate(zip(modes, self._log_joint_hessians(modes))):
                prec = -h
                s = np.where(np.diag(prec) > 0, 1.0 / np.sqrt(np.clip(np.diag(prec), 1e-300, None)), sd)
                s = np.clip(s, 1e-3, 10.0)
                diag.append((f"mode {k + 1}", GaussianQ(z, np.diag(s))))
                if np.all(np.linalg.eigvalsh(prec) > 0):
                    with contextlib.suppress(InputError):    # a covariance too ill-conditioned to use
                        full.append((f"mode {k + 1}", GaussianQ.from_cov(z, np.linalg.inv(prec))))
        diag.append(("moments", GaussianQ(mean, np.diag(sd))))
        with contextlib.suppress(InputError):
            full.append(("moments", GaussianQ.from_cov(mean, cov)))
        return FitStarts(diagonal=diag, full=full)

    def _lowest(self, starts, kind):
        """The lowest optimum of -ELBO over ``starts`` (label, GaussianQ): every start converges on the screening
        rule (``N_NODES_SCREEN``); the distinct optima within ``SCREEN_MARGIN`` of the lowest are polished on the
        exact rules. Returns the winning :class:`FitResult` and the distinct optima ``(label, q)``, lowest first
        (polished q's where polished)."""
        to_theta, unpack = ((self._diagonal_theta, self._diagonal_unpack) if kind == "diagonal"
                            else (self._full_theta, self._full_unpack))
        rules = self._polish_rules()
        runs = [_Run(self, to_theta(q), unpack, kind, label) for label, q in starts]
        screen = N_NODES_SCREEN < (N_NODES_COARSE if len(rules) > 1 else self.n_nodes)
        if screen:
            for r in runs:
                r.converge(self._rule(N_NODES_SCREEN), final=False)
        # one run per distinct optimum: the earliest start that reached it (the encoder's q, the best diagonal q
        # before the others: the path shown then starts there), with the lowest screened value of its group
        groups = []
        for r in runs:
            loss = r.loss if math.isfinite(r.loss) else math.inf
            for g in groups:
                if np.max(np.abs(r.theta_np - g[0].theta_np)) < SAME_OPTIMUM:
                    g[1] = min(g[1], loss)
                    break
            else:
                groups.append([r, loss])
        groups.sort(key=lambda g: g[1])
        distinct = [g[0] for g in groups]
        polish = [g[0] for g in groups if g[1] <= groups[0][1] + SCREEN_MARGIN] if screen else distinct
        results = {}                # position in distinct -> the polished result (the polished ones only)
        for i, r in enumerate(distinct):
            if any(r is p for p in polish):
                for j, rule in enumerate(rules):
                    r.converge(rule, final=j == len(rules) - 1)
                results[i] = r.result()
        labels = tuple(label for label, _ in starts)
        best_i = min(results, key=lambda i: results[i].neg_elbo)
        win = results[best_i]
        win.start, win.starts, win.n_optima = distinct[best_i].label, labels, len(distinct)
        optima = sorted(((results[i].neg_elbo if i in results else r.loss + 1e3, r.label,
                          results[i].q if i in results else r.q()) for i, r in enumerate(distinct)),
                        key=lambda t: t[0])
        return win, [(label, q) for _, label, q in optima]

    def fit(self):
        """Both fits (cached), each the lowest of several starts (:meth:`fit_starts`, :meth:`_lowest`):
        :class:`GaussianFits`; the full one's starts are every diagonal optimum found
        (``"diagonal optimum k"``, lowest first) and the full starts of :meth:`fit_starts`."""
        if self._fits is None:
            starts = self.fit_starts()
            diag, optima = self._lowest(starts.diagonal, "diagonal")
            full_starts = [(f"diagonal optimum {k + 1}", q) for k, (_, q) in enumerate(optima)] + starts.full
            full, _ = self._lowest(full_starts, "full")
            if full.neg_elbo > diag.neg_elbo:
                # the full family holds the diagonal optimum: never worse than it (a guard; not seen)
                direct = self.fit_full(diag.q)
                if direct.neg_elbo < full.neg_elbo:
                    direct.start, direct.starts, direct.n_optima = "diagonal optimum 1", full.starts, full.n_optima
                    full = direct
            self._fits = GaussianFits(diagonal=diag, full=full)
        return self._fits

    def gaps(self):
        """The exact bounds and gaps of the encoder, the best diagonal and the best full Gaussian.

        Returns
        -------
        VariationalGaps
        """
        fits = self.fit()
        enc = self.neg_elbo(self.encoder_q)
        d, full, f = fits.diagonal.neg_elbo, fits.full.neg_elbo, self.free_energy
        return VariationalGaps(free_energy=f, neg_elbo_encoder=enc, neg_elbo_diagonal=d, neg_elbo_full=full,
                               amortisation=enc - d, approximation=d - f, full_covariance=d - full)

    def report(self):
        """The ``vae-report --optimise-q`` entries (JSON; their keys are a contract): ``q_optimal``, ``gaps`` and
        ``q_optimal_starts`` (see the CLI).

        ``q_optimal_starts`` (added with CODE_VERSION 2; ``q_optimal`` and ``gaps`` keep their keys): per kind,
        ``n_starts`` (the optimum is the lowest of that many fits), ``n_optima`` (distinct local optima they
        reached), ``best_start`` (where the winning fit started) and ``starts`` (every start's label).
        """
        fits, g = self.fit(), self.gaps()
        dq, fq = fits.diagonal.q, fits.full.q
        return {"q_optimal": {"diagonal": {"mu": dq.mu.tolist(), "logvar": dq.logvar.tolist(),
                                           "neg_elbo": fits.diagonal.neg_elbo},
                              "full": {"mu": fq.mu.tolist(), "cov": fq.cov.tolist(),
                                       "neg_elbo": fits.full.neg_elbo}},
                "gaps": {"amortisation": g.amortisation, "approximation": g.approximation,
                         "full_covariance": g.full_covariance},
                "q_optimal_starts": {k: {"n_starts": f.n_starts, "n_optima": f.n_optima, "best_start": f.start,
                                         "starts": list(f.starts)} for k, f in fits.items()}}


# ------------------------------------------------------------- the test split
def split_cache_path(session, indices=None, directory=None):
    """The .npz file of ``session``'s gaps on ``indices`` (None: the whole split): keyed on the checkpoint's
    bytes, the code version, the decoder scale c, the Gauss–Hermite rule and the digits asked for."""
    idx = "all" if indices is None else ",".join(str(int(i)) for i in indices)
    key = hashlib.sha256(f"{file_sha256(session.model.checkpoint_path)}|{CODE_VERSION}|{session.weight_scale!r}|"
                         f"{session.n_test}|{N_NODES}|{idx}".encode()).hexdigest()[:24]
    return os.path.join(cache_dir() if directory is None else directory, f"vae_gaps_{key}.npz")


def _indices(session, indices):
    if indices is None:
        return None
    idx = [session.check_index(i) for i in np.atleast_1d(np.asarray(indices)).tolist()]
    if not idx:
        raise InputError("no test digits asked for")
    return idx


#: Results that ship with the package (the shipped checkpoint's whole test split at c = 1), found
#: under the same key as the user cache: a student's first click shows the histograms at once.
#: tests/vae/test_vae_variational.py recomputes some of its digits and compares.
SHIPPED_CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def load_split_gaps(session, indices=None, directory=None):
    """The cached gaps of ``session`` on ``indices`` (None: the whole split; see :func:`split_gaps`), or None.

    Looks in ``directory`` (default :func:`cache_dir`), then among the results shipped with the
    package (:data:`SHIPPED_CACHE`) when no directory is given.
    """
    idx = _indices(session, indices)
    path = split_cache_path(session, idx, directory)
    if not os.path.exists(path) and directory is None:
        path = os.path.join(SHIPPED_CACHE, os.path.basename(path))
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            out = SplitGaps(**{k: z[k] for k in ("index", *GAP_KEYS)})
    except Exception:
        # a damaged or foreign file, whatever it raises (a bad zip, a zlib error, numpy's
        # header parser's TokenError, a missing key): recomputed, never a traceback
        return None
    expected = session.n_test if idx is None else len(idx)
    return out if out.index.size == expected else None


def split_gaps(session, indices=None, progress=None, directory=None, use_cache=True):
    """Both gaps for every test digit (or ``indices``), cached on disk.

    Parameters
    ----------
    session : VAESession
    indices : array-like of int, optional
        A subset of the test digits; default every one.
    progress : callable, optional
        ``progress(done, total)`` after each digit (the app's progress bar); a ``tqdm.auto``
        bar is shown when None.
    directory : str, optional
        Cache directory (default :func:`cache_dir`).
    use_cache : bool
        Read and write the disk cache (default).

    Returns
    -------
    SplitGaps
    """
    idx = _indices(session, indices)
    if use_cache:
        hit = load_split_gaps(session, idx, directory)
        if hit is not None:
            if progress is not None:
                progress(hit.index.size, hit.index.size)
            return hit
    todo = np.arange(session.n_test) if idx is None else np.array(idx)
    rows = {k: np.empty(todo.size) for k in GAP_KEYS}
    bar = None
    if progress is None:
        from tqdm.auto import tqdm
        bar = tqdm(total=todo.size, desc="gaps per test digit", unit="digit")
    from .analysis import PointAnalysis
    for j, i in enumerate(todo):
        x, _ = session.test_image(int(i))
        # a fresh analysis (not the session's cache): only its exact parts are used, no Monte Carlo pool
        pa = PointAnalysis(session.model64, x, n_samples=session.n_samples, n_iwae=session.n_iwae, seed=session.seed)
        g = VariationalPoint(pa).gaps()
        for k in GAP_KEYS:
            rows[k][j] = getattr(g, k)
        if bar is not None:
            bar.update(1)
        if progress is not None:
            progress(j + 1, todo.size)
    if bar is not None:
        bar.close()
    out = SplitGaps(index=todo, **rows)
    if use_cache:
        path = split_cache_path(session, idx, directory)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path[:-4] + f".{os.getpid()}.tmp.npz"
        np.savez(tmp, **out.columns())
        os.replace(tmp, path)      # atomic: a reader never sees half a file
    return out
