"""Whole curves in one vectorised call: everything the explorer plots, along T, ||W|| or lambda.

A sweep is a batch of (temperature, coupling scale) pairs; every method in the physics
layer evaluates a batch in one pass (``*_batch`` functions), so a 200-point curve costs
about as much as a handful of single points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ._special import expit
from ._validation import check_finite_array, check_temperatures
from .cumulants import (
    _check_order,
    _check_reference,
    cumulants_batch,
    lambda_free_energy_batch,
    reference_logits,
    series_from_cumulants,
)
from .exact import exact_batch
from .meanfield import mean_field_batch
from .tap import SWEEP_TAP, tap_batch


@dataclass(frozen=True)
class Curves:
    """Every quantity along a sweep of temperature or weight norm (arrays of length B).

    ``series[:, k]`` is the cumulant series truncated at order ``k + 1`` at ``lam``;
    ``exact_lambda`` is the exact ``F(lam)`` (equal to ``exact`` at ``lam = 1``).
    """
    axis: str
    temperature: np.ndarray
    weight_norm: np.ndarray
    exact: np.ndarray
    internal_energy: np.ndarray
    entropy: np.ndarray
    heat_capacity: np.ndarray
    mean_field: np.ndarray
    mean_field_minima: np.ndarray
    tap2: np.ndarray
    tap3: np.ndarray
    tap2_converged: np.ndarray
    tap3_converged: np.ndarray
    kappa: np.ndarray
    series: np.ndarray
    exact_lambda: np.ndarray
    lam: float
    order: int
    reference: str

    @property
    def x(self):
        """The swept variable."""
        return self.temperature if self.axis == "temperature" else self.weight_norm

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _curves(rbm, t, c, axis, order, lam, reference, tap_fallback):
    order = _check_order(order)
    _check_reference(reference)
    lam = float(check_finite_array(lam, "lambda"))
    mf = mean_field_batch(rbm, t, c)
    th_v, th_h = reference_logits(rbm, t, c, reference, mean_field=mf)
    ex = exact_batch(rbm, t, c, moments=True)
    cu = cumulants_batch(rbm, t, c, order=order, theta_visible=th_v, theta_hidden=th_h)
    # Sweeps solve TAP by Newton from mean field only (tap.SWEEP_TAP says why).
    tap_settings = dict(max_iter=100, fallback=True) if tap_fallback else SWEEP_TAP
    taps = {o: tap_batch(rbm, t, c, order=o, start=mf, **tap_settings) for o in (2, 3)}
    f = -t * ex["log_partition"]
    u = ex["internal_energy"]
    series = series_from_cumulants(cu["kappa"], cu["log_partition_reference"], t, lam)
    if lam == 1.0:
        exact_lambda = f
    else:
        exact_lambda = lambda_free_energy_batch(rbm, t, [lam], c, theta_visible=th_v,
                                                theta_hidden=th_h)[:, 0]
    return Curves(axis=axis, temperature=t, weight_norm=c * rbm.weight_norm, exact=f,
                  internal_energy=u, entropy=(u - f) / t,
                  heat_capacity=ex["energy_variance"] / t ** 2, mean_field=mf["free_energy"],
                  mean_field_minima=np.array([m.size for m in mf["minima"]]),
                  tap2=taps[2]["free_energy"], tap3=taps[3]["free_energy"],
                  tap2_converged=taps[2]["converged"], tap3_converged=taps[3]["converged"],
                  kappa=cu["kappa"], series=series, exact_lambda=exact_lambda, lam=lam,
                  order=order, reference=reference)


def temperature_sweep(rbm, temperatures, *, order=8, lam=1.0, reference="mean-field",
                      tap_fallback=False):
    """Exact F, U, S, C, mean field, TAP2, TAP3 and the cumulant series along temperatures.

    Parameters
    ----------
    rbm : RBM
    temperatures : 1-D array of float, > 0
    order : int
        Highest cumulant order K (the series is returned at orders 1..K).
    lam : float
        Perturbation strength at which the series and ``exact_lambda`` are evaluated.
    reference : {"mean-field", "independent"}
    tap_fallback : bool
        Also run TAP's slow fallbacks (damped iteration, exact layer minimisation) where
        Newton fails, as :func:`explorer.rbm.tap.tap` does for one temperature. Off by
        default: interactive speed; such points come back with ``tap*_converged`` False.

    Returns
    -------
    Curves
    """
    t = check_temperatures(temperatures, "temperatures")
    return _curves(rbm, t, np.ones_like(t), "temperature", order, lam, reference, tap_fallback)


def weight_norm_sweep(rbm, norms, *, temperature=1.0, order=8, lam=1.0, reference="mean-field",
                      tap_fallback=False):
    """The same quantities along the Frobenius norm of W (biases fixed) at one temperature."""
    norms = check_finite_array(np.atleast_1d(norms), "weight norms", ndim=1)
    if np.any(norms < 0):
        raise InputError("weight norms must be >= 0")
    if rbm.weight_norm == 0:
        raise InputError("this RBM has all-zero weights: there is no direction to scale")
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("weight_norm_sweep takes one temperature")
    t = np.full(norms.size, t[0])
    return _curves(rbm, t, norms / rbm.weight_norm, "weight_norm", order, lam, reference,
                   tap_fallback)


@dataclass(frozen=True)
class LambdaCurves:
    """Exact ``F(lambda)`` and the truncated series at orders 1..K along lambda."""
    lam: np.ndarray
    exact: np.ndarray
    series: np.ndarray            # (L, K)
    kappa: np.ndarray             # (K,)
    temperature: float
    reference: str
    reference_visible: np.ndarray = field(repr=False)
    reference_hidden: np.ndarray = field(repr=False)

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def lambda_sweep(rbm, lams, *, temperature=1.0, order=8, reference="mean-field"):
    """Exact ``F(lambda)`` and the series truncated at orders 1..K for each lambda."""
    order = _check_order(order)
    lams = check_finite_array(np.atleast_1d(lams), "lambda", ndim=1)
    t = check_temperatures(temperature)
    if t.size != 1:
        raise InputError("lambda_sweep takes one temperature")
    th_v, th_h = reference_logits(rbm, t, reference=reference)
    cu = cumulants_batch(rbm, t, order=order, theta_visible=th_v, theta_hidden=th_h)
    exact = lambda_free_energy_batch(rbm, t, lams, theta_visible=th_v, theta_hidden=th_h)[0]
    series = series_from_cumulants(cu["kappa"][0], cu["log_partition_reference"][0], t[0], lams)
    return LambdaCurves(lam=lams, exact=exact, series=series, kappa=cu["kappa"][0],
                        temperature=float(t[0]), reference=reference,
                        reference_visible=expit(th_v[0]), reference_hidden=expit(th_h[0]))
