"""The default view on disk (explorer/app/core/default_view.py): the shipped RBM numbers equal a
fresh computation, a page built from them shows exactly what a fresh one shows, stale or broken
files are ignored, and the tree codec round-trips what the compute models store."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from explorer.app.core import default_view
from explorer.app.rbm.compute import RBMCompute
from explorer.app.rbm.explorer import RBMExplorer
from explorer.app.rbm.state import DEFAULT
from explorer.rbm.explore import point_quantities
from explorer.rbm.sweeps import temperature_sweep

from .views_compare import assert_same_csv, assert_same_sources, assert_same_tree


def test_shipped_rbm_default_view_equals_a_fresh_computation():
    """The drift guard: after a change to the physics, regenerate with
    ``python -m explorer.app.default_views rbm``."""
    compute = RBMCompute(run_ais=False)
    shipped = default_view.read("rbm", compute.default_view_key(DEFAULT))
    assert shipped is not None, "explorer/data/default_view_rbm.npz is missing or its fingerprint is stale"
    assert_same_tree(compute.default_view(DEFAULT), shipped, rtol=1e-10)


def test_the_shipped_numbers_are_the_physics_layers():
    """Independent of the compute model: the stored sweep and point are temperature_sweep's and
    point_quantities' numbers for the default RBM."""
    compute = RBMCompute(run_ais=False)
    assert compute.seed_default_view(DEFAULT)
    rbm = compute.rbm(DEFAULT)
    from explorer.app.rbm.compute import LAM_CURVE
    from explorer.app.rbm.state import T_GRID
    sweep = temperature_sweep(rbm, T_GRID.values, order=DEFAULT.order, lam=DEFAULT.lam, reference=DEFAULT.ref)
    assert_same_tree(sweep.as_dict(), compute.curves(DEFAULT).as_dict(), rtol=1e-10)
    point = point_quantities(rbm, DEFAULT.T, np.union1d(LAM_CURVE, [DEFAULT.lam]), order=DEFAULT.order,
                             reference=DEFAULT.ref)
    assert_same_tree(dataclasses.asdict(point), dataclasses.asdict(compute.point(DEFAULT)), rtol=1e-10)


def test_a_page_from_the_shipped_view_shows_what_a_fresh_one_shows(monkeypatch):
    seeded = RBMExplorer(run_ais=False, prefetch=False)
    assert seeded.compute._curves, "the default view was not seeded"
    monkeypatch.setenv("FREE_ENERGY_EXPLORER_NO_DEFAULT_VIEW", "1")
    fresh = RBMExplorer(run_ais=False, prefetch=False)
    assert seeded.w_readout.value == fresh.w_readout.value
    assert_same_csv(seeded.csv(), fresh.csv(), rtol=1e-10)
    assert_same_sources(seeded, fresh, rtol=1e-10)


def test_another_view_is_computed_not_read():
    app = RBMExplorer(query="T=0.5&order=6", run_ais=False, prefetch=False)
    state = app.state
    rbm = app.compute.rbm(state)
    from explorer.app.rbm.state import T_GRID
    sweep = temperature_sweep(rbm, T_GRID.values, order=6, lam=state.lam, reference=state.ref)
    np.testing.assert_allclose(app.compute.curves(state).series, sweep.series, rtol=1e-12)
    assert app.compute.point(state).temperature == pytest.approx(T_GRID.snap(0.5))


def test_stale_missing_and_corrupt_files_are_ignored(tmp_path):
    compute = RBMCompute(run_ais=False)
    key = compute.default_view_key(DEFAULT)
    stale = tmp_path / "stale.npz"
    default_view.write("rbm", "not-this-fingerprint", compute.default_view(DEFAULT), path=stale)
    assert default_view.read("rbm", key, path=stale) is None
    assert not compute.seed_default_view(DEFAULT, path=stale)
    assert default_view.read("rbm", key, path=tmp_path / "missing.npz") is None
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip file")
    assert default_view.read("rbm", key, path=corrupt) is None
    good = tmp_path / "good.npz"
    default_view.write("rbm", key, compute.default_view(DEFAULT), path=good)
    assert RBMCompute(run_ais=False).seed_default_view(DEFAULT, path=good)


