"""scipy.special's functions for the RBM layer, with scipy.special imported on the first call.

Why: importing ``scipy.special`` costs ~0.35 s, a third of what a fresh kernel does before an
explorer's page can show anything, while the page's default view ships precomputed
(:mod:`explorer.app.core.default_view`) and needs none of these functions. Deferred, the import
happens on the first computation (usually the idle prefetch, while the browser is still loading
the page's scripts). Each function forwards its arguments unchanged; the numerics are scipy's.
"""

from __future__ import annotations


def _special():
    import scipy.special  # after the first call a dictionary look-up (the import system's lock makes it thread-safe)

    return scipy.special


def expit(x, *args, **kwargs):
    """:func:`scipy.special.expit`, the logistic sigmoid 1 / (1 + e^−x)."""
    return _special().expit(x, *args, **kwargs)


def log_expit(x, *args, **kwargs):
    """:func:`scipy.special.log_expit`, ln(1 / (1 + e^−x)) without overflow."""
    return _special().log_expit(x, *args, **kwargs)


def logit(p, *args, **kwargs):
    """:func:`scipy.special.logit`, ln(p / (1 − p))."""
    return _special().logit(p, *args, **kwargs)


def logsumexp(a, *args, **kwargs):
    """:func:`scipy.special.logsumexp`, ln Σ e^a computed stably."""
    return _special().logsumexp(a, *args, **kwargs)


def xlogy(x, y, *args, **kwargs):
    """:func:`scipy.special.xlogy`, x ln y with 0 ln 0 = 0."""
    return _special().xlogy(x, y, *args, **kwargs)
