"""Fixtures for the security tests (Voila with the repo's voila.json, headless Chromium).

Browser tests must run in CI (CI=true): a missing Chromium fails there; elsewhere they are
skipped when Chromium is not installed.
"""

from __future__ import annotations

import pytest

from harness.voila import serve
from tests.security.voila_security import NOTEBOOKS

# `chromium` and `browser` come from tests/conftest.py (shared with tests/browser).


@pytest.fixture(scope="module")
def repo_server(chromium, tmp_path_factory):
    """Voila serving notebooks/ with voila.json exactly as `make app` does."""
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    with serve(NOTEBOOKS, log) as (base, proc):
        yield {"base": base, "proc": proc, "log": log}
