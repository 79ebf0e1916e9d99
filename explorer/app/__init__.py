"""ipywidgets controllers: controls -> State -> compute (physics layer) -> views (explorer.views)."""

from ..serving.preheat import enter_background, preheated

if preheated():
    # a kernel of Voila's preheated pool: warm up (imports included) at low priority until a
    # page asks for it (explorer.serving.preheat)
    enter_background()

from .._lazy import lazy_exports

#: name -> the module that defines it. Imported when the name is first used: a page of one
#: explorer does not import the other's controller and views (~25 ms of a kernel's start).
_EXPORTS = {"RBMExplorer": ".rbm.explorer", "show_rbm_explorer": ".rbm.explorer",
            "VAEExplorer": ".vae.explorer", "show_vae_explorer": ".vae.explorer"}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
