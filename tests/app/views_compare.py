"""Comparing what two explorers' plots hold (a page built from shipped numbers against a fresh one)."""

from __future__ import annotations

import numpy as np


def sources(app):
    """Every built view's ColumnDataSource data: ``{(panel, source name): {column: array}}``."""
    return {(key, name): {k: np.asarray(v) for k, v in s.data.items()}
            for key, v in app.views.items() for name, s in v.sources.items()}


def assert_same_sources(app_a, app_b, rtol):
    """Both explorers' plots hold the same sources and columns; numbers equal to ``rtol`` (NaN
    equals NaN), other columns exactly. Ragged columns (e.g. image rows) are compared item by item."""
    a, b = sources(app_a), sources(app_b)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys(), name
        for col in a[name]:
            x, y = a[name][col], b[name][col]
            if x.dtype.kind == "f":
                np.testing.assert_allclose(x, y, rtol=rtol, atol=0, equal_nan=True, err_msg=f"{name} {col}")
            elif x.dtype == object:
                assert len(x) == len(y), f"{name} {col}"
                for u, w in zip(x, y):
                    u, w = np.asarray(u), np.asarray(w)
                    if u.dtype.kind == "f":
                        np.testing.assert_allclose(u, w, rtol=rtol, atol=0, equal_nan=True, err_msg=f"{name} {col}")
                    else:
                        np.testing.assert_array_equal(u, w, err_msg=f"{name} {col}")
            else:
                np.testing.assert_array_equal(x, y, err_msg=f"{name} {col}")
