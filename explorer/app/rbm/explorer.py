"""The RBM explorer: controls -> :class:`State` -> :class:`RBMCompute` -> the panel views.

Built on :class:`explorer.app.core.ExplorerShell` (scheduling, presets, URL state, teacher
mode, theme, link, CSV, lazy tabs). What is here: the RBM's controls, which State field each
one writes, and one small render function per panel.

What a change of State fields costs: the model's fields (:data:`MODEL_FIELDS`) and the norm, λ,
order and reference (:data:`CURVE_FIELDS`) a new sweep along T; the temperature ``T`` only a
point of the cached sweep (the per-T quantities are computed and cached, neighbours are
prefetched while idle); ``show`` only which curves are visible.
"""

from __future__ import annotations

import csv
import io

import ipywidgets as W
import numpy as np

from ...errors import InputError
from ...rbm.explore import magnetisation_labels
from ...views.glossary import guide_html
from ...views.html import fmt, readout_html
from ...views.rbm.explorer import (
    CURVES,
    CumulantView,
    ErrorThermoView,
    FreeEnergyView,
    SamplingView,
    ScalingView,
    UnitView,
    WeightNormView,
)
from ...views.rbm.explorer import EXPLANATIONS as RBM_CAPTIONS
from ...views.rbm.hold_q import EXPLANATIONS as HOLD_Q_CAPTIONS
from ...views.rbm.learning import EXPLANATIONS as LEARNING_CAPTIONS
from ..core import ExplorerShell, Panel
from ..core.components import take_upload
from ..core.request import show_when_requested
from .compute import AIS_CHAINS, AIS_STEPS, BARS_STRIPES_PATH, RBMCompute
from .hold_q import HoldQ
from .learning import LearningTab
from .state import (
    CONTROL_NAMES,
    CURVE_FIELDS,
    CURVE_KEYS,
    DEFAULT,
    LAM_GRID,
    LAM_MAX,
    LAM_MIN,
    MAX_ORDER,
    MAX_UNITS,
    MODEL_FIELDS,
    NORM_MAX,
    PRESETS,
    SCHEMA,
    T_GRID,
)

NOTEBOOK_PATH = "voila/render/rbm_explorer.ipynb"
#: Neighbouring grid temperatures computed while idle (the next arrow-key steps).
PREFETCH_STEPS = (1, -1, 2, -2)
#: What each panel reads: everything at one temperature, and the curves' visibility where drawn.
AT_T = CURVE_FIELDS | {"T"}
SHOWN_AT_T = AT_T | {"show"}

GUIDE = """<div class='explorer-guide-text' style='font-size:13px;line-height:1.5;max-width:860px'>
<p><b>The story in two plots.</b> Left: the exact free energy F = −T ln Z of this RBM (black) and the
mean-field value (blue); under it, each approximation minus the exact F, where the differences can be seen.
Mean field is the best distribution with independent units, and by the Gibbs–Bogoliubov–Feynman inequality
its free energy is never below the exact one: the shaded band under the blue difference is the gap.
TAP (red, orange) adds the Onsager correction and is closer, but it is <i>not</i> a bound.
Right: F(λ) along the perturbation strength λ (λ = 1 is the real model) and the cumulant series of
orders 1..K around the reference. Order 1 at λ = 1 is the bound; where the series leaves the black curve,
it diverges.</p>
<p><b>Try:</b> drag the temperature (click a point of a plot to jump there); raise ‖W‖ until the gap opens
and the series diverges; pick a preset. The other tabs show the errors and exact thermodynamics,
the cumulants, each unit's magnetisation and the couplings, sampling (AIS) and why temperature is a
rescaling — each is computed when you first open it.</p></div>"""
#: The Guide, with a glossary of every word the RBM explorer's captions, readouts and tabs use.
GUIDE = guide_html(GUIDE, *RBM_CAPTIONS.values(), *HOLD_Q_CAPTIONS.values(), *LEARNING_CAPTIONS.values(),
                   "exact F, mean-field bound, TAP2, TAP3, series, order K, at λ, effective coupling ‖W‖/T, "
                   "reference: mean field / independent units, cumulant order K, perturbation λ, weight norm ‖W‖, "
                   "CD-k, PCD, EMF, F[q] ≥ exact F, gap = T·KL(q‖p), magnetisation")


