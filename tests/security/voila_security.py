"""Helpers for the security tests, which start Voila (harness.voila.serve) with the
repository's own settings (voila.json).

Browser tests must run in CI (CI=true): a missing Chromium fails there; elsewhere they are
skipped when Chromium is not installed.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def default_notebook():
    """The explorer when it exists, else the static free-energy notebook."""
    nb = NOTEBOOKS / "rbm_explorer.ipynb"
    return nb if nb.exists() else NOTEBOOKS / "rbm_free_energies.ipynb"
