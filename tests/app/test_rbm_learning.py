"""The Learning tab's controller without a browser: every method's curve is the engine's exact
score (checked by brute force), the decomposition, Start/Stop in a thread, Explore this model, CSV."""

from __future__ import annotations

import base64
import csv
import datetime
import io
import re
import time

import numpy as np
import pytest

from explorer.app import RBMExplorer
from explorer.app.rbm.learning import PRESETS
from explorer.app.rbm.state import state_from_query
from explorer.rbm.learning import Race, inspect_model, learning_dataset
from explorer.rbm.sweeps import temperature_sweep
from explorer.views.rbm.learning import slot
from harness.brute_force import BruteForce

METHODS = ["exact", "cd2", "pcd", "tap2", "tap3"]


def wait_until(condition, timeout=120.0):
    """Poll ``condition`` until true (a generous timeout: the machine may be busy)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def upload(name, content):
    """What the FileUpload widget holds after a file is chosen."""
    return ({"name": name, "content": memoryview(content), "type": "", "size": len(content),
             "last_modified": datetime.datetime.now(datetime.UTC)},)


def data(app, name):
    return {k: np.asarray(v) for k, v in app.source(name).data.items()}


@pytest.fixture(scope="module")
def app():
    app = RBMExplorer(query="", page_url="http://127.0.0.1:8866/voila/render/rbm_explorer.ipynb", run_ais=False,
                      prefetch=False)
    app.open_panel("learning")
    yield app
    app.learning.stop()
    assert app.learning.join(timeout=120)


@pytest.fixture(scope="module")
def race_run(app):
    """Five methods, 4 hidden units, 6 epochs, run in the test's thread."""
    tab = app.learning
    tab.w_hidden.value = 4
    tab.w_epochs.value = 6
    tab.w_k.value = 2
    tab.w_batch.value = 7
    for w in tab.w_methods.values():
        w.value = True
    assert tab.settings()["methods"] == METHODS
    tab.start(background=False)
    return tab


def test_every_method_shows_the_engines_exact_curve(app, race_run):
    tab = race_run
    ref = Race(learning_dataset("bars-stripes-3"), 4, METHODS, learning_rate=0.2, momentum=0.9, batch_size=7, seed=0)
    for _ in ref.run(6):
        pass
    curves = ref.curves()
    for m in METHODS:
        d = data(app, f"learning_ll_{slot(m)}")
        assert np.array_equal(d["epoch"], np.arange(1, 7))
        assert np.allclose(d["train"], curves[m]["train"], rtol=0, atol=1e-12)
        # the last point is the shown model's exact mean ln p, by brute force over all joint states
        rbm = tab._snapshot[2][m]
        assert np.array_equal(rbm.weights, ref.model(m).weights)
        bf = BruteForce(rbm, 1.0).log_p_visible(tab.data.train).mean()
        assert d["train"][-1] == pytest.approx(bf, abs=1e-10)
    assert "done" in tab.w_status.value and "Best possible: -2.639" in tab.w_status.value
    assert not tab.w_start.disabled and tab.w_stop.disabled


@pytest.mark.parametrize("method", METHODS)
def test_decomposition_of_each_method_by_enumeration(app, race_run, method):
    tab = race_run
    tab.w_shown.value = method
    rbm = tab._snapshot[2][method]
    d = data(app, "learning_decomposition")
    bf = BruteForce(rbm, 1.0)
    assert np.allclose(d["free_energy"], bf.free_energy, atol=1e-10)
    assert np.allclose(d["log_p"], d["free_energy"] - d["clamped"], atol=1e-12)
    ins = inspect_model(rbm, tab.data.train, seed=0)
    assert np.allclose(d["log_p"], bf.log_p_visible(ins.patterns), atol=1e-10)
    assert [lab.startswith("data") for lab in d["label"]] == list(ins.is_data)
    p = data(app, "learning_patterns")
    assert np.allclose(p["model"], np.exp(bf.log_p_visible(ins.top_patterns)), atol=1e-12)
    assert len(data(app, "learning_weights")["x"]) == 4 * 9


