"""Fixtures of the serving tests shared by the class service's and its client's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def service(tmp_path):
    """The class service in this process (a thread with its own loop), on a fresh SQLite file."""
    from tests.serving.test_class_service import InProcessService

    s = InProcessService(tmp_path / "class.sqlite")
    yield s
    s.stop()
