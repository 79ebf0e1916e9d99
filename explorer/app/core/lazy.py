"""Tabs whose widgets are built when first opened."""

from __future__ import annotations


class LazyWidgets:
    """Mixin for a tab's controller: its widgets are built the first time one is asked for.

    ``_build_widgets()`` sets the ``w_*`` attributes and the names in :attr:`LAZY`. Asking for any
    of them before that builds them all. The shell asks when the tab is first opened (a
    :class:`~explorer.app.core.updater.Panel` whose ``widgets`` is a function), so a tab that is never
    opened sends no widget models to the page: every model is state the page must receive and
    build before it shows anything (the Learning and Hold q tabs held more than half of the RBM
    explorer's widget models).
    """

    #: Attributes (besides ``w_*``) that ``_build_widgets`` sets.
    LAZY = ()

    def _build_widgets(self):           # pragma: no cover - each tab
        raise NotImplementedError

    @property
    def widgets_built(self):
        return self.__dict__.get("_widgets_built", False)

    def __getattr__(self, name):
        # called only when the normal look-up fails: a widget not built yet
        if (name.startswith("w_") or name in type(self).LAZY) and not self.__dict__.get("_widgets_built", False):
            self.__dict__["_widgets_built"] = True
            self._build_widgets()
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
