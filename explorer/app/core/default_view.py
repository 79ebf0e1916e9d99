"""The default view's numbers, kept on disk so that a page opens without computing them.

A student who opens an explorer sees its default state first. Computing that state's numbers
(the RBM's sweep along T and its per-temperature quantities; the VAE's exact analysis of the
first test digit, which also needs torch) is most of what the kernel does before the page can
show anything. Those numbers are the same every time, so they ship in ``explorer/data/`` as one
``.npz`` per explorer, written by ``python -m explorer.app.default_views``, and the compute models
put them into their caches at start (:meth:`RBMCompute.seed_default_view`,
:meth:`VAECompute.seed_default_view`).

Exactness: a file holds a *fingerprint* of everything its numbers depend on besides the code
(the model's parameters, the grids, the state); a file whose fingerprint differs from the one the
running app computes is ignored, and the numbers are computed as before. What the fingerprint
cannot see (a change to the physics code) is caught by ``tests/app/test_default_view.py`` (RBM)
and ``tests/app/test_vae_default_view.py`` (VAE), which recompute each shipped view and compare
it with the file.

Files are read with ``allow_pickle=False``: a tree of dicts, arrays, numbers, strings, lists,
tuples and ``None`` is stored as flat arrays whose names encode the path and the kind of each leaf
(a tuple, or a list that one array cannot hold, as one node per item: each comes back as it was).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
#: Bumped when the file layout changes (old files are then ignored).
FORMAT = 2
_SEP, _KIND = "/", "|"
#: Node names of a stored tuple and of a list that one array cannot hold (reserved as keys).
_TUPLE, _LIST = "__tuple__", "__list__"


#: Significant digits a float keeps in a fingerprint: far above the last bit, where machines differ.
FINGERPRINT_DIGITS = 10


def _canonical(part):
    """``part`` as text that is the same on every CPU and BLAS: floats (alone, in arrays, tuples
    and lists) at :data:`FINGERPRINT_DIGITS` significant digits, everything else exactly.

    A float that numpy computed may differ in its last bit between machines (its kernels are
    chosen by CPU: AVX-512, AVX2, ...); the raw bytes of such a float must never key a file that
    ships, or every other machine ignores the file.
    """
    if isinstance(part, (float, np.floating)):
        return f"{float(part):.{FINGERPRINT_DIGITS - 1}e}"
    if isinstance(part, np.ndarray):
        a = np.asarray(part)
        if a.dtype.kind == "f":
            body = ",".join(_canonical(v) for v in a.ravel().tolist())
        elif a.dtype.kind in "biu":
            body = ",".join(str(int(v)) for v in a.ravel().tolist())
        else:
            body = repr(a.ravel().tolist())
        return f"array{a.dtype.kind}{a.shape}[{body}]"
    if isinstance(part, (tuple, list)):
        inner = ",".join(_canonical(v) for v in part)
        return f"({inner})" if isinstance(part, tuple) else f"[{inner}]"
    if isinstance(part, np.integer):
        return repr(int(part))
    return repr(part)


def fingerprint(*parts):
    """A short hex digest of ``parts``, the same on every machine (see :func:`_canonical`).

    Key a file by the *definitions* its numbers come from (grid parameters, seeds, sizes, file
    digests) where possible; floats are compared at :data:`FINGERPRINT_DIGITS` digits.
    """
    h = hashlib.sha256(f"format {FORMAT}".encode())
    for part in parts:
        h.update(_canonical(part).encode())
        h.update(b"\x00")
    return h.hexdigest()[:24]


def _segment(key):
    if isinstance(key, (bool, np.bool_)) or not isinstance(key, (str, int, np.integer)):
        raise TypeError(f"only str and int keys can be stored, not {key!r}")
    if isinstance(key, str):
        if not key or key.startswith("#") or _SEP in key or _KIND in key or key in (_TUPLE, _LIST):
            raise ValueError(f"key {key!r} cannot be stored")
        return key
    return f"#{int(key)}"


def _flatten(tree, prefix, out):
    if isinstance(tree, dict):
        if not tree:
            out[f"{prefix}{_KIND}dict"] = np.zeros(0)
        for key, value in tree.items():
            _flatten(value, f"{prefix}{_SEP if prefix else ''}{_segment(key)}", out)
    elif tree is None:
        out[f"{prefix}{_KIND}none"] = np.zeros(0)
    elif isinstance(tree, np.ndarray):
        if tree.dtype == object:
            raise TypeError(f"{prefix}: object arrays cannot be stored without pickle")
        out[f"{prefix}{_KIND}array"] = tree
    elif isinstance(tree, list) and _plain_numbers(tree):
        out[f"{prefix}{_KIND}list"] = np.asarray(tree)
    elif isinstance(tree, (list, tuple)):
        # a tuple, or a list of mixed items (None, strings, numbers of several kinds): one node
        # per item, so that each comes back as it was
        kind = _TUPLE if isinstance(tree, tuple) else _LIST
        if not tree:
            out[f"{prefix}{_SEP if prefix else ''}{kind}{_KIND}dict"] = np.zeros(0)
        for i, item in enumerate(tree):
            _flatten(item, f"{prefix}{_SEP if prefix else ''}{kind}{_SEP}#{i}", out)
    elif isinstance(tree, str):
        # as UTF-8 bytes: numpy's string arrays drop trailing NUL characters ("\x00" came back "")
        out[f"{prefix}{_KIND}text"] = np.frombuffer(tree.encode("utf-8"), dtype=np.uint8)
    elif isinstance(tree, (bool, int, float, np.generic)):
        out[f"{prefix}{_KIND}scalar"] = np.asarray(tree)
    else:
        raise TypeError(f"{prefix}: cannot store a {type(tree).__name__}")


def _plain_numbers(items):
    """Whether ``items`` is a non-empty list of one kind of number (bool, int or float), which one
    array stores faithfully."""
    kinds = {bool if isinstance(v, (bool, np.bool_)) else int if isinstance(v, (int, np.integer))
             else float if isinstance(v, (float, np.floating)) else None for v in items}
    return len(kinds) == 1 and None not in kinds


def _sequences(node):
    """Turn the nodes :func:`_flatten` wrote for tuples and mixed lists back into them."""
    if not isinstance(node, dict):
        return node
    if len(node) == 1 and next(iter(node)) in (_TUPLE, _LIST):
        (kind, items), = node.items()
        seq = [_sequences(items[i]) for i in range(len(items))]
        return tuple(seq) if kind == _TUPLE else seq
    return {k: _sequences(v) for k, v in node.items()}


def _unflatten(arrays):
    tree = {}
    for name, value in arrays.items():
        path, kind = name.rsplit(_KIND, 1)
        keys = [int(s[1:]) if s.startswith("#") else s for s in path.split(_SEP)] if path else []
        if kind == "none":
            leaf = None
        elif kind == "scalar":
            leaf = value.item()
        elif kind == "text":
            leaf = value.astype(np.uint8).tobytes().decode("utf-8")
        elif kind == "list":
            leaf = value.tolist()
        elif kind == "dict":
            leaf = {}
        else:
            leaf = value
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        if keys:
            node[keys[-1]] = leaf
    return _sequences(tree)


def path_of(name):
    """Where the default view of explorer ``name`` ships (``explorer/data/default_view_<name>.npz``)."""
    return DATA_DIR / f"default_view_{name}.npz"


def write(name, key, tree, path=None):
    """Store ``tree`` (nested dicts of arrays, numbers, strings, lists, tuples, None) under fingerprint ``key``."""
    flat = {}
    _flatten(tree, "", flat)
    flat[f"__fingerprint__{_KIND}scalar"] = np.asarray(key)
    path = Path(path) if path is not None else path_of(name)
    # a name of its own: kernels that computed the same numbers may write them at the same moment
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex}.tmp.npz")
    try:
        np.savez_compressed(tmp, **flat)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read(name, key, path=None):
    """The tree stored for explorer ``name`` if its fingerprint is ``key``, else None (missing,
    unreadable or stale files are ignored: the caller computes the numbers)."""
    path = Path(path) if path is not None else path_of(name)
    if os.environ.get("FREE_ENERGY_EXPLORER_NO_DEFAULT_VIEW") or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        tree = _unflatten(arrays)
    except Exception:
        # Whatever a damaged file raises (a bad zip, a CRC or zlib error, numpy's header
        # parser's TokenError, ...): the numbers are computed instead, never a traceback.
        return None
    if tree.pop("__fingerprint__", None) != key:
        return None
    return tree


__all__ = ["fingerprint", "read", "write", "path_of"]