@settings(max_examples=40, deadline=None)
@given(offset=st.floats(0.0, 1.0), garbage=st.binary(min_size=1, max_size=64))
def test_a_damaged_file_is_ignored_wherever_it_is_damaged(tmp_path_factory, offset, garbage):
    """Bytes overwritten anywhere (a damaged disk, a cache file cut short): never an exception,
    either the stored tree exactly (the damage missed it) or None (the numbers are computed)."""
    tree = {"a": np.linspace(0.0, 1.0, 3000), "b": {"c": "text", "d": [1.0, 2.0]}}
    path = tmp_path_factory.mktemp("damaged") / "view.npz"
    default_view.write("rbm", "k", tree, path=path)
    data = bytearray(path.read_bytes())
    at = int(offset * (len(data) - 1))
    data[at:at + len(garbage)] = garbage
    path.write_bytes(bytes(data[:max(at + len(garbage), 1)] if offset > 0.95 else data))
    got = default_view.read("rbm", "k", path=path)
    if got is not None:
        assert_same_tree(tree, got, rtol=0)


def test_a_file_needing_pickle_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, **{"x|array": np.array([{"a": 1}], dtype=object),
                      "__fingerprint__|scalar": np.asarray("k")})
    assert default_view.read("rbm", "k", path=path) is None
    with pytest.raises(TypeError, match="pickle"):
        default_view.write("rbm", "k", {"x": np.array([{}], dtype=object)}, path=tmp_path / "o.npz")


def test_the_rbm_page_imports_no_scipy_before_it_shows():
    """The first screen of the default view needs no scipy.special (0.35 s of a fresh kernel):
    it is imported on the first computation."""
    code = ("import sys; from explorer.app import RBMExplorer; app = RBMExplorer(query='', prefetch=False); "
            "print('scipy.special' in sys.modules, 'torch' in sys.modules); "
            "app.w_temperature.value = 0.5; print('scipy.special' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in ("FREE_ENERGY_EXPLORER_NO_DEFAULT_VIEW", "QUERY_STRING")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         env=env)
    assert out.stdout.split() == ["False", "False", "True"], out.stdout + out.stderr


keys = st.one_of(st.text(alphabet="abcxyz_0123", min_size=1, max_size=6), st.integers(-5, 50))
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True), st.text(max_size=8),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=4),
    st.builds(lambda xs: np.asarray(xs, dtype=float), st.lists(st.floats(width=64), max_size=5)),
    st.builds(lambda xs: np.asarray(xs, dtype=np.int64).reshape(-1, 1), st.lists(st.integers(-9, 9), max_size=4)),
)
#: what one array cannot hold: tuples, and lists mixing None, strings and kinds of number
mixed_items = st.one_of(st.none(), st.booleans(), st.integers(-9, 9), st.floats(allow_nan=False, width=64),
                        st.text(max_size=3))
sequences = st.one_of(st.lists(mixed_items, max_size=4), st.lists(mixed_items, max_size=4).map(tuple))
trees = st.recursive(st.one_of(leaves, sequences), lambda children: st.one_of(
    st.dictionaries(keys, children, max_size=4), st.lists(children, max_size=3).map(tuple)), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(tree=st.dictionaries(keys, trees, max_size=5))
@example(tree={"nul": "\x00", "ends": "a\x00", "mixed": ["\x00", 1, None], "empty": ""})   # numpy drops trailing NULs
def test_the_codec_round_trips_trees(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("codec") / "t.npz"
    default_view.write("x", "key", tree, path=path)
    back = default_view.read("x", "key", path=path)
    assert_same_tree(tree, back)
