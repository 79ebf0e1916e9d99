"""Where the explorer keeps what it computed once (no torch, no numpy: any layer may import it)."""

from __future__ import annotations

import os

#: Overrides the cache directory (tests point it at a fresh directory per run).
CACHE_ENV = "FREE_ENERGY_EXPLORER_CACHE"


def cache_dir():
    """``$FREE_ENERGY_EXPLORER_CACHE``, else ``$XDG_CACHE_HOME/free-energy-explorer``, else
    ``~/.cache/free-energy-explorer``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "free-energy-explorer")
