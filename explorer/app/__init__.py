"""ipywidgets controllers: controls -> physics layer -> Bokeh sources (explorer.views)."""

from .rbm_explorer import RBMExplorer, show_rbm_explorer

__all__ = ["RBMExplorer", "show_rbm_explorer"]
