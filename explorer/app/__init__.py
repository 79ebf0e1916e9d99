"""ipywidgets controllers: controls -> physics layer -> Bokeh sources (explorer.views)."""

from .preheat import enter_background, preheated

if preheated():
    # a kernel of Voila's preheated pool: warm up (imports included) at low priority until a
    # page asks for it (explorer.app.preheat)
    enter_background()

from .rbm_explorer import RBMExplorer, show_rbm_explorer  # noqa: E402
from .vae_explorer import VAEExplorer, show_vae_explorer  # noqa: E402,F401 (torch: only when built)

__all__ = ["RBMExplorer", "show_rbm_explorer"]
