"""The page around an explorer's panels: layout, messages, the link and the CSV, the preheated
pool's adoption of a request, display and "the page has drawn its plots".

A mixin of :class:`explorer.app.core.shell.ExplorerShell`; what changes the State and renders the
panels is :class:`explorer.app.core.updater.StateUpdater`.
"""

from __future__ import annotations

import ipywidgets as W

from ...serving.preheat import page_base
from ...views.html import csv_html, csv_pending_html, link_html, message_html
from ...views.theme import style_layout
from .classroom import classroom_options, hide_controls
from .frontend import gate, when_widgets_loaded
from .scheduling import running_loop
from .state import classroom_query, join_queries

#: Seconds after the page has built its widgets (:mod:`.frontend`; in JupyterLab: after
#: :meth:`ExplorerShell.show`) when the work held for an interactive page starts even though the
#: page never said it has drawn its plots (a lost message, a front end without BokehJS).
PAGE_READY_FALLBACK_S = 10.0
#: Width of the control column and of the plot column (px). Chosen so that controls and two
#: core plots fit side by side at 1280 px; narrower pages (JupyterLab with its file browser
#: open) wrap the plots below the controls instead of clipping them.
CONTROLS_WIDTH = 330
PLOTS_WIDTH = 880
#: The widest the plot column grows on a wide screen (at 1920 px: all of it but the controls).
PLOTS_MAX_WIDTH = 1560

#: The projector size enlarges what a back row must read: the plots and their captions
#: (explorer.views.theme), the readout, the guide, the tab titles and the controls (the control
#: column zoomed as a whole: its fixed widths grow with its fonts, so no label is cut; the plot
#: column's flex basis shrinks by as much, so both still fit side by side at 1280 px), and the
#: tabs' own controls (their labels keep the size their fixed widths were made for).
_PROJECTOR_CSS = """<style>
.explorer-size-large .explorer-controls, .explorer-size-large .vae-controls { zoom: 1.2; }
.explorer-size-large .explorer-plots, .explorer-size-large .vae-plots { flex-basis: 800px !important; }
.explorer-size-large .widget-tab-contents :is(.widget-readout, .widget-button, .widget-toggle-button,
  select, input, .widget-html-content) { font-size: 15px; }
.explorer-size-large .explorer-readout, .explorer-size-large .vae-readout { font-size: 18px !important; }
.explorer-size-large .explorer-guide-text, .explorer-size-large .vae-guide-text { font-size: 17px !important; }
.explorer-size-large .lm-TabBar-tabLabel { font-size: 15px; }
/* Tabs as wide as their titles (equal shares of the bar would cut the long ones), and a second row
   of tabs where one row does not fit (a narrow page, the projector size): never a cut title. */
.explorer-shell .jupyter-widget-tab > .lm-TabBar .lm-TabBar-tab { flex: 0 0 auto !important; }
.explorer-shell .jupyter-widget-tab > .lm-TabBar { height: auto !important; min-height: 0; overflow: visible; }
.explorer-shell .jupyter-widget-tab > .lm-TabBar .lm-TabBar-content { flex-wrap: wrap; }
</style>"""


#: A slow update says so (issue 25): the shell puts BUSY_CLASS on the page's busy line before it
#: computes and takes it off after (explorer.app.core.updater.StateUpdater.set_busy). The line shows
#: "computing…" over the top right of the plots (no layout moves) once the mark has stayed
#: BUSY_SHOW_AFTER_S, so that the many fast updates show nothing.
BUSY_CLASS = "explorer-busy"
BUSY_SHOW_AFTER_S = 0.08
_BUSY_CSS = f"""<style>
.explorer-shell .explorer-busy-line {{ height: 0 !important; min-height: 0 !important; margin: 0 !important;
  overflow: visible; position: relative; z-index: 20; }}
.explorer-shell .explorer-busy-line .widget-html-content {{ position: absolute; top: 2px; right: 4px; height: auto;
  line-height: 1.5; visibility: hidden; padding: 2px 10px; border-radius: 4px; background: #fff4d6; color: #4d3900;
  font: 600 13px sans-serif; box-shadow: 0 1px 3px rgba(0, 0, 0, 0.3); pointer-events: none; }}
.explorer-shell .explorer-busy-line.{BUSY_CLASS} .widget-html-content {{
  animation: explorer-busy-in 0s linear {BUSY_SHOW_AFTER_S}s forwards; }}
@keyframes explorer-busy-in {{ to {{ visibility: visible; }} }}
</style>"""


