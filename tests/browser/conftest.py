"""Fixtures for the end-to-end tests: one Voila server and one headless Chromium per module.

In CI (CI=true) these tests must run: a missing Chromium is a failure there. Elsewhere they
are skipped when /usr/bin/chromium is not installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from voila_server import ROOT, chromium_path, launch_browser, voila_server  # noqa: E402

ARTIFACTS = ROOT / "artifacts"


def _in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium():
    path = chromium_path()
    if path is None:
        if _in_ci():
            pytest.fail("Chromium is missing but CI is set: install it (apt-get install -y chromium); "
                        "the browser tests must run in CI")
        pytest.skip("Chromium not installed (/usr/bin/chromium); set CI=true to make this a failure")
    return path


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def server(chromium, artifacts):
    with voila_server() as base:
        yield base


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()
