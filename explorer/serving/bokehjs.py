"""Where the server serves BokehJS as a static file, and the versioned URLs a page links to.

Shared by the server (:mod:`explorer.serving.static_files` registers the route) and the kernel
(:func:`explorer.views.resources.load_bokehjs` links to it). Imports nothing heavier than the
standard library and Bokeh's path helper, so a kernel pays nothing for it.

The URLs carry a hash of the file's content (``?v=``): a browser may keep the file for a year
and never ask again, and a new Bokeh version gets a new URL.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: The route under the server's base URL (``/``, or ``/user/<name>/`` in the hub).
ROUTE = "explorer/bokehjs/"

#: Set in the server's own environment once the route is registered; the kernels the server
#: starts inherit it and link to BokehJS instead of sending it inline.
ENV = "FREE_ENERGY_EXPLORER_BOKEHJS"

#: The BokehJS bundles the views need (no tables, WebGL or MathJax models).
COMPONENTS = ("bokeh", "bokeh-widgets")

_hashes: dict[tuple[str, int, int], str] = {}


def js_dir() -> Path:
    """Bokeh's own minified bundles in site-packages (``bokeh/server/static/js``)."""
    from bokeh.util.paths import bokehjs_path

    return Path(bokehjs_path()) / "js"


def content_hash(path) -> str:
    """A short hash of a file's content, computed once per (path, mtime, size)."""
    st = os.stat(path)
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _hashes:
        _hashes[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:20]
    return _hashes[key]


def script_paths(components=COMPONENTS) -> list[str]:
    """The bundles' URLs relative to the server's base URL, in load order, each with ``?v=``."""
    folder = js_dir()
    return [f"{ROUTE}{c}.min.js?v={content_hash(folder / f'{c}.min.js')}" for c in components]


def served_here() -> bool:
    """True in a kernel started by a server that serves BokehJS at :data:`ROUTE` (it set :data:`ENV`)
    for a Voila page (Voila sets ``VOILA_BASE_URL``): the page may link to the file.

    Elsewhere (JupyterLab, the classic notebook, a Voila without this project's server code) the
    page gets BokehJS inline, as before.
    """
    return os.environ.get(ENV) == ROUTE and "VOILA_BASE_URL" in os.environ
