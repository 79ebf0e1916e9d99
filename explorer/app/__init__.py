"""ipywidgets controllers: controls -> physics layer -> Bokeh sources (explorer.views)."""

from .rbm_explorer import RBMExplorer, rbm_explorer

__all__ = ["RBMExplorer", "rbm_explorer"]
