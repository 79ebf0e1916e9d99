"""The app layer's rules, checked on the source: no physics library, no torch, no Bokeh models.

explorer/app wires widgets to the compute models and the views; figures are built in
explorer/views and numbers come from explorer/rbm and explorer/vae.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "explorer" / "app"
FORBIDDEN = ("torch", "bokeh", "scipy")


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("path", sorted(APP.rglob("*.py")), ids=lambda p: str(p.relative_to(APP)))
def test_app_modules_import_no_torch_scipy_or_bokeh(path):
    bad = [m for m in _imports(path) if m.split(".")[0] in FORBIDDEN]
    assert bad == [], f"{path.name} imports {bad}: physics belongs in explorer/rbm or explorer/vae, figures in " \
                      f"explorer/views"


def test_the_check_sees_a_forbidden_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy\nfrom bokeh.models import Range1d\nfrom jupyter_bokeh.widgets import BokehModel\n")
    assert [m for m in _imports(probe) if m.split(".")[0] in FORBIDDEN] == ["bokeh.models"]
