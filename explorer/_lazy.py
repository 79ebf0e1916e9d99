"""A package's names imported when first used (PEP 562's module ``__getattr__`` and ``__dir__``)."""

from __future__ import annotations

import importlib


def lazy_exports(package, exports, namespace):
    """``(__getattr__, __dir__)`` for ``package`` (its ``__name__``).

    Parameters
    ----------
    package : str
    exports : dict of str -> str
        Each name the package offers -> the module that defines it (relative to ``package``).
    namespace : dict
        The package's ``globals()``: a name once imported is kept there (later uses cost nothing).
    """

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
