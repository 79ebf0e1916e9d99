"""The rbm-meanfield CLI: the path, the exact F and the basins as JSON, checked against the physics layer."""

import json
import subprocess
import sys

import numpy as np
import pytest

from explorer.cli import main
from explorer.rbm import RBM, free_energy
from explorer.rbm.meanfield import mean_field
from explorer.rbm.playground import basins, mean_field_path, start_magnetisations


def _run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_json_contract_and_values(capsys):
    rep = _run_json(capsys, ["rbm-meanfield", "--random", "6x5", "--seed", "1", "--temperature", "0.4",
                             "--weight-norm", "5", "--start", "random", "--start-seed", "3", "--damping", "0.3",
                             "--starts", "40", "--json"])
    rbm = RBM.random(6, 5, seed=1).with_weight_norm(5)
    assert rep["exact_free_energy"] == pytest.approx(free_energy(rbm, 0.4), abs=1e-12)
    mv, mh = start_magnetisations(rbm, 0.4, "random", seed=3)
    path = mean_field_path(rbm, 0.4, mv, mh, damping=0.3)
    its = rep["path"]["iterations"]
    assert len(its) == path.n_iterations + 1 == rep["path"]["n_iterations"] + 1
    assert set(its[0]) == {"iteration", "F_q", "tap2", "tap3"}
    np.testing.assert_allclose([r["F_q"] for r in its], path.free_energy, atol=1e-12)
    np.testing.assert_allclose([r["tap3"] for r in its], path.tap3, atol=1e-12)
    np.testing.assert_allclose(rep["path"]["visible"], path.visible[-1], atol=1e-12)
    np.testing.assert_allclose(rep["path"]["start_hidden"], mh, atol=1e-15)
    assert all(r["F_q"] >= rep["exact_free_energy"] for r in its)
    minima = basins(rbm, 0.4, 40)
    assert [m["count"] for m in rep["minima"]] == [m.count for m in minima]
    assert set(rep["minima"][0]) == {"free_energy", "count", "visible", "hidden"}
    assert rep["minima"][0]["free_energy"] == pytest.approx(mean_field(rbm, 0.4).free_energy, abs=1e-9)


def test_the_measured_case_lists_its_three_minima(capsys):
    rep = _run_json(capsys, ["rbm-meanfield", "--random", "5x4", "--temperature", "0.2", "--start", "mean-field",
                             "--starts", "100", "--json"])
    assert rep["path"]["n_iterations"] <= 1     # the mean-field minimum is already stationary
    rbm = RBM.random(5, 4, seed=0)
    assert rep["path"]["iterations"][0]["F_q"] == pytest.approx(mean_field(rbm, 0.2).free_energy, abs=1e-10)


def test_table_output(capsys):
    assert main(["rbm-meanfield", "--random", "4x3", "--temperature", "0.7", "--starts", "5"]) == 0
    out = capsys.readouterr().out
    assert "exact F" in out and "minima from 5 random starts" in out


@pytest.mark.parametrize("argv, message", [
    (["--random", "4x3", "--damping", "1.5"], "damping must lie in"),
    (["--random", "4x3", "--temperature", "-1"], "temperature must be > 0"),
    (["--random", "4x3", "--starts", "0"], "--starts must be >= 1"),
    (["--random", "4by3"], "--random expects NVxNH"),
])
def test_bad_input_is_one_line(argv, message):
    proc = subprocess.run([sys.executable, "-m", "explorer", "rbm-meanfield", *argv], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
