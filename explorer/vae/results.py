"""What the VAE layer returns: frozen dataclasses of plain numbers and numpy arrays (no torch here).

The computations live in :mod:`explorer.vae.estimators`, :mod:`~explorer.vae.free_energy`,
:mod:`~explorer.vae.analysis` and :mod:`~explorer.vae.variational`; each result below names the
method that makes it. They are defined in this module of their own, which imports numpy only, so
that the app can hold numbers read from disk (the shipped default view, the per-digit cache:
:meth:`StoredResult.from_tree`) without importing torch.

Units: free energies, bounds, KLs and their errors are in nats; z is the latent variable.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .variational import FitResult


class StoredResult:
    """A result the app keeps on disk (:mod:`explorer.app.core.default_view`): :meth:`to_tree` gives nested
    dicts of arrays, numbers, strings and None keyed by the field names, :meth:`from_tree` reads one back."""

    #: Fields holding another result (or None), with its class: ``{name: class}``.
    NESTED = {}

    def to_tree(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_tree(cls, tree):
        values = dict(tree)
        for name, kind in cls.NESTED.items():
            if values[name] is not None:
                values[name] = kind.from_tree(values[name]) if hasattr(kind, "from_tree") else kind(**values[name])
        return cls(**values)


# --------------------------------------------------------------- importance weights
@dataclass(frozen=True)
class PSISResult:
    """Pareto-smoothed importance sampling of S weights (:func:`~explorer.vae.estimators.psis`).

    Attributes
    ----------
    k_hat : float
        Shape of the generalized Pareto law fitted to the largest weights (NaN when too few draws to
        fit a tail).
    log_mean : float
        ln of the mean smoothed weight: the PSIS estimate of ln E_q[w] (the raw one where no tail
        was fitted).
    ess : float
        Effective sample size of the smoothed normalised weights (draws, between 1 and S).
    log_weights : ndarray (S,)
        The smoothed weights' logarithms, normalised (their exponentials sum to 1).
    """

    k_hat: float
    log_mean: float
    ess: float
    log_weights: np.ndarray


@dataclass(frozen=True)
class ImportanceWeights:
    """What the importance weights ``w = p(x, z)/q(z|x)`` of S draws z ~ q say about their own estimates.

    Attributes
    ----------
    log_w : ndarray (S,)
        ln w of the draws (nats).
    n : int
        S, the number of draws.
    lam_critical : float
        λ*: E_q[w^s] is finite exactly for s < λ* (inf for a light tail).
    pareto_k_exact : float
        1/λ*, the exact Pareto shape of the weights' tail (0 when λ* is infinite).
    pareto_k_hat : float
        PSIS estimate of that shape from the draws (NaN when no tail could be fitted).
    k_threshold : float
        The k-hat above which the estimate is unreliable (:func:`~explorer.vae.estimators.pareto_k_threshold`).
    reliable : bool
        k-hat <= ``k_threshold``.
    ess : float
        Kish's effective sample size ``1/Σ w̄²`` of the normalised raw weights (draws).
    psis_ess : float
        The same of the smoothed weights (draws).
    raw_free_energy : float
        -ln mean(w), an estimate of -ln E_q[w] (nats).
    psis_free_energy : float
        The same from the smoothed weights (nats).
    variance_finite : bool
        λ* > 2: the weights w have a finite variance. It decides the error bars of plain importance
        sampling (F(λ) at λ = 1), not those of IWAE, whose group values ``ln mean w`` have a finite
        variance for every λ*.
    """

    log_w: np.ndarray
    n: int
    lam_critical: float
    pareto_k_exact: float
    pareto_k_hat: float
    k_threshold: float
    reliable: bool
    ess: float
    psis_ess: float
    raw_free_energy: float
    psis_free_energy: float
    variance_finite: bool


# --------------------------------------------------------------- exact point
@dataclass(frozen=True)
class PosteriorGrid:
    """A density on a regular grid over the 2-D latent space (for plotting).

    Attributes
    ----------
    z1 : ndarray (n1,)
        The grid's first axis.
    z2 : ndarray (n2,)
        Its second axis.
    density : ndarray (n2, n1)
        The posterior p(z|x) at each grid point (rows are z2; per unit area of z).
    q_density : ndarray (n2, n1) or None
        q(z|x) on the same grid (None where only the posterior is drawn).
    """

    z1: np.ndarray
    z2: np.ndarray
    density: np.ndarray
    q_density: np.ndarray | None = None


# --------------------------------------------------------------- one data point
@dataclass(frozen=True)
class IWAEEstimate:
    """IWAE free energies ``-L_K`` from one pool of draws cut into groups of K
    (:meth:`~explorer.vae.analysis.PointAnalysis.iwae`).

    Attributes
    ----------
    k : list of int
        The sample counts K.
    bound : ndarray (len(k),)
        ``-L_K``, minus the mean over the groups of ``ln((1/K) Σ_k w_k)`` (nats); above -ln p(x) on average.
    stderr : ndarray (len(k),)
        Standard error of each estimate: the groups' standard deviation over sqrt(groups) (nats); NaN where
        only one group of K fits in the pool (no spread to measure).
    groups : ndarray (len(k),) of int
        Independent groups of K draws in the pool.
    variance_finite : bool
        The group values have a finite variance: true whenever λ* > 0, so for every Gaussian q (until
        2026-12-06 this was λ* > 2 and withheld the error bars).
    stderr_valid : ndarray (len(k),) of bool
        ``groups >= 2``: the standard error is measured.
    """

    k: list
    bound: np.ndarray
    stderr: np.ndarray
    groups: np.ndarray
    variance_finite: bool
    stderr_valid: np.ndarray


@dataclass(frozen=True)
class MonteCarloElboParts:
    """-ELBO and its parts estimated from the first ``n_samples`` draws z ~ q(z|x) (nats), with standard errors.

    Attributes
    ----------
    neg_elbo, neg_elbo_stderr : float
        Mean of ``ln q - ln p(x, z)`` and its standard error.
    expected_energy, expected_energy_stderr : float
        E_q[H], the mean of ``-ln p(x, z)``.
    entropy, entropy_stderr : float
        S[q], the mean of ``-ln q``.
    kl_posterior, kl_posterior_stderr : float
        KL(q ‖ p(z|x)) = -ELBO minus the reference F (exact, or far more precise than -ELBO): the standard
        error is -ELBO's.
    n_samples : int
        Draws used.
    """

    neg_elbo: float
    neg_elbo_stderr: float
    expected_energy: float
    expected_energy_stderr: float
    entropy: float
    entropy_stderr: float
    kl_posterior: float
    kl_posterior_stderr: float
    n_samples: int


@dataclass(frozen=True)
class ElboParts(StoredResult):
    """-ELBO = E_q[H] - S[q] and the KLs of the encoder's q, in nats
    (:meth:`~explorer.vae.analysis.PointAnalysis.elbo_parts`).

    Attributes
    ----------
    neg_elbo, expected_energy, kl_posterior : float
        -ELBO, E_q[H] and KL(q ‖ p(z|x)): exact (quadrature) for a 2-D latent space, else the Monte Carlo
        estimates of ``mc``.
    entropy, kl_prior : float
        S[q] and KL(q ‖ N(0, I)), closed forms.
    mc : MonteCarloElboParts
        The Monte Carlo estimates.
    """

    NESTED = {"mc": MonteCarloElboParts}

    neg_elbo: float
    expected_energy: float
    entropy: float
    kl_prior: float
    kl_posterior: float
    mc: MonteCarloElboParts


@dataclass(frozen=True)
class LambdaCurve:
    """F(λ) = -ln E_q[w^λ] along λ (:meth:`~explorer.vae.analysis.PointAnalysis.lam_curve`), in nats.

    Attributes
    ----------
    lam : ndarray (L,)
        λ values in [0, 1.5].
    mc, mc_stderr : ndarray (L,)
        Monte Carlo F(λ) and its delta-method standard error; the error is NaN where
        ``mc_variance_finite`` is False (the estimate is kept: finite, but its error bar meaningless).
    mc_variance_finite : ndarray (L,) of bool
        2λ < λ*: Var(w^λ) is finite.
    exact, error, edge_fraction : ndarray (L,) or None
        Exact F(λ) by quadrature (-inf for λ >= λ*, where E_q[w^λ] diverges), its quadrature error and the
        share of each integral on the edge of its box (see
        :meth:`~explorer.vae.free_energy.ExactPoint.free_energy_lambda`); None above 2 latent dimensions.
    lam_critical : float
        λ* = min_i 1/(1 - σ_i²) (inf when no σ_i < 1).
    """

    lam: np.ndarray
    mc: np.ndarray
    mc_stderr: np.ndarray
    mc_variance_finite: np.ndarray
    exact: np.ndarray | None
    error: np.ndarray | None
    edge_fraction: np.ndarray | None
    lam_critical: float


@dataclass(frozen=True)
class Cumulants:
    """Cumulants κ_1..κ_order of V = ln q - ln p(x, z) under q (:meth:`~explorer.vae.analysis.PointAnalysis.cumulants`).

    Attributes
    ----------
    order : int
    kappa : ndarray (order,) or None
        Exact (quadrature; κ_1 = -ELBO, κ_n in nats^n); None above 2 latent dimensions.
    kappa_mc, kappa_mc_stderr : ndarray (order,)
        From the draws (k-statistics up to order 4, plug-in above) with bootstrap standard errors.
    """

    order: int
    kappa: np.ndarray | None
    kappa_mc: np.ndarray
    kappa_mc_stderr: np.ndarray


@dataclass(frozen=True)
class CumulantSeries:
    """The truncated cumulant series ``F_K(λ)`` at orders K = 1..order along λ
    (:meth:`~explorer.vae.analysis.PointAnalysis.series`).

    Attributes
    ----------
    lam : ndarray (L,)
    order : list of int
        ``[1, ..., order]``: the orders of the rows.
    exact_kappa : ndarray (order, L) or None
        The series of the exact cumulants (row K - 1: truncated after order K; nats); None above 2 latent
        dimensions.
    mc_kappa : ndarray (order, L)
        The series of the sample cumulants.
    """

    lam: np.ndarray
    order: list
    exact_kappa: np.ndarray | None
    mc_kappa: np.ndarray


@dataclass(frozen=True)
class TemperatureSweep:
    """The free energy at temperature T, ``F_T = -T ln ∫ exp(-H/T) dz``, and its bound
    (:meth:`~explorer.vae.analysis.PointAnalysis.temperature`).

    Attributes
    ----------
    T : ndarray (n,)
        Temperatures (> 0).
    exact : ndarray (n,) or None
        F_T by quadrature (nats); None above 2 latent dimensions.
    bound : ndarray (n,)
        ``E_q[H] - T S[q]`` with the encoder's q (nats), an upper bound on F_T.
    error : ndarray (n,) or None
        Quadrature error of ``exact`` (nats).
    """

    T: np.ndarray
    exact: np.ndarray | None
    bound: np.ndarray
    error: np.ndarray | None


@dataclass(frozen=True)
class EncoderQ:
    """The encoder's q(z|x) = N(mu, diag(sigma²)) as drawn on the posterior map.

    Attributes
    ----------
    mu, logvar, sigma : ndarray (n_latent,)
        Mean, log-variance and standard deviation per latent axis.
    draws : ndarray (n_q_draws, 2)
        Draws from q on the first two axes (the picture only: the estimates use their own pool).
    """

    mu: np.ndarray
    logvar: np.ndarray
    sigma: np.ndarray
    draws: np.ndarray


@dataclass(frozen=True)
class PointExploration(StoredResult):
    """Everything the explorer app plots for one data point (:meth:`~explorer.vae.analysis.PointAnalysis.explore`,
    :meth:`~explorer.vae.analysis.VAESession.explore`); free energies in nats.

    Attributes
    ----------
    report : dict
        :meth:`~explorer.vae.analysis.PointAnalysis.report` at λ = 1, T = 1 (the ``vae-report`` JSON document).
    posterior : PosteriorGrid or None
        p(z|x) and q(z|x) on the quadrature grid; None above 2 latent dimensions.
    q : EncoderQ
    reconstruction : ndarray (n_input,)
        The decoder's mean at z = μ (shaped as the dataset's images when from
        :meth:`~explorer.vae.analysis.VAESession.explore`).
    reference : tuple (float, float, str)
        The true free energy ``(value, error, method)`` (:attr:`~explorer.vae.analysis.PointAnalysis.reference`).
    elbo_parts : ElboParts
    lam_curve : LambdaCurve
    renyi : ndarray (L,) or None
        The VR curve F(λ)/λ along ``lam_curve.lam`` (NaN at λ = 0); None without the exact curve.
    renyi_bound_range : tuple (float, float)
        (0, 1): only there is F(λ)/λ an upper bound on -ln p(x).
    series : CumulantSeries
    temperature : TemperatureSweep
    iwae : IWAEEstimate
    weights : ImportanceWeights
        :meth:`~explorer.vae.analysis.PointAnalysis.importance_weights`.
    weight_scale : float
        The decoder's weight scale c.
    index : int or None
        The test image (from :meth:`~explorer.vae.analysis.VAESession.explore`; None otherwise).
    label : int or None
        Its label (None without labels).
    image : ndarray or None
        Its 0/1 pixels shaped as the dataset's images (8 × 8 digits).
    """

    NESTED = {"posterior": PosteriorGrid, "q": EncoderQ, "elbo_parts": ElboParts, "lam_curve": LambdaCurve,
              "series": CumulantSeries, "temperature": TemperatureSweep, "iwae": IWAEEstimate,
              "weights": ImportanceWeights}

    report: dict
    posterior: PosteriorGrid | None
    q: EncoderQ
    reconstruction: np.ndarray
    reference: tuple
    elbo_parts: ElboParts
    lam_curve: LambdaCurve
    renyi: np.ndarray | None
    renyi_bound_range: tuple
    series: CumulantSeries
    temperature: TemperatureSweep
    iwae: IWAEEstimate
    weights: ImportanceWeights
    weight_scale: float
    index: int | None = None
    label: int | None = None
    image: np.ndarray | None = None


@dataclass(frozen=True)
class MonteCarloEstimates(StoredResult):
    """Monte Carlo estimates from the first ``n`` draws of a point's pool
    (:meth:`~explorer.vae.analysis.PointAnalysis.monte_carlo`).

    Attributes
    ----------
    n : int
        Draws used.
    lam, stderr : ndarray (L,)
        F(λ) along the λ grid and its standard error (nats); NaN where ``variance_finite`` is False.
    variance_finite : ndarray (L,) of bool
        2λ < λ*.
    elbo_parts : MonteCarloElboParts
    weights : ImportanceWeights
        The importance weights of those draws.
    """

    NESTED = {"elbo_parts": MonteCarloElboParts, "weights": ImportanceWeights}

    n: int
    lam: np.ndarray
    stderr: np.ndarray
    variance_finite: np.ndarray
    elbo_parts: MonteCarloElboParts
    weights: ImportanceWeights


@dataclass(frozen=True)
class WeightScaleCurve(StoredResult):
    """-ln p(x), -ELBO with the encoder's q, and their gap along the decoder weight scale c
    (:meth:`~explorer.vae.analysis.VAESession.weight_scale_curve`), in nats.

    Attributes
    ----------
    scale : ndarray (n,)
        Values of c.
    exact : ndarray (n,)
        -ln p(x) per c: quadrature, or for a latent space above 2-D the IWAE K = 5000 estimate.
    neg_elbo : ndarray (n,)
        -ELBO with the encoder's unchanged q.
    gap : ndarray (n,)
        ``neg_elbo - exact`` = KL(q ‖ p(z|x)).
    error : ndarray (n,)
        Error of ``exact`` (quadrature error, or the IWAE estimate's standard error).
    method : str
        How ``exact`` was computed.
    """

    scale: np.ndarray
    exact: np.ndarray
    neg_elbo: np.ndarray
    gap: np.ndarray
    error: np.ndarray
    method: str


@dataclass(frozen=True)
class LatentMeans:
    """The encoder's q(z|x) of every test image: the scatter plot
    (:meth:`~explorer.vae.analysis.VAESession.latent_means`).

    Attributes
    ----------
    mu, logvar : ndarray (n_test, n_latent)
        Means and log-variances.
    labels : ndarray (n_test,) of int or None
        The images' labels (None without labels).
    """

    mu: np.ndarray
    logvar: np.ndarray
    labels: np.ndarray | None


# --------------------------------------------------------------- any Gaussian q
#: The two families of Gaussians fitted: ``N(μ, diag(σ²))`` and ``N(μ, L Lᵀ)``.
FIT_KINDS = ("diagonal", "full")


@dataclass(frozen=True)
class GaussianFits:
    """The best diagonal and full-covariance Gaussian q for one data point
    (:meth:`~explorer.vae.variational.VariationalPoint.fit`).

    Attributes
    ----------
    diagonal : FitResult
        The lowest -ELBO over ``N(μ, diag(σ²))``.
    full : FitResult
        The lowest -ELBO over ``N(μ, L Lᵀ)``.
    """

    diagonal: FitResult
    full: FitResult

    def items(self):
        """``(kind, FitResult)`` pairs in :data:`FIT_KINDS` order."""
        return [(kind, getattr(self, kind)) for kind in FIT_KINDS]


@dataclass(frozen=True)
class FitStarts:
    """Where the fits of :meth:`~explorer.vae.variational.VariationalPoint.fit` start: lists of ``(label, GaussianQ)``.

    Attributes
    ----------
    diagonal : list of (str, GaussianQ)
        The encoder's q, a diagonal Gaussian at each posterior mode, the moment-matched one.
    full : list of (str, GaussianQ)
        The Laplace Gaussian at each mode where it is defined, the posterior's moment-matched Gaussian.
    """

    diagonal: list
    full: list


@dataclass(frozen=True)
class BoundTerms:
    """Every exact term of the bound -ELBO(q) >= -ln p(x) for one Gaussian q, in nats
    (:meth:`~explorer.vae.variational.VariationalPoint.terms`).

    Attributes
    ----------
    neg_elbo : float
        -ELBO(q) = ``expected_energy`` - ``entropy``.
    expected_energy : float
        E_q[H] (Gauss–Hermite).
    entropy : float
        S[q] (closed form).
    free_energy : float
        -ln p(x) (the adaptive quadrature).
    kl_posterior : float
        KL(q ‖ p(z|x)) = -ELBO - F ≥ 0.
    kl_prior : float
        KL(q ‖ N(0, I)) (closed form).
    quadrature_error : float
        |difference to a coarser Gauss–Hermite rule| of E_q[H].
    free_energy_error : float
        The adaptive quadrature's error estimate of F.
    cumulants : ndarray (order,) or None
        κ_1..κ_order of V = ln q - ln p(x, z) under q (κ_n in nats^n), when asked for.
    """

    neg_elbo: float
    expected_energy: float
    entropy: float
    free_energy: float
    kl_posterior: float
    kl_prior: float
    quadrature_error: float
    free_energy_error: float
    cumulants: np.ndarray | None = None


@dataclass(frozen=True)
class VariationalGaps:
    """The exact bounds of the encoder's, the best diagonal and the best full Gaussian q and the gaps between
    them (:meth:`~explorer.vae.variational.VariationalPoint.gaps`; Cremer, Li & Duvenaud 2018), in nats.

    Attributes
    ----------
    free_energy : float
        -ln p(x).
    neg_elbo_encoder, neg_elbo_diagonal, neg_elbo_full : float
        -ELBO of the encoder's q, of the best diagonal and of the best full-covariance Gaussian (all
        Gauss–Hermite with the same rule, so that the chain compares like with like).
    amortisation : float
        ``neg_elbo_encoder - neg_elbo_diagonal``.
    approximation : float
        ``neg_elbo_diagonal - free_energy``.
    full_covariance : float
        ``neg_elbo_diagonal - neg_elbo_full``.
    """

    free_energy: float
    neg_elbo_encoder: float
    neg_elbo_diagonal: float
    neg_elbo_full: float
    amortisation: float
    approximation: float
    full_covariance: float


#: The fields of :class:`VariationalGaps`, in order: per digit, the columns of :class:`SplitGaps`.
GAP_KEYS = tuple(f.name for f in dataclasses.fields(VariationalGaps))


@dataclass(frozen=True)
class SplitGaps:
    """:class:`VariationalGaps` of many test digits (:func:`~explorer.vae.variational.split_gaps`): one array (n,)
    per gap, in nats.

    Attributes
    ----------
    index : ndarray (n,) of int
        The test digits.
    free_energy, neg_elbo_encoder, neg_elbo_diagonal, neg_elbo_full : ndarray (n,)
        Each digit's :class:`VariationalGaps` entry of that name.
    amortisation, approximation, full_covariance : ndarray (n,)
        Likewise, the gaps.
    """

    index: np.ndarray
    free_energy: np.ndarray
    neg_elbo_encoder: np.ndarray
    neg_elbo_diagonal: np.ndarray
    neg_elbo_full: np.ndarray
    amortisation: np.ndarray
    approximation: np.ndarray
    full_covariance: np.ndarray

    def columns(self):
        """``{name: array}`` for ``index`` and every gap, in that order (the cache file's arrays)."""
        return {name: getattr(self, name) for name in ("index", *GAP_KEYS)}
