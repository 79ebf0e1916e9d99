"""The vae-train and vae-report commands: JSON keys, readable output, exit status 2 on bad input."""

import json
import os
import pickle
import subprocess
import sys

import pytest

from explorer.cli import main

PY = sys.executable
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args):
    return subprocess.run([PY, "-m", "explorer", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def report_json():
    p = run_cli("vae-report", "--index", "3", "--lam", "0.5", "--order", "5", "--temperature", "2", "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_report_keys_and_consistency(report_json):
    r = report_json
    for key in ("x", "exact_free_energy", "neg_elbo", "expected_energy", "entropy", "kl_prior", "kl_posterior",
                "iwae", "cumulants", "temperature", "quadrature_error"):
        assert key in r, key
    assert len(r["x"]) == 64 and set(r["x"]) <= {0, 1}
    assert set(r["iwae"]) >= {"k", "bound"} and r["iwae"]["k"] == [1, 10, 100, 1000, 5000]
    assert set(r["cumulants"]) >= {"kappa", "kappa_mc", "kappa_mc_stderr", "series", "exact"}
    assert len(r["cumulants"]["kappa"]) == len(r["cumulants"]["series"]) == 5
    assert set(r["temperature"]) >= {"T", "exact", "bound"} and r["temperature"]["T"] == 2.0
    assert r["neg_elbo"] >= r["exact_free_energy"]
    assert r["neg_elbo"] == pytest.approx(r["expected_energy"] - r["entropy"], abs=1e-6)
    assert r["kl_posterior"] == pytest.approx(r["neg_elbo"] - r["exact_free_energy"], abs=1e-9)
    assert r["quadrature_error"] < 1e-4
    assert r["temperature"]["bound"] >= r["temperature"]["exact"]
    assert r["cumulants"]["series"][0] == pytest.approx(0.5 * r["neg_elbo"])
    assert r["index"] == 3 and r["checkpoint"].endswith("vae_digits_2d.pt")


def test_report_json_in_process_matches_subprocess(capsys, report_json):
    assert main(["vae-report", "--index", "3", "--lam", "0.5", "--order", "5", "--temperature", "2",
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["exact_free_energy"] == report_json["exact_free_energy"]
    assert r["iwae"]["bound"] == report_json["iwae"]["bound"]   # seeded: same numbers


def test_report_table(capsys):
    assert main(["vae-report", "--index", "0"]) == 0
    out = capsys.readouterr().out
    assert "-ln p(x) exact (quadrature)" in out and "IWAE" in out and "kappa" in out
    assert "{" not in out


@pytest.mark.parametrize("args, match", [
    (["--index", "100000"], "index must be <="),
    (["--index", "-1"], "index must be >="),
    (["--index", "0", "--temperature", "0"], "temperature must be > 0"),
    (["--index", "0", "--temperature", "-2"], "temperature must be > 0"),
    (["--index", "0", "--temperature", "nan"], "finite"),
    (["--index", "0", "--lam", "2"], "lam must be <= 1.5"),
    (["--index", "0", "--lam", "nan"], "finite"),
    (["--index", "0", "--order", "0"], "order"),
    (["--index", "0", "--checkpoint", "/no/such/file.pt"], "checkpoint not found"),
    (["--index", "0", "--device", "tpu"], "device"),
])
def test_report_bad_input_in_process(capsys, args, match):
    assert main(["vae-report", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def scaled_report_json():
    p = run_cli("vae-report", "--index", "16", "--lam", "1", "--weight-scale", "2", "--json")
    assert p.returncode == 0, p.stderr
    assert "NaN" not in p.stdout and "Infinity" not in p.stdout      # strict JSON: null, never NaN
    return json.loads(p.stdout)


def test_report_weight_keys(report_json):
    r = report_json
    assert r["weight_scale"] == 1.0
    w = r["weights"]
    assert set(w) >= {"lam_critical", "pareto_k_exact", "pareto_k_hat", "ess"}
    assert w["pareto_k_exact"] == pytest.approx(1 / w["lam_critical"])
    assert w["lam_critical"] == r["lam"]["lam_critical"] and 1 <= w["ess"] <= r["mc"]["n_samples"]
    # λ = 0.5 < λ*/2 for digit 3: a finite variance and a standard error
    assert r["lam"]["mc_variance_finite"] is True and r["lam"]["mc_stderr"] > 0
    # λ* < 2: the weights' variance is infinite, yet IWAE's group values have a finite variance: an error
    # bar at every K (pool // K groups, at least 10 here)
    assert r["weights"]["variance_finite"] is False and r["iwae"]["variance_finite"] is True
    assert all(s > 0 for s in r["iwae"]["stderr"]) and r["iwae"]["groups"] == [50000 // k for k in r["iwae"]["k"]]


def test_report_weight_scale(scaled_report_json, shipped_session):
    r = scaled_report_json
    assert r["weight_scale"] == 2.0 and r["index"] == 16
    pa = shipped_session.scaled(2.0).point(16)
    # every number is for the scaled decoder
    assert r["exact_free_energy"] == pytest.approx(pa.exact.free_energy, abs=1e-9)
    assert r["neg_elbo"] == pytest.approx(pa.exact.neg_elbo, abs=1e-9)
    assert r["temperature"]["exact"] == pytest.approx(pa.exact.free_energy, abs=1e-9)
    assert r["exact_free_energy"] > shipped_session.point(16).exact.free_energy + 1
    # λ = 1 >= λ*/2: no standard error, but the estimate is kept
    assert r["lam"]["mc_variance_finite"] is False and r["lam"]["mc_stderr"] is None
    assert r["lam"]["mc"] == pytest.approx(r["weights"]["raw_free_energy"], rel=1e-12)
    # q is the encoder's, unchanged by the decoder's scale
    assert r["q"]["mu"] == pytest.approx(list(shipped_session.point(16).mu), abs=1e-6)
    assert r["weights"]["reliable"] is False and r["weights"]["pareto_k_hat"] > 0.7


def test_report_table_weights_line(capsys):
    assert main(["vae-report", "--index", "16", "--weight-scale", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "decoder weight scale c = 0.5" in out
    assert "importance weights" in out and "PSIS k-hat" in out and "UNRELIABLE" in out
    assert "variance infinite" in out and "nan" not in out


@pytest.mark.parametrize("value, match", [("0", "--weight-scale must be > 0"), ("-2", "--weight-scale must be > 0"),
                                          ("nan", "finite"), ("inf", "finite"), ("big", "must be a number")])
def test_report_bad_weight_scale(capsys, value, match):
    assert main(["vae-report", "--index", "0", "--weight-scale", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and err.count("\n") == 1


def test_report_bad_weight_scale_subprocess_has_no_traceback():
    p = run_cli("vae-report", "--index", "0", "--weight-scale", "-1", "--json")
    assert p.returncode == 2 and p.stdout == ""
    assert "Traceback" not in p.stderr and p.stderr == "error: --weight-scale must be > 0, got -1.0\n"


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import pathlib
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def test_malicious_checkpoint_via_cli_is_refused_without_traceback(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as fh:
        pickle.dump({"format": "free-energy-explorer/vae", "x": _Evil(str(marker))}, fh, protocol=2)
    p = run_cli("vae-report", "--checkpoint", str(evil), "--index", "0", "--json")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and p.stderr.startswith("error: refused to load")
    assert p.stdout == "" and not marker.exists()


def test_train_then_report(tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["vae-train", "--epochs", "3", "--hidden", "16", "--seed", "1", "--device", "cpu",
                 "--out", str(out), "--json", "--no-progress"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert os.path.isfile(out) and meta["checkpoint"] == str(out)
    assert meta["training"]["epochs_run"] == 3 and meta["architecture"]["n_hidden"] == 16
    for key in ("final_train_elbo", "final_test_elbo", "torch_version", "data"):
        assert key in meta
    assert main(["vae-report", "--checkpoint", str(out), "--index", "1", "--json", "--samples", "500"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["neg_elbo"] >= r["exact_free_energy"]


def test_train_readable_and_bad_input(tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["vae-train", "--epochs", "1", "--hidden", "8", "--out", str(out), "--no-progress"]) == 0
    assert "test ELBO" in capsys.readouterr().out
    assert main(["vae-train", "--epochs", "0", "--out", str(out)]) == 2
    assert main(["vae-train", "--out", str(tmp_path / "missing" / "m.pt")]) == 2
    assert main(["vae-train", "--data", str(tmp_path / "none.npz"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "epochs must be >= 1" in err and "does not exist" in err and "data file not found" in err


def test_train_on_cuda_without_gpu_is_a_clean_error(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    p = run_cli("vae-train", "--device", "cuda", "--epochs", "1", "--out", str(tmp_path / "m.pt"))
    assert p.returncode == 2 and "Traceback" not in p.stderr and "CUDA is not available" in p.stderr


def test_train_on_user_npz_and_report(tmp_path, capsys):
    import numpy as np
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "tiny.npz", images=rng.random((50, 3, 3)))
    out = tmp_path / "t.pt"
    assert main(["vae-train", "--data", str(tmp_path / "tiny.npz"), "--epochs", "2", "--hidden", "8",
                 "--out", str(out), "--no-progress", "--json"]) == 0
    capsys.readouterr()
    assert main(["vae-report", "--checkpoint", str(out), "--index", "0", "--json", "--samples", "200"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert len(r["x"]) == 9 and r["label"] is None


def test_import_explorer_does_not_import_torch():
    code = ("import sys, explorer, explorer.cli; explorer.cli.build_parser(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    p = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
