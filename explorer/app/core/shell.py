"""One explorer skeleton for both models: controls -> State -> compute -> views.

An explorer built on :class:`ExplorerShell` supplies

* a frozen ``State`` dataclass with ``state_from_query`` / ``query_from_state`` (its URL codec,
  where every value is checked and snapped to its slider's grid),
* its model-specific controls, bound to State fields with :meth:`ExplorerShell.bind`,
* :class:`Panel` objects: one Bokeh view each and a ``render(view, state, dirty)`` function that
  asks the compute model (caches, no widgets) for numbers and hands them to the view.

Values travel one way as arguments: a control writes its field into ``self.state``, the
update passes that state to every open panel's render, the render passes numbers to the
view. Nothing reads a widget back.

The shell gives both explorers the same behaviour: coalesced updates (a drag never queues
stale work), idle prefetch, presets, reset, messages, URL state, "link to this view",
teacher mode, dark theme, projector size, CSV download, lazy panels (a tab computes and
renders the first time it is opened) and the preheated pool's request adoption.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import ipywidgets as W

from ...errors import InputError
from ...serving.preheat import page_base
from ...views.html import csv_html, link_html, message_html
from ...views.theme import style_layout
from .classroom import classroom_options, hide_controls
from .scheduling import BatchedUpdates, Coalescer, Prefetcher, running_loop
from .state import classroom_query, join_queries

#: The stale-kind meaning "everything" (a new model, a new view, a panel opened).
ALL = "all"

#: Seconds after :meth:`ExplorerShell.show` when the work held for an interactive page starts
#: even though the page never said it has drawn its plots (a lost message, a front end without
#: BokehJS).
PAGE_READY_FALLBACK_S = 10.0
#: Width of the control column and of the plot column (px). Chosen so that controls and two
#: core plots fit side by side at 1280 px; narrower pages (JupyterLab with its file browser
#: open) wrap the plots below the controls instead of clipping them.
CONTROLS_WIDTH = 330
PLOTS_WIDTH = 880

#: The projector size enlarges what a back row must read: the plots (explorer.views.theme), the
#: readout, the guide and the tab titles. The controls keep their size: the teacher works them
#: from the front, and larger labels would not fit their fixed columns.
_PROJECTOR_CSS = """<style>
.explorer-size-large .explorer-readout, .explorer-size-large .vae-readout { font-size: 18px !important; }
.explorer-size-large .explorer-guide-text, .explorer-size-large .vae-guide-text { font-size: 17px !important; }
.explorer-size-large .lm-TabBar-tabLabel { font-size: 15px; }
/* Tabs as wide as their titles (equal shares of the bar would cut the long ones), and a second row
   of tabs where one row does not fit (a narrow page, the projector size): never a cut title. */
