"""Benchmarks and the shared harness never import the tests (issue 28: "benchmarks import test
internals"): a benchmark runs on demand from a clean checkout, and a test may change its private
helpers without breaking one. What both need lives in harness/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = sorted([*(ROOT / "benchmarks").rglob("*.py"), *(ROOT / "harness").rglob("*.py")])


def imported_modules(path):
    """Absolute module names ``path`` imports (anywhere in the file, functions included)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_benchmarks_and_harness_do_not_import_tests(path):
    bad = [m for m in imported_modules(path) if m.split(".")[0] == "tests"]
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}: move what it needs to harness/"


def test_the_check_sees_a_test_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n\ndef f():\n    from tests.rbm.brute_force import brute\n    import harness.voila\n")
    assert [m for m in imported_modules(probe) if m.split(".")[0] == "tests"] == ["tests.rbm.brute_force"]
