"""The RBM explorer's state as plain values: defaults, presets, URL codec, the slider grids.

No widgets and no physics here, so that URL parsing and presets are testable on their own.
Values are snapped to the grids here, when a URL or a control sets them, and nowhere else.
"""

from __future__ import annotations

from ..core.fields import Control, Field, Schema
from ..core.state import Grid, QueryError, parse_float, parse_int, parse_positive, parse_query

# The temperature slider moves on this log grid and the curves are computed on the same
# grid: the value under the cursor is an exact grid point of the cached curves, so a
# temperature move needs no interpolation and no new sweep.
T_EXP_MIN, T_EXP_MAX, T_EXP_STEP = -1.0, 1.0, 0.01
T_GRID = Grid.log10(T_EXP_MIN, T_EXP_MAX, T_EXP_STEP)
# The same idea for lambda (0 is on the grid: there every truncated series equals -T ln Z_q).
LAM_MIN, LAM_MAX, LAM_STEP = 0.0, 2.0, 0.05
LAM_GRID = Grid.linear(LAM_MIN, LAM_MAX, LAM_STEP)

MAX_ORDER = 12
NORM_MAX = 12.0
NORM_STEP = 0.1
REFERENCES = {"mean-field": "mean field", "independent": "independent units"}
MODELS = ("random", "bars-stripes", "upload", "trained")   # trained: in the Learning tab
CURVE_KEYS = ("exact", "mean_field", "tap2", "tap3", "series")
MAX_UNITS = 64  # largest layer the size boxes accept (the enumeration check gives the message)
#: Controls a teacher can hide (``?teacher=1&hide=order,reference``).
#: ``learning``: the Learning tab's settings and methods (Start, Stop and its plots stay).
CONTROL_NAMES = ("preset", "temperature", "norm", "lam", "order", "reference", "curves", "model", "link", "csv",
                 "learning")


def t_index(temperature):
    """Index of the grid temperature nearest to ``temperature`` (log scale)."""
    return T_GRID.index(temperature)


def lam_index(lam):
    return LAM_GRID.index(lam)


#: The State: one declaration per field (default, URL parsing, snapping), after PRESETS below.

#: Scenarios a teacher can pick: key -> (label, changes to the default state, what to look at).
PRESETS = {
    "high-temperature": ("High temperature: mean field is nearly exact",
                         dict(T=5.0, order=4, ref="mean-field"),
                         "Look at the shaded gap under F (the bound minus the exact F): at high T it closes, "
                         "and every error is tiny."),
    "strong-coupling": ("Strong coupling: the series diverges",
                        dict(T=0.5, norm=8.0, order=8, ref="independent", lam=1.0),
                        "Look at F(λ): the series lines leave the exact curve, and in the Cumulants tab "
                        "the terms grow with n."),
    "mean-field-minima": ("Several mean-field minima",
                          dict(T=0.15, norm=6.0, order=4, ref="mean-field"),
                          "The readout counts the mean-field minima; TAP can fall below the exact F "
                          "(it is not a bound)."),
    "temperature-weight-norm": ("Temperature = weight norm (‖W‖/T is what counts)",
                                dict(T=2.0, norm=6.6, order=4, ref="mean-field"),
                                "‖W‖/T is as at the default model's T = 1; see the Rescaling tab."),
    "bars-and-stripes": ("Trained on bars and stripes (3×3)",
                         dict(model="bars-stripes", T=1.0, order=4, ref="mean-field"),
                         "A trained model instead of a random one: see its couplings in the Units tab."),
}


def _snap_norm(norm):
    return None if norm is None else round(max(float(norm), 0.0), 4)


def _parse_norm(s):
    n = parse_float("norm", s)
    if n < 0:
        raise QueryError(f"URL parameter norm={s!r} must be >= 0")
    return min(n, NORM_MAX)


def _parse_ref(s):
    if s not in REFERENCES:
        raise QueryError(f"URL parameter ref={s!r}: use one of {', '.join(REFERENCES)}")
    return s


def _parse_model(s):
    if s == "trained":
        raise QueryError("URL parameter model=trained: a model trained in the Learning tab lives only in "
                         "the kernel that trained it (a link cannot carry its weights); showing the default model")
    if s not in ("random", "bars-stripes"):
        raise QueryError(f"URL parameter model={s!r}: use random or bars-stripes")
    return s


