"""Suite-wide settings and the headless-Chromium fixtures shared by every browser test."""

import atexit
import os
import shutil
import tempfile

import pytest
from hypothesis import settings

from harness.voila import chromium_path, launch_browser

# CI must be reproducible: the same examples every run (locally, random exploration finds new bugs).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


# One fresh cache directory per run, for this process and every server, kernel and script it
# starts (they inherit the environment): a run never reads what an earlier run or the user stored,
# and within a run a VAE digit computed once is read back (explorer/app/vae/compute.py), as it is
# for the kernels of a class.
os.environ["FREE_ENERGY_EXPLORER_CACHE"] = _CACHE = tempfile.mkdtemp(prefix="fee-test-cache-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium. In CI (CI=true) browser tests must run: a missing Chromium fails there."""
    path = chromium_path()
    if path is None:
        if in_ci():
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
