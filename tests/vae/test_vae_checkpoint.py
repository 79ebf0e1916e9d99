"""Checkpoints: round trip, the shipped file, and refusal of malicious, corrupt and foreign files."""

import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from explorer.errors import InputError
from explorer.vae import VAE, load_checkpoint, save_checkpoint, shipped_checkpoint_path


class _Touch:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        import pathlib
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def test_round_trip(tmp_path):
    torch.manual_seed(3)
    m = VAE(16, 8, 2)
    m.metadata = {"note": "hello", "numbers": [1, 2.5], "nested": {"a": None}}
    path = save_checkpoint(m, tmp_path / "m.pt")
    back = load_checkpoint(path)
    x = torch.rand(5, 16).round()
    for a, b in zip(m.encode(x), back.encode(x)):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(m.decode(torch.zeros(3, 2)), back.decode(torch.zeros(3, 2)))
    assert back.metadata["note"] == "hello" and back.metadata["architecture"]["n_latent"] == 2
    assert back.checkpoint_path == os.path.abspath(path)


def test_shipped_checkpoint():
    path = shipped_checkpoint_path()
    assert os.path.getsize(path) < 400_000
    m = load_checkpoint()
    meta = m.metadata
    assert m.n_latent == 2 and m.n_input == 64
    for key in ("architecture", "data", "training", "final_train_elbo", "final_test_elbo", "torch_version"):
        assert key in meta
    assert meta["data"]["kind"] == "digits" and meta["data"]["split_seed"] == 0
    assert meta["training"]["device"] in ("cpu", "cuda", "mps")
    assert -25 < meta["final_test_elbo"] < -15
    mu, logvar = m.encode(torch.zeros(1, 64))
    assert mu.shape == (1, 2) and logvar.shape == (1, 2)
    assert m.decode(mu).shape == (1, 64)


@pytest.mark.parametrize("writer", ["torch_zip", "raw_pickle"])
def test_malicious_pickle_is_not_executed(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"format": "free-energy-explorer/vae", "state_dict": _Touch(marker)}
    if writer == "torch_zip":
        torch.save(payload, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump(payload, fh)
    # sanity: a plain unpickle of the same bytes *would* run it (the test can fail)
    if writer == "raw_pickle":
        with open(path, "rb") as fh:
            pickle.load(fh)
        assert marker.exists()
        marker.unlink()
    with pytest.raises(InputError, match="refused to load .*could run code"):
        load_checkpoint(path)
    assert not marker.exists()


def test_corrupt_foreign_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="not a readable"):
        load_checkpoint(junk)
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(open(shipped_checkpoint_path(), "rb").read()[:3000])
    with pytest.raises(InputError):
        load_checkpoint(trunc)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(3)}, foreign)
    with pytest.raises(InputError, match="not a free-energy-explorer VAE checkpoint"):
        load_checkpoint(foreign)
    m = VAE(16, 8, 2)
    good = save_checkpoint(m, tmp_path / "good.pt")
    obj = torch.load(good, weights_only=True)
    obj["metadata"]["architecture"]["n_hidden"] = 9
    torch.save(obj, tmp_path / "mismatch.pt")
    with pytest.raises(InputError, match="do not match"):
        load_checkpoint(tmp_path / "mismatch.pt")
    obj["format_version"] = 99
    torch.save(obj, tmp_path / "future.pt")
    with pytest.raises(InputError, match="format version"):
        load_checkpoint(tmp_path / "future.pt")
    obj = torch.load(good, weights_only=True)
    obj["state_dict"]["enc_mu.bias"][0] = float("nan")
    torch.save(obj, tmp_path / "nan.pt")
    with pytest.raises(InputError, match="NaN"):
        load_checkpoint(tmp_path / "nan.pt")
    assert zipfile.is_zipfile(good)


def test_metadata_must_be_plain(tmp_path):
    m = VAE(16, 8, 2)
    m.metadata = {"bad": object()}
    with pytest.raises(InputError, match="plain values"):
        save_checkpoint(m, tmp_path / "x.pt")
    m.metadata = {"version": np.float64(1.5), "tv": torch.__version__}
    back = load_checkpoint(save_checkpoint(m, tmp_path / "y.pt"))
    assert type(back.metadata["version"]) is float and type(back.metadata["tv"]) is str
    with pytest.raises(InputError, match="does not exist"):
        save_checkpoint(m, tmp_path / "no" / "dir" / "z.pt")
