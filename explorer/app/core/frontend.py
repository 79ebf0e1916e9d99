"""When a Voila page's front end has built the page's widgets (issue 25: "widget model not found").

A Voila page's front end starts only after the whole page arrived (every cell has run). It then
asks the kernel for the state of every widget at once and builds the widget models from that
snapshot, asynchronously. A widget change the kernel sends in between goes wrong in the browser
(ipywidgets 8.1 with Voila 0.5, reproduced in tests/browser/test_browser_widget_timing.py):

* a change made after the snapshot was taken but before the front end built that widget's model
  is dropped: the page keeps the old value for good;
* a displayed widget closed (or replaced and closed) before its output is drawn is shown as
  "Error displaying widget: model not found" (console: "Error: widget model not found", thrown by
  the widget manager's ``get_model`` for an id it does not hold);
* a widget created or closed by a *thread* while the kernel answers the snapshot request breaks
  that answer (``RuntimeError: dictionary changed size during iteration`` in ipywidgets' handler):
  the front end waits 4 s, then asks widget by widget, which never finishes if a widget closes
  meanwhile (the page stays at "Loading widget...").

ipywidgets has no "models built" event, so the explorer's template says it: once Voila's widget
manager has restored the page's widgets (``restoredStatus``), the page sends one message on this
kernel's comm of target :data:`TARGET` (found with ``comm_info``; see the template's script). A
change the kernel makes after that message reaches it finds the models built.

:func:`when_widgets_loaded` runs work that changes widgets on its own initiative (a worker
thread's result, posted by :func:`~explorer.app.core.scheduling.loop_poster`) once the page's
widgets are built; the explorers' idle-work fallback timer starts then too (that work must not
slow this kernel's answers while the page loads). A user's action needs no wait: the
page has drawn the widget the user moved. Outside a Voila page (JupyterLab, where the widget
manager follows the kernel live; plain Python; tests) nothing waits. Should the page's message
never come (its script failed), the work waits at most :data:`FALLBACK_S` seconds.

The kernel's end must exist before the page's front end asks for it, i.e. while the page's cells
run: it is registered when this module is imported inside a running kernel, or (a process that
imported the app before it became a kernel: the hub's fork server) by
:meth:`~explorer.app.core.page.ExplorerPage.show` and :func:`explorer.app.lessons.setup`.
"""

from __future__ import annotations

import asyncio
import os

#: The comm target of the page's "widgets built" message (the explorer template's script).
TARGET = "explorer.widgets_loaded"
#: Seconds held work waits for the page's message at most (counted from the first held work).
FALLBACK_S = 60.0


def in_voila_kernel(environ=None):
    """True in a kernel started by Voila for a page (Voila sets ``VOILA_PREHEAT`` in every one)."""
    environ = os.environ if environ is None else environ
    return "VOILA_PREHEAT" in environ


def _kernel():
    """This process's IPython kernel, or None (plain Python, a process that is not a kernel yet)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else getattr(shell, "kernel", None)


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class WidgetsLoaded:
    """Whether this kernel's page has built its widget models; work held until it has.

    Used on the kernel's event-loop thread only (the comm's message, timers and posted work all
    run there).
    """

    def __init__(self, gated):
        self.loaded = not gated
        self._waiting = []
        self._fallback = None
        self.comm = None

    def when_loaded(self, fn):
        """Call ``fn()`` now if the page's widgets are built, else once they are (in order)."""
        if self.loaded:
            fn()
            return
        self._waiting.append(fn)
        if self._fallback is None:
            loop = _running_loop()
            if loop is not None:
                self._fallback = loop.call_later(FALLBACK_S, self.set_loaded)

    def set_loaded(self, *_msg):
        """The page's widgets are built (its message came, or the fallback's time is up): run what waits."""
        if self._fallback is not None:
            self._fallback.cancel()
            self._fallback = None
        self.loaded = True
        waiting, self._waiting = self._waiting, []
        for fn in waiting:
            fn()

    def listen(self):
        """Register this kernel's end of the page's message (a comm of target :data:`TARGET`);
        False where that is not possible (no kernel, no comm support)."""
        if _kernel() is None:
            return False
        try:
            import comm

            # registered without an opening message (nobody listens yet, and Voila's notebook
            # runner would log every unknown comm it sees): the page finds it with comm_info
            self.comm = comm.create_comm(target_name=TARGET, primary=False)
            comm.get_comm_manager().register_comm(self.comm)
        except Exception:           # a kernel without comms: the fallback applies
            return False
        self.comm.on_msg(self.set_loaded)
        return True


_gate = None


def gate():
    """This kernel's :class:`WidgetsLoaded` (created at first use: in a Voila kernel, gated and
    listening for the page's message; elsewhere open)."""
    global _gate
    if _gate is None:
        voila = in_voila_kernel()
        g = WidgetsLoaded(gated=voila)
        if voila and not g.listen():
            g.loaded = True         # no kernel to hear the page: nothing can wait for it
        if voila:
            from . import widget_answer

            widget_answer.install()     # the page asks for its widgets' states after its cells ran
        _gate = g
    return _gate


def when_widgets_loaded(fn):
    """Call ``fn()`` (on the kernel's event loop) once this page's widgets are built: at once outside
    a Voila page or when they are (see the module docstring)."""
    gate().when_loaded(fn)


if _kernel() is not None:        # imported while the page's cells run: listen from now
    gate()

__all__ = ["FALLBACK_S", "TARGET", "WidgetsLoaded", "gate", "in_voila_kernel", "when_widgets_loaded"]
