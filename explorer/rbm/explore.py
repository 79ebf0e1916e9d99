"""What the RBM explorer shows at one temperature, and the extra curves of its panels.

The explorer draws whole curves along T from :func:`explorer.rbm.sweeps.temperature_sweep`
and, at the temperature under the cursor, the quantities of :func:`point_quantities`. Both
use the same mean-field solve and the same TAP settings (Newton from the mean-field
solution, no slow fallbacks), so the TAP point under the cursor is the point of the TAP curve
and its magnetisations come from that very solve.

No widgets and no plotting here: plain arrays in, plain arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._validation import check_finite_array, check_temperatures
from .cumulants import (
    _check_order,
    _check_reference,
    cumulants_batch,
    lambda_free_energy_batch,
    reference_logits,
    series_from_cumulants,
)
from .exact import exact_batch, log_partition
from .meanfield import mean_field_batch
from .tap import SWEEP_TAP, tap_batch


@dataclass(frozen=True)
class PointQuantities:
    """Everything the explorer shows at one temperature ``T``.

    Attributes
    ----------
    temperature : float
    lam : ndarray (L,)
        λ grid of the F(λ) curves.
    exact_lambda : ndarray (L,)
        Exact ``F(λ)`` along ``lam``.
    series : ndarray (L, K)
        Cumulant series truncated at orders 1..K along ``lam``.
    kappa : ndarray (K,)
        Cumulants κ_1..κ_K of the perturbation V under the reference.
    magnetisations : dict of str -> ndarray (n_visible + n_hidden,)
        ``exact`` marginals, ``mean_field``, ``tap2``, ``tap3`` (visible units first); TAP
        entries are NaN where TAP did not converge (such points are not shown).
    tap_converged : dict of int -> bool
    mean_field_free_energy : float
    """
    temperature: float
    lam: np.ndarray
    exact_lambda: np.ndarray
    series: np.ndarray
    kappa: np.ndarray
    magnetisations: dict
    tap_converged: dict
    mean_field_free_energy: float

    def term_sizes(self, lam):
        """n-th term of the series at ``lam`` (a point of :attr:`lam`): ``F_n(λ) − F_{n−1}(λ)``.

        ``F_0 = −T ln Z_q`` is the common value of every truncation at λ = 0.
        """
        j = int(np.argmin(np.abs(self.lam - float(lam))))
        at = self.series[j]
        previous = np.concatenate([[self.series[0, 0] if self.lam[0] == 0 else np.nan], at[:-1]])
        return at - previous


def point_quantities(rbm, temperature, lams, *, order=8, reference="mean-field"):
    """F(λ), the series, the cumulants and the magnetisations at one temperature.

    Mean field is solved once; the reference of the series, the TAP starts and the
    mean-field magnetisations all come from that solve (the sweep does the same).

    Parameters
    ----------
    rbm : RBM
    temperature : float, > 0
    lams : 1-D array of float
        λ values (include 0 for :meth:`PointQuantities.term_sizes`).
    order : int
        Highest cumulant order K.
    reference : {"mean-field", "independent"}

    Returns
    -------
    PointQuantities
    """
    order = _check_order(order)
    _check_reference(reference)
    lams = check_finite_array(np.atleast_1d(lams), "lambda", ndim=1)
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("point_quantities takes one temperature")
    mf = mean_field_batch(rbm, t)
    th_v, th_h = reference_logits(rbm, t, reference=reference, mean_field=mf)
    cu = cumulants_batch(rbm, t, order=order, theta_visible=th_v, theta_hidden=th_h)
    exact_lam = lambda_free_energy_batch(rbm, t, lams, theta_visible=th_v, theta_hidden=th_h)[0]
    series = series_from_cumulants(cu["kappa"][0], cu["log_partition_reference"][0], t[0], lams)
    ex = exact_batch(rbm, t, marginals=True)
    mags = {"exact": np.concatenate([ex["visible"][0], ex["hidden"][0]]),
            "mean_field": np.concatenate([mf["visible"][0], mf["hidden"][0]])}
    converged = {}
    for o in (2, 3):
        r = tap_batch(rbm, t, order=o, start=mf, **SWEEP_TAP)
        m = np.concatenate([r["visible"][0], r["hidden"][0]])
        converged[o] = bool(r["converged"][0])
        mags[f"tap{o}"] = m if converged[o] else np.full(m.size, np.nan)
    return PointQuantities(temperature=float(t[0]), lam=lams, exact_lambda=exact_lam, series=series,
                           kappa=cu["kappa"][0], magnetisations=mags, tap_converged=converged,
                           mean_field_free_energy=float(mf["free_energy"][0]))


def rescaling_curves(rbm, temperatures, weight_factors):
    """−ln Z at T = 1 of rescaled models: temperature is a rescaling.

    Parameters
    ----------
    rbm : RBM
    temperatures : 1-D array of float, > 0
        For each T, every parameter divided by T (equal to −ln Z(T) of ``rbm``).
    weight_factors : 1-D array of float, > 0
        For each factor f, only the weights rescaled to ``‖W‖ / f`` (biases kept).

    Returns
    -------
    dict with ``all_parameters`` (−ln Z per temperature), ``weights_only`` (−ln Z per factor;
    NaN for an RBM with zero weights) and ``norms`` (the ``‖W‖ / f`` used).
    """
    t = check_temperatures(temperatures)
    f = check_temperatures(weight_factors, "weight factors")
    pts = np.array([-log_partition(rbm.scaled(1.0 / x), 1.0) for x in t])
    norm = rbm.weight_norm
    norms = norm / f
    if norm > 0:
        wonly = np.array([-log_partition(rbm.with_weight_norm(n), 1.0) for n in norms])
    else:
        wonly = np.full(norms.size, np.nan)
    return {"all_parameters": pts, "weights_only": wonly, "norms": norms}


def ais_free_energies(rbm, temperatures, *, n_chains=100, n_steps=300, seed=0):
    """AIS estimates of F = −T ln Z at each temperature with one standard error.

    Returns
    -------
    (ndarray, ndarray)
        ``F_AIS`` and its standard error per temperature.
    """
    from .sampling import ais_log_partition  # the sampling module is only needed here

    t = check_temperatures(temperatures)
    f, err = [], []
    for x in t:
        r = ais_log_partition(rbm, float(x), n_chains=n_chains, n_steps=n_steps, seed=seed)
        f.append(-x * r.log_partition)
        err.append(x * r.stderr)
    return np.array(f), np.array(err)


def magnetisation_labels(n_visible, n_hidden):
    """Unit names in the order of :attr:`PointQuantities.magnetisations` (``v1.., h1..``)."""
    return [f"v{i + 1}" for i in range(n_visible)] + [f"h{j + 1}" for j in range(n_hidden)]


__all__ = ["PointQuantities", "point_quantities", "rescaling_curves", "ais_free_energies",
           "magnetisation_labels", "SWEEP_TAP"]


def random_trial_laws(rbm, temperature, n_laws=200, seed=0):
    """The GBF functional F_q of random product laws q scattered around the mean-field optimum.

    Every product law gives ``F_q >= F`` (Gibbs–Bogoliubov–Feynman); mean field is the lowest of
    them. The laws are the optimum's logits plus Gaussian noise of a random size in [0, 4).

    Returns
    -------
    dict with ``distance`` (n_laws,): RMS distance of each law's magnetisations to the optimum,
    ``free_energy`` (n_laws,): F_q of each law, ``exact``: F, and ``mean_field``: the optimum's F_q.
    """
    from ._special import expit, logit
    from .exact import free_energy
    from .meanfield import gbf_free_energy, mean_field

    t = float(check_temperatures(temperature)[0])
    mf = mean_field(rbm, t)
    best = np.concatenate([mf.visible, mf.hidden])
    rng = np.random.default_rng(seed)
    spread = rng.uniform(0.0, 4.0, size=(int(n_laws), 1))
    m = expit(logit(np.clip(best, 1e-12, 1 - 1e-12)) + spread * rng.standard_normal((int(n_laws), best.size)))
    nv = rbm.n_visible
    fq = np.array([gbf_free_energy(rbm, mi[:nv], mi[nv:], t) for mi in m])
    return {"distance": np.sqrt(np.mean((m - best) ** 2, axis=1)), "free_energy": fq,
            "exact": free_energy(rbm, t), "mean_field": mf.free_energy}
