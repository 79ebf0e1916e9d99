"""One data point, every free energy: the API behind ``vae-report`` and the VAE explorer app.

:class:`PointAnalysis` computes lazily and caches, so that moving a λ or T slider in
the app only redoes the cheap part (a log-sum-exp over cached grid values or samples).
:class:`VAESession` holds a checkpoint, its data split and a small cache of analyses
per test index.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections import OrderedDict
from functools import cached_property

import numpy as np
import torch

from ..errors import InputError
from ._validation import check_array_1d, check_binary_rows, check_int, check_positive_finite
from .checkpoint import load_checkpoint
from .data import dataset_from_metadata
from .device import analysis_device, cpu_threads
from .estimators import (
    DEFAULT_IWAE_KS,
    free_energy_lambda_mc,
    importance_weight_diagnostics,
    iwae_bounds,
    mean_stderr,
    sample_cumulants,
    sample_log_weights,
)
from .free_energy import MAX_ORDER, ExactPoint, series_free_energy
from .quadrature import DEFAULT_TOL
from .results import (
    Cumulants,
    CumulantSeries,
    ElboParts,
    EncoderQ,
    IWAEEstimate,
    LambdaCurve,
    LatentMeans,
    MonteCarloElboParts,
    MonteCarloEstimates,
    PointExploration,
    TemperatureSweep,
    WeightScaleCurve,
)

DEFAULT_SAMPLES = 5000      # MC estimates (ELBO parts, λ, cumulants)
DEFAULT_IWAE_POOL = 50000   # one pool cut into groups of K for every IWAE bound
LAM_MAX = 1.5
#: The VR/Rényi curve F(λ)/λ is an upper bound on -ln p(x) only for λ in (0, 1].
RENYI_BOUND_RANGE = (0.0, 1.0)
#: The weight-scale slider's range (decoder weights × c; c = 1 is the trained model).
WEIGHT_SCALE_RANGE = (0.25, 4.0)
MAX_SCALED_SESSIONS = 4     # scaled sessions a session keeps (each with its own per-index cache)
SCALED_CACHE_SIZE = 4       # analysed indices a scaled session keeps
CURVE_CACHE_SIZE = 8        # weight-scale curves a session keeps


def float64_copy(model):
    """A float64 copy of ``model`` for exact work (on the CPU when the model is on MPS)."""
    m = copy.deepcopy(model).to(analysis_device(model.device), torch.float64).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def check_weight_scale(c, name="weight_scale"):
    """``c`` as a float, > 0 and finite (one-line :class:`InputError` otherwise)."""
    return check_positive_finite(c, name)


def scale_decoder(model, c):
    """A copy of ``model`` whose decoder weight matrices are multiplied by ``c`` (biases kept).

    The encoder, hence q(z|x), is unchanged. The copy records its scale relative to the trained
    model in ``weight_scale`` (scales compose: scaling a copy scaled by 2 by 3 gives 6).
    """
    c = check_weight_scale(c)
    m = copy.deepcopy(model)
    with torch.no_grad():
        for layer in m.decoder:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.mul_(c)
    m.weight_scale = float(getattr(model, "weight_scale", 1.0)) * c
    return m.eval()


def _first(values):
    """``values[0]`` as a float, None when there are no values (JSON null)."""
    return None if values is None else float(values[0])


class PointAnalysis:
    """Exact and Monte Carlo free energies of one binary image under a VAE.

    Parameters
    ----------
    model : VAE
    x : array-like (n_input,)
        0/1 pixels.
    n_samples : int
        Samples z ~ q for the Monte Carlo estimates.
    n_iwae : int
        Pool size for the IWAE bounds (at least the largest K).
    seed : int
    tol : float
        Quadrature tolerance (nats).
    """

    def __init__(self, model, x, *, n_samples=DEFAULT_SAMPLES, n_iwae=DEFAULT_IWAE_POOL, seed=0,
                 tol=DEFAULT_TOL):
        self.model = model if model.dtype == torch.float64 else float64_copy(model)
        self.x_np = check_binary_rows(x, self.model.n_input)[0]
        self.n_samples = check_int(n_samples, "n_samples", lo=10)
        self.n_iwae = check_int(n_iwae, "n_iwae", lo=self.n_samples)
        self.seed = check_int(seed, "seed", lo=0)
        self.tol = tol
        self.x = self.model.as_tensor(self.x_np)
        with torch.no_grad():
            self.mu_t, self.logvar_t = self.model.encode(self.x)
        self.mu = self.mu_t.cpu().numpy()
        self.logvar = self.logvar_t.cpu().numpy()
        self.latent_dim = self.model.n_latent
        self._weights = {}     # importance-weight diagnostics per n_samples (shared by with_samples copies)

    @property
    def weight_scale(self):
        """The decoder's weight scale c relative to the trained model (1 unless made by :func:`scale_decoder`)."""
        return float(getattr(self.model, "weight_scale", 1.0))

    @property
    def is_exact(self):
        """True for a 2-D latent space (quadrature); else the reference is an IWAE estimate."""
        return self.latent_dim == 2

    # --------------------------------------------------------------- caches
    @torch.no_grad()
    def _log_joint_np(self, points):
        z = torch.from_numpy(np.ascontiguousarray(points)).to(self.model.device, torch.float64)
        with cpu_threads(1):
            out = [self.model.log_joint(self.x, z[s:s + 65536]) for s in range(0, z.shape[0], 65536)]
        return torch.cat(out).cpu().numpy()

    @cached_property
    def exact(self):
        """The :class:`ExactPoint` (None above 2 latent dimensions)."""
        if not self.is_exact:
            return None
        # tanh hidden units bound the decoder's logits, hence ln p(x|z): see ExactPoint(bounded_likelihood)
        return ExactPoint(self._log_joint_np, self.mu, self.logvar, tol=self.tol, bounded_likelihood=True)

    @cached_property
    def _pool(self):
        with cpu_threads(1):
            lj, lq = sample_log_weights(self.model, self.x, self.mu_t, self.logvar_t, self.n_iwae, self.seed)
        return lj, lq

    @property
    def log_w(self):
        """ln w = ln p(x, z) - ln q(z|x) for the first ``n_samples`` draws."""
        lj, lq = self._pool
        return (lj - lq)[:self.n_samples]

    # --------------------------------------------------------------- pieces
    def iwae(self, ks=DEFAULT_IWAE_KS):
        """IWAE free energies ``-L_K`` with standard errors.

        The pool is cut into ``groups`` = pool // K independent groups of K draws; the estimate is
        minus the mean of the groups' values ``ln((1/K) Σ_k w_k)`` and its standard error the
        groups' standard deviation over sqrt(groups). Each group value lies between the mean and the
        maximum of its ``ln w_k``; ``ln w`` has an exponential right tail (rate λ*) and a light left
        tail, so the group values have a finite variance for every λ* > 0 (docs/physics.md, section
        7), unlike the weights ``w`` themselves (which need λ* > 2). The standard error is the spread
        of the estimate, not its bias: ``-L_K`` itself stays above -ln p(x).

        Returns
        -------
        IWAEEstimate
        """
        lj, lq = self._pool
        bound, se, groups = iwae_bounds(lj - lq, ks)
        k = [int(v) for v in np.atleast_1d(ks)]
        finite = bool(self.lam_critical > 0.0)
        valid = np.asarray(groups) >= 2
        se = np.where(valid, se, np.nan)
        return IWAEEstimate(k=k, bound=bound, stderr=se, groups=groups, variance_finite=finite, stderr_valid=valid)

    def importance_weights(self):
        """The importance weights' tail and what it says about the sampling estimates.

        Returns
        -------
        ImportanceWeights
            See :func:`~explorer.vae.estimators.importance_weight_diagnostics`; ``log_w`` holds the first
            ``n_samples`` draws' ln w = ln p(x, z) - ln q(z|x).
        """
        hit = self._weights.get(self.n_samples)
        if hit is None:
            hit = importance_weight_diagnostics(self.log_w, self.lam_critical)
            self._weights[self.n_samples] = hit
        return hit

    @cached_property
    def reference(self):
        """The true free energy: ``(value, error, method)``.

        Quadrature for a 2-D latent space; otherwise IWAE with K = 5000 and its standard
        error, labelled as an estimate.
        """
        if self.is_exact:
            return self.exact.free_energy, self.exact.quadrature_error, "quadrature"
        it = self.iwae([5000])
        return float(it.bound[0]), float(it.stderr[0]), "iwae-5000 estimate (upper bound)"

    def elbo_parts(self):
        """-ELBO, expected energy, entropy, KLs: exact (quadrature or closed form) and Monte Carlo.

        Returns
        -------
        ElboParts
        """
        lj, lq = (a[:self.n_samples] for a in self._pool)
        mc = {}
        for key, vals in (("neg_elbo", lq - lj), ("expected_energy", -lj), ("entropy", -lq)):
            mc[key], mc[key + "_stderr"] = mean_stderr(vals)
        f_ref = self.reference[0]
        mc["kl_posterior"] = mc["neg_elbo"] - f_ref
        # the reference F is exact (2-D) or far more precise than -ELBO's MC estimate
        mc["kl_posterior_stderr"] = mc["neg_elbo_stderr"]
        mc = MonteCarloElboParts(**mc, n_samples=self.n_samples)
        with torch.no_grad():
            kl_prior = float(self.model.kl_prior(self.mu_t, self.logvar_t))
            entropy = float(self.model.entropy_q(self.logvar_t))
        # exact for a 2-D latent space (quadrature), else the Monte Carlo estimates
        est = self.exact if self.is_exact else mc
        return ElboParts(neg_elbo=est.neg_elbo, expected_energy=est.expected_energy, entropy=entropy,
                         kl_prior=kl_prior, kl_posterior=est.kl_posterior, mc=mc)

    def lam_curve(self, lams):
        """F(λ) exact (quadrature) and Monte Carlo with standard errors, for λ in [0, 1.5].

        ``exact`` is -inf (JSON null) for λ >= ``lam_critical``, where E_q[w^λ] diverges.
        ``mc_variance_finite`` is 2λ < λ* (Var(w^λ) finite); elsewhere ``mc_stderr`` is NaN
        (the estimate ``mc`` is kept: finite, but its error bar would be meaningless).

        Returns
        -------
        LambdaCurve
        """
        lams = check_array_1d(lams, "lam", lo=0.0, hi=LAM_MAX)
        mc, se = free_energy_lambda_mc(self.log_w, lams)
        finite = 2.0 * lams < self.lam_critical
        exact, error, edge = self.exact.free_energy_lambda(lams) if self.is_exact else (None, None, None)
        return LambdaCurve(lam=lams, mc=mc, mc_stderr=np.where(finite, se, np.nan), mc_variance_finite=finite,
                           exact=exact, error=error, edge_fraction=edge, lam_critical=self.lam_critical)

    @property
    def lam_critical(self):
        """λ* = min_i 1/(1 - σ_i²): E_q[w^λ] is infinite for λ >= λ* (bounded tanh decoder), so the
        exact F(λ) is -inf there and Monte Carlo estimates, though finite, have infinite variance."""
        var = np.exp(self.logvar)
        small = var[var < 1.0]
        return float(np.min(1.0 / (1.0 - small))) if small.size else math.inf

    def cumulants(self, order=4, n_boot=100):
        """κ_1..κ_order of V under q: exact (quadrature) and k-statistics with bootstrap errors (:class:`Cumulants`)."""
        order = check_int(order, "order", lo=1, hi=MAX_ORDER)
        kmc, kse = sample_cumulants(-self.log_w, order, n_boot=n_boot, seed=self.seed)
        return Cumulants(order=order, kappa=self.exact.cumulants(order) if self.is_exact else None,
                         kappa_mc=kmc, kappa_mc_stderr=kse)

    def series(self, lams, order=4):
        """Truncated cumulant series at orders 1..order for each λ (rows: order; :class:`CumulantSeries`)."""
        lams = check_array_1d(lams, "lam", lo=0.0, hi=LAM_MAX)
        cum = self.cumulants(order)
        return CumulantSeries(lam=lams, order=list(range(1, cum.order + 1)),
                              exact_kappa=None if cum.kappa is None else series_free_energy(cum.kappa, lams),
                              mc_kappa=series_free_energy(cum.kappa_mc, lams))

    def temperature(self, temperatures):
        """F_T exact (2-D: quadrature) and the bound ``E_q[H] - T S[q]`` (:class:`TemperatureSweep`)."""
        ts = check_array_1d(temperatures, "temperature", positive=True)
        if self.is_exact:
            exact, bound, err = self.exact.free_energy_temperature(ts)
        else:
            parts = self.elbo_parts()
            exact, err = None, None
            bound = parts.expected_energy - ts * parts.entropy
        return TemperatureSweep(T=ts, exact=exact, bound=bound, error=err)

    def posterior_grid(self, max_points=129):
        """p(z|x) and q(z|x) on the quadrature grid (2-D only; see :meth:`ExactPoint.posterior_grid`)."""
        if not self.is_exact:
            raise InputError("the posterior grid needs a 2-D latent space")
        return self.exact.posterior_grid(max_points)

    # --------------------------------------------------------------- reports
    def report(self, lam=1.0, order=4, temperature=1.0):
        """Everything ``vae-report`` prints, as a dict of plain values and arrays (the command's JSON document,
        built from the results above: its keys are a contract)."""
        lam = float(check_array_1d(lam, "lam", lo=0.0, hi=LAM_MAX)[0])
        order = check_int(order, "order", lo=1, hi=MAX_ORDER)
        t = float(check_array_1d(temperature, "temperature", positive=True)[0])
        f, ferr, method = self.reference
        parts = self.elbo_parts()
        cum = self.cumulants(order)
        curve = self.lam_curve([lam])
        ser = self.series([lam], order)
        temp = self.temperature([t])
        it = self.iwae()
        wd = self.importance_weights()
        lam_finite = bool(curve.mc_variance_finite[0])
        rep = {
            "x": [int(v) for v in self.x_np],
            "latent_dim": self.latent_dim,
            "weight_scale": self.weight_scale,
            "exact_free_energy": f,
            "exact_method": method,
            "quadrature_error": ferr if self.is_exact else None,
            "exact_free_energy_stderr": None if self.is_exact else ferr,
            "neg_elbo": parts.neg_elbo,
            "expected_energy": parts.expected_energy,
            "entropy": parts.entropy,
            "kl_prior": parts.kl_prior,
            "kl_posterior": parts.kl_posterior,
            "mc": dataclasses.asdict(parts.mc),
            "q": {"mu": self.mu, "logvar": self.logvar},
            "iwae": {"k": it.k, "bound": it.bound,
                     "stderr": [float(v) if ok else None for v, ok in zip(it.stderr, it.stderr_valid)],
                     "groups": [int(g) for g in it.groups], "pool": self.n_iwae,
                     "variance_finite": it.variance_finite},
            "lam": {"lam": lam, "exact": _first(curve.exact), "error": _first(curve.error),
                    "mc": float(curve.mc[0]),
                    "mc_stderr": float(curve.mc_stderr[0]) if lam_finite else None,
                    "mc_variance_finite": lam_finite,
                    "edge_fraction": _first(curve.edge_fraction),
                    "lam_critical": curve.lam_critical, "diverges": bool(lam >= curve.lam_critical)},
            "weights": {key: getattr(wd, key) for key in ("lam_critical", "pareto_k_exact", "pareto_k_hat", "ess",
                                                          "psis_ess", "k_threshold", "reliable", "raw_free_energy",
                                                          "psis_free_energy", "variance_finite", "n")},
            "cumulants": {
                "order": order, "lam": lam,
                "kappa": cum.kappa, "kappa_mc": cum.kappa_mc, "kappa_mc_stderr": cum.kappa_mc_stderr,
                "series": None if ser.exact_kappa is None else ser.exact_kappa[:, 0],
                "series_mc": ser.mc_kappa[:, 0],
                "exact": _first(curve.exact),
            },
            "temperature": {"T": t, "exact": _first(temp.exact), "bound": float(temp.bound[0]),
                            "error": _first(temp.error)},
        }
        if self.is_exact:
            integ, qi = self.exact.integral, self.exact.q_integral
            rep["quadrature"] = {"n_per_axis": integ.grid.z1.size, "box": list(integ.box),
                                 "converged": integ.converged, "change": integ.change, "tail": integ.tail,
                                 "levels": [lv["n"] for lv in integ.levels],
                                 "q_n_per_axis": qi.grid.z1.size, "q_box": list(qi.box),
                                 "q_converged": qi.converged, "q_error": qi.error}
        return rep

    def explore(self, lams=None, order=6, temperatures=None, ks=DEFAULT_IWAE_KS, max_grid_points=129,
                n_q_draws=150):
        """Everything the explorer app plots for this point (the app draws exactly these numbers).

        Parameters
        ----------
        lams : array-like, optional
            λ values (default 61 points on [0, 1.5]).
        order : int
            Highest series order.
        temperatures : array-like, optional
            T values (default 17 points, log-spaced on [0.25, 4]).
        ks : sequence of int
            IWAE sample counts.
        max_grid_points : int
            Points per axis of the posterior heat map.
        n_q_draws : int
            Draws from q for the picture (the estimates use their own pool).

        Returns
        -------
        PointExploration
            ``report`` as :meth:`report` at λ = 1, T = 1; ``reconstruction`` flat; ``renyi`` along ``lams``
            (past λ = 1 not a bound); no ``index``, ``label`` or ``image``.
        """
        lams = np.linspace(0.0, LAM_MAX, 61) if lams is None else np.asarray(lams, dtype=float)
        temperatures = np.geomspace(0.25, 4.0, 17) if temperatures is None else temperatures
        lc = self.lam_curve(lams)
        renyi = None
        if lc.exact is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                renyi = np.where(lams > 0, lc.exact / np.where(lams > 0, lams, 1.0), np.nan)
        sigma = np.exp(0.5 * self.logvar)
        # a few draws from q for the picture only, seeded by the seed and the image itself
        rng = np.random.default_rng([1000 + self.seed, *self.x_np.astype(int).tolist()])
        draws = self.mu[:2] + sigma[:2] * rng.standard_normal((int(n_q_draws), 2))
        with torch.no_grad():
            recon = torch.sigmoid(self.model.decode(self.mu_t)).cpu().numpy()
        return PointExploration(
            report=self.report(1.0, order, 1.0),
            posterior=self.posterior_grid(max_grid_points) if self.is_exact else None,
            q=EncoderQ(mu=self.mu, logvar=self.logvar, sigma=sigma, draws=draws),
            reconstruction=recon,
            reference=self.reference,
            elbo_parts=self.elbo_parts(),
            lam_curve=lc,
            renyi=renyi,
            renyi_bound_range=RENYI_BOUND_RANGE,
            series=self.series(lams, order),
            temperature=self.temperature(temperatures),
            iwae=self.iwae(ks),
            weights=self.importance_weights(),
            weight_scale=self.weight_scale,
        )

    def with_samples(self, n_samples):
        """This analysis with ``n_samples`` Monte Carlo draws (sharing the cached draws and quadrature)."""
        n = check_int(n_samples, "n_samples", lo=10)
        if n == self.n_samples:
            return self
        other = copy.copy(self)        # the cached pool and quadrature are shared, not recomputed
        other.n_samples = min(n, self.n_iwae)
        return other

    def monte_carlo(self, lams, n_samples=None):
        """Monte Carlo F(λ) and ELBO parts from the first ``n_samples`` draws of the pool.

        Returns
        -------
        MonteCarloEstimates
            ``elbo_parts`` is the ``mc`` entry of :meth:`elbo_parts`, ``weights`` the
            :meth:`importance_weights` of those draws.
        """
        pa = self if n_samples is None else self.with_samples(n_samples)
        lc = pa.lam_curve(lams)
        return MonteCarloEstimates(n=pa.n_samples, lam=lc.mc, stderr=lc.mc_stderr,
                                   variance_finite=lc.mc_variance_finite, elbo_parts=pa.elbo_parts().mc,
                                   weights=pa.importance_weights())