class RBMExplorer(ExplorerShell):
    """The interactive RBM explorer: build it, then display :attr:`widget` (or call :meth:`show`).

    Parameters
    ----------
    query, page_url, prefetch
        See :class:`explorer.app.core.ExplorerShell`.
    run_ais : bool
        Compute the sampling estimates of the AIS panel.
    """

    PREFIX = "explorer"
    CLASS_CHANNEL = "explorer:rbm"
    ROOT_CLASS = "rbm-explorer"
    CONTROL_NAMES = CONTROL_NAMES
    SCHEMA = SCHEMA
    CSV_READS = CURVE_FIELDS
    GUIDE = GUIDE

    def __init__(self, query=None, page_url=None, run_ais=True, prefetch=True):
        self.compute = RBMCompute(run_ais=run_ais)
        # the default view's numbers ship on disk: a page opened without a query computes nothing
        self.compute.seed_default_view(DEFAULT)
        super().__init__(query=query, page_url=page_url, prefetch=prefetch)

    # ------------------------------------------------------------------ controls
    def build_controls(self):
        wide = W.Layout(width="310px")
        style = {"description_width": "120px"}
        # built from the State fields' declarations (app/rbm/state.py: FIELDS) and bound to them
        self.w_temperature = self.control("T")
        self.w_norm = self.control("norm", value=1.0, convert=float)    # the model's own norm until moved
        self.w_lam = self.control("lam")
        self.w_order = self.control("order")
        self.w_reference = self.control("ref")
        short = {"series": "series, order K"}
        self.w_show = {k: W.Checkbox(value=True, description=short.get(k, CURVES[k]), indent=False,
                                     layout=W.Layout(width="150px")) for k in CURVE_KEYS}
        self.w_model = W.Dropdown(options=[("random RBM (size, seed)", "random"),
                                           ("trained on bars and stripes", "bars-stripes"),
                                           ("uploaded .npz file", "upload"),
                                           ("trained in the Learning tab", "trained")],
                                  description="RBM", layout=wide, style=style)
        small = W.Layout(width="100px")
        self.w_nv = W.BoundedIntText(value=12, min=1, max=MAX_UNITS, description="visible", layout=small,
                                     style={"description_width": "45px"})
        self.w_nh = W.BoundedIntText(value=12, min=1, max=MAX_UNITS, description="hidden", layout=small,
                                     style={"description_width": "45px"})
        self.w_seed = W.IntText(value=0, description="seed", layout=small, style={"description_width": "35px"})
        # No icons: ipywidgets draws them with Font Awesome, which Voila's template loads
        # from a CDN; offline (or with the CDN blocked) the labels alone must say it all.
        self.w_upload = W.FileUpload(accept=".npz", multiple=False, description="Upload .npz", icon="",
                                     layout=W.Layout(width="150px"))
        for w in self.w_temperature, self.w_norm, self.w_lam, self.w_order, self.w_reference:
            w.add_class("explorer-control")
        for w, name in ((self.w_model, "model"), (self.w_nv, "nv"), (self.w_nh, "nh"), (self.w_seed, "seed")):
            w.observe(lambda ch, name=name: self._on_model_control(name, ch["new"]), "value")
        for key, w in self.w_show.items():
            w.observe(lambda ch, key=key: self._on_show(key, ch["new"]), "value")
        self.w_upload.observe(self._on_upload, "value")

        self._curves_label = W.HTML("<b>Curves shown</b>")
        self._curves_grid = W.GridBox(list(self.w_show.values()), layout=W.Layout(grid_template_columns="155px 155px"))
        self._model_label = W.HTML("<b>Model</b>")
        self._model_rows = [W.HBox([self.w_nv, self.w_nh, self.w_seed]), W.HBox([self.w_upload, self.w_reset])]
        return [self.w_temperature, self.w_norm, self.w_lam, self.w_order, self.w_reference,
                self._curves_label, self._curves_grid, self._model_label, self.w_model, *self._model_rows]

    def hideable(self):
        return {"temperature": self.w_temperature, "norm": self.w_norm, "lam": self.w_lam, "order": self.w_order,
                "reference": self.w_reference, "curves": [self._curves_label, self._curves_grid],
                "model": [self._model_label, self.w_model, *self._model_rows],
                "learning": lambda: self.learning.settings_controls}   # the Learning tab's settings (build_panels)

    def show_state(self, state):
        loaded = {"upload": self.compute.upload, "trained": self.compute.trained}
        self.w_model.value = state.model if loaded.get(state.model, True) else "random"
        self.w_nv.value, self.w_nh.value, self.w_seed.value = state.nv, state.nh, state.seed
        self.show_fields(state)
        for k in CURVE_KEYS:
            self.w_show[k].value = k in state.show

    def _on_model_control(self, name, value):
        if not self.is_quiet:
            # a new model starts at its own weight norm
            self.update_state(**{name: value, "norm": None})

    def _on_show(self, key, visible):
        if not self.is_quiet:
            self.update_state(show=tuple(k for k in CURVE_KEYS
                                         if (k == key and visible) or (k != key and k in self.state.show)))

    def _on_upload(self, change):
        upload = take_upload(self.w_upload, change)
        if upload is not None:
            self.compute.upload = upload        # the compute model keeps the bytes
            self._switch_model("upload")

    def use_trained_model(self, rbm, name):
        """Explore ``rbm`` (trained in the Learning tab) in every plot: the model becomes ``"trained"``."""
        self.compute.set_trained(name, rbm)
        self._switch_model("trained")
        self._message(f"Exploring the model trained by {name}. A link cannot carry its weights: it opens "
                      f"the default model.")

    def _switch_model(self, kind):
        """Show the model the compute model holds for ``kind`` (``"upload"``, ``"trained"``) at its own
        weight norm: the dropdown set without its observer, one update. A new model gets a new
        ``model_id`` (the State names which upload or trained model it shows)."""
        with self.quietly():
            self.w_model.value = kind
        self.update_state(model=kind, norm=None, model_id=self.state.model_id + 1)

    def apply_preset(self, key):
        if PRESETS[key][1].get("model") == "bars-stripes" and not BARS_STRIPES_PATH.is_file():
            self._message("the bars-and-stripes model is not available in this installation", error=True)
            return
        super().apply_preset(key)

    def reset(self):
        self.compute.upload = None
        super().reset()

    # ------------------------------------------------------------------ the update
    def before_render(self, state, changed):
        """Load the model and its sweep before any panel changes (a refused one changes none)."""
        if not changed & CURVE_FIELDS:
            return state
        try:
            self.compute.curves(state)
        except InputError as exc:
            if self.shown is not None:
                raise
            # first build (e.g. a URL asking for 30 x 30): start from the default model
            self._message(f"{exc}. Showing the default model instead.", error=True)
            state = state.copy(model=DEFAULT.model, nv=DEFAULT.nv, nh=DEFAULT.nh, seed=DEFAULT.seed, norm=None)
            self._set_widgets(state)
            self.compute.curves(state)
        else:
            if self.showing_error and changed & MODEL_FIELDS:
                self._message("")
        self._show_norm(state)
        self._show_model_fields(state)
        return state

    def _show_model_fields(self, state):
        """The size boxes say the shown model's sizes: editable for a random RBM, read-only for an
        uploaded, trained or shipped one (whose sizes the boxes do not choose)."""
        random = state.model == "random"
        rbm = self.compute.base_model(state)
        with self.quietly():
            self.w_nv.value, self.w_nh.value = rbm.n_visible, rbm.n_hidden
            if random:
                self.w_seed.value = state.seed
            for w in (self.w_nv, self.w_nh, self.w_seed):
                w.disabled = not random

    def _show_norm(self, state):
        """The norm slider follows the model (its own norm until the user moves it)."""
        base = self.compute.base_model(state).weight_norm
        with self.quietly():
            self.w_norm.max = max(NORM_MAX, float(np.ceil(2 * base)))
            self.w_norm.value = self.compute.weight_norm(state)

    def refused_message(self, exc, state):
        if state.model != self.shown.model or self.compute.model_key(state) != self.compute.model_key(self.shown):
            self.compute.upload = self.compute.good_upload
            return f"{exc}. The plots still show the previous model."
        return f"{exc}. The plots keep the last good state."

    def build_panels(self):
        self.hold_q = HoldQ(self)          # the Hold q tab's controller
        return [
            Panel("free_energy", "Free energy", lambda: FreeEnergyView(
                max_order=MAX_ORDER, t_range=_t_range(), lam_range=(LAM_MIN, LAM_MAX)), self._render_free_energy,
                core=True, reads=SHOWN_AT_T),
            Panel("errors", "Errors, U, S, C", lambda: ErrorThermoView(t_range=_t_range()),
                  self._bound(render_errors), reads=SHOWN_AT_T),
            Panel("cumulants", "Cumulants", lambda: CumulantView(max_order=MAX_ORDER), self._bound(render_cumulants),
                  reads=AT_T),
            Panel("units", "Units", UnitView, self._bound(render_units), reads=AT_T),
            Panel("norm", "Along ‖W‖", WeightNormView, self._bound(render_norm), reads=SHOWN_AT_T),
            Panel("sampling", "Sampling", lambda: SamplingView(t_range=_t_range()), self._bound(render_sampling),
                  reads=AT_T),
            Panel("scaling", "Rescaling", lambda: ScalingView(t_range=_t_range()), self._bound(render_scaling),
                  reads=AT_T),
            LearningTab(self).panel(),      # also sets self.learning
            self.hold_q.panel(),
        ]

    # ------------------------------------------------------------------ panels
    def _bound(self, render):
        """``render(compute, view, state, changed)`` as a Panel's render of this explorer."""
        return lambda view, state, changed: render(self.compute, view, state, changed)

    def tap_actions(self):
        # through the widgets: the slider shows the value, and its observer updates the State
        return {"norm": lambda x: setattr(self.w_norm, "value", round(float(x), 4)),
                "temperature": lambda x: setattr(self.w_temperature, "value", T_GRID.snap(x)),
                "lambda": lambda x: setattr(self.w_lam, "value", LAM_GRID.snap(x))}

    def _render_free_energy(self, v, state, changed):
        c = self.compute.curves(state)
        if changed & CURVE_FIELDS:
            k = c.order
            # TAP values where the TAP equations did not converge are not shown (NaN -> dropped)
            v.show_temperature_curves(c.temperature, c.exact, c.mean_field,
                                      np.where(c.tap2_converged, c.tap2, np.nan),
                                      np.where(c.tap3_converged, c.tap3, np.nan), c.series[:, k - 1],
                                      c.exact_lambda, lam=c.lam)
            v.set_order(k)
        if changed & (CURVE_FIELDS | {"show"}):
            for key in CURVE_KEYS:
                v.set_visible(key, key in state.show)
        if changed & AT_T:
            p = self.compute.point(state)
            v.show_lambda_curves(p.lam, p.exact_lambda, p.series)
            # The cursors go last: the browser applies patches in this order, and the cursor
            # repaints the plots along T; sent first, that repaint delays the smaller patches.
            v.show_lambda_cursor(state.lam)
            v.show_temperature_cursor(state.T)
            self.w_readout.value = self._readout(state, c, p)

    def _readout(self, state, c, p):
        i = T_GRID.index(state.T)
        j = int(np.argmin(np.abs(p.lam - state.lam)))
        k, ex = c.order, c.exact[i]
        cells = [("exact F", fmt(ex), None), ("mean-field bound", fmt(c.mean_field[i]), c.mean_field[i] - ex)]
        for o in (2, 3):
            val, ok = getattr(c, f"tap{o}")[i], getattr(c, f"tap{o}_converged")[i]
            cells.append((f"TAP{o}" + ("" if ok else " (not converged)"), fmt(val), val - ex))
        cells.append((f"series, order {k}, at λ = {state.lam:.2f}", fmt(p.series[j, k - 1]),
                      p.series[j, k - 1] - p.exact_lambda[j]))
        minima = int(c.mean_field_minima[i])
        wn = self.compute.weight_norm(state)
        heading = (f"At <b>T = {state.T:#.4g}</b> (‖W‖ = {wn:.2f}, effective coupling ‖W‖/T = {wn / state.T:.3g}; "
                   f"mean field has {minima} local minim{'um' if minima == 1 else 'a'}):")
        return readout_html("explorer", heading, cells, note="grey: difference to the exact value")

    # ------------------------------------------------------------------ prefetch
    def prefetch_token(self):
        return (self.compute.curve_key(self.state), self.state.T)

    def prefetch_plan(self, state):
        if self.shown is None:
            return None
        i = T_GRID.index(state.T)
        direction = 1 if i >= getattr(self, "_last_index", i) else -1
        self._last_index = i
        todo = [T_GRID[i + direction * s] for s in PREFETCH_STEPS if 0 <= i + direction * s < T_GRID.size]
        return self.prefetch_token(), todo, lambda t: self.compute.point(state.copy(T=float(t)))

    # ------------------------------------------------------------------ CSV
    def csv_filename(self):
        return "rbm_explorer_curves.csv"

    def csv(self):
        """The current curves along T as CSV text (one row per grid temperature)."""
        c = self.compute.curves(self.shown or self.state)
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


