"""ipywidgets controllers: controls -> State -> compute (physics layer) -> views (explorer.views)."""

from ..serving.preheat import enter_background, preheated

if preheated():
    # a kernel of Voila's preheated pool: warm up (imports included) at low priority until a
    # page asks for it (explorer.serving.preheat)
    enter_background()

from .rbm_explorer import RBMExplorer, show_rbm_explorer
from .vae_explorer import VAEExplorer, show_vae_explorer

__all__ = ["RBMExplorer", "show_rbm_explorer", "VAEExplorer", "show_vae_explorer"]
