"""Input checks of the VAE layer: each failure is one readable :class:`InputError` line."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError


def check_positive_finite(value, name):
    """Return ``value`` as a float, rejecting NaN, inf and values <= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be finite, got {v}")
    if v <= 0:
        raise InputError(f"{name} must be > 0, got {v}")
    return v


def check_array_1d(values, name, *, lo=None, hi=None, positive=False):
    """Return ``values`` as a non-empty 1-D float64 array with finite entries in ``[lo, hi]``."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric") from None
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name} must be a number or a non-empty 1-D array of numbers")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite (got NaN or inf)")
    if positive and np.any(arr <= 0):
        raise InputError(f"{name} must be > 0, got {arr[arr <= 0][0]}")
    if lo is not None and np.any(arr < lo):
        raise InputError(f"{name} must be >= {lo}, got {arr[arr < lo][0]}")
    if hi is not None and np.any(arr > hi):
        raise InputError(f"{name} must be <= {hi}, got {arr[arr > hi][0]}")
    return arr


def check_int(value, name, *, lo=None, hi=None):
    """Return ``value`` as an int in ``[lo, hi]`` (bools and non-integral floats are refused)."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be an integer, got {value!r}")
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be an integer, got {value!r}") from None
    if v != value:
        raise InputError(f"{name} must be an integer, got {value!r}")
    if lo is not None and v < lo:
        raise InputError(f"{name} must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise InputError(f"{name} must be <= {hi}, got {v}")
    return v


def check_binary_rows(x, n_input, name="x"):
    """Return ``x`` as a 2-D float64 array of 0/1 rows with ``n_input`` columns."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_input:
        raise InputError(f"{name} must have {n_input} pixels per row, got shape {np.shape(x)}")
    if not np.all((arr == 0) | (arr == 1)):
        raise InputError(f"{name} must contain only 0 and 1 (binary pixels)")
    return arr