# ---------------------------------------------------------------------- panels' renders
# Each tab's render is a function of the compute model, its view, the State and the fields that
# changed: no explorer needed (tests render a panel from a State diff alone).


def render_errors(compute, v, state, changed):
    """The Errors, U, S, C panel: each approximation's error and the exact U, S, C along T.

    ``compute``: an :class:`~explorer.app.rbm.compute.RBMCompute`; ``changed``: the State fields that
    differ from the State ``v`` shows (every field for a new view).
    """
    c = compute.curves(state)
    if changed & CURVE_FIELDS:
        k = c.order
        v.show(c.temperature, c.exact, {"mean_field": c.mean_field,
                                        "tap2": np.where(c.tap2_converged, c.tap2, np.nan),
                                        "tap3": np.where(c.tap3_converged, c.tap3, np.nan),
                                        "series": c.series[:, k - 1]},
               c.exact_lambda, c.internal_energy, c.entropy, c.heat_capacity)
    if changed & (CURVE_FIELDS | {"show"}):
        for key in CURVE_KEYS:
            v.set_visible(key, key in state.show)
    v.show_temperature_cursor(state.T)


def render_cumulants(compute, v, state, changed):
    """The Cumulants panel: κ_n and the series' terms at the state's temperature.

    ``compute``: an :class:`~explorer.app.rbm.compute.RBMCompute`; ``changed``: the State fields that
    differ from the State ``v`` shows (every field for a new view).
    """
    if changed & AT_T:
        p = compute.point(state)
        v.show(p.kappa, p.term_sizes(state.lam))


