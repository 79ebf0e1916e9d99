"""The RBM type: validation, .npz round trip, rescaling."""

import numpy as np
import pytest

from explorer.errors import InputError
from explorer.rbm import RBM


def test_random_is_seeded_and_shaped():
    a, b = RBM.random(4, 7, seed=3), RBM.random(4, 7, seed=3)
    assert a.weights.shape == (4, 7) and a.visible_bias.shape == (4,) and a.hidden_bias.shape == (7,)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, RBM.random(4, 7, seed=4).weights)


def test_random_refuses_bad_seeds():
    for seed in (-1, 1.5):
        with pytest.raises(InputError, match="seed"):
            RBM.random(3, 3, seed=seed)


def test_parameters_are_read_only_copies():
    w = np.ones((2, 3))
    rbm = RBM(w, np.zeros(2), np.zeros(3))
    w[0, 0] = 5.0
    assert rbm.weights[0, 0] == 1.0
    with pytest.raises(ValueError):
        rbm.weights[0, 0] = 2.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(weights=np.ones((2, 3)), visible_bias=np.zeros(3), hidden_bias=np.zeros(3)), "visible_bias must have shape"),
    (dict(weights=np.ones((2, 3)), visible_bias=np.zeros(2), hidden_bias=np.zeros(2)), "hidden_bias must have shape"),
    (dict(weights=np.ones(3), visible_bias=np.zeros(2), hidden_bias=np.zeros(2)), "weights must be 2-D"),
    (dict(weights=[[np.nan, 1.0]], visible_bias=[0.0], hidden_bias=[0.0, 0.0]), "weights contains NaN"),
    (dict(weights=[[1.0, 1.0]], visible_bias=[np.inf], hidden_bias=[0.0, 0.0]), "visible_bias contains NaN or inf"),
    (dict(weights=np.ones((0, 3)), visible_bias=np.zeros(0), hidden_bias=np.zeros(3)), "at least one"),
])
def test_invalid_parameters_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        RBM(**kwargs)


def test_npz_round_trip(tmp_path):
    rbm = RBM.random(5, 3, seed=1)
    path = tmp_path / "m.npz"
    rbm.save(path)
    back = RBM.load(path)
    np.testing.assert_array_equal(back.weights, rbm.weights)
    np.testing.assert_array_equal(back.visible_bias, rbm.visible_bias)
    np.testing.assert_array_equal(back.hidden_bias, rbm.hidden_bias)


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        RBM.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "partial.npz", weights=np.ones((2, 2)), visible_bias=np.zeros(2))
    with pytest.raises(InputError, match="lacks key.*hidden_bias"):
        RBM.load(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(InputError, match="not a readable .npz"):
        RBM.load(tmp_path / "junk.npz")


def test_load_never_unpickles(tmp_path):
    """An object array needs pickle; loading must refuse it, not execute it."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    obj = np.empty(1, dtype=object)
    obj[0] = Evil()
    np.savez(tmp_path / "evil.npz", weights=obj, visible_bias=np.zeros(1), hidden_bias=np.zeros(1))
    with pytest.raises(InputError, match="refused"):
        RBM.load(tmp_path / "evil.npz")
    assert not marker.exists()


def test_with_weight_norm_rescales_only_couplings():
    rbm = RBM.random(4, 5, seed=2)
    r3 = rbm.with_weight_norm(3.0)
    assert r3.weight_norm == pytest.approx(3.0)
    np.testing.assert_array_equal(r3.visible_bias, rbm.visible_bias)
    np.testing.assert_allclose(r3.weights / np.linalg.norm(r3.weights), rbm.weights / rbm.weight_norm)
    with pytest.raises(InputError):
        rbm.with_weight_norm(-1)
    zero = RBM(np.zeros((2, 2)), np.zeros(2), np.zeros(2))
    with pytest.raises(InputError, match="all zero"):
        zero.with_weight_norm(1.0)


def test_scaled_multiplies_every_parameter():
    rbm = RBM.random(3, 2, seed=0)
    s = rbm.scaled(0.5)
    np.testing.assert_allclose(s.weights, 0.5 * rbm.weights)
    np.testing.assert_allclose(s.visible_bias, 0.5 * rbm.visible_bias)
    np.testing.assert_allclose(s.hidden_bias, 0.5 * rbm.hidden_bias)


def test_to_sklearn_accepts_random_state_forms():
    rbm = RBM.random(4, 3, seed=0)
    for rs in (None, 3, np.random.RandomState(3)):
        model = rbm.to_sklearn(random_state=rs)
        assert model.gibbs(np.zeros((2, 4))).shape == (2, 4)
    assert rbm.to_sklearn(n_components=3).n_components == 3
    with pytest.raises(InputError, match="n_components"):
        rbm.to_sklearn(n_components=5)


def test_load_refuses_a_zip_bomb(tmp_path, monkeypatch):
    import explorer.rbm.model as model

    monkeypatch.setattr(model, "MAX_NPZ_BYTES", 10_000)
    np.savez_compressed(tmp_path / "big.npz", weights=np.zeros((100, 100)), visible_bias=np.zeros(100),
                        hidden_bias=np.zeros(100))
    assert (tmp_path / "big.npz").stat().st_size < 10_000      # small on disk...
    with pytest.raises(InputError, match="expands to"):          # ...large once expanded
        RBM.load(tmp_path / "big.npz")
