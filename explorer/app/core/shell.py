"""One explorer skeleton for both models: controls -> State -> compute -> views.

An explorer built on :class:`ExplorerShell` supplies

* its State's :class:`~explorer.app.core.fields.Schema` (one declaration per field: default, URL
  parsing, snapping; the URL codec and presets follow from it),
* its model-specific controls, bound to State fields with :meth:`ExplorerShell.bind`,
* :class:`Panel` objects: one Bokeh view each, the State fields it ``reads``, and a
  ``render(view, state, changed)`` function that asks the compute model (caches, no widgets) for
  numbers and hands them to the view.

Values travel one way as arguments: a control writes its field into ``self.state``, the
update passes that state to every open panel that reads a changed field, the render passes
numbers to the view. Nothing reads a widget back. ``changed`` is computed by the shell as the
fields the panel reads that differ from the State it last rendered, so a panel in a hidden tab
catches up, when its tab is shown, by the same difference.

The shell gives both explorers the same behaviour: coalesced updates (a drag never queues
stale work), idle prefetch, presets, reset, messages, URL state, "link to this view",
teacher mode, dark theme, projector size, CSV download, lazy panels (a tab computes and
renders the first time it is opened) and the preheated pool's request adoption.

The shell is split along its seams: :mod:`explorer.app.core.page` (layout, messages, link, CSV,
request adoption, display) and :mod:`explorer.app.core.updater` (State, binding, presets, panels,
the update, prefetch); this module puts them together and names what each explorer supplies.
"""

from __future__ import annotations

import os

from ...serving.preheat import page_base
from .classroom import classroom_options
from .page import ExplorerPage
from .scheduling import Coalescer, Prefetcher
from .updater import Panel, StateUpdater

__all__ = ["ExplorerShell", "Panel"]


class ExplorerShell(ExplorerPage, StateUpdater):
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
    #: The State's fields, presets and URL codec (:class:`~explorer.app.core.fields.Schema`).
    SCHEMA = None
    #: The State fields the CSV download depends on (None: all).
    CSV_READS = None
    #: Guide shown in the first tab (HTML).
    GUIDE = ""
    #: The class service's follow channel of this explorer (the teacher's view, issue 27).
    CLASS_CHANNEL = "explorer"

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
        self._field_controls = {}       # State field -> its control (StateUpdater.control)
        self._pending = False           # a State change not yet rendered
        self._quiet = False             # widgets being set from a State: not user changes
        self._message_is_error = False
        self._in_tap = False
        self._coalescer = Coalescer(self._update)
        self._prefetcher = Prefetcher(self._prefetch_still_valid)
        self.page_ready = True          # False from show() until the page has drawn its first plots
        self._when_page_ready = []
        self._csv_held = False          # the CSV link waits for the page's first plots (ExplorerPage._update_csv)
        self._build_common_widgets()
        model_controls = self.build_controls()
        self.panels = {p.key: p for p in self.build_panels()}
        self._assemble(model_controls)
        self._apply_query(query)
        self._open_core()

    @property
    def PRESETS(self):                  # read as the schema's constant, hence the name
        """The schema's presets (key → (label, query, what to look at))."""
        return self.SCHEMA.presets

    @property
    def DEFAULT(self):
        """The schema's default State."""
        return self.SCHEMA.default

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

    def state_from_query(self, query):
        """(State, problems) from a URL query (the schema's codec)."""
        return self.SCHEMA.from_query(query)

    def query_from_state(self, state):
        return self.SCHEMA.to_query(state)

    def csv(self):                      # pragma: no cover - each explorer
        raise NotImplementedError

    def csv_filename(self):
        return f"{self.PREFIX}_curves.csv"

    def before_render(self, state, changed):
        """Load what every panel needs (e.g. the model) for ``state``, whose fields ``changed`` since
        the last view shown; may raise InputError. Returns the state."""
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