def render_units(compute, v, state, changed):
    """The Units panel: the couplings, and every unit's magnetisation (exact, mean field, TAP).

    ``compute``: an :class:`~explorer.app.rbm.compute.RBMCompute`; ``changed``: the State fields that
    differ from the State ``v`` shows (every field for a new view).
    """
    rbm = compute.rbm(state)
    if changed & CURVE_FIELDS:
        v.show_weights(rbm.weights)
    if changed & AT_T:
        m = compute.point(state).magnetisations
        v.show_magnetisations(m["exact"], m["mean_field"], m["tap2"], m["tap3"],
                              magnetisation_labels(rbm.n_visible, rbm.n_hidden))


def render_norm(compute, v, state, changed):
    """The Along ‖W‖ panel: F of each approximation along the weight norm at the state's T.

    ``compute``: an :class:`~explorer.app.rbm.compute.RBMCompute`; ``changed``: the State fields that
    differ from the State ``v`` shows (every field for a new view).
    """
    # the curves depend on T (not on ‖W‖, which only moves the cursor)
    if changed & AT_T:
        try:
            c = compute.norm_curves(state)
        except InputError as exc:       # e.g. an RBM with all-zero weights has no direction to scale
            v.clear(f"No curves along ‖W‖ for this model: {exc}.")
        else:
            k = c.order
            v.show(c.weight_norm, c.exact, {"mean_field": c.mean_field,
                                            "tap2": np.where(c.tap2_converged, c.tap2, np.nan),
                                            "tap3": np.where(c.tap3_converged, c.tap3, np.nan),
                                            "series": c.series[:, k - 1]}, c.exact_lambda,
                   note=f"At T = {state.T:#.4g}, order K = {k}, λ = {state.lam:.2f}.")
    if changed & (CURVE_FIELDS | {"show"}):
        for key in CURVE_KEYS:
            v.set_visible(key, key in state.show)
    v.show_norm_cursor(compute.weight_norm(state))


