"""The rbm-race CLI: per-method per-epoch exact curves, the same numbers as the Python API."""

import json

import numpy as np
import pytest

from explorer.cli import main
from explorer.rbm.learning import Race, learning_dataset
from harness.brute_force import BruteForce


def _run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_json_curves_equal_the_api(capsys):
    out = _run_json(capsys, ["rbm-race", "--data", "bars-stripes-3", "--hidden", "4", "--methods",
                             "exact,cd1,pcd,tap3", "--epochs", "5", "--json"])
    assert set(out["methods"]) == {"exact", "cd1", "pcd", "tap3"} and out["epochs"] == 5
    assert out["optimum"] == pytest.approx(-np.log(14))
    race = Race(learning_dataset("bars-stripes-3"), 4, "exact,cd1,pcd,tap3", learning_rate=0.2, momentum=0.9)
    for _ in race.run(5):
        pass
    for m, c in race.curves().items():
        assert out["methods"][m]["train_log_likelihood"] == pytest.approx(c["train"], abs=1e-12)
        assert out["methods"][m]["held_out_log_likelihood"] is None
    assert out["methods"]["tap3"]["tap_cold_restarts"] >= 0 and out["methods"]["exact"]["tap_cold_restarts"] is None


def test_details_and_held_out_with_an_npy(tmp_path, capsys):
    rows = (np.random.default_rng(1).random((12, 4)) < 0.5).astype(np.int64)
    path = tmp_path / "rows.npy"
    np.save(path, rows)
    out = _run_json(capsys, ["rbm-race", "--data", str(path), "--hidden", "2", "--methods", "exact,tap2",
                             "--epochs", "3", "--details", "--json"])
    assert out["n_train"] == 10 and out["n_held_out"] == 2
    assert len(out["methods"]["exact"]["held_out_log_likelihood"]) == 3
    model = out["models"]["exact"]
    f = model["free_energy"]
    for row in model["decomposition"]:
        assert row["log_p"] == pytest.approx(f - row["clamped_free_energy"], abs=1e-12)
    assert np.array(model["hidden_weights"]).shape == (2, 4)
    assert sum(p["model_probability"] for p in model["top_patterns"]) <= 1 + 1e-12
    assert len(model["samples"]) == 12 and model["image_shape"] == [2, 2]


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["rbm-race", "--data", "nope"]) == 2
    assert "error: --data must be one of" in capsys.readouterr().err
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((3, 3), 0.5))
    assert main(["rbm-race", "--data", str(bad)]) == 2
    assert "only 0 and 1" in capsys.readouterr().err
    assert main(["rbm-race", "--data", str(tmp_path / "missing.npy")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["rbm-race", "--methods", "exact,exact"]) == 2
    assert "once" in capsys.readouterr().err


def test_brute_force_agrees_with_the_printed_curve(capsys):
    out = _run_json(capsys, ["rbm-race", "--hidden", "3", "--methods", "cd1", "--epochs", "2", "--json"])
    race = Race(learning_dataset("bars-stripes-3"), 3, ["cd1"], learning_rate=0.2, momentum=0.9)
    for _ in race.run(2):
        pass
    bf = BruteForce(race.model("cd1"), 1.0).log_p_visible(learning_dataset("bars-stripes-3").train).mean()
    assert out["methods"]["cd1"]["train_log_likelihood"][-1] == pytest.approx(bf, abs=1e-10)
