"""The VAE explorer's shipped default view (explorer/data/default_view_vae.npz) and its lazy session.

The drift guard: the shipped numbers of the default digit equal a fresh computation. A page built
from them shows exactly what a fresh one shows, and imports no torch; anything else (another digit,
the latent space) loads the session and computes the right numbers; stale or broken files are ignored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from explorer.app.core import default_view
from explorer.app.vae.compute import VAECompute
from explorer.app.vae.explorer import VAEExplorer
from explorer.app.vae.state import DEFAULT
from explorer.vae import VAESession

from .views_compare import assert_same_csv, assert_same_sources, assert_same_tree

ROOT = Path(__file__).resolve().parents[2]
RTOL = 1e-9
#: Queries that only move cursors on the default digit's cached curves.
CURSOR_QUERY = "T=2&lam=0.5&order=6&K=10"


@pytest.fixture(autouse=True)
def shipped_views_on(monkeypatch):
    monkeypatch.delenv("FREE_ENERGY_EXPLORER_NO_DEFAULT_VIEW", raising=False)


@pytest.fixture(scope="module")
def fresh():
    """Every number computed, on a fresh session of the shipped checkpoint (its defaults)."""
    return VAECompute(VAESession(), disk_cache=False)


def seeded_compute(path=None):
    compute = VAECompute.load_lazily()
    assert compute.seed_default_view(DEFAULT.index, DEFAULT.samples, path), \
        "explorer/data/default_view_vae.npz is missing or stale: run python -m explorer.app.default_views vae"
    return compute


def test_shipped_default_view_equals_a_fresh_computation(fresh):
    """The drift guard: after a change to the physics, the grids or the checkpoint, regenerate with
    ``python -m explorer.app.default_views vae``."""
    compute = seeded_compute()
    i, n = DEFAULT.index, DEFAULT.samples
    assert_same_tree(fresh.point(i), compute.point(i), rtol=RTOL)
    assert_same_tree(fresh.monte_carlo(i, n), compute.monte_carlo(i, n), rtol=RTOL)
    assert compute.n_test == fresh.session.n_test
    assert not compute.loader.loaded, "reading the shipped numbers loaded the session"


def test_the_file_round_trips_what_the_compute_model_writes(fresh, tmp_path):
    """Tuples, lists holding None and strings come back as they went in (the codec alone would turn
    them into arrays)."""
    compute = VAECompute.load_lazily()
    key = compute.default_view_key(DEFAULT.index, DEFAULT.samples)
    path = tmp_path / "view.npz"
    # the fresh session's numbers, under the shipped model's fingerprint
    default_view.write("vae", key, fresh.default_view(DEFAULT.index, DEFAULT.samples), path=path)
    point = seeded_compute(path).point(DEFAULT.index)
    assert isinstance(point.reference, tuple) and isinstance(point.reference[2], str)
    assert all(isinstance(v, float) for v in point.report["iwae"]["stderr"])   # every K has its spread
    assert_same_tree(fresh.point(DEFAULT.index), point, rtol=RTOL)


@pytest.mark.parametrize("query", ["", CURSOR_QUERY])
def test_a_page_from_the_shipped_view_shows_what_a_fresh_one_shows(fresh, query):
    shipped = VAEExplorer(query=query, page_url="")
    computed = VAEExplorer(query=query, page_url="", session=fresh.session)
    for app in (shipped, computed):   # tabs that read only the default digit's numbers
        for key in ("elbo", "weights", "temperature", "iwae"):
            app.open_panel(key)
    assert not shipped.compute.loader.loaded
    assert shipped.w_readout.value == computed.w_readout.value
    assert shipped.w_model_name.value == computed.w_model_name.value
    assert shipped.w_index.max == computed.w_index.max
    assert_same_csv(shipped.csv(), computed.csv(), rtol=RTOL)
    assert_same_sources(shipped, computed, rtol=RTOL)


def test_the_default_page_imports_no_torch():
    """Built from the shipped view (the default and a URL that moves cursors), with the tabs that read
    only the default digit's numbers opened and the CSV written: no torch in the kernel."""
    code = (
        "import json, sys\n"
        "from explorer.app.vae.explorer import VAEExplorer\n"
        "out = []\n"
        f"for q in ('', {CURSOR_QUERY!r}):\n"
        "    app = VAEExplorer(query=q, page_url='')\n"
        "    for key in ('elbo', 'weights', 'temperature', 'iwae'):\n"
        "        app.open_panel(key)\n"
        "    app.csv()\n"
        "    out.append([app.compute.loader.loaded, 'torch' in sys.modules])\n"
        "print(json.dumps(out))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("FREE_ENERGY_EXPLORER_NO_DEFAULT_VIEW", "QUERY_STRING")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True,
                         cwd=ROOT, env=env)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[False, False], [False, False]], out.stdout + out.stderr


