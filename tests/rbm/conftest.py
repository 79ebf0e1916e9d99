"""Fixtures of the RBM tests; the brute-force reference itself is in brute_force.py."""

import pytest

from tests.rbm.brute_force import BruteForce


@pytest.fixture
def brute_force():
    return BruteForce
