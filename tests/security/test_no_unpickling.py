"""Untrusted files never run code: the CLI refuses pickles in every file it reads.

Each payload is a pickle whose ``__reduce__`` calls ``open(marker, "w")``: loading it with
pickle enabled creates the marker (checked once per payload, so the test can fail), loading
it through the explorer must refuse it with a one-line error and leave no marker.
(``RBM.load`` itself is covered by tests/rbm/test_model.py::test_load_never_unpickles.)
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from explorer.cli import EXIT_BAD_INPUT, main


class _OpensMarker:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_object_array(marker):
    arr = np.empty(2, dtype=object)
    arr[0] = _OpensMarker(marker)
    arr[1] = 1.0
    return arr


def _assert_payload_is_live(marker, load):
    """The payload does run code when unpickled: the refusal below is what protects us."""
    assert not marker.exists()
    load()
    assert marker.exists()
    marker.unlink()


def _run_cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind", ["npz-object-array", "raw-pickle-named-npz"])
def test_rbm_report_weights_never_unpickle(tmp_path, capsys, kind):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.npz"
    if kind == "npz-object-array":
        np.savez(path, weights=_evil_object_array(marker), visible_bias=np.zeros(2), hidden_bias=np.zeros(1))
        _assert_payload_is_live(marker, lambda: np.load(path, allow_pickle=True)["weights"])
    else:
        path.write_bytes(pickle.dumps(_OpensMarker(marker)))
        _assert_payload_is_live(marker, lambda: pickle.loads(path.read_bytes()))
    code, out, err = _run_cli(["rbm-report", "--weights", str(path)], capsys)
    assert code == EXIT_BAD_INPUT
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["npy-object-array", "raw-pickle-named-npy"])
def test_rbm_report_data_never_unpickles(tmp_path, capsys, kind):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.npy"
    if kind == "npy-object-array":
        np.save(path, _evil_object_array(marker).reshape(1, 2), allow_pickle=True)
        _assert_payload_is_live(marker, lambda: np.load(path, allow_pickle=True))
    else:
        path.write_bytes(pickle.dumps(_OpensMarker(marker)))
        _assert_payload_is_live(marker, lambda: np.load(path, allow_pickle=True))
    code, out, err = _run_cli(["rbm-report", "--random", "2x2", "--data", str(path)], capsys)
    assert code == EXIT_BAD_INPUT
    assert "pickle" in err and err.count("\n") == 1
    assert not marker.exists()


def test_vae_report_checkpoint_never_unpickles(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save({"format": "anything", "payload": _OpensMarker(marker)}, path)
    _assert_payload_is_live(marker, lambda: torch.load(path, weights_only=False))
    code, out, err = _run_cli(["vae-report", "--checkpoint", str(path), "--index", "0"], capsys)
    assert code == EXIT_BAD_INPUT
    assert "refused" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not marker.exists()


@pytest.mark.parametrize("command", [["vae-report", "--index", "0"], ["vae-train", "--epochs", "1"]])
def test_vae_data_npz_never_unpickles(tmp_path, capsys, command):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.npz"
    np.savez(path, images=_evil_object_array(marker))
    _assert_payload_is_live(marker, lambda: np.load(path, allow_pickle=True)["images"])
    argv = command + ["--data", str(path)]
    if command[0] == "vae-train":
        argv += ["--out", str(tmp_path / "never-written.pt")]
    code, out, err = _run_cli(argv, capsys)
    assert code == EXIT_BAD_INPUT, err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not marker.exists()
    assert not (tmp_path / "never-written.pt").exists()
