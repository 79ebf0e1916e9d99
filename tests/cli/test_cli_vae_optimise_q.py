"""``vae-report --optimise-q``: the q_optimal and gaps keys (a contract), their consistency, bad input."""

import json

import numpy as np
import pytest

from explorer.cli import main
from tests.vae.test_vae_cli import run_cli


@pytest.fixture(scope="module")
def shipped_session():
    from explorer.vae import VAESession

    return VAESession(None, device="cpu")


@pytest.fixture(scope="module")
def report():
    p = run_cli("vae-report", "--index", "16", "--optimise-q", "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_optimise_q_keys_are_the_contract(report):
    assert set(report["q_optimal"]) == {"diagonal", "full"}
    assert set(report["q_optimal"]["diagonal"]) == {"mu", "logvar", "neg_elbo"}
    assert set(report["q_optimal"]["full"]) == {"mu", "cov", "neg_elbo"}
    assert set(report["gaps"]) == {"amortisation", "approximation", "full_covariance"}
    assert len(report["q_optimal"]["diagonal"]["mu"]) == 2 and len(report["q_optimal"]["diagonal"]["logvar"]) == 2
    cov = np.array(report["q_optimal"]["full"]["cov"])
    assert cov.shape == (2, 2) and np.allclose(cov, cov.T) and np.all(np.linalg.eigvalsh(cov) > 0)


def test_optimise_q_numbers_are_consistent(report):
    r, d, full, g = report, report["q_optimal"]["diagonal"], report["q_optimal"]["full"], report["gaps"]
    # the definitions of the issue, in nats (-ELBO of the encoder: grid quadrature vs Gauss–Hermite, 1e-6)
    assert g["amortisation"] == pytest.approx(r["neg_elbo"] - d["neg_elbo"], abs=1e-6)
    assert g["approximation"] == pytest.approx(d["neg_elbo"] - r["exact_free_energy"], abs=1e-12)
    assert g["full_covariance"] == pytest.approx(d["neg_elbo"] - full["neg_elbo"], abs=1e-12)
    assert r["exact_free_energy"] <= full["neg_elbo"] <= d["neg_elbo"] <= r["neg_elbo"]
    assert g["amortisation"] > 1.0      # digit 16: the encoder misses its posterior


def test_optimise_q_table_and_in_process(capsys, report):
    assert main(["vae-report", "--index", "16", "--optimise-q"]) == 0
    out = capsys.readouterr().out
    assert "amortisation gap" in out and "approximation gap" in out and "{" not in out
    assert f"{report['gaps']['amortisation']:.4f}" in out


def test_optimise_q_bad_index_is_one_line(capsys):
    assert main(["vae-report", "--index", "100000", "--optimise-q", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "index" in err and err.count("\n") == 1


def test_held_q_terms_match_the_physics(capsys, shipped_session):
    from explorer.vae.variational import GaussianQ, VariationalPoint

    assert main(["vae-report", "--index", "16", "--q", "0.1,0.2,0.3,0.4,0.5", "--lam", "0.5", "--order", "3",
                 "--json"]) == 0
    h = json.loads(capsys.readouterr().out)["q_held"]
    q = GaussianQ.from_sigmas([0.1, 0.2], 0.3, 0.4, 0.5)
    vp = VariationalPoint(shipped_session.point(16))
    t = vp.terms(q)
    assert h["neg_elbo"] == pytest.approx(t["neg_elbo"], abs=1e-12)
    assert h["neg_elbo"] == pytest.approx(h["expected_energy"] - h["entropy"], abs=1e-12)
    assert h["kl_posterior"] == pytest.approx(h["neg_elbo"] - h["free_energy"], abs=1e-12) and h["kl_posterior"] > 0
    assert np.array(h["cov"]) == pytest.approx(q.cov)
    assert h["lam_exact"] == pytest.approx(vp.lam_curve(q, [0.5])[0], abs=1e-12)
    assert len(h["cumulants"]) == len(h["series"]) == 3 and h["series"][0] == pytest.approx(0.5 * h["neg_elbo"])


@pytest.mark.parametrize("value, match", [("0.1,0.2", "five numbers"), ("a,b,c,d,e", "five numbers"),
                                          ("0,0,-1,1,0", "sigma must be > 0"), ("0,0,1,1,1", "rho must be <= 0.99")])
def test_bad_held_q_is_one_line(capsys, value, match):
    assert main(["vae-report", "--index", "0", "--q", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and err.count("\n") == 1


def test_split_gaps_read_from_the_cache(capsys, shipped_session, tmp_path, monkeypatch):
    from explorer.vae.variational import GAP_KEYS, split_cache_path

    # a cached whole split (its computation is tested in tests/vae/test_vae_variational.py; it takes minutes)
    monkeypatch.setenv("FREE_ENERGY_EXPLORER_CACHE", str(tmp_path))
    n = shipped_session.n_test
    rows = {k: np.linspace(0.0, 1.0, n) for k in GAP_KEYS}
    np.savez(split_cache_path(shipped_session), index=np.arange(n), **rows)
    assert main(["vae-report", "--index", "0", "--split-gaps", "--json"]) == 0
    g = json.loads(capsys.readouterr().out)["split_gaps"]
    assert g["index"] == list(range(n)) and g["amortisation"] == pytest.approx(rows["amortisation"].tolist())
    assert set(g) == {"index", *GAP_KEYS}
