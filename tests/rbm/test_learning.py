"""The race engine: lanes are train() one epoch at a time, scores and decompositions by brute force."""

import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.errors import EnumerationLimitError, InputError
from explorer.rbm import RBM
from explorer.rbm.learning import (
    MAX_HIDDEN,
    LearningData,
    Race,
    dataset_from_npy,
    downsampled_digits,
    exact_scores,
    image_shape,
    inspect_model,
    learning_dataset,
)
from explorer.rbm.training import train
from harness.brute_force import BruteForce

ALL_METHODS = ("exact", "cd1", "cd3", "pcd", "tap2", "tap3")


def _small_data(seed=0, rows=15, cols=5):
    rng = np.random.default_rng(seed)
    return (rng.random((rows, cols)) < 0.4).astype(float)


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


# ------------------------------------------------------------------------------ data
def test_shipped_learning_datasets():
    b3, b4 = learning_dataset("bars-stripes-3"), learning_dataset("bars-stripes-4")
    assert b3.train.shape == (14, 9) and b3.held_out is None and b3.shape == (3, 3)
    assert b4.train.shape == (30, 16) and b4.shape == (4, 4)
    assert b3.optimum == pytest.approx(-math.log(14))
    d = learning_dataset("digits-4x4", seed=1)
    assert d.train.shape[1] == 16 and d.held_out.shape[1] == 16
    assert d.train.shape[0] + d.held_out.shape[0] == 1797
    assert d.held_out.shape[0] == round(0.2 * 1797)
    # the split is the seed's: the rows of both parts are the whole set
    whole = downsampled_digits(4)
    assert np.array_equal(np.sort(np.concatenate([d.train, d.held_out]) @ (1 << np.arange(16))),
                          np.sort(whole @ (1 << np.arange(16))))
    assert set(np.unique(whole)) == {0.0, 1.0}
    with pytest.raises(InputError, match="unknown data set"):
        learning_dataset("mnist")


def test_npy_upload_is_checked():
    rows = _small_data(rows=12)
    data = dataset_from_npy(_npy(rows), "mine.npy")
    assert data.train.shape[0] + data.held_out.shape[0] == 12 and data.held_out.shape[0] == 2
    few = dataset_from_npy(_npy(rows[:4]))
    assert few.held_out is None and few.train.shape == (4, 5) and few.shape == (1, 5)
    assert image_shape(16) == (4, 4) and image_shape(6) == (1, 6)
    with pytest.raises(InputError, match="only 0 and 1"):
        dataset_from_npy(_npy(rows * 2))
    with pytest.raises(InputError, match="2-D"):
        dataset_from_npy(_npy(np.ones(5)))
    with pytest.raises(EnumerationLimitError, match="at most 16"):
        dataset_from_npy(_npy(np.ones((3, 17))))
    with pytest.raises(InputError, match="not a readable .npy"):
        dataset_from_npy(_npy(np.array([{"a": 1}], dtype=object)), "obj.npy")   # pickle refused
    with pytest.raises(InputError, match="not a readable .npy"):
        dataset_from_npy(b"hello", "junk.npy")
    with pytest.raises(InputError, match="must be numeric|only 0 and 1|2-D"):
        dataset_from_npy(_npy(np.array([["a", "b"]])))
    with pytest.raises(InputError):
        dataset_from_npy(_npy(np.full((3, 4), np.nan)))


# ------------------------------------------------------------------------------ race
@pytest.mark.parametrize("method", ALL_METHODS)
def test_a_lane_is_train_run_one_epoch_at_a_time(method):
    """Both step with training.sgd_epoch (its own tests: test_training.py); this checks the
    race starts and drives a lane as train() does: initial model, stream, PCD chains, settings."""
    data = learning_dataset("bars-stripes-3")
    race = Race(data, 6, ALL_METHODS, learning_rate=0.3, momentum=0.8, batch_size=5, seed=4, persistent_tap=False)
    for _ in race.run(6):
        pass
    ref = train(data.train, 6, method=method, epochs=6, learning_rate=0.3, momentum=0.8, batch_size=5, seed=4,
                progress=False)
    assert np.array_equal(race.curves()[method]["train"], ref.log_likelihood)
    assert np.array_equal(race.model(method).weights, ref.rbm.weights)


