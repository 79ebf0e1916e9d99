"""The State and the panels of an explorer: controls write State fields, one coalesced update
renders every open panel on screen that reads a changed field, idle prefetch.

A mixin of :class:`explorer.app.core.shell.ExplorerShell` (the page around the panels is
:class:`explorer.app.core.page.ExplorerPage`). :class:`Panel` is one view and what it reads.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ...errors import InputError
from ...views.theme import style_layout
from .components import held
from .controls import build_control, show_value
from .scheduling import BatchedUpdates, running_loop


@dataclass
class Panel:
    """One view of an explorer: a Bokeh layout built once, re-rendered from the State.

    ``build()`` returns a view object with ``layout`` (the Bokeh root) and ``sources``;
    ``render(view, state, changed)`` updates it, where ``changed`` is the set of State fields in
    ``reads`` that differ from the State it rendered last (every field on its first render). A
    panel whose fields did not change is not rendered. A ``core`` panel is on the first screen;
    the others sit in tabs and are built, computed and rendered the first time their tab is opened.
    """
    key: str
    title: str
    build: Callable
    render: Callable
    #: The State fields the render uses (None: all of them). An empty set: rendered once, when
    #: the panel is opened (a panel that draws from its own controls, e.g. a race).
    reads: frozenset | None = None
    core: bool = False
    #: Widgets shown above the figures in the panel (e.g. a panel's own buttons), or a function
    #: returning them, called when the panel is first opened (see :class:`.lazy.LazyWidgets`).
    widgets: list | Callable = field(default_factory=list)
    view: object = None
    bokeh: object = None
    box: object = field(default=None, repr=False)
    #: The State last rendered (None: never): a panel in a tab that is not shown is brought up
    #: to date when its tab is shown again (a slider move patches only the plots on screen).
    rendered: object = field(default=None, repr=False)

    @property
    def is_open(self):
        return self.view is not None


class StateUpdater(BatchedUpdates):
    """State, binding, presets, panels, the update and the prefetch (see the module docstring).

    A slow update says so at once: with an event loop (a page), the update first marks the page
    busy (:meth:`set_busy`: the page's "computing…" line, shown once the mark has stayed
    :data:`~explorer.app.core.page.BUSY_SHOW_AFTER_S`) and computes one loop turn later, so the
    mark leaves for the browser before the computation holds the kernel; it is cleared when the
    update ends. A fast update's mark comes and goes unseen.
    """

    _busy_handle = None          # the scheduled render of a busy-marked update (None: none)
    follow = None                # the class service's follow channel (class_mode.Follow), if any

    def bind(self, widget, name, convert=None):
        """Write ``widget``'s value into ``state.<name>`` (snapped by the schema); ``convert``: the
        widget's value -> the field's type (by default the type of the field's default)."""
        if convert is None:
            convert = type(self.SCHEMA.fields[name].default)

        def on_change(change):
            if not self._quiet:
                self.update_state(**{name: convert(change["new"])})
        widget.observe(on_change, "value")

    def control(self, name, value=None, convert=None):
        """The widget of State field ``name``, built from its declaration
        (:class:`~explorer.app.core.fields.Control`) and bound to the field; :meth:`show_fields`
        sets it from a State. ``value``: what it shows first (default: the field's default)."""
        widget = build_control(self.SCHEMA.fields[name], value)
        self.bind(widget, name, convert)
        self._field_controls[name] = widget
        return widget

    def show_fields(self, state):
        """Set every control built by :meth:`control` to ``state`` (a field at None keeps its control)."""
        for name, widget in self._field_controls.items():
            value = getattr(state, name)
            if value is not None:
                show_value(widget, value)

    def update_state(self, **changes):
        """Change State fields (as a control does): snapped, and one update scheduled."""
        self._user_moved()
        self.state = self.snap(self.state.copy(**changes))
        self._request_update()

    def _user_moved(self):
        """The page's user changed the State (a control, a preset, a tap, reset): a student who
        followed the teacher now explores on their own."""
        if self.follow is not None:
            self.follow.user_moved()

    def apply_followed(self, query):
        """Show the State the teacher published (``query``: the URL codec's string); the model
        this page holds (an upload, a training) stays."""
        state, _problems = self.state_from_query(query)
        if "model_id" in self.SCHEMA.fields:
            state = state.copy(model_id=self.state.model_id)
        self.apply_state(state)

    def snap(self, state):
        """Values on their grids (the schema's snapping)."""
        return self.SCHEMA.snap(state)

    @property
    def is_quiet(self):
        """True while widgets are being set from a State (their observers must not act)."""
        return self._quiet

    @contextlib.contextmanager
    def quietly(self):
        """Set widgets to show a State: their observers do not treat it as a user's change."""
        previous, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = previous

    def batch(self):
        """``with explorer.batch():`` several changes, one update when the outermost batch ends."""
        return self._batch()

    def apply_state(self, state):
        """Show ``state`` (snapped to the grids): every control set, one update."""
        state = self.snap(state)
        with self._batch():
            self._set_widgets(state)
            self.state = state
            self._pending = True

    def _set_widgets(self, state):
        with self.quietly():
            self.show_state(state)
            self.w_preset.value = self.SCHEMA.preset_of(state)

    def apply_preset(self, key):
        self._user_moved()
        label = self.PRESETS[key][0]
        # the model's identity in this kernel stays (a preset of the same model keeps it)
        self.apply_state(self.SCHEMA.preset_state(key).copy(model_id=self.state.model_id)
                         if "model_id" in self.SCHEMA.fields else self.SCHEMA.preset_state(key))
        look = self.PRESETS[key][2] if len(self.PRESETS[key]) > 2 else ""
        self._message(f"Scenario: {label}" + (f". {look}" if look else ""))

    def reset(self):
        self._user_moved()
        self.apply_state(self.DEFAULT)
        self._message("")

    def _request_update(self):
        self._pending = True
        if not self._suspend:
            self._coalescer.request()

    def _update_after_batch(self):
        self._coalescer.request()

    def flush(self):
        """Run a pending update now (tests and notebooks that set several values in one cell)."""
        self._coalescer.cancel()
        if self._busy_handle is not None:
            self._busy_handle.cancel()
            self._busy_handle = None
            self.set_busy(False)
        if self._pending:
            self._update_now()

    def set_busy(self, busy):
        """Mark the page busy (or not): :data:`~explorer.app.core.page.BUSY_CLASS` on its busy line."""
        from .page import BUSY_CLASS

        line = getattr(self, "w_busy", None)
        if line is None or (BUSY_CLASS in line._dom_classes) == bool(busy):
            return
        if busy:
            line.add_class(BUSY_CLASS)
        else:
            line.remove_class(BUSY_CLASS)

    def busy_while(self, fn):
        """Run ``fn()`` with the page marked busy: marked now, run one event-loop turn later (the mark
        reaches the browser first), unmarked after; at once without a loop. Returns the handle or None."""
        loop = running_loop()
        if loop is None:
            fn()
            return None
        self.set_busy(True)

        def run():
            try:
                fn()
            finally:
                if self._busy_handle is None:     # no update is waiting for its turn
                    self.set_busy(False)
        return loop.call_soon(run)

    def _on_preset(self, change):
        # the dropdown shows the scenario while the State is the preset's (set in _set_widgets and
        # after each update); a user's choice applies it
        if change["new"] and not self._quiet:
            self.apply_preset(change["new"])

    def tap_to(self, source, column, apply):
        """A tap on ``source``'s markers calls ``apply(value of column at the tapped marker)``."""
        def on_tap(attr, old, new):
            if self._in_tap or not new:
                return
            # a tap selects every marker under the mouse (dense near a curve): take the middle one
            hits = sorted(new)
            value = source.data[column][hits[len(hits) // 2]]
            self._in_tap = True
            try:
                source.selected.indices = []   # so that tapping the same point again works
            finally:
                self._in_tap = False
            apply(value)
        source.selected.on_change("indices", on_tap)

    def _open_core(self):
        for p in self.panels.values():
            if p.core:
                self._build_panel(p)

    def open_panel(self, key):
        """Show panel ``key``: built, computed and rendered up to date (what opening its tab does)."""
        p = self.panels[key]
        if not p.is_open:
            self._build_panel(p)
        else:
            self._catch_up(p)
        if not p.core and key in self._tab_keys and self._shown_tab != key:
            with self.quietly():
                self.w_tabs.selected_index = self._tab_keys.index(key)
            self._shown_tab = key
        return p.view

    def _on_screen(self, p):
        return p.core or p.key == self._shown_tab

    def _catch_up(self, p):
        """Render what changed while ``p`` was in a hidden tab."""
        if self.shown is not None:
            self._render_panel(p, self.shown)

    def _build_panel(self, p):
        from jupyter_bokeh.widgets import BokehModel  # Bokeh's Jupyter glue, only needed here

        t0 = time.perf_counter()
        if callable(p.widgets):          # a tab's own widgets, built now that it is opened
            p.widgets = list(p.widgets())
        p.view = p.build()
        actions = self.tap_actions()
        for kind, targets in getattr(p.view, "tap_sources", {}).items():
            for source, column in targets:
                self.tap_to(source, column, actions[kind])
        style_layout(p.view.layout, self.classroom.theme, self.classroom.size)
        if self.shown is not None:
            self._render_panel(p, self.shown)
        # wrapped once its first data are in the sources: the render bundle carries them
        p.bokeh = BokehModel(p.view.layout)
        p.box.children = [*p.widgets, p.bokeh]
        self.timings[f"open_{p.key}"] = time.perf_counter() - t0

    def changed_for(self, p, state):
        """The fields panel ``p`` reads that differ from the State it rendered last (all, never rendered)."""
        changed = self.SCHEMA.changed(p.rendered, state)
        return changed if p.rendered is None or p.reads is None else changed & p.reads

    def _render_panel(self, p, state):
        changed = self.changed_for(p, state)
        if not changed:
            return
        with held(p.view):                  # one batch of patches per update
            p.render(p.view, state, changed)
        p.rendered = state

    @property
    def views(self):
        """The views built so far, by panel key."""
        return {k: p.view for k, p in self.panels.items() if p.is_open}

    def source(self, name):
        """The ``ColumnDataSource`` called ``name`` in any built view, up to date (a panel in a
        hidden tab renders what it missed first); KeyError when no built view has it."""
        for p in self.panels.values():
            if p.is_open and name in p.view.sources:
                self._catch_up(p)
                return p.view.sources[name]
        raise KeyError(name)

    def _update(self):
        """The coalesced update: the page marked busy, then (one loop turn later) :meth:`_update_now`."""
        if not self._pending or self._busy_handle is not None:
            return                 # nothing to do, or the marked update is about to run (it reads the latest State)
        loop = running_loop()
        if loop is None:
            self._update_now()
            return
        self.set_busy(True)
        self._busy_handle = loop.call_soon(self._update_marked)

    def _update_marked(self):
        self._busy_handle = None
        try:
            self._update_now()
        finally:
            self.set_busy(False)

    def _update_now(self):
        if not self._pending:
            return
        self._pending = False
        t0 = time.perf_counter()
        state = self.state
        changed = self.SCHEMA.changed(self.shown, state)
        try:
            state = self.before_render(state, changed)
            self.state = state
            if self.follow is not None and self.follow.publishes:     # the class sees it while this page renders
                self.follow.publish(self.query_from_state(state))
            # the link first: it reaches the page before the plots' patches
            self._update_link()
            for p in self.panels.values():
                if p.is_open and self._on_screen(p):
                    self._render_panel(p, state)        # hidden tabs catch up when shown
        except InputError as exc:
            self._refuse(exc, state)
            return
        self.shown = state
        with self.quietly():
            self.w_preset.value = self.SCHEMA.preset_of(state)
        if self.CSV_READS is None or changed & self.CSV_READS:
            self._update_csv()
        self.timings["+".join(sorted(changed)) or "none"] = time.perf_counter() - t0
        self._schedule_prefetch()

    def _refuse(self, exc, state):
        """A state the physics refused: say why and go back to what the plots show."""
        if self.shown is None:
            raise exc            # the first view: the explorer decides (see subclasses)
        self._message(self.refused_message(exc, state), error=True)
        self.state = self.shown
        self._set_widgets(self.shown)
        self._update_link()
        if self.follow is not None and self.follow.publishes:         # the class goes back with this page
            self.follow.publish(self.query_from_state(self.shown))

    def _schedule_prefetch(self):
        if not self.prefetch or not self.page_ready:
            return
        plan = self.prefetch_plan(self.state)
        if plan is not None:
            self._prefetcher.schedule(*plan)

    def _prefetch_still_valid(self, token):
        return not self._pending and token == self.prefetch_token()
