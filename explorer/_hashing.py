"""File digests that key caches and shipped results (no torch, no numpy: any layer may import it)."""

from __future__ import annotations

import hashlib


def file_sha256(path):
    """SHA-256 hex digest of the file at ``path``, read in 1 MiB blocks (OSError when unreadable)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
