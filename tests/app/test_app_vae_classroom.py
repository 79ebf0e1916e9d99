"""The classroom front door without a browser: the start page's links, teacher mode and the dark
theme in both explorers, and the VAE notebook (committed without outputs, executes)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from explorer.app import RBMExplorer
from explorer.app.core.classroom import classroom_options, hide_controls

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_start_page_links_both_explorers_and_every_preset():
    from explorer.app.rbm.state import PRESETS as RBM_PRESETS
    from explorer.app.vae.state import PRESETS as VAE_PRESETS

    text = "\n".join(c.source for c in nbformat.read(NOTEBOOKS / "index.ipynb", as_version=4).cells)
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "rbm_explorer.ipynb" in links and "vae_explorer.ipynb" in links
    for key in RBM_PRESETS:
        assert f"rbm_explorer.ipynb?preset={key}" in links
    for key in VAE_PRESETS:
        assert f"vae_explorer.ipynb?preset={key}" in links
    # the tour follows the essay: generating function -> RBM bound -> corrections -> VAE
    heads = [text.index(s) for s in ("generating function", "exact free energy against the variational bound",
                                     "Corrections beyond the bound", "The VAE is the same story")]
    assert heads == sorted(heads)


def test_vae_notebook_committed_without_outputs():
    nb = nbformat.read(NOTEBOOKS / "vae_explorer.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "show_vae_explorer()" in code[-1].source


def test_classroom_options_parsing():
    assert classroom_options("") == classroom_options("theme=light")
    assert classroom_options("teacher=0&hide=order").hide == frozenset()
    assert classroom_options("teacher=yes&hide=order,,lam").hide == {"order", "lam"}
    assert classroom_options("voila-theme=dark").theme == "dark"
    assert classroom_options("theme=solarized").theme == "light"
    items = classroom_options("teacher=1&hide=order&theme=dark").query_items()
    assert items == [("teacher", "1"), ("hide", "order"), ("theme", "dark")]
    assert classroom_options("size=large").size == "large" and classroom_options("size=huge").size == "normal"
    assert classroom_options("size=large").query_items() == [("size", "large")]


def test_hide_controls_hides_only_the_named_widget_of_a_shared_layout():
    import ipywidgets as W

    shared = W.Layout(width="300px")
    a, b = W.IntSlider(layout=shared), W.IntSlider(layout=shared)
    assert hide_controls({"a": a, "b": b}, {"a", "zzz"}) == ["zzz"]
    assert a.layout.display == "none" and a.layout.width == "300px"
    assert b.layout.display is None


def test_rbm_explorer_teacher_mode_and_dark_theme():
    app = RBMExplorer(query="T=0.5&teacher=1&hide=order,reference&theme=dark", run_ais=False)
    assert app.w_order.layout.display == "none" and app.w_reference.layout.display == "none"
    assert app.w_temperature.layout.display is None and app.w_lam.layout.display is None
    assert app.views["free_energy"].layout.document.theme is not None
    grouped = RBMExplorer(query="teacher=1&hide=curves,model", run_ais=False)
    hidden = [w for w in grouped._controls.children if w.layout.display == "none"]
    assert grouped.w_model in hidden
    assert any(grouped.w_show["exact"] in getattr(w, "children", ()) for w in hidden)
    assert any(grouped.w_nv in getattr(w, "children", ()) for w in hidden)
    assert grouped.w_temperature not in hidden and grouped.w_order not in hidden
    light = RBMExplorer(query="hide=order", run_ais=False)      # hide without teacher=1: ignored
    assert light.w_order.layout.display is None
    from bokeh.themes import built_in_themes, default

    assert light.views["free_energy"].layout.document.theme is default
    assert app.views["free_energy"].layout.document.theme is built_in_themes["dark_minimal"]
    # a tab opened later gets the page's theme too
    assert app.open_panel("errors").layout.document.theme is built_in_themes["dark_minimal"]


@pytest.mark.slow
def test_vae_notebook_executes(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("QUERY_STRING", "index=5&order=6")
    nb = nbformat.read(NOTEBOOKS / "vae_explorer.ipynb", as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert len([o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]) == 1
    html = "".join(str(o.get("data", {})) for o in outputs)
    assert "cdn.bokeh.org" not in html and "Bokeh" in html
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    ints = [m["state"].get("value") for m in state.get("state", {}).values()
            if m.get("model_name") == "BoundedIntTextModel"]
    assert 5 in ints


def test_rbm_link_to_this_view_carries_teacher_mode_and_theme():
    from explorer.app import RBMExplorer

    app = RBMExplorer(query="T=0.5&teacher=1&hide=order,reference&theme=dark",
                      page_url="http://127.0.0.1:8866/voila/render/rbm_explorer.ipynb", run_ais=False)
    link = app.w_link.value
    assert "teacher=1" in link and "hide=order,reference" in link and "theme=dark" in link
    assert "T=0.5" in link or "T=0.501" in link


def test_projector_size_enlarges_plots_and_controls_and_is_kept_in_links():
    from explorer.views.theme import PROJECTOR_FONTS

    app = RBMExplorer(query="size=large&T=2", page_url="http://h:1/voila/render/rbm_explorer.ipynb", run_ais=False)
    assert "explorer-size-large" in app.widget._dom_classes
    assert app.views["free_energy"].fig_free_energy.title.text_font_size == PROJECTOR_FONTS["title"]
    # tabs opened later are enlarged too, and the link keeps the size
    assert app.open_panel("cumulants").fig_kappa.title.text_font_size == PROJECTOR_FONTS["title"]
    assert "size=large" in app.w_link.value
    normal = RBMExplorer(query="", run_ais=False)
    assert "explorer-size-large" not in normal.widget._dom_classes
    assert normal.views["free_energy"].fig_free_energy.title.text_font_size != PROJECTOR_FONTS["title"]


def test_link_is_hidden_without_a_page_address():
    """JupyterLab: no Voila request URL, so no link (a path without a host is no link to share)."""
    app = RBMExplorer(query="", page_url="", run_ais=False)
    assert app.w_link.value == "" and app.w_link.layout.display == "none"
    app.adopt_request("", "http://127.0.0.1:8866/voila/render/rbm_explorer.ipynb")
    assert app.w_link.layout.display is None and "http://127.0.0.1:8866/voila/render/" in app.w_link.value
