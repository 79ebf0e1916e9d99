"""When updates run: batches of control changes, one update per event-loop turn, idle prefetch.

Both explorers use these the same way: an observer only records what is stale and asks the
:class:`Coalescer` for an update; slider messages that arrive while an update runs are folded
into the next one, so a drag never queues stale work. Without a running event loop (plain
Python, tests) updates run at once and nothing is prefetched.

What a worker thread hands to the widgets (:func:`loop_poster`) runs on the kernel's event loop,
and in a Voila page only once the page has built its widgets (:mod:`.frontend`, issue 25).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from .frontend import when_widgets_loaded


def running_loop():
    """The kernel's running asyncio loop, or None (plain Python, tests)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def call_now(fn):
    fn()


def loop_poster(background=True):
    """``post(fn)`` for a worker thread: ``fn`` runs on the kernel's event loop, because widgets and
    Bokeh documents are not thread safe (a widget a thread creates while the kernel answers the
    page's request for every widget's state breaks that answer), and in a Voila page only once the
    page has built its widgets (:func:`~explorer.app.core.frontend.when_widgets_loaded`: a change
    sent while the page builds them is lost, a displayed widget closed then shows "model not
    found"). At once (:func:`call_now`) without a running loop (plain Python, tests) or when the
    work does not run in the background."""
    loop = running_loop() if background else None
    if loop is None:
        return call_now

    def post(fn):
        loop.call_soon_threadsafe(when_widgets_loaded, fn)
    return post


def start_worker(work, name, background=True):
    """Run ``work`` in a daemon thread called ``name`` and return the thread, or (not ``background``)
    run it here and return None."""
    if not background:
        work()
        return None
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return thread


class Coalescer:
    """Run ``fn`` once per event-loop turn however often :meth:`request` is called."""

    def __init__(self, fn):
        self._fn = fn
        self._handle = None

    def request(self):
        loop = running_loop()
        if loop is None:        # nothing can pile up without a loop: run now
            self._fn()
            return
        if self._handle is None:
            self._handle = loop.call_soon(self._fire)

    def _fire(self):
        self._handle = None
        self._fn()

    def cancel(self):
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class Prefetcher:
    """Compute likely next values while the kernel is idle, one per event-loop turn.

    ``schedule(token, todo, work)`` cancels what was scheduled before and, after ``delay``
    seconds of quiet, calls ``work(item)`` for each item of ``todo`` while ``still_valid(token)``
    holds (the user has not moved on, no update is pending). A slider message therefore never
    waits for more than one item.
    """

    def __init__(self, still_valid, delay=0.03):
        self._still_valid = still_valid
        self._delay = delay
        self._handle = None

    def schedule(self, token, todo, work):
        self.cancel()
        loop = running_loop()
        if loop is None or not todo:
            return
        self._handle = loop.call_later(self._delay, self._next, token, list(todo), work)

    def _next(self, token, todo, work):
        self._handle = None
        if not todo or not self._still_valid(token):
            return
        work(todo[0])
        if len(todo) > 1:
            self._handle = asyncio.get_running_loop().call_soon(self._next, token, todo[1:], work)

    def cancel(self):
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


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

    def _update_after_batch(self):  # pragma: no cover - the shell says what its update is
        raise NotImplementedError