def _count(name, lo, hi):
    """A whole-number field in [lo, hi], parsed from the URL."""
    return dict(parse=lambda s: parse_int(name, s), lo=lo, hi=hi)


#: The labels of the RBM explorer's controls are this wide.
LABEL_WIDTH = "120px"
#: The points the norm slider moves on (the field itself keeps a model's own norm, off the grid).
NORM_GRID = Grid.linear(0.0, NORM_MAX, NORM_STEP)

FIELDS = (
    Field("T", 1.0, parse=lambda s: parse_positive("T", s), grid=T_GRID,
          control=Control("Temperature T", readout=".4g", css="explorer-temperature", label_width=LABEL_WIDTH)),
    # None: the model's own weight norm (a new model starts there). Slow controls (each move
    # recomputes a whole sweep) only report on release.
    Field("norm", None, parse=_parse_norm, snap=_snap_norm, grid=NORM_GRID,
          control=Control("Weight norm ‖W‖", readout=".2f", continuous=False, css="explorer-norm",
                          label_width=LABEL_WIDTH, term="weight_norm")),
    Field("lam", 1.0, parse=lambda s: parse_float("lam", s), grid=LAM_GRID,
          control=Control("Perturbation λ", readout=".2f", continuous=False, css="explorer-lambda",
                          label_width=LABEL_WIDTH, term="perturbation")),
    Field("order", 4, **_count("order", 1, MAX_ORDER),
          control=Control("Cumulant order K", continuous=False, label_width=LABEL_WIDTH, term="series_order")),
    Field("ref", "mean-field", parse=_parse_ref,
          control=Control("Reference", kind="choice", choices=tuple((v, k) for k, v in REFERENCES.items()),
                          label_width=LABEL_WIDTH, term="reference")),
    Field("model", "random", parse=_parse_model),
    Field("nv", 12, **_count("nv", 1, MAX_UNITS)),
    Field("nh", 12, **_count("nh", 1, MAX_UNITS)),
    Field("seed", 0, parse=lambda s: parse_int("seed", s), snap=int),
    Field("show", CURVE_KEYS, parse=lambda s: tuple(k for k in CURVE_KEYS if k in s.split(","))),
    # Which uploaded or trained model (a new one gets a new number): the model's identity in this
    # kernel, which a link cannot carry.
    Field("model_id", 0),
)

SCHEMA = Schema("State", FIELDS, PRESETS,
                url_skip=lambda state: ("nv", "nh", "seed") if state.model != "random" else (),
                doc="Everything that defines a view of the RBM explorer (what a URL encodes, and the model's "
                    "identity in this kernel).")
State = SCHEMA.State
DEFAULT = SCHEMA.default
#: The fields that choose the model (and its sweep along T with the curves' settings).
MODEL_FIELDS = frozenset({"model", "nv", "nh", "seed", "model_id"})
#: The fields a sweep along T depends on: a change recomputes the curves.
CURVE_FIELDS = MODEL_FIELDS | {"norm", "lam", "order", "ref"}


def snap(state):
    """``state`` with T and λ on their grids, the order and sizes in range."""
    return SCHEMA.snap(state)


def state_from_query(query, base=DEFAULT):
    """Parse ``?T=0.5&norm=3&lam=1&order=4&ref=independent&preset=...`` into a State.

    ``preset`` is applied first; explicit parameters override it. Values outside a
    slider's range are clipped, and every value is snapped to its slider's grid. Unknown
    parameters are ignored (Voila adds its own).

    Returns
    -------
    (State, list of str)
        The state and one readable message per parameter that could not be used.
    """
    return SCHEMA.from_query(query, base)


def query_from_state(state):
    """The query string that reproduces ``state`` (default values are left out)."""
    return SCHEMA.to_query(state)


__all__ = ["State", "DEFAULT", "PRESETS", "T_GRID", "LAM_GRID", "state_from_query", "query_from_state", "snap",
           "t_index", "lam_index", "parse_query", "SCHEMA", "MODEL_FIELDS",
           "CURVE_FIELDS"]
