"""The rbm-report CLI: its JSON keys are a contract other tools read."""

import json
import subprocess
import sys

import numpy as np
import pytest

from explorer.cli import main
from explorer.rbm import RBM, thermodynamics
from explorer.rbm.cumulants import cumulant_expansion
from explorer.rbm.meanfield import mean_field
from explorer.rbm.tap import tap

TOP_KEYS = {"n_visible", "n_hidden", "temperature", "weight_norm", "log_partition", "free_energy",
            "internal_energy", "entropy", "heat_capacity", "mean_field", "tap2", "tap3", "cumulants"}


@pytest.fixture
def model_file(tmp_path):
    rbm = RBM.random(6, 4, seed=2, weight_scale=2)
    path = tmp_path / "model.npz"
    rbm.save(path)
    return rbm, path


def _run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_json_contract_and_values(model_file, capsys):
    rbm, path = model_file
    rep = _run_json(capsys, ["rbm-report", "--weights", str(path), "--temperature", "0.7",
                             "--order", "5", "--lam", "0.5", "--json"])
    assert TOP_KEYS <= rep.keys()
    assert set(rep["mean_field"]) >= {"free_energy", "visible", "hidden"}
    for key in ("tap2", "tap3"):
        assert set(rep[key]) >= {"free_energy", "visible", "hidden", "converged"}
    assert set(rep["cumulants"]) >= {"reference", "lambda", "kappa", "series", "exact"}
    th = thermodynamics(rbm, 0.7)
    assert rep["n_visible"] == 6 and rep["n_hidden"] == 4 and rep["temperature"] == 0.7
    assert rep["free_energy"] == pytest.approx(th.free_energy, rel=1e-14)
    assert rep["log_partition"] == pytest.approx(th.log_partition, rel=1e-14)
    assert rep["heat_capacity"] == pytest.approx(th.heat_capacity, rel=1e-12)
    assert rep["mean_field"]["free_energy"] == pytest.approx(mean_field(rbm, 0.7).free_energy)
    assert rep["tap3"]["free_energy"] == pytest.approx(tap(rbm, 0.7, order=3).free_energy)
    ce = cumulant_expansion(rbm, 0.7, order=5)
    assert rep["cumulants"]["lambda"] == 0.5 and rep["cumulants"]["reference"] == "mean-field"
    np.testing.assert_allclose(rep["cumulants"]["kappa"], ce.kappa, rtol=1e-12)
    np.testing.assert_allclose(rep["cumulants"]["series"], ce.series(0.5), rtol=1e-12)
    assert len(rep["cumulants"]["series"]) == 5


def test_weight_norm_rescales_before_everything(model_file, capsys):
    rbm, path = model_file
    rep = _run_json(capsys, ["rbm-report", "--weights", str(path), "--weight-norm", "3", "--json",
                             "--reference", "independent"])
    assert rep["weight_norm"] == pytest.approx(3.0)
    assert rep["free_energy"] == pytest.approx(thermodynamics(rbm.with_weight_norm(3.0)).free_energy)
    assert rep["cumulants"]["reference"] == "independent"
    assert rep["cumulants"]["exact"] == pytest.approx(rep["free_energy"], rel=1e-12)


def test_readable_table(model_file, capsys):
    _, path = model_file
    assert main(["rbm-report", "--weights", str(path)]) == 0
    out = capsys.readouterr().out
    assert "F exact" in out and "F mean field (bound)" in out and "kappa_1" in out


@pytest.mark.parametrize("argv, message", [
    (["--weights", "/nonexistent/file.npz"], "no such file"),
    (["--random", "3x3", "--temperature", "0"], "temperature must be > 0"),
    (["--random", "3x3", "--temperature", "nan"], "temperature must be finite"),
    (["--random", "3x3", "--lam", "nan"], "lambda"),
    (["--random", "3x3", "--order", "0"], "order"),
    (["--random", "30x30"], "exceeds the limit of 24"),
    (["--random", "three"], "NVxNH"),
])
def test_bad_input_is_one_line_exit_2(argv, message, capsys):
    assert main(["rbm-report", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_key_file(tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", weights=np.ones((2, 2)))
    assert main(["rbm-report", "--weights", str(tmp_path / "bad.npz")]) == 2
    assert "lacks key" in capsys.readouterr().err


def test_module_entry_point_exits_2_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "explorer", "rbm-report", "--random", "2x2",
                           "--temperature", "-1", "--json"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "explorer", "rbm-report", "--random", "2x2", "--json"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and TOP_KEYS <= json.loads(ok.stdout).keys()


def test_ais_keys_and_values(model_file, tmp_path, capsys):
    rbm, path = model_file
    from explorer.rbm.sampling import exact_samples

    data, _hidden = exact_samples(rbm, 200, seed=1)
    np.save(tmp_path / "data.npy", data)
    rep = _run_json(capsys, ["rbm-report", "--weights", str(path), "--ais-chains", "200",
                             "--ais-steps", "300", "--data", str(tmp_path / "data.npy"), "--json"])
    for key in ("ais", "reverse_ais"):
        assert set(rep[key]) >= {"log_partition", "stderr", "chains", "steps"}
        assert rep[key]["steps"] == 300
        # within 5 standard errors (plus a small floor) of the exact value
        assert abs(rep[key]["log_partition"] - rep["log_partition"]) < 5 * rep[key]["stderr"] + 0.02
    assert rep["ais"]["chains"] == 200


def test_too_large_model_with_ais_still_reports(capsys):
    rep = _run_json(capsys, ["rbm-report", "--random", "26x30", "--ais-chains", "20", "--ais-steps",
                             "50", "--json"])
    assert rep["exact_available"] is False and rep["free_energy"] is None and rep["cumulants"] is None
    assert np.isfinite(rep["ais"]["log_partition"]) and np.isfinite(rep["mean_field"]["free_energy"])


def test_bad_data_file(model_file, tmp_path, capsys):
    _, path = model_file
    np.save(tmp_path / "wide.npy", np.zeros((3, 7)))
    assert main(["rbm-report", "--weights", str(path), "--ais-chains", "5", "--data",
                 str(tmp_path / "wide.npy")]) == 2
    assert "6 columns" in capsys.readouterr().err
    np.save(tmp_path / "ok.npy", np.zeros((3, 6)))
    assert main(["rbm-report", "--weights", str(path), "--data", str(tmp_path / "ok.npy")]) == 2
    assert "--ais-chains" in capsys.readouterr().err


def test_report_says_whether_mean_fields_search_was_exhaustive(capsys):
    from explorer.cli import main
    assert main(["rbm-report", "--random", "4x3", "--seed", "2", "--weight-norm", "6", "--temperature", "0.1",
                 "--json"]) == 0
    import json
    mf = json.loads(capsys.readouterr().out)["mean_field"]
    assert mf["exhaustive"] is True and mf["n_starts"] > 1
