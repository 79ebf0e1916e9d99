"""A small least-recently-used cache for the compute models."""

from __future__ import annotations

import threading
from collections import OrderedDict


class LRU(OrderedDict):
    """``get_or(key, make)``: the cached value, or ``make()`` stored under ``key``; at most ``size`` kept.

    Safe to share between the kernel's main thread and a panel's background thread (a fit, a
    training): the look-up and the store hold a lock; ``make()`` runs outside it, so a long
    computation in one thread never blocks a slider in the other (two threads asking for the
    same missing key may both compute it; the values are equal).
    """

    def __init__(self, size):
        super().__init__()
        self.size = int(size)
        self._lock = threading.RLock()

    def get_or(self, key, make):
        with self._lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        value = make()
        with self._lock:
            self[key] = value
            while len(self) > self.size:
                self.popitem(last=False)
        return value
