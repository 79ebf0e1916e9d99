"""The VAE explorer's state as plain values: defaults, presets, URL codec, the slider grids.

No widgets and no torch here. Values are snapped to the grids here, when a URL or a control
sets them, and nowhere else.
"""

from __future__ import annotations

from ..core.fields import Control, Field, Schema
from ..core.state import Grid, QueryError, parse_float, parse_int, parse_positive

MAX_ORDER = 8
# Slider grids: the curves are computed on exactly these points, so a slider value is a grid
# point of the cached curves (no interpolation, no new integral on a move).
LAM_STEP = 0.025
LAM_GRID = Grid.linear(0.0, 1.5, LAM_STEP)
T_EXP_MIN, T_EXP_MAX, T_EXP_STEP = -0.6, 0.6, 0.03
T_GRID = Grid.log10(T_EXP_MIN, T_EXP_MAX, T_EXP_STEP)              # T in [0.25, 4]
K_GRID = Grid([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000], log=True)
SAMPLE_GRID = Grid([100, 300, 1000, 5000], log=True)                  # Monte Carlo sample counts
#: Decoder weight scale c: 2^(k/4) from 1/4 to 4 (c = 1 is the trained model).
SCALE_EXP_MIN, SCALE_EXP_MAX, SCALE_EXP_STEP = -2.0, 2.0, 0.25
SCALE_GRID = Grid.powers(2, SCALE_EXP_MIN, SCALE_EXP_MAX, SCALE_EXP_STEP)
#: Controls a teacher can hide (``?teacher=1&hide=order,samples``).
CONTROL_NAMES = ("preset", "index", "scale", "temperature", "lam", "order", "K", "samples", "training", "link",
                 "csv")



#: Scenarios: key -> (label, changes, what to look at). Indices chosen from the shipped
#: checkpoint's numbers: test digit 0 has a gap KL(q‖p(z|x)) of 0.07 nats, digit 16 of 6.3 nats.
PRESETS = {
    "good-fit": ("A digit where q fits well (gap 0.07 nats)", dict(index=0, order=4, lam=1.0),
                 "The ellipses of q sit on the heat map of the true posterior: −ELBO is almost −ln p(x)."),
    "big-gap": ("A digit where q fits badly (gap 6.3 nats)", dict(index=16, order=4, lam=1.0),
                "q misses the posterior's shape: the gap KL(q‖p(z|x)) is the distance between −ELBO and −ln p(x)."),
    "series-high-order": ("Higher cumulant orders at λ = 1", dict(index=16, order=8, lam=1.0),
                          "Each order adds a term of the cumulant series; past λ* (dotted) nothing converges."),
    "hot": ("High temperature: exact F_T against the bound", dict(index=7, T=3.0),
            "Open the Temperature tab: the bound with q fixed against the exact F_T."),
    "iwae-narrows-gap": ("IWAE narrows the gap, but does not close it", dict(index=16, K=5000),
                         "Open the IWAE tab: averaging K weights moves the bound towards −ln p(x); for digit 16 "
                         "the bound at K = 5000 is still 0.94 ± 0.04 of the 6.33 nats above it (its expectation, "
                         "computed 2026-12-06 by benchmarks/quoted_numbers.py). The plot's dot is one pool of "
                         "draws (seed 0): 0.67, with ±2 standard errors of ±0.65."),
}
#: Preset keys of earlier versions (shared links keep working).
PRESET_ALIASES = {"iwae-closes-gap": "iwae-narrows-gap"}


def _index(s, n_test=None):
    v = parse_int("index", s)
    if v < 0 or (n_test is not None and v >= n_test):
        raise QueryError(f"URL parameter index={v} is outside the test set (0..{(n_test or 1) - 1})")
    return v


def _positive_count(name):
    def parse(s):
        v = parse_float(name, s)
        if v <= 0:
            raise QueryError(f"URL parameter {name}={s!r} must be > 0")
        return v
    return parse


FIELDS = (
    Field("index", 3, parse=_index, snap=int,
          control=Control("Test digit #", kind="count", width="210px", css="vae-index")),
    Field("T", 1.0, parse=lambda s: parse_positive("T", s), grid=T_GRID,
          control=Control("Temperature", readout=".3g", css="vae-temperature")),
    Field("lam", 1.0, parse=lambda s: parse_float("lam", s), grid=LAM_GRID,
          control=Control("Perturbation λ", readout=".3f", css="vae-lambda", term="perturbation")),
    Field("order", 4, parse=lambda s: parse_int("order", s), lo=1, hi=MAX_ORDER,
          control=Control("Cumulant order", css="vae-order", term="series_order")),
    Field("K", 100, parse=_positive_count("K"), snap=lambda k: int(K_GRID.snap(k)), grid=K_GRID,
          control=Control("IWAE K", css="vae-k", term="iwae")),
    # the sample count recomputes Monte Carlo estimates, and the decoder's weight scale every
    # exact integral: they report on release only
    Field("samples", 5000, parse=_positive_count("samples"), snap=lambda n: int(SAMPLE_GRID.snap(n)),
          grid=SAMPLE_GRID, control=Control("Monte Carlo samples", continuous=False, css="vae-samples",
                                            term="monte_carlo")),
    Field("scale", 1.0, parse=lambda s: parse_positive("scale", s), grid=SCALE_GRID,
          control=Control("Decoder scale c", readout=".3g", continuous=False, css="vae-scale",
                                        term="decoder")),
    # Which model (the shipped one, or one trained in this kernel: a new one gets a new number),
    # which a link cannot carry.
    Field("model_id", 0),
)
SCHEMA = Schema("VAEState", FIELDS, PRESETS, aliases=PRESET_ALIASES,
                doc="Everything a URL encodes: ``?index=3&T=1&lam=0.5&order=4&K=100&samples=1000&scale=2``, "
                    "and the model's identity in this kernel.")
VAEState = SCHEMA.State
DEFAULT = SCHEMA.default
#: The fields that choose the digit's posterior: a change recomputes every exact integral.
POINT_FIELDS = frozenset({"index", "scale", "model_id"})


def snap(state):
    """``state`` with every value on its slider's grid."""
    return SCHEMA.snap(state)


def state_from_query(query, n_test=None):
    """Parse a URL query into (VAEState, list of readable problems). Values are snapped to the grids."""
    return SCHEMA.from_query(query, parsers={"index": lambda s: _index(s, n_test)})


def query_from_state(st):
    """The query string reproducing ``st`` (defaults left out)."""
    return SCHEMA.to_query(st)
