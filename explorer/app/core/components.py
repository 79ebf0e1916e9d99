"""Small pieces of UI glue every explorer, tab and lesson uses the same way.

* :func:`held`: a view's Bokeh patches combined into one message per update;
* :class:`BackgroundJob`: work in a daemon thread whose results reach the widgets on the kernel's
  event loop (widgets and Bokeh documents are not thread safe), in a Voila page once the page has
  built its widgets (:mod:`.frontend`);
* :func:`play_control`: the Play button of an animation that runs in the browser;
* :func:`take_upload`: the file a ``FileUpload`` widget received, and the widget cleared.
"""

from __future__ import annotations

import contextlib

import ipywidgets as W

from .scheduling import call_now, loop_poster, start_worker


@contextlib.contextmanager
def held(*views):
    """Hold the Bokeh documents of ``views`` (objects with ``.layout``; None and views not yet in a
    document are skipped) so that their patches leave as one message when the block ends.

    Callbacks triggered by the held changes run when the block ends, still inside it.
    """
    with contextlib.ExitStack() as stack:
        for view in views:
            doc = None if view is None else view.layout.document
            if doc is not None:
                doc.hold("combine")
                stack.callback(doc.unhold)
        yield


class BackgroundJob:
    """One kind of background work (a training, a fit): at most one runs at a time.

    ``start(work, done, failed)`` runs ``work(post)`` in a daemon thread named ``name``; its
    result goes to ``done(result)``, an exception to ``failed(exc)``, both called on the kernel's
    event loop. ``work`` may hand progress to the loop with ``post(fn)``. With ``background=False``
    everything runs at once, here; without a running loop (plain Python, tests) too, unless
    ``thread_without_loop`` (work that can be stopped while it runs: then ``post`` calls at once,
    from the thread).
    """

    def __init__(self, name, thread_without_loop=False):
        self.name = name
        self.thread = None
        self._thread_without_loop = thread_without_loop

    @property
    def running(self):
        return self.thread is not None and self.thread.is_alive()

    def start(self, work, done, failed, background=True):
        """Start the job (None, and nothing started, while one runs); returns its thread, or None
        when it ran here."""
        if self.running:
            return None
        post = loop_poster(background)

        def run():
            try:
                result = work(post)
            except Exception as exc:   # shown in the app: the kernel must survive a failed job
                post(lambda error=exc: failed(error))
                return
            post(lambda: done(result))

        # a thread only where there is a loop to hand the results to (unless it must be stoppable)
        thread = start_worker(run, self.name, background and (self._thread_without_loop or post is not call_now))
        if thread is not None:
            self.thread = thread
        return thread

    def join(self, timeout=None):
        """Wait for the thread (tests, benchmarks); True when the job has ended."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.running


def play_control(description, max_value, interval_ms, width):
    """An animation's Play button (stepping ``value`` 0..``max_value`` every ``interval_ms`` in the
    browser, no kernel thread). ``description`` names it for screen readers (the explorer's
    template gives its icon-only buttons names: class ``explorer-play``)."""
    play = W.Play(value=0, min=0, max=int(max_value), step=1, interval=int(interval_ms), description=description,
                  show_repeat=False, layout=W.Layout(width=width))
    play.add_class("explorer-play")
    return play


def take_upload(widget, change):
    """``(name, bytes)`` of the file ``widget`` (a ``FileUpload``) just received, or None for no
    file; the widget is cleared, so that the same file can be chosen again (the caller keeps the
    bytes)."""
    files = change["new"]
    if not files:
        return None
    f = files[0] if isinstance(files, (tuple, list)) else next(iter(files.values()))
    widget.value = ()
    return f["name"], bytes(f["content"])


__all__ = ["BackgroundJob", "held", "play_control", "take_upload"]
