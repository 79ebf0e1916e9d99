"""ipywidgets controllers: controls -> physics layer -> Bokeh sources (explorer.views)."""

from .rbm_explorer import RBMExplorer, show_rbm_explorer
from .vae_explorer import VAEExplorer, show_vae_explorer  # noqa: F401 (torch loads only when it is built)

__all__ = ["RBMExplorer", "show_rbm_explorer"]
