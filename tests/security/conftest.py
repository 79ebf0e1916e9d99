"""Fixtures for the security tests (Voila with the repo's voila.json, headless Chromium).

Browser tests must run in CI (CI=true): a missing Chromium fails there; elsewhere they are
skipped when Chromium is not installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from voila_security import NOTEBOOKS, _in_ci, chromium_path, launch_browser, serve  # noqa: E402


@pytest.fixture(scope="session")
def chromium():
    path = chromium_path()
    if path is None:
        if _in_ci():
            pytest.fail("Chromium is missing but CI is set: install it (apt-get install -y chromium); "
                        "the browser tests must run in CI")
        pytest.skip("Chromium not installed (/usr/bin/chromium); set CI=true to make this a failure")
    return path


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def repo_server(chromium, tmp_path_factory):
    """Voila serving notebooks/ with voila.json exactly as `make app` does."""
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    with serve(NOTEBOOKS, log) as (base, proc):
        yield {"base": base, "proc": proc, "log": log}