def render_sampling(compute, v, state, changed):
    """The Sampling panel: AIS estimates against the exact F.

    ``compute``: an :class:`~explorer.app.rbm.compute.RBMCompute`; ``changed``: the State fields that
    differ from the State ``v`` shows (every field for a new view).
    """
    if changed & CURVE_FIELDS:
        ais = compute.ais(state)
        if isinstance(ais, str):
            v.clear(ais)
        else:
            t, f_ais, err = ais
            c = compute.curves(state)
            exact = c.exact[[T_GRID.index(x) for x in t]]
            v.show(t, f_ais, err, exact, note=f"{AIS_CHAINS} chains, {AIS_STEPS} annealing steps per temperature.")
    v.show_temperature_cursor(state.T)


def render_scaling(compute, v, state, changed):
    """The Rescaling panel: temperature as a rescaling of the parameters.

    ``compute``: an :class:`~explorer.app.rbm.compute.RBMCompute`; ``changed``: the State fields that
    differ from the State ``v`` shows (every field for a new view).
    """
    if changed & CURVE_FIELDS:
        c = compute.curves(state)
        v.show(c.temperature, c.exact / c.temperature, *compute.rescaling(state))   # −ln Z = F/T
    v.show_temperature_cursor(state.T)


def _t_range():
    return (T_GRID[0], T_GRID[-1])


def show_rbm_explorer(**kwargs):
    """Build and display the explorer (the notebook's one line).

    In a kernel of Voila's preheated pool the default view is built before the page is asked
    for, and the URL's view adopted when it is (:func:`explorer.app.core.request.show_when_requested`).
    """
    return show_when_requested(RBMExplorer, **kwargs)


__all__ = ["RBMExplorer", "show_rbm_explorer"]
