"""Helpers for the security tests: Voila started with the repository's own settings (voila.json).

Browser tests must run in CI (CI=true): a missing Chromium fails there; elsewhere they are
skipped when Chromium is not installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from voila_server import chromium_path, free_port, launch_browser, serve  # noqa: E402,F401 (re-exported)

NOTEBOOKS = ROOT / "notebooks"


def default_notebook():
    """The explorer when it exists, else the static free-energy notebook."""
    nb = NOTEBOOKS / "rbm_explorer.ipynb"
    return nb if nb.exists() else NOTEBOOKS / "rbm_free_energies.ipynb"
