"""Plain values shared by both explorers: slider grids and the pieces of URL query parsing.

Every explorer's view is one frozen dataclass (its ``State``), made from one declaration per
field (:mod:`explorer.app.core.fields`): a URL parses into a State in one place, where every
value is checked and snapped to its slider's grid; nothing else snaps.
"""

from __future__ import annotations

import decimal
import math
from urllib.parse import parse_qs, urlencode

import numpy as np


class QueryError(ValueError):
    """A query parameter could not be used (the message is shown in the app)."""


def parse_query(query):
    """``?a=1&b=2`` -> ``{"a": "1", "b": "2"}`` (the last value of a repeated key wins)."""
    return {k: v[-1] for k, v in parse_qs((query or "").lstrip("?"), keep_blank_values=True).items()}


def parse_float(name, text):
    try:
        x = float(text)
    except ValueError:
        raise QueryError(f"URL parameter {name}={text!r} is not a number") from None
    if not math.isfinite(x):
        raise QueryError(f"URL parameter {name}={text!r} must be finite")
    return x


def parse_int(name, text):
    try:
        return int(text)
    except ValueError:
        raise QueryError(f"URL parameter {name}={text!r} is not a whole number") from None


def parse_positive(name, text):
    x = parse_float(name, text)
    if x <= 0:
        raise QueryError(f"URL parameter {name}={text!r} must be > 0")
    return x


def portable_powers(base, exp_lo, exp_hi, n):
    """``base ** linspace(exp_lo, exp_hi, n)``, the same bits on every CPU.

    numpy's ``power`` picks a kernel by CPU (AVX-512, AVX2, ...) and the last bit of its result
    differs between them; a grid computed that way would differ between machines, and so would
    every number keyed on it (the shipped default views' fingerprints, the URL's snapped values).
    Here the exponents are exact decimals and the powers are computed in decimal arithmetic with
    40 digits (software, no CPU dispatch), then rounded once to the nearest double.
    """
    ctx = decimal.Context(prec=40)
    lo, hi = decimal.Decimal(repr(float(exp_lo))), decimal.Decimal(repr(float(exp_hi)))
    b = decimal.Decimal(int(base)) if float(base).is_integer() else decimal.Decimal(repr(float(base)))
    steps = max(int(n) - 1, 1)
    return np.array([float(ctx.power(b, ctx.add(lo, ctx.divide(ctx.multiply(hi - lo, i), steps))))
                     for i in range(int(n))])


class Grid:
    """The points a slider moves on, which are also the points the curves are computed on.

    A value is always used as its nearest grid point (log distance on a log grid), so a
    slider position is an exact point of the cached curves: no interpolation, no new sweep.
    """

    def __init__(self, values, log=False, spacing=None):
        self.values = np.asarray(values, dtype=float)
        self.log = bool(log)
        self._x = np.log(self.values) if self.log else self.values
        #: ("linear", lo, hi, step) or ("log", base, exp_lo, exp_hi, exp_step) for an evenly spaced
        #: grid (what a slider over it needs); None for a list of values (a selection slider).
        self.spacing = spacing

    @classmethod
    def linear(cls, lo, hi, step):
        n = int(round((hi - lo) / step)) + 1
        return cls(np.round(np.linspace(lo, hi, n), 12), spacing=("linear", lo, hi, step))

    @classmethod
    def log10(cls, exp_lo, exp_hi, step):
        return cls.powers(10, exp_lo, exp_hi, step)

    @classmethod
    def powers(cls, base, exp_lo, exp_hi, step):
        """``base ** k`` for k from ``exp_lo`` to ``exp_hi`` in steps of ``step`` (:func:`portable_powers`)."""
        n = int(round((exp_hi - exp_lo) / step)) + 1
        return cls(portable_powers(base, exp_lo, exp_hi, n), log=True, spacing=("log", base, exp_lo, exp_hi, step))

    def clip_snap(self, value):
        """The grid point nearest to ``value`` clipped to the grid's range."""
        return self.snap(min(max(float(value), self.values[0]), self.values[-1]))

    def __len__(self):
        return self.values.size

    def __getitem__(self, i):
        return self.values[i]

    @property
    def size(self):
        return self.values.size

    def index(self, value):
        v = float(value)
        if self.log:
            v = math.log(v) if v > 0 else -math.inf
        return int(np.argmin(np.abs(self._x - v)))

    def snap(self, value):
        return float(self.values[self.index(value)])


def join_queries(*parts):
    return "&".join(p for p in parts if p)


def classroom_query(options):
    return urlencode(options.query_items(), safe=",")
