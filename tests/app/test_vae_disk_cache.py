"""A VAE digit's numbers are kept on disk (explorer/app/vae/compute.py, ``VAECompute._stored``).

Read back, they are exactly what was computed; a file whose fingerprint does not match (another
digit, scale, checkpoint, sampling parameters or version of the code) is never read; a damaged or
unwritable cache only means the numbers are computed; the cache stays bounded.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("torch")

from explorer.app.vae import compute as vae_compute
from explorer.app.vae.compute import STORE_DIR, VAECompute
from explorer.app.vae.explorer import VAEExplorer
from explorer.vae import VAESession

from .views_compare import assert_same_sources, assert_same_tree


@pytest.fixture(scope="module")
def session():
    return VAESession()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FREE_ENERGY_EXPLORER_CACHE", str(tmp_path))
    monkeypatch.delenv("FREE_ENERGY_EXPLORER_NO_DEFAULT_VIEW", raising=False)
    return tmp_path / STORE_DIR


def tree(value):
    return {"values": np.linspace(0.0, 1.0, 5) * value, "label": "digit", "nested": {"n": 3, "none": None}}


def test_a_digit_computed_once_is_read_back_exactly(session, cache, monkeypatch):
    first = VAEExplorer(query="index=7&T=0.5", page_url="", session=session)
    point, curve = first.compute.point(7), first.compute.weight_scale_curve(7)
    assert len(list(cache.glob("point_*.npz"))) == 1 and len(list(cache.glob("weight_scale_curve_*.npz"))) == 1
    # a second kernel (a new compute model) reads them instead of computing
    monkeypatch.setattr(type(session), "explore", lambda *a, **k: pytest.fail("computed again"))
    monkeypatch.setattr(type(session), "weight_scale_curve", lambda *a, **k: pytest.fail("computed again"))
    second = VAEExplorer(query="index=7&T=0.5", page_url="", session=session)
    assert_same_tree(point, second.compute.point(7), rtol=0)
    assert_same_tree(curve, second.compute.weight_scale_curve(7), rtol=0)
    # and its page shows exactly what the first one shows
    for key in first.panels:
        first.open_panel(key)
        second.open_panel(key)
    assert_same_sources(first, second, rtol=0)


def test_only_a_matching_fingerprint_is_read(session, cache, monkeypatch):
    compute = VAECompute(session)
    assert compute._stored("point", 3, 1.0, lambda: tree(1.0))["label"] == "digit"
    again = compute._stored("point", 3, 1.0, lambda: pytest.fail("not read back"))
    assert_same_tree(tree(1.0), again, rtol=0)
    # another digit, scale or kind is another file
    assert compute._stored("point", 4, 1.0, lambda: tree(2.0))["values"][-1] == 2.0
    assert compute._stored("point", 3, 2.0, lambda: tree(3.0))["values"][-1] == 3.0
    assert compute._stored("weight_scale_curve", 3, 1.0, lambda: tree(4.0))["values"][-1] == 4.0
    # other sampling parameters, or changed code: computed, not read
    other = VAECompute(VAESession(seed=1))
    assert other._stored("point", 3, 1.0, lambda: tree(5.0))["values"][-1] == 5.0
    monkeypatch.setattr(vae_compute, "source_sha256", lambda package: "changed code")
    assert compute._stored("point", 3, 1.0, lambda: tree(6.0))["values"][-1] == 6.0


def test_switched_off_damaged_and_unwritable_caches_compute(session, cache, monkeypatch, tmp_path):
    compute = VAECompute(session)
    compute._stored("point", 3, 1.0, lambda: tree(1.0))
    # switched off: the numbers are computed and nothing is written
    off = VAECompute(session, disk_cache=False)
    assert off._stored("point", 3, 1.0, lambda: tree(2.0))["values"][-1] == 2.0
    assert off._stored("point", 9, 1.0, lambda: tree(2.0))["values"][-1] == 2.0
    assert len(list(cache.glob("*.npz"))) == 1
    monkeypatch.setenv("FREE_ENERGY_EXPLORER_NO_DEFAULT_VIEW", "1")     # no precomputed numbers at all
    assert compute._stored("point", 3, 1.0, lambda: tree(3.0))["values"][-1] == 3.0
    monkeypatch.delenv("FREE_ENERGY_EXPLORER_NO_DEFAULT_VIEW")
    # damaged: computed again and rewritten
    (stored,) = cache.glob("*.npz")
    stored.write_bytes(b"not a zip file")
    assert compute._stored("point", 3, 1.0, lambda: tree(4.0))["values"][-1] == 4.0
    assert compute._stored("point", 3, 1.0, lambda: pytest.fail("not rewritten"))["values"][-1] == 4.0
    # a cache that cannot be written (here: its folder is a file): the numbers all the same
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / STORE_DIR).write_text("a file where the folder should be")
    monkeypatch.setenv("FREE_ENERGY_EXPLORER_CACHE", str(blocked))
    assert compute._stored("point", 3, 1.0, lambda: tree(5.0))["values"][-1] == 5.0
    # no temporary files are left behind
    assert [p.name for p in cache.iterdir() if p.name.endswith(".tmp.npz")] == []


def test_a_model_without_a_file_is_not_stored(session, cache):
    compute = VAECompute(session)
    saved = session.model.checkpoint_path
    try:
        session.model.checkpoint_path = None
        assert compute._disk_key("point", 3, 1.0) is None
        assert compute._stored("point", 3, 1.0, lambda: tree(1.0))["values"][-1] == 1.0
    finally:
        session.model.checkpoint_path = saved
    assert not cache.exists()


def test_the_cache_keeps_the_newest_files(tmp_path):
    for i in range(6):
        f = tmp_path / f"point_{i}.npz"
        f.write_bytes(b"x")
        os.utime(f, (1000 + i, 1000 + i))
    vae_compute._prune(tmp_path, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"point_{i}.npz" for i in range(2, 6)]
