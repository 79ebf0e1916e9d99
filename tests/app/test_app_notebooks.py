"""The explorer notebooks: committed without outputs, and they execute under nbclient."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.parametrize("name", ["rbm_explorer.ipynb", "index.ipynb"])
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_index_links_to_the_explorer_and_every_preset():
    from explorer.app.rbm.state import PRESETS

    text = "\n".join(c.source for c in nbformat.read(NOTEBOOKS / "index.ipynb", as_version=4).cells)
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "rbm_explorer.ipynb" in links
    for key in PRESETS:
        assert f"rbm_explorer.ipynb?preset={key}" in links


@pytest.mark.slow
def test_explorer_notebook_executes(monkeypatch):
    # the kernel inherits this environment, as under Voila
    monkeypatch.setenv("QUERY_STRING", "T=0.5&order=6")
    nb = nbformat.read(NOTEBOOKS / "rbm_explorer.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1
    # BokehJS is inlined (works offline), not loaded from a CDN
    html = "".join(str(o.get("data", {})) for o in outputs)
    assert "cdn.bokeh.org" not in html and "Bokeh" in html
    # the query string reached the kernel: the widget state holds T = 0.5 (grid value)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    values = [m["state"].get("value") for m in state.get("state", {}).values()
              if m.get("model_name") == "FloatLogSliderModel"]
    assert values and abs(values[0] - 0.5012) < 1e-3
