"""Training, data loading and device selection."""

import numpy as np
import pytest
import torch

from explorer.errors import InputError
from explorer.vae import VAE, evaluate_elbo, load_digits_binary, load_npz_binary, select_device, train_vae
from explorer.vae import device as device_mod


@pytest.fixture(scope="module")
def digits():
    return load_digits_binary()


def test_digits_are_binary_and_split_is_fixed(digits):
    again = load_digits_binary()
    np.testing.assert_array_equal(digits.test, again.test)
    assert set(np.unique(digits.train)) <= {0.0, 1.0}
    assert digits.n_pixels == 64 and digits.image_shape == (8, 8)
    n = len(digits.train) + len(digits.val) + len(digits.test)
    assert n == 1797 and digits.source["n_test"] == len(digits.test) == 359
    other = load_digits_binary(split_seed=1)
    assert not np.array_equal(other.test, digits.test)
    # binarisation threshold: pixel >= 8 of 0..16
    from sklearn.datasets import load_digits
    raw = load_digits().data
    assert (raw >= 8).sum() == digits.train.sum() + digits.val.sum() + digits.test.sum()


def test_training_a_few_epochs_improves_the_elbo(digits):
    torch.manual_seed(0)
    untrained = VAE(64, 128, 2)
    before = evaluate_elbo(untrained, digits.test, n_samples=16)
    res = train_vae(digits, epochs=5, patience=0, seed=0, device="cpu", progress=False)
    after = res.metadata["final_test_elbo"]
    assert after > before + 10          # untrained is ~ -45 nats, five epochs reach ~ -27
    h = res.history
    assert h["val_elbo"][-1] > h["val_elbo"][0]
    assert res.metadata["training"]["epochs_run"] == 5
    assert res.metadata["training"]["device"] == "cpu"


def test_training_is_seeded(digits):
    a = train_vae(digits, epochs=2, patience=0, seed=7, device="cpu", progress=False, n_hidden=16)
    b = train_vae(digits, epochs=2, patience=0, seed=7, device="cpu", progress=False, n_hidden=16)
    c = train_vae(digits, epochs=2, patience=0, seed=8, device="cpu", progress=False, n_hidden=16)
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k])
    assert not torch.equal(a.model.decoder[0].weight, c.model.decoder[0].weight)


def test_early_stopping_and_warmup(digits):
    # lr 0.05 overfits/oscillates quickly; patience 3 must stop long before 300 epochs
    res = train_vae(digits, epochs=300, patience=3, lr=0.05, seed=0, device="cpu", progress=False,
                    n_hidden=16)
    tr = res.metadata["training"]
    assert tr["epochs_run"] < 300 and tr["best_epoch"] <= tr["epochs_run"] - 3
    best = max(res.history["val_elbo"])
    assert res.history["val_elbo"][tr["best_epoch"] - 1] == best
    w = train_vae(digits, epochs=4, kl_warmup=3, beta=0.5, patience=0, seed=0, device="cpu",
                  progress=False, n_hidden=16)
    assert w.metadata["training"]["kl_warmup"] == 3 and w.metadata["training"]["beta"] == 0.5
    assert w.metadata["training"]["best_epoch"] >= 3   # warm-up epochs do not count as best


def test_bad_training_inputs(digits):
    for kwargs, match in [({"epochs": 0}, "epochs"), ({"lr": float("nan")}, "lr"), ({"beta": -1}, "beta"),
                          ({"device": "cuda"}, "CUDA is not available"), ({"device": "tpu"}, "device")]:
        if kwargs.get("device") == "cuda" and torch.cuda.is_available():
            continue
        with pytest.raises(InputError, match=match):
            train_vae(digits, progress=False, **kwargs)


def test_user_npz(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.random((40, 4, 4))                      # grey values in [0, 1]
    labels = rng.integers(0, 3, 40)
    np.savez(tmp_path / "tiny.npz", images=grey, labels=labels)
    ds = load_npz_binary(tmp_path / "tiny.npz")
    assert ds.n_pixels == 16 and ds.image_shape == (4, 4)
    np.testing.assert_array_equal(np.sort(np.concatenate([ds.train, ds.val, ds.test]).sum(1)),
                                  np.sort((grey.reshape(40, -1) >= 0.5).sum(1)))
    res = train_vae(ds, epochs=3, patience=0, device="cpu", progress=False, n_hidden=8)
    assert res.model.n_input == 16 and res.metadata["data"]["kind"] == "npz"
    # binary {0, 1} images without labels work too
    np.savez(tmp_path / "bits.npz", x=(grey > 0.5).astype(np.uint8).reshape(40, 16))
    assert load_npz_binary(tmp_path / "bits.npz").test_labels is None


@pytest.mark.parametrize("content, match", [
    ({"images": np.full((10, 4), 2.0)}, r"\[0, 1\]"),
    ({"images": np.full((10, 4), np.nan)}, "NaN"),
    ({"other": np.zeros((10, 4))}, "no image array"),
    ({"images": np.zeros(10)}, "shape"),
])
def test_bad_npz(tmp_path, content, match):
    np.savez(tmp_path / "bad.npz", **content)
    with pytest.raises(InputError, match=match):
        load_npz_binary(tmp_path / "bad.npz")


def test_bad_npz_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_npz_binary(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable"):
        load_npz_binary(tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", images=np.array([{"a": 1}] * 5, dtype=object))
    with pytest.raises(InputError):
        load_npz_binary(tmp_path / "obj.npz")


def test_device_selection(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device_mod, "_mps_available", lambda: True)
    assert select_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto").type == "mps"
    assert select_device(None).type == "mps"
    monkeypatch.setattr(device_mod, "_mps_available", lambda: False)
    assert select_device("auto").type == "cpu"
    assert select_device("CPU").type == "cpu"
    with pytest.raises(InputError, match="CUDA is not available"):
        select_device("cuda")
    with pytest.raises(InputError, match="MPS is not available"):
        select_device("mps")
    with pytest.raises(InputError, match="unknown device|unsupported device"):
        select_device("tpu")


def test_mps_probe_uses_torch_backends(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device_mod._mps_available()
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert not device_mod._mps_available()


def test_model_tensors_follow_the_model(digits):
    m = VAE(64, 8, 2).double()
    t = m.as_tensor(digits.test[:3])
    assert t.dtype == torch.float64 and t.device == m.device


def test_callback_sees_every_epoch(digits):
    seen = []
    train_vae(digits, epochs=3, patience=0, device="cpu", progress=False, n_hidden=8,
              callback=lambda e, m, tr, va: seen.append((e, m.training, tr, va)))
    assert [s[0] for s in seen] == [1, 2, 3] and not any(s[1] for s in seen)
