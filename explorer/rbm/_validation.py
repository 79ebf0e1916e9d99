"""Input checks shared by the physics functions (one readable line per failure)."""

import numpy as np

from ..errors import InputError


def check_temperatures(temperature, name="temperature"):
    """Return temperatures as a 1-D float64 array; reject T <= 0, NaN and inf."""
    t = np.atleast_1d(np.asarray(temperature, dtype=np.float64))
    if t.ndim != 1 or t.size == 0:
        raise InputError(f"{name} must be a positive number or a 1-D array of them")
    if not np.all(np.isfinite(t)):
        raise InputError(f"{name} must be finite, got {_show(t)}")
    if np.any(t <= 0):
        raise InputError(f"{name} must be > 0, got {_show(t[t <= 0])}")
    return t


def check_couplings(couplings, temperatures):
    """Coupling scales of a batch (W -> c W per entry) as a float64 array shaped like ``temperatures``."""
    if couplings is None:
        return np.ones_like(temperatures)
    c = check_finite_array(couplings, "coupling scales")
    try:
        return np.broadcast_to(c, temperatures.shape).copy()
    except ValueError:
        raise InputError(f"coupling scales of shape {c.shape} do not match {temperatures.size} "
                         f"temperatures") from None


def check_finite_array(x, name, ndim=None, shape=None):
    """Return ``x`` as float64, checking dimension, shape and finiteness."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric") from None
    if ndim is not None and arr.ndim != ndim:
        raise InputError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise InputError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or inf")
    return arr


def check_states(v, n_units, name="v"):
    """Rows of unit states as a 2-D float64 array with ``n_units`` columns."""
    arr = check_finite_array(v, name)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_units:
        raise InputError(
            f"{name} must have {n_units} columns (one per unit), got shape {np.shape(v)}"
        )
    return arr


def check_binary(v, name="v"):
    if not np.all((v == 0) | (v == 1)):
        raise InputError(f"{name} must contain only 0 and 1")
    return v


def _show(a):
    a = np.asarray(a)
    return str(a[0]) if a.size == 1 else f"{a.size} values such as {a.flat[0]}"
