"""URL query strings <-> explorer state, presets and the slider grids (no widgets)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.app.rbm.state import (
    DEFAULT,
    LAM_GRID,
    MAX_ORDER,
    PRESETS,
    T_GRID,
    State,
    lam_index,
    query_from_state,
    state_from_query,
    t_index,
)


def test_grids_match_the_sliders():
    assert T_GRID.size == 201 and T_GRID[0] == pytest.approx(0.1) and T_GRID[-1] == pytest.approx(10)
    assert np.allclose(np.diff(np.log10(T_GRID.values)), 0.01)
    assert LAM_GRID[0] == 0.0 and LAM_GRID[-1] == 2.0 and LAM_GRID.size == 41
    assert t_index(0.5) == 70 and t_index(1e-9) == 0 and t_index(1e9) == 200
    assert lam_index(0.3) == 6 and lam_index(-1) == 0


def test_query_parses_and_clips():
    st_, problems = state_from_query("?T=0.5&norm=3&lam=1&order=40&ref=independent&voila-extra=1")
    assert problems == []
    # snapped to the slider grids where they are parsed: T = 0.5 is the grid point 10^-0.3
    assert (st_.T, st_.norm, st_.lam, st_.order, st_.ref) == (T_GRID[70], 3.0, 1.0, MAX_ORDER, "independent")
    assert st_.T == pytest.approx(0.5, rel=0.003)
    st_, _ = state_from_query("T=1000&lam=7&nv=1000")
    assert st_.T == pytest.approx(10.0) and st_.lam == 2.0 and st_.nv == 64


@pytest.mark.parametrize("query, fragment", [
    ("T=0", "must be > 0"), ("T=nan", "must be finite"), ("norm=-1", "must be >= 0"),
    ("order=two", "not a whole number"), ("ref=exact", "use one of"), ("model=upload", "use random"),
    ("preset=cold", "unknown preset"),
])
def test_bad_parameters_give_messages_and_keep_defaults(query, fragment):
    st_, problems = state_from_query(query)
    assert len(problems) == 1 and fragment in problems[0]
    assert st_ == DEFAULT


def test_preset_then_explicit_override():
    st_, problems = state_from_query("preset=strong-coupling&order=3")
    assert problems == []
    assert st_.norm == PRESETS["strong-coupling"][1]["norm"] and st_.order == 3


def test_default_state_has_an_empty_query():
    assert query_from_state(DEFAULT) == ""


@settings(max_examples=60, deadline=None)
@given(i=st.integers(0, 200), j=st.integers(0, 40), order=st.integers(1, MAX_ORDER),
       ref=st.sampled_from(["mean-field", "independent"]), norm=st.none() | st.floats(0, 12),
       seed=st.integers(0, 10_000), nv=st.integers(1, 64), nh=st.integers(1, 64),
       show=st.sets(st.sampled_from(DEFAULT.show)))
def test_round_trip(i, j, order, ref, norm, seed, nv, nh, show):
    show = tuple(k for k in DEFAULT.show if k in show)
    s = State(T=float(T_GRID[i]), norm=None if norm is None else round(norm, 4), lam=float(LAM_GRID[j]),
              order=order, ref=ref, seed=seed, nv=nv, nh=nh, show=show)
    back, problems = state_from_query(query_from_state(s))
    assert problems == []
    assert t_index(back.T) == i and lam_index(back.lam) == j
    assert back == s   # also an empty choice of curves (show=)
