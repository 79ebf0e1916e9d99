"""Fixtures for the end-to-end tests: one Voila server and one headless Chromium per module.

In CI (CI=true) these tests must run: a missing Chromium is a failure there. Elsewhere they
are skipped when /usr/bin/chromium is not installed.
"""

from __future__ import annotations

import pytest

from harness.voila import ROOT, serve, voila_server, write_preheat_config

# `chromium` and `browser` come from tests/conftest.py (shared with tests/security).

ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def server(chromium, artifacts):
    with voila_server() as base:
        yield base


@pytest.fixture(scope="module")
def pooled_server(chromium, tmp_path_factory):
    """Voila with the repo's configuration, preheating on, two pooled explorer kernels (one
    server per test module); yields ``(base_url, log_path)``."""
    conf_dir = tmp_path_factory.mktemp("voila-pool")
    write_preheat_config(conf_dir, {"rbm_explorer.ipynb": 2, "vae_explorer.ipynb": 0}, fill_delay=1)
    log = conf_dir / "voila.log"
    with serve("notebooks/", log, f"--Voila.config_file_paths={conf_dir}", timeout=180) as (base, _):
        yield base, log