def test_csv_holds_the_curves(app, race_run):
    tab = race_run
    m = re.search(r"base64,([^']+)'", tab.w_csv.value)
    rows = list(csv.DictReader(io.StringIO(base64.b64decode(m.group(1)).decode())))
    assert len(rows) == 6 * len(METHODS)
    for r in rows:
        curve = tab._snapshot[1][r["method"]]["train"]
        assert float(r["train_mean_log_likelihood"]) == pytest.approx(curve[int(r["epoch"]) - 1], abs=1e-10)
        assert r["held_out_mean_log_likelihood"] == ""          # bars and stripes has no split


def test_explore_this_model_updates_the_free_energy_plot(app, race_run):
    tab = race_run
    tab.w_shown.value = "tap3"
    before = data(app, "f_exact")["y"].copy()
    tab.explore()
    app.flush()
    rbm = tab._snapshot[2]["tap3"]
    assert app.state.model == "trained" and app.w_model.value == "trained"
    c = temperature_sweep(rbm, data(app, "f_exact")["x"], order=app.state.order, lam=app.state.lam,
                          reference=app.state.ref)
    assert np.allclose(data(app, "f_exact")["y"], c.exact, rtol=1e-12)
    assert not np.allclose(data(app, "f_exact")["y"], before)
    assert "cannot carry" in app.w_message.value
    # the link names the trained model; opening it says why the default model is shown
    assert "model=trained" in app.w_link.value
    state, problems = state_from_query("model=trained")
    assert state.model == "random" and "cannot carry" in problems[0]
    app.reset()
    app.flush()


def test_start_and_stop_in_the_background(app):
    tab = app.learning
    tab.w_hidden.value = 6
    for k, w in tab.w_methods.items():
        w.value = k in ("exact", "cd")
    thread = tab.start(epochs=100_000)
    assert thread is not None and tab.running and tab.w_start.disabled
    assert tab.start() is None and "already running" in tab.w_status.value
    assert wait_until(lambda: len(app.source("learning_ll_exact").data["epoch"]) >= 2)
    assert wait_until(lambda: len(app.source("learning_ll_cd").data["epoch"]) >= 2)
    tab.stop()
    assert tab.join(timeout=120)
    assert wait_until(lambda: "— stopped" in tab.w_status.value)      # not "done": Stop was pressed
    n = tab.race.epoch
    assert 2 <= n < 100_000
    # the last snapshot is the whole run: the plot shows every epoch
    assert len(app.source("learning_ll_exact").data["epoch"]) == n
    assert not tab.w_start.disabled and tab.w_stop.disabled


def csv_rows(tab):
    m = re.search(r"base64,([^']+)'", tab.w_csv.value)
    return list(csv.DictReader(io.StringIO(base64.b64decode(m.group(1)).decode())))


def test_csv_follows_the_curves_during_a_race(app):
    tab = app.learning
    tab.w_dataset.value = "bars-stripes-3"
    tab.w_hidden.value = 6
    # methods other than the previous race's (exact and cd): its rows are told apart from this one's
    for k, w in tab.w_methods.items():
        w.value = k in ("pcd", "tap2")
    assert {r["method"] for r in csv_rows(tab)} - {"pcd", "tap2"}, "the previous race left no rows to clear"
    thread = tab.start(epochs=100_000)
    try:
        assert thread is not None
        # a new race: the old curves are gone (the worker may already have added this race's first
        # epochs: on a loaded machine it runs before this line, so only their methods are asserted)
        assert {r["method"] for r in csv_rows(tab)} <= {"pcd", "tap2"}
        assert wait_until(lambda: len(csv_rows(tab)) >= 6 and tab.running)
        rows = csv_rows(tab)
        assert {r["method"] for r in rows} == {"pcd", "tap2"}
    finally:
        tab.stop()
        assert tab.join(timeout=120)
    assert wait_until(lambda: "— stopped" in tab.w_status.value)
    assert len(csv_rows(tab)) == 2 * tab.race.epoch