@pytest.mark.parametrize("order", [2, 3])
def test_persistent_tap_lanes_update_at_a_solution_of_the_tap_equations(order):
    from explorer.rbm.tap import TAP_TOLERANCE, _residual

    data = learning_dataset("bars-stripes-3")
    race = Race(data, 6, [f"tap{order}"], learning_rate=0.3, momentum=0.9, batch_size=7, seed=1)
    lane = race.lanes[f"tap{order}"]
    seen = []
    original = race._model_term

    def spy(lane_, current, batch):
        out = original(lane_, current, batch)
        m_v, m_h = lane_.magnetisations
        seen.append(float(_residual(current, m_v[None], m_h[None], np.ones((1, 1)), np.ones((1, 1)), order)[0]))
        return out

    race._model_term = spy
    for _ in race.run(40):
        pass
    assert len(seen) == 80 and max(seen) < TAP_TOLERANCE
    assert lane.tap_restarts < 80
    # a persistent and a cold lane agree while the TAP solution is unique (the first epochs)
    cold = Race(data, 6, [f"tap{order}"], learning_rate=0.3, momentum=0.9, batch_size=7, seed=1, persistent_tap=False)
    warm = Race(data, 6, [f"tap{order}"], learning_rate=0.3, momentum=0.9, batch_size=7, seed=1)
    for _ in zip(cold.run(3), warm.run(3)):
        pass
    assert np.allclose(cold.curves()[f"tap{order}"]["train"], warm.curves()[f"tap{order}"]["train"], atol=1e-9)


def test_tap_follow_reaches_a_solution_where_the_old_branch_has_ended():
    """Strong couplings (the benchmark's race after 100 epochs, ||W|| ~ 8): the previous fixed
    point's branch ends, Newton from it fails, and tap_follow's damped iteration + Newton
    still lands on a solution of the TAP equations; the lane's cold restarts stay rare."""
    from explorer.rbm.tap import TAP_TOLERANCE, _newton, _residual, tap_follow

    race = Race(learning_dataset("bars-stripes-3"), 12, ["tap3"], learning_rate=0.2, momentum=0.9, seed=0)
    lane = race.lanes["tap3"]
    one = np.ones((1, 1))
    rescued = []
    original = race._model_term

    def spy(lane_, current, batch):
        if lane_.magnetisations is not None:
            m_v, m_h = lane_.magnetisations
            nv, nh = _newton(current, m_v[None], m_h[None], one, one, 3, TAP_TOLERANCE)
            newton_ok = _residual(current, nv, nh, one, one, 3)[0] < TAP_TOLERANCE
            got = tap_follow(current, m_v, m_h, order=3)
            if not newton_ok and got is not None:
                rescued.append(float(_residual(current, got[0][None], got[1][None], one, one, 3)[0]))
        return original(lane_, current, batch)

    race._model_term = spy
    for _ in race.run(160):
        pass
    assert len(rescued) >= 3 and max(rescued) < TAP_TOLERANCE
    assert lane.tap_restarts <= len(rescued)


def test_lanes_start_from_the_same_model_and_differ_after_training():
    race = Race(learning_dataset("bars-stripes-3"), 5, ["exact", "cd1", "tap3"], seed=2)
    first = [race.model(m) for m in race.methods]
    assert all(np.array_equal(r.weights, race.initial.weights) for r in first)
    race.step()
    assert not np.array_equal(race.model("exact").weights, race.model("cd1").weights)


def test_exact_scores_equal_brute_force_for_every_lane():
    data = _small_data(seed=3, rows=15, cols=5)
    learning = LearningData("x", data[:11], data[11:], (1, 5))
    race = Race(learning, 3, ALL_METHODS, learning_rate=0.5, seed=1)
    for epoch in race.run(4):
        for m in race.methods:
            bf = BruteForce(race.model(m), 1.0)
            assert epoch.train[m] == pytest.approx(bf.log_p_visible(learning.train).mean(), abs=1e-10)
            assert epoch.held_out[m] == pytest.approx(bf.log_p_visible(learning.held_out).mean(), abs=1e-10)
    curves = race.curves()
    assert all(len(c["train"]) == 4 and len(c["held_out"]) == 4 for c in curves.values())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), nv=st.integers(1, 5), nh=st.integers(1, 4),
       norm=st.floats(0.0, 8.0))
def test_exact_scores_property(seed, nv, nh, norm):
    rbm = RBM.random(nv, nh, seed=seed)
    rbm = rbm.with_weight_norm(norm) if norm > 0 and rbm.weight_norm > 0 else rbm
    rows = (np.random.default_rng(seed).random((7, nv)) < 0.5).astype(float)
    (score,) = exact_scores(rbm, rows)
    assert score <= 0.0
    assert score == pytest.approx(BruteForce(rbm, 1.0).log_p_visible(rows).mean(), abs=1e-9)


def test_race_without_held_out_and_stopping():
    race = Race(learning_dataset("bars-stripes-3"), 4, "exact,cd1", seed=0)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 9     # asked before the run's epochs and before each lane's one batch

    epochs = list(race.run(100, stop=stop))
    assert len(epochs) == 3 and race.epoch == 3
    assert race.curves()["exact"]["held_out"] is None
    d = race.to_dict()
    assert d["epochs"] == 3 and len(d["methods"]["cd1"]["train_log_likelihood"]) == 3


