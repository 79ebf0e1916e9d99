"""The explorer's state as plain values: defaults, presets, URL query strings, the grids.

No widgets and no physics here, so that URL parsing and presets are testable on their own.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import parse_qs, urlencode

import numpy as np

# The temperature slider moves on this log grid and the curves are computed on the same
# grid: the value under the cursor is an exact grid point of the cached curves, so a
# temperature move needs no interpolation and no new sweep.
T_EXP_MIN, T_EXP_MAX, T_EXP_STEP = -1.0, 1.0, 0.01
T_GRID = 10.0 ** np.linspace(T_EXP_MIN, T_EXP_MAX, int(round((T_EXP_MAX - T_EXP_MIN) / T_EXP_STEP)) + 1)
# The same idea for lambda (0 is on the grid: there every truncated series equals -T ln Z_q).
LAM_MIN, LAM_MAX, LAM_STEP = 0.0, 2.0, 0.05
LAM_GRID = np.round(np.linspace(LAM_MIN, LAM_MAX, int(round((LAM_MAX - LAM_MIN) / LAM_STEP)) + 1), 12)

MAX_ORDER = 12
NORM_MAX = 12.0
REFERENCES = {"mean-field": "mean field", "independent": "independent units"}
MODELS = ("random", "bars-stripes", "upload")
CURVE_KEYS = ("exact", "mean_field", "tap2", "tap3", "series")
MAX_UNITS = 64  # largest layer the size boxes accept (the enumeration check gives the message)


def t_index(temperature):
    """Index of the grid temperature nearest to ``temperature`` (log scale)."""
    x = (math.log10(float(temperature)) - T_EXP_MIN) / T_EXP_STEP
    return int(min(max(round(x), 0), T_GRID.size - 1))


def lam_index(lam):
    x = (float(lam) - LAM_MIN) / LAM_STEP
    return int(min(max(round(x), 0), LAM_GRID.size - 1))


@dataclass
class State:
    """Everything that defines a view of the explorer (what a URL encodes)."""
    T: float = 1.0
    norm: float | None = None      # None: the model's own weight norm
    lam: float = 1.0
    order: int = 4
    ref: str = "mean-field"
    model: str = "random"
    nv: int = 12
    nh: int = 12
    seed: int = 0
    show: tuple = field(default=CURVE_KEYS)

    def copy(self, **changes):
        return replace(self, **changes)


DEFAULT = State()

#: Scenarios a teacher can pick: key -> (label, changes to the default state).
PRESETS = {
    "high-temperature": ("High temperature: mean field is nearly exact",
                         dict(T=5.0, order=4, ref="mean-field")),
    "strong-coupling": ("Strong coupling: the series diverges",
                        dict(T=0.5, norm=8.0, order=8, ref="independent", lam=1.0)),
    "mean-field-minima": ("Several mean-field minima",
                          dict(T=0.15, norm=6.0, order=4, ref="mean-field")),
    "temperature-weight-norm": ("Temperature = weight norm (‖W‖/T is what counts)",
                                dict(T=2.0, norm=6.6, order=4, ref="mean-field")),
    "bars-and-stripes": ("Trained on bars and stripes (3×3)",
                         dict(model="bars-stripes", T=1.0, order=4, ref="mean-field")),
}


class QueryError(ValueError):
    """A query parameter could not be used (the message is shown in the app)."""


def _float(name, text):
    try:
        x = float(text)
    except ValueError:
        raise QueryError(f"URL parameter {name}={text!r} is not a number") from None
    if not math.isfinite(x):
        raise QueryError(f"URL parameter {name}={text!r} must be finite")
    return x


def _int(name, text):
    try:
        return int(text)
    except ValueError:
        raise QueryError(f"URL parameter {name}={text!r} is not a whole number") from None


def state_from_query(query, base=DEFAULT):
    """Parse ``?T=0.5&norm=3&lam=1&order=4&ref=independent&preset=...`` into a State.

    ``preset`` is applied first; explicit parameters override it. Values outside a
    slider's range are clipped. Unknown parameters are ignored (Voila adds its own).

    Returns
    -------
    (State, list of str)
        The state and one readable message per parameter that could not be used.
    """
    q = {k: v[-1] for k, v in parse_qs((query or "").lstrip("?"), keep_blank_values=True).items()}
    state = base.copy()
    problems = []
    if "preset" in q:
        if q["preset"] in PRESETS:
            state = state.copy(**PRESETS[q["preset"]][1])
        else:
            problems.append(f"unknown preset {q['preset']!r}; known: {', '.join(PRESETS)}")
    parsers = {"T": _parse_t, "norm": _parse_norm, "lam": _parse_lam, "order": _parse_order,
               "ref": _parse_ref, "model": _parse_model, "nv": _parse_units("nv"),
               "nh": _parse_units("nh"), "seed": lambda s: _int("seed", s),
               "show": lambda s: tuple(k for k in CURVE_KEYS if k in s.split(","))}
    for key, parse in parsers.items():
        if key in q:
            try:
                state = state.copy(**{key: parse(q[key])})
            except QueryError as exc:
                problems.append(str(exc))
    return state, problems


def _parse_t(s):
    t = _float("T", s)
    if t <= 0:
        raise QueryError(f"URL parameter T={s!r} must be > 0")
    return float(min(max(t, T_GRID[0]), T_GRID[-1]))


def _parse_norm(s):
    n = _float("norm", s)
    if n < 0:
        raise QueryError(f"URL parameter norm={s!r} must be >= 0")
    return min(n, NORM_MAX)


def _parse_lam(s):
    return min(max(_float("lam", s), LAM_MIN), LAM_MAX)


def _parse_order(s):
    return min(max(_int("order", s), 1), MAX_ORDER)


def _parse_ref(s):
    if s not in REFERENCES:
        raise QueryError(f"URL parameter ref={s!r}: use one of {', '.join(REFERENCES)}")
    return s


def _parse_model(s):
    if s not in ("random", "bars-stripes"):
        raise QueryError(f"URL parameter model={s!r}: use random or bars-stripes")
    return s


def _parse_units(name):
    return lambda s: min(max(_int(name, s), 1), MAX_UNITS)


def query_from_state(state):
    """The query string that reproduces ``state`` (default values are left out)."""
    d = asdict(state)
    out = {}
    for key, value in d.items():
        default = getattr(DEFAULT, key)
        if key == "show":
            if tuple(value) != tuple(default):
                out[key] = ",".join(value)
            continue
        if value is None or value == default:
            continue
        if key in ("nv", "nh", "seed") and state.model != "random":
            continue
        out[key] = f"{value:.6g}" if isinstance(value, float) else str(value)
    return urlencode(out, safe=",")
