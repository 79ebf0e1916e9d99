"""Plain-value state shared by both explorers: slider grids and URL query parsing.

Every explorer's view is one frozen dataclass (its ``State``). A URL parses into a State in
one place (the explorer's ``state_from_query``), where every value is checked and snapped to
its slider's grid; nothing else snaps. A State encodes back into a URL with
:func:`query_from_fields`.
"""

from __future__ import annotations

import decimal
import math
from dataclasses import asdict
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

    def __init__(self, values, log=False):
        self.values = np.asarray(values, dtype=float)
        self.log = bool(log)
        self._x = np.log(self.values) if self.log else self.values

    @classmethod
    def linear(cls, lo, hi, step):
        n = int(round((hi - lo) / step)) + 1
        return cls(np.round(np.linspace(lo, hi, n), 12))

    @classmethod
    def log10(cls, exp_lo, exp_hi, step):
        n = int(round((exp_hi - exp_lo) / step)) + 1
        return cls(portable_powers(10, exp_lo, exp_hi, n), log=True)

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


def parse_state(query, base, presets, parsers, aliases=None):
    """A State from a URL query: ``preset`` first, then each parameter through its parser.

    Parameters
    ----------
    query : str
    base : State
        Where unset fields come from.
    presets : dict
        key -> (label, changes, ...): ``?preset=key`` applies ``changes`` to ``base``.
    parsers : dict
        field name -> function of the parameter's text; raises :class:`QueryError`.
    aliases : dict, optional
        Old preset keys -> their current key (links shared before a rename keep working).

    Returns
    -------
    (State, list of str)
        The state (not snapped yet) and one readable message per parameter that could not be used.
    """
    q = parse_query(query)
    state, problems = base, []
    if "preset" in q:
        key = (aliases or {}).get(q["preset"], q["preset"])
        if key in presets:
            state = state.copy(**presets[key][1])
        else:
            problems.append(f"unknown preset {q['preset']!r}; known: {', '.join(presets)}")
    for key, parse in parsers.items():
        if key in q:
            try:
                state = state.copy(**{key: parse(q[key])})
            except QueryError as exc:
                problems.append(str(exc))
    return state, problems


def query_from_fields(state, default, skip=()):
    """The query string reproducing ``state``: fields equal to ``default`` (or in ``skip``) left out."""
    out = {}
    for key, value in asdict(state).items():
        if key in skip or value is None or value == getattr(default, key):
            continue
        if isinstance(value, (tuple, list)):
            out[key] = ",".join(map(str, value))
        else:
            out[key] = f"{value:.6g}" if isinstance(value, float) else str(value)
    return urlencode(out, safe=",")


def join_queries(*parts):
    return "&".join(p for p in parts if p)


def classroom_query(options):
    return urlencode(options.query_items(), safe=",")