def test_stop_acts_within_an_epoch(app, monkeypatch):
    """Stop is checked before every batch: a long epoch (digits, batches of 10, four methods)
    stops after at most the batch in flight, and the interrupted epoch is undone."""
    tab = app.learning
    batches = []
    original = Race._model_term

    def counting(self, lane, current, batch):
        batches.append(lane.method)
        return original(self, lane, current, batch)

    monkeypatch.setattr(Race, "_model_term", counting)
    tab.w_dataset.value = "digits-4x4"
    tab.w_hidden.value = 6
    tab.w_batch.value = 10
    for k, w in tab.w_methods.items():
        w.value = k in ("exact", "cd", "pcd", "tap3")
    try:
        thread = tab.start(epochs=10)
        assert thread is not None
        n_batches = -(-len(tab.data.train) // 10)
        assert wait_until(lambda: len(batches) >= 5)
        tab.stop()
        at_stop = len(batches)
        assert tab.join(timeout=120)
    finally:
        tab.w_dataset.value = "bars-stripes-3"
        tab.w_batch.value = 0
    assert at_stop < n_batches                    # stopped inside the first lane's first epoch
    assert len(batches) - at_stop <= 2            # the batch in flight (and one racing the read)
    assert tab.race.epoch == 0
    assert all(c["train"] == [] for c in tab.race.curves().values())
    assert wait_until(lambda: "— stopped" in tab.w_status.value)


def test_bad_input_is_one_line_in_the_tab(app):
    tab = app.learning
    for w in tab.w_methods.values():
        w.value = False
    assert tab.start(background=False) is None
    assert "learning-error" in tab.w_status.value and "at least one" in tab.w_status.value
    tab.w_methods["exact"].value = True
    buf = io.BytesIO()
    np.save(buf, np.full((4, 3), 0.5))
    tab.w_upload.value = upload("half.npy", buf.getvalue())
    assert "only 0 and 1" in tab.w_status.value and tab.upload is None
    tab.w_dataset.value = "upload"
    assert tab.start(background=False) is None and "Upload button" in tab.w_status.value


def test_uploaded_rows_train_with_a_held_out_curve(app):
    tab = app.learning
    rows = (np.random.default_rng(0).random((20, 6)) < 0.5).astype(np.int8)
    buf = io.BytesIO()
    np.save(buf, rows)
    tab.w_upload.value = upload("mine.npy", buf.getvalue())
    assert tab.w_dataset.value == "upload" and "16 training rows" in tab.w_status.value
    tab.start(background=False, methods=["exact", "pcd"], epochs=3, hidden=3)
    held = data(app, "learning_ll_exact_held_out")
    assert len(held["held_out"]) == 3
    bf = BruteForce(tab._snapshot[2]["exact"], 1.0).log_p_visible(tab.data.held_out).mean()
    assert held["held_out"][-1] == pytest.approx(bf, abs=1e-10)
    assert len(data(app, "learning_ll_cd")["epoch"]) == 0           # not in this race


def test_presets_set_the_tab(app):
    tab = app.learning
    for key, (label, changes, _look) in PRESETS.items():
        tab.w_preset.value = key
        s = tab.settings()
        assert s["hidden"] == changes["hidden"] and s["dataset"] == changes["dataset"]
        assert [slot(m) for m in s["methods"]] == list(changes["methods"])
        assert label in tab.w_status.value and tab.w_preset.value == ""


def test_teacher_mode_hides_the_learning_settings():
    app = RBMExplorer(query="teacher=1&hide=learning,order", run_ais=False, prefetch=False)
    tab = app.learning
    assert "learning" in app.CONTROL_NAMES
    assert all(w.layout.display == "none" for w in tab.settings_controls)
    assert app.w_order.layout.display == "none"
    # what a class still uses: Start, Stop, the model shown, Explore, the status and the CSV
    for w in (tab.w_start, tab.w_stop, tab.w_shown, tab.w_explore, tab.w_status, tab.w_csv, tab.box):
        assert w.layout.display != "none"
    assert "no control named" not in app.w_message.value
    plain = RBMExplorer(query="", run_ais=False, prefetch=False)
    assert all(w.layout.display != "none" for w in plain.learning.settings_controls)
