"""The RBM explorer: ipywidgets controls -> physics layer -> Bokeh sources patched in place.

Data flow (one way): a control changes -> the controller marks what is stale ("model",
"curves" or only the temperature "cursor") -> one coalesced update asks the physics layer
for the new numbers -> :class:`explorer.views.rbm_explorer.ExplorerView` replaces
``source.data``. Figures are built once.

Speed: a whole temperature sweep (201 temperatures) costs ~0.5 s for a 12 x 12 RBM, far
too slow for a slider, so it is cached and recomputed only when the model, the weight
norm, the order, the reference or λ change. The temperature slider moves on the sweep's
own grid: a move only reads the cached curves at that index and computes the few per-T
quantities (F(λ) on 41 points, magnetisations), which are cached too.

Dragging: observers only record what is stale and schedule one update on the kernel's
event loop (``call_soon``); slider messages that arrive while an update runs are folded
into the next one, so a drag never queues stale work. Without a running loop (plain
Python, tests) updates run at once.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import os
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlencode

import ipywidgets as W
import numpy as np

from ..errors import EnumerationLimitError, InputError
from ..rbm.exact import check_enumerable, log_partition, marginals
from ..rbm.meanfield import mean_field
from ..rbm.model import RBM
from ..rbm.sweeps import lambda_sweep, temperature_sweep
from ..rbm.tap import tap
from ..views.rbm_explorer import CURVES, ExplorerView
from .batching import BatchedUpdates
from .classroom import apply_rbm_classroom
from .preheat import RequestAdopter, page_base, show_when_requested
from .state import (CURVE_KEYS, DEFAULT, LAM_GRID, LAM_MAX, LAM_MIN, LAM_STEP, MAX_ORDER, MAX_UNITS,
                    NORM_MAX, PRESETS, REFERENCES, T_EXP_MAX, T_EXP_MIN, T_EXP_STEP, T_GRID, State,
                    lam_index, query_from_state, state_from_query, t_index)

#: Largest min(n_visible, n_hidden) the app enumerates: 2^14 states x 201 temperatures
#: takes a few seconds here; beyond that the app would stop feeling interactive.
APP_ENUMERATION_LIMIT = 14
#: Largest accepted upload. An enumerable RBM's .npz is a few kB; the cap keeps one student's
#: upload from filling a shared kernel's memory.
MAX_UPLOAD_BYTES = 2_000_000
BARS_STRIPES_PATH = Path(__file__).resolve().parent.parent / "data" / "rbm_bars_stripes_3x3.npz"
#: Temperatures of the AIS estimates (plot 7) and of the rescaling markers (plot 8).
AIS_TEMPERATURES = 10.0 ** np.linspace(-0.8, 0.8, 9)
SCALING_POINTS = 10.0 ** np.linspace(-0.9, 0.9, 10)
SCALING_WEIGHTS = 10.0 ** np.linspace(-1.0, 1.0, 41)
AIS_CHAINS, AIS_STEPS = 100, 300
NOTEBOOK_PATH = "voila/render/rbm_explorer.ipynb"
_UNSET = object()
#: Idle time after an update before the neighbours are prefetched (a drag in progress
#: sends its next value sooner, and the prefetch is then cancelled as stale).
PREFETCH_DELAY_S = 0.03
#: λ values of the F(λ) plot: 0 (where F_n(0) = −T ln Z_q for every n) to 2 in steps of 0.1.
LAM_CURVE = np.round(np.linspace(LAM_MIN, LAM_MAX, 21), 12)


def _clean(x):
    """Plain float for messages (no numpy repr)."""
    return float(x)


class _Coalescer:
    """Run ``fn`` once per event-loop turn however often :meth:`request` is called."""

    def __init__(self, fn):
        self._fn = fn
        self._handle = None

    def request(self):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (plain Python): nothing can pile up, run now
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


class RBMExplorer(BatchedUpdates, RequestAdopter):
    """The interactive explorer: build it, then display :attr:`widget` (or call :meth:`show`).

    Parameters
    ----------
    query : str, optional
        A URL query string (``T=0.5&norm=3&...``); by default the one Voila puts in the
        kernel's environment (``QUERY_STRING``), so a shared link opens the same view.
    page_url : str, optional
        URL of the page without query, for "link to this view"; by default Voila's
        ``VOILA_REQUEST_URL``.
    run_ais : bool
        Compute the sampling estimates of plot 7 (needs ``explorer.rbm.sampling``).
    prefetch : bool
        Compute the neighbouring temperatures' per-T quantities while the kernel is idle.
    """

    def __init__(self, query=None, page_url=None, run_ais=True, prefetch=True):
        if query is None:
            query = os.environ.get("QUERY_STRING", "")
        if page_url is None:
            page_url = os.environ.get("VOILA_REQUEST_URL", "")
        self.page_url = page_base(page_url)
        self.run_ais = run_ais
        self.view = ExplorerView(max_order=MAX_ORDER, t_range=(T_GRID[0], T_GRID[-1]),
                                 lam_range=(LAM_MIN, LAM_MAX))
        self._curves_cache = OrderedDict()
        self._point_cache = OrderedDict()
        self._base_rbm = None
        self._base_token = None
        self._rbm = None
        self._curves = None
        self._upload = None          # (name, bytes) of the last uploaded file
        self._good_upload = None     # ... and of the last one that loaded
        self._pending_norm = _UNSET  # a norm to set once the next model is loaded
        self._prefetch_handle = None
        self.prefetch = prefetch
        self._dirty = set()
        self._suspend = 0
        self._in_tap = False
        self._internal = False
        self.timings = {}            # seconds of the last update of each kind (for docs/benchmarks)
        self._coalescer = _Coalescer(self._update)
        self._build_widgets()
        self._apply_query(query)
        self._update_link()
        self._build_figure_widget()

    def _apply_query(self, query):
        """Set the view a URL query asks for: state, teacher mode, theme (before BokehModel)."""
        state, problems = state_from_query(query)
        self.apply_state(state)
        self.flush()
        if problems:   # URL parameters that could not be used (a model error may precede them)
            previous = self.w_message.value
            self._message("; ".join(problems), error=True)
            if previous:
                self.w_message.value = previous + self.w_message.value
        # ?teacher=1&hide=... and ?theme=dark; kept so links carry them
        self.classroom = apply_rbm_classroom(self, query)

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self):
        wide = W.Layout(width="320px")
        style = {"description_width": "120px"}
        self.w_temperature = W.FloatLogSlider(
            value=1.0, base=10, min=T_EXP_MIN, max=T_EXP_MAX, step=T_EXP_STEP,
            description="Temperature T", readout_format=".3g", continuous_update=True,
            layout=wide, style=style)
        # Slow controls (each move recomputes a whole sweep) only report on release.
        self.w_norm = W.FloatSlider(value=1.0, min=0.0, max=NORM_MAX, step=0.1,
                                    description="Weight norm ‖W‖", readout_format=".2f",
                                    continuous_update=False, layout=wide, style=style)
        self.w_lam = W.FloatSlider(value=1.0, min=LAM_MIN, max=LAM_MAX, step=LAM_STEP,
                                   description="Perturbation λ", readout_format=".2f",
                                   continuous_update=False, layout=wide, style=style)
        self.w_order = W.IntSlider(value=4, min=1, max=MAX_ORDER, step=1, description="Cumulant order K",
                                   continuous_update=False, layout=wide, style=style)
        self.w_reference = W.Dropdown(options=[(v, k) for k, v in REFERENCES.items()],
                                      description="Reference", layout=wide, style=style)
        short = {"series": "series, order K"}
        self.w_show = {k: W.Checkbox(value=True, description=short.get(k, CURVES[k]), indent=False,
                                     layout=W.Layout(width="155px")) for k in CURVE_KEYS}
        self.w_model = W.Dropdown(options=[("random RBM (size, seed)", "random"),
                                           ("trained on bars and stripes", "bars-stripes"),
                                           ("uploaded .npz file", "upload")],
                                  description="RBM", layout=wide, style=style)
        small = W.Layout(width="104px")
        self.w_nv = W.BoundedIntText(value=12, min=1, max=MAX_UNITS, description="visible",
                                     layout=small, style={"description_width": "45px"})
        self.w_nh = W.BoundedIntText(value=12, min=1, max=MAX_UNITS, description="hidden",
                                     layout=small, style={"description_width": "45px"})
        self.w_seed = W.IntText(value=0, description="seed", layout=small,
                                style={"description_width": "35px"})
        # No icons: ipywidgets draws them with Font Awesome, which Voila's template loads
        # from a CDN; offline (or with the CDN blocked) the labels alone must say it all.
        self.w_upload = W.FileUpload(accept=".npz", multiple=False, description="Upload .npz",
                                     icon="", layout=W.Layout(width="150px"))
        self.w_preset = W.Dropdown(options=[("choose a scenario…", "")] + [(v[0], k) for k, v in PRESETS.items()],
                                   value="", description="Preset", layout=wide, style=style)
        self.w_reset = W.Button(description="Reset", layout=W.Layout(width="100px"))
        self.w_message = W.HTML(value="", layout=W.Layout(width="320px"))
        # Fixed size: a readout that grew or shrank with its numbers would move the Bokeh
        # root, and Bokeh then lays out and repaints all ten plots on every slider step.
        self.w_readout = W.HTML(value="", layout=W.Layout(height="92px", width="960px", overflow="hidden"))
        self.w_link = W.HTML(value="", layout=W.Layout(width="320px"))
        self.w_csv = W.HTML(value="", layout=W.Layout(width="320px"))

        for w in self.w_temperature, self.w_norm, self.w_lam, self.w_order, self.w_reference:
            w.add_class("explorer-control")
        self.w_temperature.add_class("explorer-temperature")
        self.w_lam.add_class("explorer-lambda")
        self.w_norm.add_class("explorer-norm")

        self.w_temperature.observe(lambda ch: self._mark("cursor"), "value")
        self.w_norm.observe(lambda ch: self._mark("curves"), "value")
        self.w_lam.observe(lambda ch: self._mark("curves"), "value")
        self.w_order.observe(lambda ch: self._mark("curves"), "value")
        self.w_reference.observe(lambda ch: self._mark("curves"), "value")
        for w in (self.w_model, self.w_nv, self.w_nh, self.w_seed):
            w.observe(lambda ch: self._mark("model"), "value")
        for key, w in self.w_show.items():
            w.observe(lambda ch, key=key: self._set_visible(key, ch["new"]), "value")
        self.w_upload.observe(self._on_upload, "value")
        self.w_preset.observe(self._on_preset, "value")
        self.w_reset.on_click(lambda _b: self.reset())
        for kind, sources in self.view.tap_sources.items():
            for s in sources:
                s.selected.on_change("indices", self._tap_handler(kind, s))

        controls = W.VBox([
            W.HTML("<h3 style='margin:4px 0'>Free-energy explorer: a small RBM</h3>"),
            self.w_preset, self.w_temperature, self.w_norm, self.w_lam, self.w_order, self.w_reference,
            W.HTML("<b>Curves shown</b>"),
            W.GridBox(list(self.w_show.values()), layout=W.Layout(grid_template_columns="160px 160px")),
            W.HTML("<b>Model</b>"), self.w_model, W.HBox([self.w_nv, self.w_nh, self.w_seed]),
            W.HBox([self.w_upload, self.w_reset]),
            self.w_message, self.w_link, self.w_csv,
        ], layout=W.Layout(width="340px", min_width="340px"))
        controls.add_class("explorer-controls")
        self._controls = controls

    def _build_figure_widget(self):
        # Built once the first data are in the sources: the render bundle then carries them
        # (patches sent before the page shows the widget could be lost).
        from jupyter_bokeh.widgets import BokehModel  # Bokeh's Jupyter glue, only needed here

        self.bokeh = BokehModel(self.view.layout)
        right = W.VBox([self.w_readout, self.bokeh])
        self.widget = W.HBox([self._controls, right])
        self.widget.add_class("rbm-explorer")

    # ------------------------------------------------------------------ state
    @property
    def state(self):
        """The current view as a :class:`State` (what "link to this view" encodes)."""
        base_norm = self._base_rbm.weight_norm if self._base_rbm is not None else None
        norm = self.w_norm.value
        return State(T=float(T_GRID[t_index(self.w_temperature.value)]),
                     norm=None if base_norm is not None and abs(norm - base_norm) < 1e-9 else round(norm, 4),
                     lam=float(LAM_GRID[lam_index(self.w_lam.value)]), order=self.w_order.value,
                     ref=self.w_reference.value, model=self.w_model.value, nv=self.w_nv.value,
                     nh=self.w_nh.value, seed=self.w_seed.value,
                     show=tuple(k for k in CURVE_KEYS if self.w_show[k].value))

    def _update_after_batch(self):
        self._request()

    def apply_state(self, state):
        """Set every control from ``state`` and update once."""
        with self._batch():
            self._dirty.add("model")
            self.w_model.value = state.model if state.model != "upload" or self._upload else "random"
            self.w_nv.value, self.w_nh.value, self.w_seed.value = state.nv, state.nh, state.seed
            self._pending_norm = state.norm   # None: the model's own norm
            self.w_temperature.value = float(T_GRID[t_index(state.T)])
            self.w_lam.value = float(LAM_GRID[lam_index(state.lam)])
            self.w_order.value = int(state.order)
            self.w_reference.value = state.ref
            for k in CURVE_KEYS:
                self.w_show[k].value = k in state.show

    def apply_preset(self, key):
        label, changes = PRESETS[key]
        if changes.get("model") == "bars-stripes" and not BARS_STRIPES_PATH.is_file():
            self._message("the bars-and-stripes model is not available in this installation", error=True)
            return
        self.apply_state(DEFAULT.copy(**changes))
        self._message(f"Scenario: {label}")

    def reset(self):
        self._upload = None
        self.apply_state(DEFAULT)
        self.w_preset.value = ""
        self._message("")

    # ------------------------------------------------------------------ events
    def _mark(self, what):
        if self._internal:
            return
        self._dirty.add(what)
        if not self._suspend:
            self._request()

    def _request(self):
        self._coalescer.request()

    def flush(self):
        """Run a pending update now (tests and notebooks that set several values in one cell)."""
        self._coalescer.cancel()
        if self._dirty:
            self._update()

    def _set_visible(self, key, visible):
        self.view.set_visible(key, visible)
        self._update_link()

    def _on_preset(self, change):
        if change["new"]:
            self.apply_preset(change["new"])
            # back to the prompt: the same scenario can be picked again after changes, and
            # the message area names the one applied
            self.w_preset.value = ""

    def _on_upload(self, change):
        files = change["new"]
        if not files:
            return
        f = files[0] if isinstance(files, (tuple, list)) else next(iter(files.values()))
        self._upload = (f["name"], bytes(f["content"]))
        # clear the widget: the bytes are kept here, and the same file can be chosen again
        self.w_upload.value = ()
        with self._batch():
            self._dirty.add("model")
            self._pending_norm = None
            if self.w_model.value != "upload":
                self.w_model.value = "upload"

    def _tap_handler(self, kind, source):
        def on_tap(attr, old, new):
            if self._in_tap or not new:
                return
            # a tap selects every marker under the mouse (dense near a curve): take the middle one
            hits = sorted(new)
            x = float(source.data["x"][hits[len(hits) // 2]])
            self._in_tap = True
            try:
                source.selected.indices = []   # so that tapping the same point again works
            finally:
                self._in_tap = False
            if kind == "temperature":
                self.w_temperature.value = float(T_GRID[t_index(x)])
            else:
                self.w_lam.value = float(LAM_GRID[lam_index(x)])
        return on_tap

    def _message(self, text, error=False):
        if not text:
            self.w_message.value = ""
            return
        color = "#b00020" if error else "#333333"
        self.w_message.value = (f"<div class='explorer-message{' explorer-error' if error else ''}' "
                                f"style='color:{color};white-space:normal'>{_escape(text)}</div>")

    # ------------------------------------------------------------------ the model
    def _load_base(self):
        """The RBM chosen by the model controls; raises InputError with a readable message."""
        kind = self.w_model.value
        if kind == "random":
            nv, nh = int(self.w_nv.value), int(self.w_nh.value)
            _check_size(nv, nh)
            return RBM.random(nv, nh, seed=int(self.w_seed.value)), ("random", nv, nh, int(self.w_seed.value))
        if kind == "bars-stripes":
            if not BARS_STRIPES_PATH.is_file():
                raise InputError("the bars-and-stripes model is not available in this installation")
            rbm = RBM.load(BARS_STRIPES_PATH)
            _check_size(rbm.n_visible, rbm.n_hidden)
            return rbm, ("bars-stripes",)
        if self._upload is None:
            raise InputError("choose an .npz file with the Upload button first")
        name, content = self._upload
        if len(content) > MAX_UPLOAD_BYTES:
            raise InputError(f"{name} is {len(content) / 1e6:.1f} MB; uploads are limited to "
                             f"{MAX_UPLOAD_BYTES // 1_000_000} MB (an RBM small enough to enumerate "
                             f"takes a few kB)")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "upload.npz")
            with open(path, "wb") as fh:
                fh.write(content)
            try:
                rbm = RBM.load(path)
            except InputError as exc:
                # the core names the temporary path; the user knows the file by its name
                raise InputError(str(exc).replace(path, name)) from None
        _check_size(rbm.n_visible, rbm.n_hidden)
        return rbm, ("upload", name, hash(content))

    # ------------------------------------------------------------------ updates
    def _update(self):
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        doc = self.view.layout.document
        hold = doc is not None
        if hold:
            doc.hold("combine")   # one batch of patches per update
        try:
            self._update_inner(dirty)
        finally:
            if hold:
                doc.unhold()
        self._schedule_prefetch()

    # While the kernel is idle, compute the per-T quantities of the neighbouring grid
    # temperatures (the next arrow-key steps), one per event-loop turn so that a slider
    # message never waits for more than one of them. Without a running loop: no prefetch.
    PREFETCH_STEPS = (1, -1, 2, -2)

    def _schedule_prefetch(self):
        if not self.prefetch or self._rbm is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        i = t_index(self.w_temperature.value)
        direction = 1 if i >= getattr(self, "_last_index", i) else -1
        self._last_index = i
        todo = [i + direction * s for s in self.PREFETCH_STEPS if 0 <= i + direction * s < T_GRID.size]
        token = (self._curve_key(), i)
        if self._prefetch_handle is not None:
            self._prefetch_handle.cancel()
        self._prefetch_handle = loop.call_later(PREFETCH_DELAY_S, self._prefetch_next, token, todo)

    def _prefetch_next(self, token, todo):
        self._prefetch_handle = None
        # stale (the user moved on) or busy (an update is pending): stop
        if not todo or self._dirty or token != (self._curve_key(), t_index(self.w_temperature.value)):
            return
        self._point(todo[0])
        if len(todo) > 1:
            self._prefetch_handle = asyncio.get_running_loop().call_soon(self._prefetch_next, token,
                                                                         todo[1:])

    def _update_inner(self, dirty):
        if "model" in dirty:
            try:
                base, token = self._load_base()
            except InputError as exc:
                if self._base_rbm is not None:
                    self._message(f"{exc}. The plots still show the previous model.", error=True)
                    # the model controls go back to what the plots show (and the link encodes)
                    self._show_model_controls(self._base_token)
                    return
                # first build (e.g. a URL asking for 30 x 30): start from the default model
                self._message(f"{exc}. Showing the default model instead.", error=True)
                self._show_model_controls(("random", DEFAULT.nv, DEFAULT.nh, DEFAULT.seed))
                base, token = self._load_base()
            else:
                if self.w_message.value and "explorer-error" in self.w_message.value:
                    self._message("")
            changed = token != self._base_token
            self._base_rbm, self._base_token = base, token
            if token[0] == "upload":
                self._good_upload = self._upload
            pending, self._pending_norm = self._pending_norm, _UNSET
            if changed or pending is not _UNSET:
                norm = base.weight_norm if pending in (None, _UNSET) else float(pending)
                self.w_norm.max = max(NORM_MAX, float(np.ceil(2 * base.weight_norm)))
                self._internal = True  # the norm slider follows the model: not a user change
                try:
                    self.w_norm.value = norm
                finally:
                    self._internal = False
            dirty.add("curves")
        if "curves" in dirty:
            try:
                self._update_curves()
            except InputError as exc:
                self._message(f"{exc}. The plots keep the last good state.", error=True)
                return
        self._update_cursor()
        self._update_link()

    def _show_model_controls(self, token):
        """Set the model controls to the model ``token`` without triggering an update."""
        self._internal = True
        try:
            self.w_model.value = token[0]
            if token[0] == "random":
                self.w_nv.value, self.w_nh.value, self.w_seed.value = token[1:]
            elif token[0] == "upload":
                self._upload = self._good_upload
        finally:
            self._internal = False

    def _effective_rbm(self):
        base = self._base_rbm
        norm = float(self.w_norm.value)
        if abs(norm - base.weight_norm) < 1e-9:
            return base
        return base.with_weight_norm(norm)

    def _curve_key(self):
        return (self._base_token, round(float(self.w_norm.value), 9), int(self.w_order.value),
                self.w_reference.value, float(LAM_GRID[lam_index(self.w_lam.value)]))

    def _update_curves(self):
        t0 = time.perf_counter()
        key = self._curve_key()
        rbm = self._effective_rbm()
        hit = self._curves_cache.get(key)
        if hit is None:
            order, ref, lam = key[2], key[3], key[4]
            curves = temperature_sweep(rbm, T_GRID, order=order, lam=lam, reference=ref)
            extras = self._scaling(rbm, curves)
            ais = self._ais(rbm) if self.run_ais else None
            hit = (curves, extras, ais)
            self._curves_cache[key] = hit
            while len(self._curves_cache) > 8:
                self._curves_cache.popitem(last=False)
        else:
            self._curves_cache.move_to_end(key)
        self._rbm, (self._curves, extras, ais) = rbm, hit
        c = self._curves
        k = c.order
        # TAP values where the TAP equations did not converge are not shown (NaN -> dropped)
        tap2 = np.where(c.tap2_converged, c.tap2, np.nan)
        tap3 = np.where(c.tap3_converged, c.tap3, np.nan)
        v = self.view
        v.show_temperature_curves(c.temperature, c.exact, c.mean_field, tap2, tap3, c.series[:, k - 1],
                                  c.exact_lambda, c.internal_energy, c.entropy, c.heat_capacity,
                                  lam=c.lam)
        v.set_order(k)
        v.show_weights(rbm.weights)
        v.show_scaling(c.temperature, c.exact / c.temperature, *extras)   # −ln Z = F/T
        if ais is None:
            v.clear_sampling("Sampling estimates are switched off." if not self.run_ais else
                             "Sampling estimates are not available in this installation.")
        elif isinstance(ais, str):
            v.clear_sampling(ais)
        else:
            t, f_ais, err = ais
            v.show_sampling(t, f_ais, err, _exact_at(c, t),
                            note=f"{AIS_CHAINS} chains, {AIS_STEPS} annealing steps per temperature.")
        self._update_csv()
        self.timings["curves"] = time.perf_counter() - t0

    def _scaling(self, rbm, curves):
        """−ln Z of rescaled models at T = 1 (plot 8): every parameter / T, and weights only."""
        pts = np.array([log_partition(rbm.scaled(1.0 / t), 1.0) for t in SCALING_POINTS])
        norm = rbm.weight_norm
        norms = norm / SCALING_WEIGHTS
        if norm > 0:
            wonly = np.array([log_partition(rbm.with_weight_norm(n), 1.0) for n in norms])
        else:
            wonly = np.full(norms.size, np.nan)
        return SCALING_POINTS, -pts, SCALING_WEIGHTS, -wonly, norms

    def _ais(self, rbm):
        try:
            from ..rbm.sampling import ais_log_partition  # optional: built by another issue
        except ImportError:
            return None
        f, err = [], []
        try:
            for t in AIS_TEMPERATURES:
                r = ais_log_partition(rbm, t, n_chains=AIS_CHAINS, n_steps=AIS_STEPS, seed=0)
                f.append(-t * r.log_partition)
                err.append(t * r.stderr)
        except InputError as exc:   # the exact curves are still worth showing
            return f"No sampling estimate for this model: {exc}"
        return AIS_TEMPERATURES, np.array(f), np.array(err)

    def _point(self, i):
        """Per-temperature quantities at grid index ``i`` (cached).

        F(λ) is computed on the coarse :data:`LAM_CURVE` grid (the exact F(λ) costs ~0.5 ms
        per λ for 12 x 12) plus the slider's λ, where the series terms are read.
        """
        key = self._curve_key() + (i,)
        hit = self._point_cache.get(key)
        if hit is not None:
            self._point_cache.move_to_end(key)
            return hit
        rbm, t = self._rbm, float(T_GRID[i])
        order, ref = key[2], key[3]
        lams = np.union1d(LAM_CURVE, [key[4]])
        lc = lambda_sweep(rbm, lams, temperature=t, order=order, reference=ref)
        ev, eh = marginals(rbm, t)
        mf = mean_field(rbm, t)
        taps = {o: tap(rbm, t, order=o) for o in (2, 3)}
        mags = dict(exact=np.concatenate([ev, eh]), mean_field=np.concatenate([mf.visible, mf.hidden]))
        for o, r in taps.items():
            m = np.concatenate([r.visible, r.hidden])
            mags[f"tap{o}"] = m if r.converged else np.full(m.size, np.nan)
        hit = (lc, mags)
        self._point_cache[key] = hit
        while len(self._point_cache) > 512:
            self._point_cache.popitem(last=False)
        return hit

    def _update_cursor(self):
        t0 = time.perf_counter()
        i = t_index(self.w_temperature.value)
        j = lam_index(self.w_lam.value)
        lc, mags = self._point(i)
        v = self.view
        v.show_lambda_curves(lc.lam, lc.exact, lc.series)
        # n-th term of the series at λ: F_n(λ) − F_{n−1}(λ), with F_0 = −T ln Z_q = F_n(0)
        at = lc.series[int(np.flatnonzero(lc.lam == LAM_GRID[j])[0])]
        prev = np.concatenate([[lc.series[0, 0]], at[:-1]])
        v.show_cumulants(lc.kappa, at - prev)
        v.show_magnetisations(mags["exact"], mags["mean_field"], mags["tap2"], mags["tap3"],
                              self._rbm.n_visible)
        # The cursors go last: the browser applies patches in this order, and the cursor
        # repaints five plots along T; sent first, that repaint delays the smaller patches.
        v.show_lambda_cursor(LAM_GRID[j])
        v.show_temperature_cursor(T_GRID[i])
        self._update_readout(i, int(np.flatnonzero(lc.lam == LAM_GRID[j])[0]), lc)
        self.timings["cursor"] = time.perf_counter() - t0

    def _update_readout(self, i, j, lc):
        c = self._curves
        t = T_GRID[i]
        k = c.order
        ex = c.exact[i]
        rows = [("exact F", ex, None), ("mean-field bound", c.mean_field[i], c.mean_field[i] - ex)]
        for o in (2, 3):
            val = getattr(c, f"tap{o}")[i]
            ok = getattr(c, f"tap{o}_converged")[i]
            rows.append((f"TAP{o}" + ("" if ok else " (not converged)"), val, val - ex))
        rows.append((f"series, order {k}, at λ = {lc.lam[j]:.2f}", lc.series[j, k - 1],
                     lc.series[j, k - 1] - lc.exact[j]))
        cells = "".join(f"<td style='padding:0 10px 0 0'>{name}<br><b>{val:.6f}</b>"
                        + ("" if d is None else f"<br><span style='color:#666'>{d:+.2e}</span>") + "</td>"
                        for name, val, d in rows)
        minima = int(c.mean_field_minima[i])
        wn = self._rbm.weight_norm
        self.w_readout.value = (
            f"<div class='explorer-readout' style='font-size:13px'>At <b>T = {t:.4g}</b> "
            f"(‖W‖ = {wn:.3g}, effective coupling ‖W‖/T = {wn / t:.3g}; "
            f"mean field has {minima} local minim{'um' if minima == 1 else 'a'}):"
            f"<table style='margin-top:4px'><tr>{cells}</tr></table>"
            f"<span style='color:#666'>grey: difference to the exact value</span></div>")

    def _update_link(self):
        q = query_from_state(self.state)
        classroom = getattr(self, "classroom", None)   # set once the explorer is built
        if classroom is not None:
            q = "&".join(p for p in (q, urlencode(classroom.query_items(), safe=",")) if p)
        base = self.page_url or NOTEBOOK_PATH
        url = base + ("?" + q if q else "")
        self.w_link.value = (f"<div class='explorer-link'><a href='{_escape(url)}' target='_blank'>"
                             f"Link to this view</a>: <code style='word-break:break-all'>"
                             f"{_escape(url)}</code></div>")

    def _update_csv(self):
        text = self.csv()
        b64 = base64.b64encode(text.encode()).decode()
        self.w_csv.value = (f"<a class='explorer-csv' download='rbm_explorer_curves.csv' "
                            f"href='data:text/csv;base64,{b64}'>Download the curves (CSV)</a>")

    def csv(self):
        """The current curves along T as CSV text (one row per grid temperature)."""
        c = self._curves
        cols = {"temperature": c.temperature, "exact_F": c.exact, "mean_field_bound": c.mean_field,
                "mean_field_minima": c.mean_field_minima, "tap2": c.tap2,
                "tap2_converged": c.tap2_converged.astype(int), "tap3": c.tap3,
                "tap3_converged": c.tap3_converged.astype(int)}
        for k in range(c.order):
            cols[f"series_order_{k + 1}_at_lambda_{c.lam:g}"] = c.series[:, k]
        cols[f"exact_F_at_lambda_{c.lam:g}"] = c.exact_lambda
        cols.update(internal_energy=c.internal_energy, entropy=c.entropy, heat_capacity=c.heat_capacity)
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(cols)
        for row in zip(*cols.values()):
            wr.writerow([f"{x:.12g}" if isinstance(x, (float, np.floating)) else int(x) for x in row])
        return buf.getvalue()

    # ------------------------------------------------------------------ display
    def show(self):
        """Display the explorer in a notebook (BokehJS inline: works offline and in Voila)."""
        from IPython.display import display

        from ..views.resources import load_bokehjs

        load_bokehjs()
        display(self.widget)
        return self


def _exact_at(curves, temperatures):
    """Exact F of the cached sweep at the AIS temperatures (taken from the sweep's grid)."""
    idx = [t_index(t) for t in temperatures]
    if not np.allclose(curves.temperature[idx], temperatures, rtol=1e-9):
        raise AssertionError("AIS temperatures must lie on the temperature grid")
    return curves.exact[idx]


def _check_size(nv, nh):
    """Readable refusal of models too large to enumerate (or too slow to explore)."""
    probe = type("Shape", (), {"n_visible": nv, "n_hidden": nh})()
    check_enumerable(probe)  # beyond 24: the core's own message
    small = min(nv, nh)
    if small > APP_ENUMERATION_LIMIT:
        raise EnumerationLimitError(
            f"{nv} × {nh} is too large for the explorer: the exact curves enumerate all 2^{small} "
            f"states of the smaller layer at 201 temperatures, which takes minutes; use at most "
            f"{APP_ENUMERATION_LIMIT} units in one of the layers")


def _escape(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&#39;").replace('"', "&quot;"))


def show_rbm_explorer(**kwargs):
    """Build and display the explorer (the notebook's one line).

    In a kernel of Voila's preheated pool the default view is built before the page is asked
    for, and the URL's view adopted when it is (:func:`explorer.app.preheat.show_when_requested`).
    """
    return show_when_requested(RBMExplorer, **kwargs)