class ExplorerPage:
    """Layout, messages, link, CSV, request adoption and display (see the module docstring)."""

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
        # "What do these words mean?" for the readout's terms: its own widget, rewritten only when the
        # readout's terms change, so that a student's opened list stays open while the numbers move
        self.w_readout_words = W.HTML(value="", layout=W.Layout(width="100%", margin="0"))
        self.w_readout_words.add_class(f"{self.PREFIX}-readout-words")
        # "computing…" while a slow update runs (StateUpdater.set_busy; hidden by CSS otherwise)
        self.w_busy = W.HTML("<span role='status'>computing…</span>",
                             layout=W.Layout(width="100%", height="0px", margin="0"))
        self.w_busy.add_class("explorer-busy-line")
        self.w_readout.observe(self._on_readout_terms, "value")
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
        self._style = W.HTML(_PROJECTOR_CSS + _BUSY_CSS, layout=W.Layout(display="none"))
        plots = W.VBox([self.w_busy, self.w_readout, self.w_readout_words, *[p.box for p in core], self.w_tabs],
                       # PLOTS_WIDTH at 1280 px, growing to PLOTS_MAX_WIDTH on a wider screen (the
                       # figures follow: explorer.views.theme.fit_to_page); the basis decides the wrap
                       layout=W.Layout(width="auto", flex=f"1 1 {PLOTS_WIDTH}px", min_width="0",
                                       max_width=f"min(100%, {PLOTS_MAX_WIDTH}px)"))
        plots.add_class(f"{self.PREFIX}-plots")
        # wraps: where controls and plots do not fit side by side, the plots go below
        self.widget = W.Box([self._style, self._controls, plots],
                            layout=W.Layout(display="flex", flex_flow="row wrap", align_items="flex-start",
                                            width="100%", max_width="100%"))
        self.widget.add_class(self.ROOT_CLASS)
        self.widget.add_class("explorer-shell")

    def _on_readout_terms(self, change):
        from ...views.glossary import glossary_html, terms_in

        words = glossary_html(terms_in(change["new"]), "What do the words in this readout mean?")
        if words != self.w_readout_words.value:
            self.w_readout_words.value = words

    def _on_tab(self, change):
        key = self._tab_keys[change["new"]] if change["new"] is not None else None
        self._shown_tab = key
        if key is not None:          # a tab's first opening computes its plots: the page says it is busy
            self.busy_while(lambda: self.open_panel(key) if self._shown_tab == key else None)

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

    def _message(self, text, error=False):
        self.w_message.value = message_html(self.PREFIX, text, error)
        self._message_is_error = bool(text) and error

    @property
    def showing_error(self):
        """True while the message area shows an error (cleared by a later good view)."""
        return self._message_is_error

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
        sends it once the plots are drawn), or :data:`PAGE_READY_FALLBACK_S` at most after the
        page has built its widgets, hold the work of :meth:`after_page_ready` and the prefetch."""
        loop = running_loop()
        core = next((p for p in self.panels.values() if p.is_open), None)
        doc = None if core is None else core.view.layout.document
        if loop is None or doc is None:
            return                      # plain Python, tests: nothing competes
        self.page_ready = False
        self._prefetcher.cancel()
        self._update_csv()              # the CSV link after the first plots (see _update_csv)
        doc.on_event("document_ready", lambda _event: loop.call_soon(self._page_is_ready))
        # counted from when a Voila page has built its widgets (at once elsewhere): a page that is
        # slow to load (a loaded machine) must not find this kernel busy with idle work while it
        # asks for every widget's state (explorer.app.core.frontend)
        when_widgets_loaded(lambda: loop.call_later(PAGE_READY_FALLBACK_S, self._page_is_ready))

    def _page_is_ready(self):
        if self.page_ready:
            return
        self.page_ready = True
        todo, self._when_page_ready = self._when_page_ready, []
        for fn in todo:
            fn()
        self._schedule_prefetch()

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
        if self.page_ready:
            self.w_csv.value = csv_html(self.PREFIX, self.csv_filename(), self.csv())
        elif not self._csv_held:
            # The link carries the curves as a data URL (53 kB for the RBM explorer, a fifth of
            # the page's first widget state, which the browser waits for before it draws any
            # widget): it follows once the page has drawn its plots and built its widgets (a
            # change before a widget's model is built would be lost: explorer.app.core.frontend).
            self._csv_held = True
            self.w_csv.value = csv_pending_html(self.PREFIX)
            self.after_page_ready(lambda: when_widgets_loaded(self._release_csv))

    def _release_csv(self):
        self._csv_held = False
        self._update_csv()

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

    def show(self):
        """Display the explorer in a notebook (BokehJS from the server itself: works offline and in Voila)."""
        from IPython.display import display

        from ...views.resources import load_bokehjs

        load_bokehjs()
        gate()                  # listening for the page's "widgets built" message before it is sent
        self._connect_class()
        display(self.widget)
        self._hold_until_page_ready()
        return self

    def _connect_class(self):
        """With a class service (issue 27): the "Follow the teacher" switch above the preset (a
        student's page), or this view published to the class (the teacher's). Done at show time,
        when the page's request (its cookies) is known, and before the page is sent (no widget
        changes after it); absent without a class service."""
        from .class_mode import connect_follow

        self.follow = connect_follow(self.CLASS_CHANNEL, self.apply_followed)
        if self.follow is None:
            return
        children = list(self._controls.children)
        children.insert(children.index(self.w_preset), self.follow.widget)
        self._controls.children = children
        if self.shown is not None:
            self.follow.publish(self.query_from_state(self.shown))     # a teacher's: the class can follow at once
