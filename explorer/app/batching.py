"""Setting several controls at once with one update at the end (both explorers)."""

from __future__ import annotations

import contextlib


class BatchedUpdates:
    """Mixin: ``with self._batch():`` sets widgets without an update per change.

    Each widget observer checks ``self._suspend`` and only records what changed; when the
    outermost batch ends, :meth:`_update_after_batch` runs once. Batches nest, so a preset
    applied from inside another batch still updates once.
    """

    _suspend = 0

    @contextlib.contextmanager
    def _batch(self):
        """Set several widgets, then update once."""
        self._suspend += 1
        try:
            yield
        finally:
            self._suspend -= 1
        if not self._suspend:
            self._update_after_batch()

    def _update_after_batch(self):  # pragma: no cover - each explorer says what its update is
        raise NotImplementedError
