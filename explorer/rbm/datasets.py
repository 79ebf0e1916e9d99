"""Binary data sets shipped with the code: bars-and-stripes and binarised digits.

Both are generated or loaded locally (scikit-learn's 8x8 digits ship inside the
scikit-learn package: no download).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["bars_and_stripes", "digits", "load_dataset", "DATASETS", "optimal_log_likelihood"]

#: Names accepted by :func:`load_dataset` (and ``rbm-train --dataset``).
DATASETS = ("bars-and-stripes", "digits")

BARS_AND_STRIPES_SIZES = (2, 3, 4)


def bars_and_stripes(n=3):
    """The complete bars-and-stripes set on an ``n x n`` grid, each pattern once.

    A pattern switches on whole rows (stripes) or whole columns (bars). There are
    ``2^n`` of each; the all-off and all-on patterns are both, so the set has
    ``2^(n+1) - 2`` distinct patterns (14 for ``n = 3``).

    Parameters
    ----------
    n : int, one of 2, 3, 4

    Returns
    -------
    ndarray of shape (2^(n+1) - 2, n*n), float64 in {0, 1}
        Rows are images flattened row-major; stripes first, then the bars that are not
        also stripes, each group in order of its bit pattern.
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) \
            or n not in BARS_AND_STRIPES_SIZES:
        raise InputError(f"bars-and-stripes size must be one of 2, 3, 4, got {n!r}")
    n = int(n)
    bits = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(np.float64)   # (2^n, n)
    stripes = np.repeat(bits[:, :, None], n, axis=2)          # row i on when bit i: (2^n, n, n)
    bars = np.repeat(bits[:, None, :], n, axis=1)             # column j on when bit j
    keep = (bits.sum(axis=1) > 0) & (bits.sum(axis=1) < n)    # drop all-off / all-on duplicates
    patterns = np.concatenate([stripes, bars[keep]]).reshape(-1, n * n)
    return patterns


def digits(threshold=8, *, return_labels=False):
    """scikit-learn's 8x8 handwritten digits, binarised: pixel >= ``threshold`` -> 1.

    Parameters
    ----------
    threshold : float
        Pixel intensities are 0..16; the default 8 is the midpoint.
    return_labels : bool
        Also return the digit labels.

    Returns
    -------
    ndarray of shape (1797, 64), float64 in {0, 1}; and labels (1797,) when asked.
    """
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number, got {threshold!r}") from None
    if not np.isfinite(threshold):
        raise InputError(f"threshold must be finite, got {threshold}")
    from sklearn.datasets import load_digits

    ds = load_digits()
    x = (ds.data >= threshold).astype(np.float64)
    return (x, ds.target.copy()) if return_labels else x


def load_dataset(name, size=None):
    """Load a data set by name: ``"bars-and-stripes"`` (``size`` 2..4, default 3) or ``"digits"``."""
    if name == "bars-and-stripes":
        return bars_and_stripes(3 if size is None else size)
    if name == "digits":
        if size is not None:
            raise InputError("size applies only to bars-and-stripes")
        return digits()
    raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def optimal_log_likelihood(data):
    """Best possible mean ``ln p`` of a data set: minus the entropy of its empirical law.

    For a set of distinct patterns (bars-and-stripes) this is ``-ln(n_patterns)``.
    """
    x = np.asarray(data)
    if x.ndim != 2 or x.shape[0] == 0:
        raise InputError("data must be a non-empty 2-D array")
    _, counts = np.unique(x, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(np.sum(p * np.log(p)))
