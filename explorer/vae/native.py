"""torch's compiled libraries, loaded without holding Python's interpreter lock (no torch import here).

``import torch`` loads ``libtorch_cpu`` (hundreds of MB of machine code: 0.39–0.45 s on this
machine) through Python's extension loader, which holds the interpreter lock while the dynamic
linker works. A kernel that imports torch in a background thread (the VAE explorer loads its
session after the page has drawn) could not even read a slider move meanwhile: the move's
"computing…" mark came 0.44–0.5 s late (docs/vae-explorer.md). :func:`load_torch_libraries` asks
the C library's ``dlopen`` for the same files through :mod:`ctypes`, whose foreign calls release
the lock; the import then finds them loaded and only links its Python extension.

The files and their order are torch's own: ``libtorch_global_deps`` first and process-wide
(``RTLD_GLOBAL``, as ``torch/__init__.py`` loads it), then the C++ libraries its extension module
needs, so every library resolves to the same file as in a plain import. None of them calls into
Python while it loads (``libtorch_python``, which does, is left to the import).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys

#: (file in torch's ``lib`` folder, dlopen flags), in the order torch loads them.
LIBRARIES = (
    ("libtorch_global_deps.so", os.RTLD_NOW | os.RTLD_GLOBAL),
    ("libc10.so", os.RTLD_NOW | os.RTLD_LOCAL),
    ("libtorch_cpu.so", os.RTLD_NOW | os.RTLD_LOCAL),
    ("libtorch.so", os.RTLD_NOW | os.RTLD_LOCAL),
)


def torch_library_folder():
    """torch's ``lib`` folder, found without importing torch; None when torch is not installed."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    return folder if os.path.isdir(folder) else None


def load_torch_libraries():
    """Load torch's large C++ libraries with the interpreter lock released, before ``import torch``.

    Returns
    -------
    loaded : tuple of str
        The file names loaded, in order. Empty when there is nothing to do or nothing to gain:
        not Linux, torch already imported or not installed, or the first file missing; the load
        stops at the first file that is missing or fails, and ``import torch`` then does the
        rest as usual (it reports any real problem itself).
    """
    if not sys.platform.startswith("linux") or "torch" in sys.modules:
        return ()
    folder = torch_library_folder()
    if folder is None:
        return ()
    try:
        dlopen = ctypes.CDLL(None).dlopen      # the C library's, already in the process
    except (OSError, AttributeError):
        return ()
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    dlopen.restype = ctypes.c_void_p
    loaded = []
    for name, flags in LIBRARIES:
        path = os.path.join(folder, name)
        # the handle is kept open for good, as torch keeps its libraries
        if not os.path.exists(path) or not dlopen(os.fsencode(path), flags):
            break
        loaded.append(name)
    return tuple(loaded)


__all__ = ["LIBRARIES", "load_torch_libraries", "torch_library_folder"]
