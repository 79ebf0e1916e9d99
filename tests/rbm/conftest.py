"""Fixtures of the RBM tests; the brute-force reference itself is harness/brute_force.py."""

import pytest

from harness.brute_force import BruteForce


@pytest.fixture
def brute_force():
    return BruteForce