class VAESession:
    """A checkpoint, its data split and cached per-index analyses (for the app and the CLI).

    Parameters
    ----------
    checkpoint : str, optional
        Defaults to the shipped 2-D digits checkpoint.
    device : str
        Where the model lives (``"cpu"``, ``"auto"``, ...).
    data : str, optional
        A ``.npz`` to use instead of the data source recorded in the checkpoint.
    n_samples, n_iwae, seed : int
        Passed to :class:`PointAnalysis`.
    cache_size : int
        How many analysed indices to keep.

    Notes
    -----
    :meth:`scaled` gives the same session with the decoder's weight matrices multiplied by c
    (``weight_scale``); everything it computes is for that decoder, with the encoder's q unchanged.
    """

    def __init__(self, checkpoint=None, device="cpu", data=None, *, n_samples=DEFAULT_SAMPLES,
                 n_iwae=DEFAULT_IWAE_POOL, seed=0, cache_size=16):
        self.model = load_checkpoint(checkpoint, device=device)
        self.dataset = dataset_from_metadata(self.model.metadata.get("data"), data)
        if self.dataset.n_pixels != self.model.n_input:
            raise InputError(f"data has {self.dataset.n_pixels} pixels per image, the model expects "
                             f"{self.model.n_input}")
        self.model64 = float64_copy(self.model)
        self.n_samples, self.n_iwae, self.seed = n_samples, n_iwae, seed
        self._cache = OrderedDict()
        self._cache_size = int(cache_size)
        #: decoder weight scale c relative to the checkpoint (1: the trained model)
        self.weight_scale = 1.0
        self._root = self                  # the unscaled session (scaled copies point back to it)
        self._scaled = OrderedDict()       # c -> scaled session (kept by the root only)
        self._curves = OrderedDict()       # (index, scales) -> weight_scale_curve result

    # ------------------------------------------------------------ weight scale
    def scaled(self, c):
        """This session with every decoder weight matrix multiplied by ``c`` (biases kept).

        Same dataset, same encoder (so the same q(z|x)), a scaled decoder in its own float64 model,
        its own per-index cache of :class:`PointAnalysis`. ``c`` is relative to the trained model
        whichever session it is asked of; ``scaled(1.0)`` is the unscaled session itself. The
        unscaled session keeps the last few scaled sessions (``MAX_SCALED_SESSIONS``).
        """
        c = check_weight_scale(c)
        root = self._root
        if c == 1.0:
            return root
        hit = root._scaled.get(c)
        if hit is not None:
            root._scaled.move_to_end(c)
            return hit
        child = copy.copy(root)
        child.model = scale_decoder(root.model, c)
        child.model64 = scale_decoder(root.model64, c)
        child.weight_scale = c
        child._cache = OrderedDict()
        child._cache_size = min(root._cache_size, SCALED_CACHE_SIZE)
        child._scaled = child._curves = None           # asked of a scaled session, these go to the root
        root._scaled[c] = child
        if len(root._scaled) > MAX_SCALED_SESSIONS:
            root._scaled.popitem(last=False)
        return child

    def weight_scale_curve(self, index, scales=None):
        """-ln p(x), -ELBO with the encoder's q, and their gap along the decoder weight scale c.

        Parameters
        ----------
        index : int
            Test image.
        scales : array-like, optional
            Values of c (> 0, finite); default 13 log-spaced on [0.25, 4].

        Returns
        -------
        WeightScaleCurve
            Cached per (index, scales).
        """
        root = self._root
        i = self.check_index(index)
        cs = np.geomspace(*WEIGHT_SCALE_RANGE, 13) if scales is None else \
            check_array_1d(scales, "weight_scale", positive=True)
        key = (i, tuple(float(c) for c in cs))
        hit = root._curves.get(key)
        if hit is not None:
            root._curves.move_to_end(key)
            return hit
        x, _ = self.test_image(i)
        exact, neg_elbo, error = [], [], []
        method = None
        for c in cs:
            cached = root if c == 1.0 else root._scaled.get(float(c))
            if cached is not None and i in cached._cache:
                pa = cached._cache[i]
            else:
                # exact parts only: the Monte Carlo pool is never drawn (2-D), and nothing is cached
                pa = PointAnalysis(root.model64 if c == 1.0 else scale_decoder(root.model64, c), x,
                                   n_samples=self.n_samples, n_iwae=self.n_iwae, seed=self.seed)
            f, ferr, method = pa.reference
            exact.append(f)
            error.append(ferr)
            neg_elbo.append(pa.exact.neg_elbo_only() if pa.is_exact else pa.elbo_parts().neg_elbo)
        exact, neg_elbo = np.array(exact), np.array(neg_elbo)
        out = WeightScaleCurve(scale=np.asarray(cs, dtype=np.float64), exact=exact, neg_elbo=neg_elbo,
                               gap=neg_elbo - exact, error=np.array(error), method=method)
        root._curves[key] = out
        if len(root._curves) > CURVE_CACHE_SIZE:
            root._curves.popitem(last=False)
        return out

    @property
    def n_test(self):
        return int(self.dataset.test.shape[0])

    def check_index(self, index):
        return check_int(index, "index", lo=0, hi=self.n_test - 1)

    def test_image(self, index):
        """The 0/1 pixels of test image ``index`` and its label (None without labels)."""
        i = self.check_index(index)
        lab = None if self.dataset.test_labels is None else int(self.dataset.test_labels[i])
        return self.dataset.test[i].astype(np.float64), lab

    def point(self, index):
        """The cached :class:`PointAnalysis` of test image ``index``."""
        i = self.check_index(index)
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        x, _ = self.test_image(i)
        pa = PointAnalysis(self.model64, x, n_samples=self.n_samples, n_iwae=self.n_iwae, seed=self.seed)
        self._cache[i] = pa
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return pa

    @cached_property
    def _latents(self):
        with torch.no_grad():
            mu, logvar = self.model64.encode(self.model64.as_tensor(self.dataset.test))
        return mu.cpu().numpy(), logvar.cpu().numpy()

    def latent_means(self):
        """q(z|x) means (and log-variances) of every test image, with labels: the scatter plot
        (:class:`LatentMeans`)."""
        mu, logvar = self._latents
        return LatentMeans(mu=mu, logvar=logvar, labels=self.dataset.test_labels)

    def report(self, index, lam=1.0, order=4, temperature=1.0):
        """The ``vae-report`` dict for test image ``index`` (the command's JSON document: its keys are a contract)."""
        i = self.check_index(index)
        rep = {"index": i, "label": self.test_image(i)[1]}
        rep.update(self.point(i).report(lam, order, temperature))
        rep["checkpoint"] = self.model.checkpoint_path
        rep["seed"] = self.seed
        rep["n_test"] = self.n_test
        rep["weight_scale"] = self.weight_scale
        return rep

    def explore(self, index, lams=None, order=6, temperatures=None, **kwargs):
        """:meth:`PointAnalysis.explore` for test image ``index``, plus the image and its label.

        ``image`` and ``reconstruction`` come shaped as the dataset's images (8 × 8 digits);
        ``weight_scale`` is this session's decoder scale c.

        Returns
        -------
        PointExploration
        """
        i = self.check_index(index)
        x, lab = self.test_image(i)
        out = self.point(i).explore(lams, order, temperatures, **kwargs)
        shape = self.dataset.image_shape
        return dataclasses.replace(out, index=i, label=lab, image=x.reshape(shape),
                                   reconstruction=out.reconstruction.reshape(shape))
