"""Comparing numbers: trees of results (shipped against fresh, or written against read back) and what
two explorers' plots hold (a page built from shipped numbers against a fresh one)."""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np


def _magnitude(values):
    """The largest finite |x| among ``values`` (arrays, lists, floats; anything else is skipped)."""
    top = 0.0
    for v in values:
        a = np.asarray(v) if isinstance(v, (np.ndarray, list, float)) else None
        if a is not None and a.dtype.kind == "f" and a.size:
            finite = np.abs(a[np.isfinite(a)])
            if finite.size:
                top = max(top, float(finite.max()))
    return top


def assert_same_tree(expected, got, rtol=0.0, path="", _atol=0.0):
    """Same structure and kinds (tuples stay tuples, None stays None, no numpy scalar for a Python
    number), arrays of the same shape and dtype; floats equal (NaN equals NaN) to ``rtol`` of their
    own size or of the largest number beside them in the same dict, whichever is larger (0: exactly).

    Why the neighbours: a column that is a difference (TAP2 − exact ≈ 1e-5 of two F ≈ −17) carries
    the rounding of its operands, ~1e-14 absolute, which another CPU or BLAS kernel changes; compared
    to its own size it would fail on every machine but the one that wrote the file.

    A dataclass (a result such as the VAE's ``PointExploration``) is compared as the dict of its fields,
    after checking that both are of the same class.
    """
    if dataclasses.is_dataclass(expected) and not isinstance(expected, type):
        assert type(got) is type(expected), f"{path}: {type(got).__name__} vs {type(expected).__name__}"
        fields = [f.name for f in dataclasses.fields(expected)]
        assert_same_tree({k: getattr(expected, k) for k in fields}, {k: getattr(got, k) for k in fields}, rtol, path,
                         _atol)
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and set(expected) == set(got), \
            f"{path}: keys {sorted(map(str, expected))} vs {sorted(map(str, got))}"
        atol = max(_atol, rtol * _magnitude(expected.values()))
        for k in expected:
            assert_same_tree(expected[k], got[k], rtol, f"{path}/{k}", atol)
    elif isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected), f"{path}: {got!r} vs {expected!r}"
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_same_tree(e, g, rtol, f"{path}[{i}]", _atol)
    elif isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray) and got.shape == expected.shape and got.dtype == expected.dtype, path
        if expected.dtype.kind in "fc":
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=_atol, equal_nan=True, err_msg=path)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=path)
    elif isinstance(expected, float):
        assert isinstance(got, float), f"{path}: {got!r} is no float"
        same = got == expected or (np.isnan(got) and np.isnan(expected))
        assert same or abs(got - expected) <= max(rtol * abs(expected), _atol), f"{path}: {got!r} vs {expected!r}"
    else:
        assert type(got) is type(expected) and got == expected, f"{path}: {got!r} vs {expected!r}"


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
        # a difference column is compared at the size of the numbers beside it (see assert_same_tree)
        atol = rtol * _magnitude(_numbers(v) for v in a[name].values())
        for col in a[name]:
            x, y = a[name][col], b[name][col]
            if x.dtype.kind == "f":
                np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{name} {col}")
            elif x.dtype == object:
                assert len(x) == len(y), f"{name} {col}"
                for u, w in zip(x, y):
                    u, w = np.asarray(u), np.asarray(w)
                    if u.dtype.kind == "f":
                        np.testing.assert_allclose(u, w, rtol=rtol, atol=atol, equal_nan=True,
                                                   err_msg=f"{name} {col}")
                    else:
                        np.testing.assert_array_equal(u, w, err_msg=f"{name} {col}")
            else:
                np.testing.assert_array_equal(x, y, err_msg=f"{name} {col}")


def _numbers(column):
    """A source column's numbers as one float array (ragged rows of an object column joined);
    an empty array for a column of anything else."""
    if column.dtype.kind == "f":
        return column
    rows = [np.asarray(u) for u in column] if column.dtype == object else []
    if rows and all(r.dtype.kind == "f" for r in rows):
        return np.concatenate([r.ravel() for r in rows])
    return np.zeros(0)


def assert_same_csv(text_a, text_b, rtol):
    """Two CSV downloads hold the same rows and words; numbers equal to ``rtol`` of the largest
    number in their column (they are printed to 12 digits, so rounding on another CPU may change
    the last printed digit; comparing the text would fail there)."""
    a, b = (list(csv.reader(io.StringIO(t))) for t in (text_a, text_b))
    assert len(a) == len(b) and [len(r) for r in a] == [len(r) for r in b]

    def number(cell):
        try:
            return float(cell)
        except ValueError:
            return None

    columns = {}
    for row in a:
        for j, cell in enumerate(row):
            x = number(cell)
            if x is not None and np.isfinite(x):
                columns[j] = max(columns.get(j, 0.0), abs(x))
    for ra, rb in zip(a, b):
        for j, (u, w) in enumerate(zip(ra, rb)):
            x, y = number(u), number(w)
            if x is None or y is None or not (np.isfinite(x) and np.isfinite(y)):
                assert u == w, (ra, rb)
            else:
                assert abs(x - y) <= rtol * max(abs(x), columns.get(j, 0.0)), (j, ra, rb)