.explorer-shell .jupyter-widget-tab > .lm-TabBar .lm-TabBar-tab { flex: 0 0 auto !important; }
.explorer-shell .jupyter-widget-tab > .lm-TabBar { height: auto !important; min-height: 0; overflow: visible; }
.explorer-shell .jupyter-widget-tab > .lm-TabBar .lm-TabBar-content { flex-wrap: wrap; }
</style>"""


@dataclass
class Panel:
    """One view of an explorer: a Bokeh layout built once, re-rendered from the State.

    ``build()`` returns a view object with ``layout`` (the Bokeh root) and ``sources``;
    ``render(view, state, dirty)`` updates it (``dirty``: the stale kinds, :data:`ALL` for all).
    A ``core`` panel is on the first screen; the others sit in tabs and are built, computed
    and rendered the first time their tab is opened.
    """
    key: str
    title: str
    build: Callable
    render: Callable
    core: bool = False
    #: Widgets shown above the figures in the panel (e.g. a panel's own buttons), or a function
    #: returning them, called when the panel is first opened (see :class:`.lazy.LazyWidgets`).
    widgets: list | Callable = field(default_factory=list)
    view: object = None
    bokeh: object = None
    box: object = field(default=None, repr=False)
    #: Stale kinds not yet rendered: a panel in a tab that is not shown is brought up to date
    #: when its tab is shown again (a slider move patches only the plots on screen).
    stale: set = field(default_factory=set)

    @property
    def is_open(self):
        return self.view is not None


class ExplorerShell(BatchedUpdates):
    """The skeleton both explorers share (see the module docstring).

    Parameters
    ----------
    query : str, optional
        A URL query string (``T=0.5&...``); by default the one Voila puts in the kernel's
        environment (``QUERY_STRING``), so a shared link opens the same view.
    page_url : str, optional
        URL of the page, for "link to this view"; by default Voila's ``VOILA_REQUEST_URL``.
        Without an absolute page URL (JupyterLab, plain Python) the link is hidden: a path
        without a host is no link a student can share.
    prefetch : bool
        Compute likely next values while the kernel is idle.
    """

    #: CSS prefix of the readout, message, link and CSV elements (``{prefix}-readout`` ...).
    PREFIX = "explorer"
    #: CSS class of the whole explorer widget.
    ROOT_CLASS = "explorer"
    #: Names a teacher can hide with ``?teacher=1&hide=...``.
    CONTROL_NAMES = ()
    PRESETS = {}
    DEFAULT = None
    #: Guide shown in the first tab (HTML).
    GUIDE = ""

    def __init__(self, query=None, page_url=None, prefetch=True):
        if query is None:
            query = os.environ.get("QUERY_STRING", "")
        if page_url is None:
            page_url = os.environ.get("VOILA_REQUEST_URL", "")
        self.page_url = page_base(page_url)
        self.prefetch = prefetch
        self.state = self.DEFAULT
        self.shown = None               # the last state whose numbers are on screen
        self.classroom = classroom_options("")
        self.timings = {}               # seconds of the last update of each kind (benchmarks)
        self._dirty = set()
        self._syncing = False           # widgets being set from a State: not user changes
        self._in_tap = False
        self._coalescer = Coalescer(self._update)
        self._prefetcher = Prefetcher(self._prefetch_still_valid)
        self.page_ready = True          # False from show() until the page has drawn its first plots
        self._when_page_ready = []
        self._build_common_widgets()
        model_controls = self.build_controls()
        self.panels = {p.key: p for p in self.build_panels()}
        self._assemble(model_controls)
        self._apply_query(query)
        self._open_core()

    # ------------------------------------------------------------------ to implement
    def build_panels(self):             # pragma: no cover - each explorer
        raise NotImplementedError

    def build_controls(self):           # pragma: no cover - each explorer
        """Model-specific control widgets (a list, shown under the preset)."""
        raise NotImplementedError

    def show_state(self, state):        # pragma: no cover - each explorer
        """Set the model-specific widgets to ``state`` (called with observers muted)."""
        raise NotImplementedError

    def hideable(self):                 # pragma: no cover - each explorer
        """Model-specific controls by teacher-mode name."""
        raise NotImplementedError

    def state_from_query(self, query):  # pragma: no cover - each explorer
        raise NotImplementedError

    def query_from_state(self, state):  # pragma: no cover - each explorer
        raise NotImplementedError

    def csv(self):                      # pragma: no cover - each explorer
        raise NotImplementedError

    def csv_filename(self):
        return f"{self.PREFIX}_curves.csv"

    def before_render(self, state, dirty):
        """Load what every panel needs (e.g. the model); may raise InputError. Returns the state."""
        return state

    def refused_message(self, exc, state):
        return f"{exc}. The plots still show the last good view."

    def prefetch_plan(self, state):
        """``(token, items, work)`` to compute while idle, or None."""
        return None

    def prefetch_token(self):
        return None

    def warm_up(self):
        """Do now what the kernel would otherwise do while idle after the page shows (the
        prefetch plan of the current state). A kernel of Voila's preheated pool calls this
        before it waits for its page request, so that after the request it only shows the page
        (:func:`explorer.app.core.request.show_when_requested`)."""
        plan = self.prefetch_plan(self.state)
        if plan is not None:
            _token, todo, work = plan
            for item in todo:
                work(item)

    def tap_actions(self):
        """What a tap on a view's ``tap_sources`` of each kind does: kind -> function of the value."""
        return {}

    # ------------------------------------------------------------------ widgets
    def _build_common_widgets(self):
        style = {"description_width": "120px"}
        self.w_preset = W.Dropdown(options=[("choose a scenario…", "")]
                                   + [(v[0], k) for k, v in self.PRESETS.items()],
                                   value="", description="Preset", layout=W.Layout(width="310px"),
                                   style=style)
        self.w_reset = W.Button(description="Reset", layout=W.Layout(width="90px"))
        self.w_message = W.HTML(value="", layout=W.Layout(width="310px"))
        self.w_link = W.HTML(value="", layout=W.Layout(width="310px"))
        self.w_csv = W.HTML(value="", layout=W.Layout(width="310px"))
        # Full-width children get no margin: ipywidgets' 2 px margins on a 100 % wide child
        # would make every box 4 px wider than its parent (clipped).
        # Fixed height: a readout that grew or shrank with its numbers would move the Bokeh
        # root, and Bokeh then lays out and repaints its plots on every slider step. The
        # content wraps (inline blocks), so a narrow page makes it taller, never clipped.
        self.w_readout = W.HTML(value="", layout=W.Layout(min_height="96px", width="100%", margin="0"))
        self.w_preset.observe(self._on_preset, "value")
        self.w_reset.on_click(lambda _b: self.reset())

    def _assemble(self, model_controls):
        # no title here: the notebook's first cell is the page's heading
        self._controls = W.VBox([self.w_preset, *model_controls, self.w_message, self.w_link,
                                 self.w_csv],
                                layout=W.Layout(width=f"{CONTROLS_WIDTH}px", min_width=f"{CONTROLS_WIDTH}px",
                                                margin="0 12px 0 0"))
        self._controls.add_class(f"{self.PREFIX}-controls")
        core = [p for p in self.panels.values() if p.core]
        tabs = [p for p in self.panels.values() if not p.core]
        for p in core + tabs:
            p.box = W.VBox([] if callable(p.widgets) else list(p.widgets), layout=W.Layout(width="100%", margin="0"))
        self.w_guide = W.HTML(self.GUIDE, layout=W.Layout(width="100%", margin="0"))
        self.w_guide.add_class(f"{self.PREFIX}-guide")
        self.w_tabs = W.Tab(children=[self.w_guide] + [p.box for p in tabs],
                            titles=["Guide"] + [p.title for p in tabs],
                            layout=W.Layout(width="100%", margin="0"))
        self.w_tabs.selected_index = 0
        self.w_tabs.observe(self._on_tab, "selected_index")
        self.w_tabs.add_class(f"{self.PREFIX}-tabs")
        self._tab_keys = [None] + [p.key for p in tabs]
        self._shown_tab = None          # key of the panel whose tab is shown (None: the guide)
        self._style = W.HTML(_PROJECTOR_CSS, layout=W.Layout(display="none"))
        plots = W.VBox([self.w_readout, *[p.box for p in core], self.w_tabs],
                       layout=W.Layout(width=f"{PLOTS_WIDTH}px", min_width="0", max_width="100%"))
        plots.add_class(f"{self.PREFIX}-plots")
        # wraps: where controls and plots do not fit side by side, the plots go below
        self.widget = W.Box([self._style, self._controls, plots],
                            layout=W.Layout(display="flex", flex_flow="row wrap", align_items="flex-start",
                                            width="100%", max_width="100%"))
        self.widget.add_class(self.ROOT_CLASS)
        self.widget.add_class("explorer-shell")

    # ------------------------------------------------------------------ binding
    def bind(self, widget, name, stale, convert=float):
        """Write ``widget``'s value into ``state.<name>`` (snapped by the codec) and mark ``stale``."""
        def on_change(change):
            if self._syncing:
                return
            self.set_field(name, convert(change["new"]), stale)
        widget.observe(on_change, "value")

    def set_field(self, name, value, stale):
        """Change one State field (as a control does) and schedule the update."""
        self.state = self.snap(replace(self.state, **{name: value}))
        self._mark(stale)

    def snap(self, state):
        """Values on their grids (each explorer's codec; the default keeps them)."""
        return state

    # ------------------------------------------------------------------ state
    def apply_state(self, state):
        """Show ``state`` (snapped to the grids): every control set, one update."""
        state = self.snap(state)
        with self._batch():
            self._set_widgets(state)
            self.state = state
            self._dirty.add(ALL)

    def _set_widgets(self, state):
        self._syncing = True
        try:
            self.show_state(state)
        finally:
            self._syncing = False

    def apply_preset(self, key):
        label, changes = self.PRESETS[key][:2]
        self.apply_state(self.DEFAULT.copy(**changes))
        look = self.PRESETS[key][2] if len(self.PRESETS[key]) > 2 else ""
        self._message(f"Scenario: {label}" + (f". {look}" if look else ""))

    def reset(self):
        self.apply_state(self.DEFAULT)
        self.w_preset.value = ""
        self._message("")

    def _apply_query(self, query):
        """Set the view a URL query asks for: state, teacher mode, theme, size."""
        self.classroom = classroom_options(query)
        state, problems = self.state_from_query(query)
        self.apply_state(state)
        self.flush()
        names = {"preset": self.w_preset, "link": self.w_link, "csv": self.w_csv, **self.hideable()}
        unknown = hide_controls(names, self.classroom.hide)
        if unknown:
            problems.append(f"teacher mode: no control named {', '.join(unknown)}; "
                            f"known: {', '.join(self.CONTROL_NAMES)}")
        if problems:   # URL parameters that could not be used (a model error may precede them)
            previous = self.w_message.value
            self._message("; ".join(problems), error=True)
            if previous:
                self.w_message.value = previous + self.w_message.value
        if self.classroom.size == "large":
            self.widget.add_class("explorer-size-large")
        else:
            self.widget.remove_class("explorer-size-large")
        self._update_link()

    # ------------------------------------------------------------------ events
    def _mark(self, what):
        self._dirty.add(what)
        if not self._suspend:
            self._coalescer.request()

    def _update_after_batch(self):
        self._coalescer.request()

    def flush(self):
        """Run a pending update now (tests and notebooks that set several values in one cell)."""
        self._coalescer.cancel()
        if self._dirty:
            self._update()

    def _on_preset(self, change):
        if change["new"]:
            self.apply_preset(change["new"])
            # back to the prompt: the same scenario can be picked again after changes, and
            # the message area names the one applied
            self.w_preset.value = ""

    def _on_tab(self, change):
        key = self._tab_keys[change["new"]] if change["new"] is not None else None
        self._shown_tab = key
        if key is not None:
            self.open_panel(key)

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

    def _message(self, text, error=False):
        self.w_message.value = message_html(self.PREFIX, text, error)

    # ------------------------------------------------------------------ panels
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
            self._syncing = True
            try:
                self.w_tabs.selected_index = self._tab_keys.index(key)
            finally:
                self._syncing = False
            self._shown_tab = key
        return p.view

    def _on_screen(self, p):
        return p.core or p.key == self._shown_tab

    def _catch_up(self, p):
        """Render what changed while ``p`` was in a hidden tab."""
        if p.stale and self.shown is not None:
            stale, p.stale = p.stale, set()
            self._render_panel(p, self.shown, stale)

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
            self._render_panel(p, self.shown, {ALL})
        # wrapped once its first data are in the sources: the render bundle carries them
        p.bokeh = BokehModel(p.view.layout)
        p.box.children = [*p.widgets, p.bokeh]
        self.timings[f"open_{p.key}"] = time.perf_counter() - t0

    def _render_panel(self, p, state, dirty):
        doc = p.view.layout.document
        if doc is not None:
            doc.hold("combine")   # one batch of patches per update
        try:
            p.render(p.view, state, dirty)
        finally:
            if doc is not None:
                doc.unhold()

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

    # ------------------------------------------------------------------ the update
    def _update(self):
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        t0 = time.perf_counter()
        state = self.state
        try:
            state = self.before_render(state, dirty)
            self.state = state
            # the link first: it reaches the page before the plots' patches
            self._update_link()
            for p in self.panels.values():
                if not p.is_open:
                    continue
                if self._on_screen(p):
                    stale, p.stale = p.stale | dirty, set()
                    self._render_panel(p, state, stale)
                else:
                    p.stale |= dirty
        except InputError as exc:
            self._refuse(exc, state)
            return
        self.shown = state
        if dirty & {ALL} or self.csv_stale(dirty):
            self._update_csv()
        self.timings["+".join(sorted(dirty))] = time.perf_counter() - t0
        self._schedule_prefetch()

    def csv_stale(self, dirty):
        return True

    def _refuse(self, exc, state):
        """A state the physics refused: say why and go back to what the plots show."""
        if self.shown is None:
            raise exc            # the first view: the explorer decides (see subclasses)
        self._message(self.refused_message(exc, state), error=True)
        self.state = self.shown
        self._set_widgets(self.shown)
        self._update_link()

    # ------------------------------------------------------------------ after the page is interactive
    def after_page_ready(self, fn):
        """Call ``fn()`` once the page has drawn its first plots (now, if it has).

        Work that can wait (the idle prefetch, loading a model in the background) must not
        compete with the page for the CPU and this kernel while it opens: the browser is then
        fetching every widget's state from this kernel and drawing them.
        """
        if self.page_ready:
            fn()
        else:
            self._when_page_ready.append(fn)

    def _hold_until_page_ready(self):
        """From now until the first panel's Bokeh document reports ``document_ready`` (BokehJS
        sends it once the plots are drawn), or :data:`PAGE_READY_FALLBACK_S` at most, hold the
        work of :meth:`after_page_ready` and the prefetch."""
        loop = running_loop()
        core = next((p for p in self.panels.values() if p.is_open), None)
        doc = None if core is None else core.view.layout.document
        if loop is None or doc is None:
            return                      # plain Python, tests: nothing competes
        self.page_ready = False
        self._prefetcher.cancel()
        doc.on_event("document_ready", lambda _event: loop.call_soon(self._page_is_ready))
        loop.call_later(PAGE_READY_FALLBACK_S, self._page_is_ready)

    def _page_is_ready(self):
        if self.page_ready:
            return
        self.page_ready = True
        todo, self._when_page_ready = self._when_page_ready, []
        for fn in todo:
            fn()
        self._schedule_prefetch()

    # ------------------------------------------------------------------ prefetch
    def _schedule_prefetch(self):
        if not self.prefetch or not self.page_ready:
            return
        plan = self.prefetch_plan(self.state)
        if plan is not None:
            self._prefetcher.schedule(*plan)

    def _prefetch_still_valid(self, token):
        return not self._dirty and token == self.prefetch_token()

    # ------------------------------------------------------------------ link, CSV
    def _update_link(self):
        if not self.page_url or not self.page_url.startswith(("http://", "https://")):
            # JupyterLab or plain Python: no page address to share
            self.w_link.value = ""
            if "link" not in self.classroom.hide:
                self.w_link.layout.display = "none"
            return
        q = join_queries(self.query_from_state(self.state), classroom_query(self.classroom))
        url = self.page_url + ("?" + q if q else "")
        self.w_link.value = link_html(self.PREFIX, url)
        if "link" not in self.classroom.hide:
            self.w_link.layout.display = None

    def _update_csv(self):
        self.w_csv.value = csv_html(self.PREFIX, self.csv_filename(), self.csv())

    # ------------------------------------------------------------------ preheated pools
    def adopt_request(self, query, page_url=""):
        """Take over a page request's URL: its state, teacher mode, theme, size and address.

        For preheated Voila kernels the explorer was built before the request. The built
        figures are re-serialised when the query changed anything: Bokeh changes made before
        the page connects are not sent to it.
        """
        self.page_url = page_base(page_url)
        if (query or "").lstrip("?"):
            self._apply_query(query)
            for p in self.panels.values():
                if p.is_open:
                    style_layout(p.view.layout, self.classroom.theme, self.classroom.size)
                    p.bokeh.update_from_model(p.view.layout)
        self._update_link()

    # ------------------------------------------------------------------ display
    def show(self):
        """Display the explorer in a notebook (BokehJS inline: works offline and in Voila)."""
        from IPython.display import display

        from ...views.resources import load_bokehjs

        load_bokehjs()
        display(self.widget)
        self._hold_until_page_ready()
        return self
