"""Fixtures for the end-to-end tests: one Voila server and one headless Chromium per module.

In CI (CI=true) these tests must run: a missing Chromium is a failure there. Elsewhere they
are skipped when /usr/bin/chromium is not installed.
"""

from __future__ import annotations

import pytest

from tests.browser.voila_server import ROOT, voila_server

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
