"""The Voila server's kernel manager for ``make classroom``: pooled kernels start one at a time.

Voila refills its preheated pool ``fill_delay`` seconds after each page takes a kernel, so a
class that opened the app together gets ~30 replacement kernels started in the same second.
Each one's start-up (Python, ipykernel) and its share of the single Voila server process run at
normal priority, and 30 of them at once made every student's slider moves take 1-6 s for half
a minute (``docs/classroom.md``). Spacing the starts of pooled kernels ``pool_start_interval``
seconds apart spreads the same work over the next minute, where it competes with one start at
a time instead of thirty. Kernels for pages being served (non-pooled) are never delayed.

It also keeps idle-kernel culling quiet about kernels that are still starting: jupyter_server's
cull pass (every 60 s) read ``last_activity`` of a kernel whose start had not finished, and
logged a traceback for each one (harmless, but alarming in a teacher's terminal).

Used by the Voila server only (``voila.json``: ``VoilaConfiguration.multi_kernel_manager_class``,
for ``make app`` and ``make classroom``); nothing in the explorer's kernels imports it. It lives
in ``explorer.serving``, not ``explorer.app``, because importing that package loads the whole app (numpy, scipy,
Bokeh, ipywidgets), which the server process does not need.
"""

from __future__ import annotations

import asyncio
import time

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float


def is_pool_start(kwargs):
    """Whether ``start_kernel(**kwargs)`` starts a preheated pool kernel (Voila marks their env)."""
    env = kwargs.get("env") or {}
    return str(env.get("VOILA_PREHEAT", "")).lower() == "true"


class PacedKernelManager(AsyncMappingKernelManager):
    """``AsyncMappingKernelManager`` that starts pooled kernels at most one per interval."""

    pool_start_interval = Float(
        1.5, min=0.0, config=True,
        help="Seconds between the starts of two preheated pool kernels (0: no pacing). "
             "Kernels for pages being served start at once.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._next_pool_start = 0.0
        self._pool_lock = None

    async def start_kernel(self, *args, **kwargs):
        if self.pool_start_interval > 0 and is_pool_start(kwargs):
            await self._wait_for_pool_slot()
        return await super().start_kernel(*args, **kwargs)

    async def cull_kernel_if_idle(self, kernel_id):
        kernel = self._kernels.get(kernel_id)
        if kernel is not None and not kernel.trait_has_value("last_activity"):
            return          # still starting: the next cull pass looks again
        return await super().cull_kernel_if_idle(kernel_id)

    async def _wait_for_pool_slot(self):
        # created lazily: the lock belongs to the server's running event loop
        if self._pool_lock is None:
            self._pool_lock = asyncio.Lock()
        async with self._pool_lock:
            now = time.monotonic()
            wait = self._next_pool_start - now
            self._next_pool_start = max(now, self._next_pool_start) + self.pool_start_interval
        if wait > 0:
            await asyncio.sleep(wait)
