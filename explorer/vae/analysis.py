"""One data point, every free energy: the API behind ``vae-report`` and the VAE explorer app.

:class:`PointAnalysis` computes lazily and caches, so that moving a λ or T slider in
the app only redoes the cheap part (a log-sum-exp over cached grid values or samples).
:class:`VAESession` holds a checkpoint, its data split and a small cache of analyses
per test index.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from functools import cached_property

import numpy as np
import torch

from ..errors import InputError
from ._validation import check_array_1d, check_binary_rows, check_int
from .checkpoint import load_checkpoint
from .data import dataset_from_metadata
from .device import analysis_device, cpu_threads
from .estimators import (
    DEFAULT_IWAE_KS,
    free_energy_lambda_mc,
    iwae_bounds,
    mean_stderr,
    sample_cumulants,
    sample_log_weights,
)
from .free_energy import MAX_ORDER, ExactPoint, series_free_energy
from .quadrature import DEFAULT_TOL

DEFAULT_SAMPLES = 5000      # MC estimates (ELBO parts, λ, cumulants)
DEFAULT_IWAE_POOL = 50000   # one pool cut into groups of K for every IWAE bound
LAM_MAX = 1.5


def float64_copy(model):
    """A float64 copy of ``model`` for exact work (on the CPU when the model is on MPS)."""
    m = copy.deepcopy(model).to(analysis_device(model.device), torch.float64).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


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
        """IWAE free energies ``-L_K`` with standard errors (dict with ``k``, ``bound``, ``stderr``)."""
        lj, lq = self._pool
        bound, se, groups = iwae_bounds(lj - lq, ks)
        return {"k": [int(k) for k in np.atleast_1d(ks)], "bound": bound, "stderr": se, "groups": groups}

    @cached_property
    def reference(self):
        """The true free energy: ``(value, error, method)``.

        Quadrature for a 2-D latent space; otherwise IWAE with K = 5000 and its standard
        error, labelled as an estimate.
        """
        if self.is_exact:
            return self.exact.free_energy, self.exact.quadrature_error, "quadrature"
        it = self.iwae([5000])
        return float(it["bound"][0]), float(it["stderr"][0]), "iwae-5000 estimate (upper bound)"

    def elbo_parts(self):
        """-ELBO, expected energy, entropy, KLs: exact (quadrature or closed form) and Monte Carlo."""
        lj, lq = (a[:self.n_samples] for a in self._pool)
        mc = {}
        for key, vals in (("neg_elbo", lq - lj), ("expected_energy", -lj), ("entropy", -lq)):
            mc[key], mc[key + "_stderr"] = mean_stderr(vals)
        f_ref = self.reference[0]
        mc["kl_posterior"] = mc["neg_elbo"] - f_ref
        # the reference F is exact (2-D) or far more precise than -ELBO's MC estimate
        mc["kl_posterior_stderr"] = mc["neg_elbo_stderr"]
        mc["n_samples"] = self.n_samples
        with torch.no_grad():
            kl_prior = float(self.model.kl_prior(self.mu_t, self.logvar_t))
            entropy = float(self.model.entropy_q(self.logvar_t))
        if self.is_exact:
            ex = self.exact
            out = {"neg_elbo": ex.neg_elbo, "expected_energy": ex.expected_energy, "entropy": entropy,
                   "kl_prior": kl_prior, "kl_posterior": ex.kl_posterior}
        else:
            out = {"neg_elbo": mc["neg_elbo"], "expected_energy": mc["expected_energy"], "entropy": entropy,
                   "kl_prior": kl_prior, "kl_posterior": mc["kl_posterior"]}
        out["mc"] = mc
        return out

    def lam_curve(self, lams):
        """F(λ) exact (quadrature) and Monte Carlo with standard errors, for λ in [0, 1.5].

        ``exact`` is -inf (JSON null) for λ >= ``lam_critical``, where E_q[w^λ] diverges.
        """
        lams = check_array_1d(lams, "lam", lo=0.0, hi=LAM_MAX)
        mc, se = free_energy_lambda_mc(self.log_w, lams)
        out = {"lam": lams, "mc": mc, "mc_stderr": se, "exact": None, "error": None, "edge_fraction": None,
               "lam_critical": self.lam_critical}
        if self.is_exact:
            out["exact"], out["error"], out["edge_fraction"] = self.exact.free_energy_lambda(lams)
        return out

    @property
    def lam_critical(self):
        """λ* = min_i 1/(1 - σ_i²): E_q[w^λ] is infinite for λ >= λ* (bounded tanh decoder), so the
        exact F(λ) is -inf there and Monte Carlo estimates, though finite, have infinite variance."""
        var = np.exp(self.logvar)
        small = var[var < 1.0]
        return float(np.min(1.0 / (1.0 - small))) if small.size else math.inf

    def cumulants(self, order=4, n_boot=100):
        """κ_1..κ_order of V under q: exact (quadrature) and k-statistics with bootstrap errors."""
        order = check_int(order, "order", lo=1, hi=MAX_ORDER)
        kmc, kse = sample_cumulants(-self.log_w, order, n_boot=n_boot, seed=self.seed)
        return {"order": order, "kappa": self.exact.cumulants(order) if self.is_exact else None,
                "kappa_mc": kmc, "kappa_mc_stderr": kse}

    def series(self, lams, order=4):
        """Truncated cumulant series at orders 1..order for each λ (rows: order)."""
        lams = check_array_1d(lams, "lam", lo=0.0, hi=LAM_MAX)
        cum = self.cumulants(order)
        return {"lam": lams, "order": list(range(1, cum["order"] + 1)),
                "exact_kappa": None if cum["kappa"] is None else series_free_energy(cum["kappa"], lams),
                "mc_kappa": series_free_energy(cum["kappa_mc"], lams)}

    def temperature(self, temperatures):
        """F_T exact (2-D: quadrature) and the bound ``E_q[H] - T S[q]``."""
        ts = check_array_1d(temperatures, "temperature", positive=True)
        if self.is_exact:
            exact, bound, err = self.exact.free_energy_temperature(ts)
        else:
            parts = self.elbo_parts()
            exact, err = None, None
            bound = parts["expected_energy"] - ts * parts["entropy"]
        return {"T": ts, "exact": exact, "bound": bound, "error": err}

    def posterior_grid(self, max_points=129):
        """p(z|x) and q(z|x) on the quadrature grid (2-D only; see :meth:`ExactPoint.posterior_grid`)."""
        if not self.is_exact:
            raise InputError("the posterior grid needs a 2-D latent space")
        return self.exact.posterior_grid(max_points)

    # --------------------------------------------------------------- reports
    def report(self, lam=1.0, order=4, temperature=1.0):
        """Everything ``vae-report`` prints, as a dict of plain values and arrays."""
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
        rep = {
            "x": [int(v) for v in self.x_np],
            "latent_dim": self.latent_dim,
            "exact_free_energy": f,
            "exact_method": method,
            "quadrature_error": ferr if self.is_exact else None,
            "exact_free_energy_stderr": None if self.is_exact else ferr,
            "neg_elbo": parts["neg_elbo"],
            "expected_energy": parts["expected_energy"],
            "entropy": parts["entropy"],
            "kl_prior": parts["kl_prior"],
            "kl_posterior": parts["kl_posterior"],
            "mc": parts["mc"],
            "q": {"mu": self.mu, "logvar": self.logvar},
            "iwae": {"k": it["k"], "bound": it["bound"], "stderr": it["stderr"], "pool": self.n_iwae},
            "lam": {"lam": lam, "exact": None if curve["exact"] is None else float(curve["exact"][0]),
                    "error": None if curve["error"] is None else float(curve["error"][0]),
                    "mc": float(curve["mc"][0]), "mc_stderr": float(curve["mc_stderr"][0]),
                    "edge_fraction": None if curve["edge_fraction"] is None else float(curve["edge_fraction"][0]),
                    "lam_critical": curve["lam_critical"], "diverges": bool(lam >= curve["lam_critical"])},
            "cumulants": {
                "order": order, "lam": lam,
                "kappa": cum["kappa"], "kappa_mc": cum["kappa_mc"], "kappa_mc_stderr": cum["kappa_mc_stderr"],
                "series": None if ser["exact_kappa"] is None else ser["exact_kappa"][:, 0],
                "series_mc": ser["mc_kappa"][:, 0],
                "exact": None if curve["exact"] is None else float(curve["exact"][0]),
            },
            "temperature": {"T": t, "exact": None if temp["exact"] is None else float(temp["exact"][0]),
                            "bound": float(temp["bound"][0]),
                            "error": None if temp["error"] is None else float(temp["error"][0])},
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
        dict
            ``report`` (as :meth:`report` at λ = 1, T = 1), ``posterior`` (grid; 2-D only),
            ``q`` (``mu``, ``logvar``, ``sigma``, ``draws`` (n_q_draws, 2)), ``reconstruction``
            (decoder mean at z = μ, flat), ``reference`` (F, error, method), ``elbo_parts``,
            ``lam_curve``, ``renyi`` (the VR bound F(λ)/λ along ``lams``; None without the
            exact curve), ``series``, ``temperature``, ``iwae``.
        """
        lams = np.linspace(0.0, LAM_MAX, 61) if lams is None else np.asarray(lams, dtype=float)
        temperatures = np.geomspace(0.25, 4.0, 17) if temperatures is None else temperatures
        lc = self.lam_curve(lams)
        renyi = None
        if lc["exact"] is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                renyi = np.where(lams > 0, lc["exact"] / np.where(lams > 0, lams, 1.0), np.nan)
        sigma = np.exp(0.5 * self.logvar)
        # a few draws from q for the picture only, seeded by the seed and the image itself
        rng = np.random.default_rng([1000 + self.seed, *self.x_np.astype(int).tolist()])
        draws = self.mu[:2] + sigma[:2] * rng.standard_normal((int(n_q_draws), 2))
        with torch.no_grad():
            recon = torch.sigmoid(self.model.decode(self.mu_t)).cpu().numpy()
        return {
            "report": self.report(1.0, order, 1.0),
            "posterior": self.posterior_grid(max_grid_points) if self.is_exact else None,
            "q": {"mu": self.mu, "logvar": self.logvar, "sigma": sigma, "draws": draws},
            "reconstruction": recon,
            "reference": self.reference,
            "elbo_parts": self.elbo_parts(),
            "lam_curve": lc,
            "renyi": renyi,
            "series": self.series(lams, order),
            "temperature": self.temperature(temperatures),
            "iwae": self.iwae(ks),
        }

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
        dict with ``n`` (samples used), ``lam`` / ``stderr`` (F(λ) along ``lams``) and ``elbo_parts``
        (the ``mc`` entry of :meth:`elbo_parts`).
        """
        pa = self if n_samples is None else self.with_samples(n_samples)
        lc = pa.lam_curve(lams)
        return {"n": pa.n_samples, "lam": lc["mc"], "stderr": lc["mc_stderr"], "elbo_parts": pa.elbo_parts()["mc"]}


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
        """q(z|x) means (and log-variances) of every test image, with labels: the scatter plot."""
        mu, logvar = self._latents
        return {"mu": mu, "logvar": logvar, "labels": self.dataset.test_labels}

    def report(self, index, lam=1.0, order=4, temperature=1.0):
        """The ``vae-report`` dict for test image ``index``."""
        i = self.check_index(index)
        rep = {"index": i, "label": self.test_image(i)[1]}
        rep.update(self.point(i).report(lam, order, temperature))
        rep["checkpoint"] = self.model.checkpoint_path
        rep["seed"] = self.seed
        rep["n_test"] = self.n_test
        return rep

    def explore(self, index, lams=None, order=6, temperatures=None, **kwargs):
        """:meth:`PointAnalysis.explore` for test image ``index``, plus the image and its label.

        ``image`` and ``reconstruction`` come shaped as the dataset's images (8 × 8 digits).
        """
        i = self.check_index(index)
        x, lab = self.test_image(i)
        out = self.point(i).explore(lams, order, temperatures, **kwargs)
        shape = self.dataset.image_shape
        out.update(index=i, label=lab, image=x.reshape(shape), reconstruction=out["reconstruction"].reshape(shape))
        return out