def test_what_needs_the_model_loads_it_and_is_right(fresh):
    app = VAEExplorer(query="", page_url="")
    assert not app.compute.loader.loaded
    app.open_panel("latent")                 # the latent means need the model
    assert app.compute.loader.loaded
    np.testing.assert_allclose(np.asarray(app.source("latent").data["z1"]), fresh.latents().mu[:, 0], rtol=RTOL)
    app.select(5)
    assert app.state.index == 5 and "#5" in app.w_readout.value
    assert_same_tree(fresh.point(5), app.compute.point(5), rtol=RTOL)
    assert_same_tree(fresh.monte_carlo(5, DEFAULT.samples), app.compute.monte_carlo(5, DEFAULT.samples), rtol=RTOL)
    computed = VAEExplorer(query="index=5", page_url="", session=fresh.session)
    assert app.w_readout.value == computed.w_readout.value
    app.open_panel("training")               # names the device (asks torch)
    assert "Training device" in app.training.w_device.value


def test_a_query_for_another_digit_is_computed(fresh):
    app = VAEExplorer(query="index=5&lam=0.5", page_url="")
    assert app.compute.loader.loaded and app.state.index == 5
    assert_same_tree(fresh.point(5), app.compute.point(5), rtol=RTOL)
    computed = VAEExplorer(query="index=5&lam=0.5", page_url="", session=fresh.session)
    assert app.w_readout.value == computed.w_readout.value


def test_an_index_outside_the_test_set_is_refused_as_before():
    app = VAEExplorer(query="index=100000", page_url="")
    assert "outside the test set" in app.w_message.value and app.state.index == DEFAULT.index
    assert not app.compute.loader.loaded
    app.w_index.max = 10**6                  # past the widget's bound: the session refuses it
    app.select(10**5)
    assert "index must be &lt;= 358" in app.w_message.value and app.state.index == DEFAULT.index


def test_the_background_load_is_joined_by_what_needs_the_session():
    compute = seeded_compute()
    thread = compute.loader.start_background()
    assert thread is not None and thread.daemon
    session = compute.session                # waits for the load in the thread
    assert compute.loader.loaded and compute.session is session
    thread.join(timeout=120)
    assert compute.loader.start_background() is None      # loaded: nothing to start
    assert compute.n_test == session.n_test


def test_showing_the_page_starts_the_background_load_once_the_plots_are_drawn():
    import asyncio

    from bokeh.events import DocumentReady
    app = VAEExplorer(query="", page_url="")

    async def show_and_wait():
        app.show()
        await asyncio.sleep(0.05)
        assert app.compute.loader._thread is None      # not while the page is opening
        # what BokehJS sends once the first panel's plots are drawn
        app.panels["posterior_lambda"].view.layout.document.callbacks.trigger_event(DocumentReady())
        await asyncio.sleep(0.05)
    asyncio.run(show_and_wait())
    thread = app.compute.loader._thread
    assert thread is not None and thread.name == "vae-explorer-session"
    thread.join(timeout=120)
    assert app.compute.loader.loaded


def test_stale_corrupt_and_switched_off_files_are_ignored(fresh, tmp_path, monkeypatch):
    key = VAECompute.load_lazily().default_view_key(DEFAULT.index, DEFAULT.samples)
    stale = tmp_path / "stale.npz"
    # the right shape and wrong numbers under another fingerprint: never read
    default_view.write("vae", "not-this-fingerprint", {"point": {}, "monte_carlo": {}, "n_test": 1}, path=stale)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(default_view.path_of("vae").read_bytes()[:5000])
    for path in (stale, corrupt, tmp_path / "missing.npz"):
        compute = VAECompute.load_lazily()
        assert not compute.seed_default_view(DEFAULT.index, DEFAULT.samples, path)
        assert not compute._points and not compute._mc                                  # nothing read
        if path is stale:    # computed instead (once: the same code path for the other files)
            assert_same_tree(fresh.point(DEFAULT.index), compute.point(DEFAULT.index), rtol=RTOL)
            assert compute.loader.loaded
    assert default_view.read("vae", key) is not None
    monkeypatch.setenv("FREE_ENERGY_EXPLORER_NO_DEFAULT_VIEW", "1")
    assert not VAECompute.load_lazily().seed_default_view(DEFAULT.index, DEFAULT.samples)


def test_other_models_get_no_shipped_numbers(fresh, tmp_path):
    """A handed-over session is computed (its data may differ); another checkpoint's bytes do not
    match the fingerprint; a missing checkpoint is refused when the explorer is built, as before."""
    assert fresh.default_view_key(DEFAULT.index, DEFAULT.samples) is None
    other = tmp_path / "other.pt"
    other.write_bytes(b"not the shipped model")
    assert not VAECompute.load_lazily(other).seed_default_view(DEFAULT.index, DEFAULT.samples)
    from explorer.errors import InputError
    with pytest.raises(InputError, match="checkpoint not found"):
        VAEExplorer(query="", page_url="", checkpoint=tmp_path / "missing.pt")


def test_a_pooled_kernels_warm_up_loads_the_session_before_the_request():
    """In Voila's preheated pool the model loads during the low-priority warm-up, not after the
    student's request (explorer.app.core.request.show_when_requested calls warm_up)."""
    from explorer.app.vae.explorer import VAEExplorer

    app = VAEExplorer(query="", page_url="")
    assert not app.compute.loader.loaded
    app.warm_up()
    assert app.compute.loader.loaded
