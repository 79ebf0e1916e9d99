"""A small least-recently-used cache for the compute models."""

from __future__ import annotations

from collections import OrderedDict


class LRU(OrderedDict):
    """``get_or(key, make)``: the cached value, or ``make()`` stored under ``key``; at most ``size`` kept."""

    def __init__(self, size):
        super().__init__()
        self.size = int(size)

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        while len(self) > self.size:
            self.popitem(last=False)
        return value
