"""File and source digests that key caches and shipped results (no torch, no numpy: any layer may import it)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path


def file_sha256(path):
    """SHA-256 hex digest of the file at ``path``, read in 1 MiB blocks (OSError when unreadable)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.cache
def source_sha256(package_dir):
    """SHA-256 hex digest of the ``.py`` files under ``package_dir`` (names and bytes, in sorted
    order): a cache keyed on it forgets its entries when the code that computed them changes."""
    h = hashlib.sha256()
    for path in sorted(Path(package_dir).rglob("*.py")):
        h.update(str(path.relative_to(package_dir)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()