@pytest.mark.parametrize("after", [1, 2, 5, 16])
def test_stop_within_an_epoch_undoes_it(after):
    """Stop is asked before every batch; the interrupted epoch is undone, lane by lane, so the
    race equals one that ran only its whole epochs (and goes on identically)."""
    data = learning_dataset("bars-stripes-3")
    kw = dict(learning_rate=0.3, momentum=0.8, batch_size=4, seed=3)
    methods = ["exact", "cd2", "pcd", "tap3"]
    race = Race(data, 5, methods, **kw)
    asked, lanes_done = [], []

    def stop():
        asked.append(1)
        return len(asked) > 2 * (1 + 4 * 4) + after    # 2 whole epochs (the run's ask, 4 lanes x 4 batches)

    done = list(race.run(10, stop=stop, on_lane=lambda: lanes_done.append(race.epoch)))
    whole = len(done)
    assert whole == 2 and race.epoch == 2
    assert lanes_done[:8] == [1] * 4 + [2] * 4
    ref = Race(data, 5, methods, **kw)
    list(ref.run(2))
    for m in methods:
        a, b = race.lanes[m], ref.lanes[m]
        assert np.array_equal(a.w, b.w) and np.array_equal(a.a, b.a) and np.array_equal(a.b, b.b)
        assert all(np.array_equal(x, y) for x, y in zip(a.velocity, b.velocity))
        assert a.train_ll == b.train_ll
    # and it goes on exactly as an uninterrupted race
    list(race.run(2))
    list(ref.run(2))
    assert race.curves() == ref.curves()


def test_a_diverging_lane_stops_and_the_others_go_on():
    race = Race(learning_dataset("bars-stripes-3"), 4, ["exact", "cd1"], learning_rate=1e9, momentum=0.0, seed=0)
    race.step()
    race.step()
    assert "diverged" in race.diverged.get("exact", "") or "diverged" in race.diverged.get("cd1", "")
    for c in race.curves().values():
        assert all(np.isfinite(c["train"]))
    assert not race.running or set(race.diverged) != set(race.methods)


def test_race_refuses_bad_input():
    data = learning_dataset("bars-stripes-3")
    with pytest.raises(InputError, match="once"):
        Race(data, 4, ["cd1", "cd1"])
    with pytest.raises(InputError, match="at least one"):
        Race(data, 4, [])
    with pytest.raises(InputError, match="unknown method"):
        Race(data, 4, ["sgd"])
    with pytest.raises(EnumerationLimitError, match=f"at most {MAX_HIDDEN}"):
        Race(data, MAX_HIDDEN + 1, ["exact"])
    with pytest.raises(InputError, match="learning rate"):
        Race(data, 4, ["exact"], learning_rate=0)
    with pytest.raises(InputError, match="positive integer"):
        Race(data, 4, ["exact"], batch_size=0)
    with pytest.raises(InputError, match="only 0 and 1"):
        Race(np.full((3, 4), 0.5), 2, ["exact"])


# ------------------------------------------------------------------------ inspection
def test_decomposition_and_pattern_probabilities_by_enumeration():
    data = _small_data(seed=5, rows=20, cols=5)
    race = Race(data, 3, ["exact"], learning_rate=0.5, seed=0)
    for _ in race.run(20):
        pass
    rbm = race.model("exact")
    ins = inspect_model(rbm, data, n_data=3, n_other=3, n_top=6, n_samples=5, sample_steps=10)
    bf = BruteForce(rbm, 1.0)
    # F = -ln Z, and ln p(v) = -F_c(v) + F for data rows and non-data patterns alike
    assert ins.free_energy == pytest.approx(bf.free_energy, abs=1e-10)
    assert np.allclose(ins.log_p, ins.free_energy - ins.clamped, atol=1e-12)
    assert np.allclose(ins.log_p, bf.log_p_visible(ins.patterns), atol=1e-10)
    codes = set(map(tuple, data))
    assert list(ins.is_data) == [tuple(p) in codes for p in ins.patterns]
    assert ins.is_data[:3].all() and not ins.is_data[3:].any()
    # the most probable patterns, by brute force over every visible pattern
    from explorer.rbm.exact import all_states
    every = all_states(5)
    p_all = np.exp(bf.log_p_visible(every))
    assert p_all.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(np.sort(ins.top_probability[:6])[::-1], np.sort(p_all)[::-1][:6], atol=1e-12)
    for pat, p, f in zip(ins.top_patterns, ins.top_probability, ins.top_frequency):
        assert p == pytest.approx(p_all[int(pat @ (1 << np.arange(5)))], abs=1e-12)
        assert f == pytest.approx(np.mean(np.all(data == pat, axis=1)))
    distinct = np.unique(data, axis=0)
    assert ins.data_mass == pytest.approx(np.exp(bf.log_p_visible(distinct)).sum(), abs=1e-12)
    assert ins.samples.shape == (5, 5) and set(np.unique(ins.samples)) <= {0.0, 1.0}
    assert np.array_equal(ins.hidden_weights, rbm.weights.T)


def test_inspection_refuses_too_many_visible_units():
    rbm = RBM.random(17, 2, seed=0)
    with pytest.raises(EnumerationLimitError):
        inspect_model(rbm, np.zeros((2, 17)))
