"""The RBM explorer's Bokeh views, one per panel: figures and sources fed with plain arrays.

This module knows nothing about widgets or physics. The app computes every number with
the physics layer and hands arrays to the ``show_*`` methods, which replace
``source.data`` in place (one small patch per source; figures are built once). The rules of
:mod:`explorer.views.common` hold (no NaN/inf reaches BokehJS; every source is named).

Panels: :class:`FreeEnergyView` (the first screen: F vs T with the bound and its corrections,
F vs λ with the series), :class:`ErrorThermoView`, :class:`CumulantView`, :class:`UnitView`,
:class:`SamplingView`, :class:`ScalingView`.
"""

from __future__ import annotations

import numpy as np
from bokeh.layouts import row
from bokeh.models import (
    BasicTicker,
    ColorBar,
    DataRange1d,
    Div,
    HoverTool,
    LabelSet,
    LinearColorMapper,
    Range1d,
    Whisker,
)
from bokeh.palettes import RdBu11

from ..common import (
    SourceRegistry,
    empty,
    explained,
    finite_rows,
    font_px,
    invisible_tap_markers,
    legend_outside,
    plot,
    set_symlog_ticks,
    small,
    symlog,
    symlog_axis,
    symlog_threshold,
    sync_legend,
)
from ..common import cursor_line as _cursor
from ..common import temperature_axis as _temperature_axis
from ..series import SeriesPlot, order_columns, series_colors

#: Curves of the F-vs-T plot a user can switch on and off (key -> label a student reads).
CURVES = {
    "exact": "exact F",
    "mean_field": "mean-field bound",
    "tap2": "TAP order 2",
    "tap3": "TAP order 3",
    "series": "cumulant series (order K)",
}

COLORS = {"exact": "black", "mean_field": "#1f77b4", "tap2": "#d62728", "tap3": "#ff7f0e",
          "series": "#2ca02c", "exact_lambda": "#7f7f7f", "ais": "#9467bd"}

_FMT = "{0.000000}"

# One or two sentences per plot, tied to the essay's claims (the app shows them verbatim).
EXPLANATIONS = {
    "free_energy": (
        "<b>Free energy F vs temperature</b>; under it, <b>each approximation minus the exact F</b> on a "
        "signed log axis (zero: exact). The mean-field bound (Gibbs–Bogoliubov–Feynman) is never below the "
        "exact F: the shaded gap is ≥ 0. TAP adds the Onsager correction and is <i>not</i> a bound: it can "
        "fall below zero. The series of order K is compared with the exact F(λ)."),
    "lambda": (
        "<b>F vs perturbation strength λ at this temperature.</b> The cumulant series of orders 1..K "
        "expands F(λ) around the reference (λ = 0); order 1 is the Gibbs–Bogoliubov–Feynman bound at the "
        "reference and, around the mean-field optimum, order 2 adds exactly the Onsager term of TAP. "
        "At strong coupling the higher orders run away from the exact curve: the series diverges."),
    "error": (
        "<b>Error of each approximation</b>, |F<sub>approx</sub> − F<sub>exact</sub>| on a log axis. "
        "All errors vanish at high temperature, where the units are nearly independent."),
    "thermo": (
        "<b>Exact thermodynamics</b>: internal energy U = ⟨E⟩, entropy S = (U − F)/T and heat "
        "capacity C = Var(E)/T². A peak in C marks the temperature where the units order."),
    "kappa": (
        "<b>Cumulants κ<sub>n</sub> of the perturbation V under the reference</b> at this temperature, "
        "and the size of the n-th term of the series at λ. Terms that shrink mean the series "
        "converges; terms that grow mean it diverges."),
    "weights": (
        "<b>The couplings W</b> (rows: visible units, columns: hidden units). Scaling every "
        "parameter by 1/T is the same model at temperature T, so a larger ‖W‖ acts like a lower "
        "temperature: T<sub>eff</sub> ~ 1/‖W‖."),
    "magnetisation": (
        "<b>Magnetisations</b> ⟨s<sub>i</sub>⟩ of every unit at this temperature: exact marginals "
        "against mean field and TAP. Mean field ignores correlations; TAP corrects them."),
    "sampling": (
        "<b>Sampling estimate</b>: annealed importance sampling (AIS) estimates ln Z without "
        "enumerating states. Shown is F<sub>AIS</sub> − F<sub>exact</sub> with ±2 standard errors. "
        "Its ln Z is a stochastic lower bound (too low on average over many runs); one run "
        "scatters within its error bars, which widen at low temperature."),
    "weight_norm": (
        "<b>Free energy along the weight norm ‖W‖</b> at the cursor's temperature (biases kept). "
        "At ‖W‖ = 0 the units are independent and mean field is exact; the gap to the bound opens as the "
        "couplings grow, as it does when T falls (the couplings enter as W/T). Click a point to "
        "move the ‖W‖ slider there."),
    "scaling": (
        "<b>Temperature is a rescaling.</b> Markers: −ln Z of the model with <i>every</i> parameter "
        "divided by T, evaluated at T = 1; they sit on the exact −ln Z(T) line. Dashed: only the "
        "weights rescaled to ‖W‖/T (biases kept), the rough rule T<sub>eff</sub> ~ 1/‖W‖."),
}


#: The first screen's difference plot names each curve at the cursor (it has no legend of its own, and
#: TAP2 and TAP3 lie ~10 px apart there at the default state): a marker on the curve and its name
#: beside it, the names staggered at least a line (DIFF_LABEL_LINE_EM of their font) apart, inside
#: the frame.
DIFF_LABELS = {"mean_field": "bound", "tap2": "TAP2", "tap3": "TAP3", "series": "series"}
#: The plot's smallest frame height (px) at its default height (measured in Chromium: 200 px, 186 px
#: with the projector's fonts; the margin covers other fonts), the names' font (px) and line (ems).
DIFF_MIN_FRAME_HEIGHT = 170.0
DIFF_LABEL_FONT_PX, DIFF_LABEL_LINE_EM = 11, 1.3
#: Padding of the difference plot's y range on each side (fraction of the data's span).
DIFF_RANGE_PAD = 0.05
#: Names go left of the cursor when it stands in the right part of the log T axis (this fraction).
DIFF_LABELS_FLIP = 0.7


def stagger(targets, gap, low, high):
    """Positions as close as possible to ``targets`` (any order), each at least ``gap`` from the
    others, in their order, inside [``low``, ``high``]: overlapping neighbours form a group centred
    on the mean of their targets, which is shifted to fit (the classic label de-overlap). Where
    the interval cannot hold them all they are spread over it evenly."""
    y = np.asarray(targets, dtype=float)
    order = np.argsort(y, kind="stable")
    groups = [[float(y[i])] for i in order]           # each: targets of a run of labels

    def start(g):
        k = len(g)
        return float(np.clip(np.mean(g) - (k - 1) * gap / 2, low, max(low, high - (k - 1) * gap)))

    merged = True
    while merged:
        merged = False
        for j in range(len(groups) - 1):
            a, b = groups[j], groups[j + 1]
            if start(a) + len(a) * gap > start(b) + 1e-12:
                groups[j:j + 2] = [a + b]
                merged = True
                break
    out = np.empty_like(y)
    k = 0
    for g in groups:
        s = start(g)
        for m in range(len(g)):
            out[order[k]] = s + m * gap
            k += 1
    if y.size and (y.size - 1) * gap > high - low:      # too many: even spread
        out[order] = np.linspace(low, high, y.size)
    return out


class FreeEnergyView(SourceRegistry):
    """The first screen: F vs T (exact, bound, TAP, series) and F(λ) with the series.

    Parameters
    ----------
    max_order : int
        Largest cumulant order K the app offers; the λ line of an order is built when the order
        is first shown, and hidden when K falls below it (figures are never rebuilt).
    t_range, lam_range : (float, float)
        Axis ranges (T on a log axis).
    """

    def __init__(self, max_order=12, t_range=(0.1, 10.0), lam_range=(0.0, 2.0), width=395, height=300,
                 diff_height=270):
        super().__init__()
        self.max_order = int(max_order)
        self.renderers = {}
        self.hidden = set()          # renderers the app switched off (their legend entries go too)
        w, h = width, height
        self.t_cursor = self.source("t_cursor", "x")
        self.lam_cursor = self.source("lam_cursor", "x")

        # F on its own scale (0 … −165 at the default state: the differences are under a pixel here)
        f = plot("fig_free_energy", "Free energy F vs temperature", width=w, height=h - 100, x_axis_type="log",
                 x_range=Range1d(*t_range), y_axis_label="Free energy F (nats)")
        # … and the differences on theirs, under it (the same T axis): the gap, TAP's and the series' errors
        d = plot("fig_free_energy_diff", "Each approximation minus the exact F", width=w, height=diff_height,
                 x_axis_type="log", x_range=f.x_range, x_axis_label="Temperature T",
                 y_axis_label="approx. − exact F (nats)")
        gap = self.source("f_gap", "x", "zero", "gap")
        self.renderers["f_gap"] = d.varea("x", "zero", "gap", source=gap, fill_color=COLORS["mean_field"],
                                          fill_alpha=0.18)
        d.hspan(y=[0.0], line_color=COLORS["exact"], line_width=2)
        for key in ("mean_field", "tap2", "tap3", "series", "exact_lambda", "exact"):
            s = self.source(f"f_{key}", "x", "y", "exact", "diff", "diff_y")
            label = CURVES.get(key, "exact F(λ) at this λ")
            dash = {"tap2": "dashed", "tap3": "dotdash", "exact_lambda": "dotted"}.get(key, "solid")
            r = f.line("x", "y", source=s, color=COLORS[key], line_dash=dash,
                       line_width=3 if key == "exact" else 2, legend_label=label, name=f"line_{key}")
            self.renderers[f"f_{key}"] = r
            tips = [("curve", label), ("T", "@x{0.0000}"), ("F", "@y" + _FMT),
                    ("exact F" if key != "series" else "exact F(λ)", "@exact" + _FMT), ("difference", "@diff" + _FMT)]
            f.add_tools(HoverTool(renderers=[r], mode="mouse", tooltips=tips))
            if key in ("mean_field", "tap2", "tap3", "series"):
                rd = d.line("x", "diff_y", source=s, color=COLORS[key], line_dash=dash, line_width=2,
                            name=f"diff_{key}")
                self.renderers[f"diff_{key}"] = rd
                d.add_tools(HoverTool(renderers=[rd], mode="mouse", tooltips=tips))
        # Tap targets: one marker per grid temperature on the exact curve; a tap moves the slider.
        self.tap_t = self.source("tap_t", "x", "y")
        invisible_tap_markers(f, "x", "y", self.tap_t, name="tap_t_markers")
        _cursor(f, self.t_cursor)
        _cursor(d, self.t_cursor)
        f.y_range = DataRange1d(renderers=[self.renderers["f_exact"], self.renderers["f_mean_field"]],
                                range_padding=0.15)
        # the differences' range follows mean field and TAP (a diverging series leaves the plot); set
        # with the data (show_temperature_curves), so that the names at the cursor can be placed in it
        d.y_range = Range1d(-1.0, 1.0)
        # each curve named at the cursor: a marker on it, its name beside it (staggered, in the frame)
        self.diff_labels = self.source("diff_labels", "x", "y", "label_y", "dx")
        self.diff_labels.data = {**empty("x", "y", "label_y", "dx"), "text": [], "color": [], "align": []}
        d.scatter("x", "y", source=self.diff_labels, size=7, fill_color="color", line_color="white", line_width=1,
                  name="diff_cursor_markers")
        self.diff_label_set = LabelSet(x="x", y="label_y", text="text", source=self.diff_labels,
                                       text_color="color", text_align="align", text_baseline="middle",
                                       x_offset="dx", text_font_size=f"{DIFF_LABEL_FONT_PX}px",
                                       text_font_style="bold", name="diff_cursor_labels",
                                       # a curve that runs on past the cursor would strike its name
                                       # through (TAP3's own dashes did): each name on a white card
                                       background_fill_color="white", background_fill_alpha=0.85)
        d.add_layout(self.diff_label_set)
        self._t_range = tuple(float(v) for v in t_range)
        self._cursor_t = None
        self._at_cursor = None       # (T grid, {key: diff_y along T}) of the curves shown
        self.diff_ticker, self.diff_formatter = symlog_axis(d)
        self.diff_scale = 1e-4
        _temperature_axis(f, t_range)
        _temperature_axis(d, t_range)
        f.xaxis.major_label_text_font_size = "0pt"      # the same T axis is labelled under the differences
        f.min_border_bottom = 4
        legend_outside(f, "above", ncols=3)
        sync_legend(f)
        self.fig_free_energy, self.fig_free_energy_diff = f, d

        self.lam_curves = self.source("lam_curves", "x", "exact", *order_columns(self.max_order))
        self.series = SeriesPlot("fig_lambda", self.lam_curves, self.lam_cursor, max_order=self.max_order,
                                 lam_range=lam_range, width=w + 60, height=h, tap=True, line_alpha=0.9)
        self.fig_lambda = g = self.series.figure
        self.layout = row(explained(EXPLANATIONS["free_energy"], w, f, d),
                          explained(EXPLANATIONS["lambda"], w + 60, g), name="rbm_free_energy")
        #: what a tap sets: kind -> [(source, column holding the value)]
        self.tap_sources = {"temperature": [(self.tap_t, "x")], "lambda": [(self.lam_curves, "x")]}
        self.set_order(4)

    def show_temperature_curves(self, temperature, exact, mean_field, tap2, tap3, series, exact_lambda, lam=1.0):
        """The curves along T. ``series`` is the cumulant series at order K; ``exact_lambda`` the
        exact F(λ) it approximates (drawn only when λ ≠ 1). NaN entries (e.g. TAP points that
        did not converge) are left out.

        Under F, each approximation minus its exact value (the series minus the exact F(λ)) on a
        signed log axis (:func:`~explorer.views.common.symlog`, column ``diff_y``; ``diff`` holds
        the difference itself)."""
        t = np.asarray(temperature, dtype=float)
        exact = np.asarray(exact, dtype=float)
        s = self.sources
        curves = {"mean_field": (mean_field, exact), "tap2": (tap2, exact), "tap3": (tap3, exact),
                  "series": (series, exact_lambda)}
        with np.errstate(invalid="ignore"):     # inf − inf: NaN, dropped
            diffs = {k: np.asarray(y, dtype=float) - np.asarray(ref, dtype=float) for k, (y, ref) in curves.items()}
        # the scale follows the bound and TAP (a diverging series must not squash them)
        c = self.diff_scale = symlog_threshold(diffs["mean_field"], diffs["tap2"], diffs["tap3"])
        zeros = np.zeros_like(t)
        s["f_exact"].data = finite_rows({"x": t, "y": exact, "exact": exact, "diff": zeros, "diff_y": zeros})
        s["f_gap"].data = finite_rows({"x": t, "zero": zeros, "gap": symlog(diffs["mean_field"], c)})
        for key, (y, ref) in curves.items():
            s[f"f_{key}"].data = finite_rows({"x": t, "y": y, "exact": ref, "diff": diffs[key],
                                              "diff_y": symlog(diffs[key], c)})
        shown = np.concatenate([v[np.isfinite(v)] for k, v in diffs.items() if k != "series"] + [zeros[:1]])
        set_symlog_ticks(self.diff_ticker, self.diff_formatter, c, float(shown.min()), float(shown.max()))
        lo, hi = float(symlog(shown.min(), c)), float(symlog(shown.max(), c))
        pad = DIFF_RANGE_PAD * ((hi - lo) or 1.0)
        self.fig_free_energy_diff.y_range.update(start=lo - pad, end=hi + pad, reset_start=lo - pad,
                                                 reset_end=hi + pad)
        self._at_cursor = (t, {k: symlog(v, c) for k, v in diffs.items()})
        self._show_diff_labels()
        el = np.asarray(exact_lambda, dtype=float)
        show_el = float(lam) != 1.0
        s["f_exact_lambda"].data = (finite_rows({"x": t, "y": el, "exact": el, "diff": zeros, "diff_y": zeros})
                                    if show_el else empty("x", "y", "exact", "diff", "diff_y"))
        # at λ = 1 the exact F(λ) is the exact F: no separate line, no legend entry
        self.renderers["f_exact_lambda"].visible = show_el
        s["tap_t"].data = finite_rows({"x": t, "y": exact})
        self._sync_legend()

    def _sync_legend(self):
        sync_legend(self.fig_free_energy, hidden=self.hidden)

    def show_lambda_curves(self, lam, exact, series):
        """F(λ) exact and the series at orders 1..K (``series`` of shape (L, K))."""
        self.series.show_curves(lam, exact, series)

    def show_temperature_cursor(self, temperature):
        self.t_cursor.data = {"x": [float(temperature)]}
        self._cursor_t = float(temperature)
        self._show_diff_labels()

    def diff_label_layout(self, frame_height=DIFF_MIN_FRAME_HEIGHT):
        """The names at the cursor: columns of ``diff_labels`` (x, y on the curve, label_y, dx,
        text, color, align) for the curves shown, the names at least a line of their font apart
        in a frame ``frame_height`` px high and inside it; a series off the plot is named at its
        edge with an arrow."""
        cols = {**{k: [] for k in ("x", "y", "label_y", "dx")}, "text": [], "color": [], "align": []}
        if self._at_cursor is None or self._cursor_t is None:
            return cols
        t, ys = self._at_cursor
        rng = self.fig_free_energy_diff.y_range
        start, end = float(rng.start), float(rng.end)
        unit = (end - start) / float(frame_height)      # data units per px
        line = DIFF_LABEL_LINE_EM * font_px(self.diff_label_set.text_font_size)
        half = line / 2 * unit
        i = int(np.argmin(np.abs(np.log(t) - np.log(self._cursor_t)))) if t.size else None
        lo_t, hi_t = (np.log10(v) for v in self._t_range)
        flip = (np.log10(self._cursor_t) - lo_t) / ((hi_t - lo_t) or 1.0) > DIFF_LABELS_FLIP
        keys, on_curve, at, texts = [], [], [], []
        for key, name in DIFF_LABELS.items():
            r = self.renderers.get(f"diff_{key}")
            if i is None or r in self.hidden or not np.isfinite(ys[key][i]):
                continue
            y = float(ys[key][i])
            arrow = " ↑" if y > end - half else " ↓" if y < start + half else ""
            keys.append(key)
            on_curve.append(y)
            at.append(float(np.clip(y, start + half, end - half)))
            texts.append(name + arrow)
        if not keys:
            return cols
        label_y = stagger(at, line * unit, start + half, end - half)
        cols.update(x=[float(t[i])] * len(keys), y=on_curve, label_y=[float(v) for v in label_y],
                    dx=[-8.0 if flip else 8.0] * len(keys), text=texts, color=[COLORS[k] for k in keys],
                    align=["right" if flip else "left"] * len(keys))
        return cols

    def _show_diff_labels(self):
        data = self.diff_label_layout()
        old = {k: list(v) for k, v in self.diff_labels.data.items()}
        if old != data:                 # one patch only when the names move
            self.diff_labels.data = data

    def show_lambda_cursor(self, lam):
        self.lam_cursor.data = {"x": [float(lam)]}

    def set_visible(self, key, visible):
        """Show or hide one curve of the F-vs-T plot, its difference and its legend entry."""
        for name in (f"f_{key}", f"diff_{key}") + (("f_gap",) if key == "mean_field" else ()):
            if name in self.renderers:
                r = self.renderers[name]
                r.visible = bool(visible)
                (self.hidden.discard if visible else self.hidden.add)(r)
        self._sync_legend()
        self._show_diff_labels()

    def set_order(self, order):
        """Show the series lines of orders 1..K in the λ plot (and their legend entries); a line
        is built the first time its order is shown (:class:`~explorer.views.series.SeriesPlot`)."""
        self.series.show_orders(order)


class ErrorThermoView(SourceRegistry):
    """|F_approx − F_exact| along T (log axis) and the exact U, S, C."""

    def __init__(self, t_range=(0.1, 10.0), width=425, height=290):
        super().__init__()
        w, h = width, height
        self.renderers = {}
        self.hidden = set()
        self.t_cursor = self.source("t_cursor", "x")
        self.t_range = Range1d(*t_range)     # both plots zoom together
        e = plot("fig_error", "Error of each approximation vs temperature", width=w, height=h,
                 x_axis_type="log", y_axis_type="log", x_range=self.t_range,
                 x_axis_label="Temperature T", y_axis_label="|approx. − exact F| (nats)")
        for key in ("mean_field", "tap2", "tap3", "series"):
            s = self.source(f"err_{key}", "x", "y")
            dash = {"tap2": "dashed", "tap3": "dotdash"}.get(key, "solid")
            r = e.line("x", "y", source=s, color=COLORS[key], line_dash=dash, line_width=2, legend_label=CURVES[key])
            self.renderers[f"err_{key}"] = r
            e.add_tools(HoverTool(renderers=[r], tooltips=[("curve", CURVES[key]), ("T", "@x{0.0000}"),
                                                           ("|error|", "@y{0.000e}")]))
        _cursor(e, self.t_cursor)
        _temperature_axis(e, t_range)
        legend_outside(e, "below", ncols=2)
        sync_legend(e)
        self.fig_error = e

        th = plot("fig_thermo", "Internal energy U, entropy S, heat capacity C (exact)", width=w, height=h,
                  x_axis_type="log", x_range=self.t_range, x_axis_label="Temperature T",
                  y_axis_label="U, S, C")
        self.thermo = self.source("thermo", "x", "U", "S", "C")
        for key, color, label in (("U", "#8c564b", "internal energy U"), ("S", "#17becf", "entropy S"),
                                  ("C", "#e377c2", "heat capacity C")):
            th.line("x", key, source=self.thermo, color=color, line_width=2, legend_label=label)
        th.add_tools(HoverTool(mode="vline", renderers=[th.renderers[0]], tooltips=[
            ("T", "@x{0.0000}"), ("U", "@U" + _FMT), ("S", "@S" + _FMT), ("C", "@C" + _FMT)]))
        invisible_tap_markers(th, "x", "C", self.thermo)
        _cursor(th, self.t_cursor)
        _temperature_axis(th, t_range)
        legend_outside(th, "below", ncols=3)
        self.fig_thermo = th
        self.layout = row(explained(EXPLANATIONS["error"], w, e), explained(EXPLANATIONS["thermo"], w, th),
                          name="rbm_errors")
        self.tap_sources = {"temperature": [(self.thermo, "x")]}

    def show(self, temperature, exact, approximations, exact_lambda, internal_energy, entropy, heat_capacity):
        """``approximations``: key of :data:`CURVES` -> values along T (the series compares with
        ``exact_lambda``, the others with ``exact``)."""
        t = np.asarray(temperature, dtype=float)
        for key, y in approximations.items():
            ref = np.asarray(exact_lambda if key == "series" else exact, dtype=float)
            # |error| on a log axis: rows with zero error (or non-finite) are dropped
            self.sources[f"err_{key}"].data = finite_rows({"x": t, "y": np.abs(np.asarray(y, float) - ref)},
                                                          positive=("y",))
        self.thermo.data = finite_rows({"x": t, "U": internal_energy, "S": entropy, "C": heat_capacity})
        sync_legend(self.fig_error, hidden=self.hidden)

    def show_temperature_cursor(self, temperature):
        self.t_cursor.data = {"x": [float(temperature)]}

    def set_visible(self, key, visible):
        if f"err_{key}" in self.renderers:
            r = self.renderers[f"err_{key}"]
            r.visible = bool(visible)
            (self.hidden.discard if visible else self.hidden.add)(r)
            sync_legend(self.fig_error, hidden=self.hidden)


class CumulantView(SourceRegistry):
    """κ_1..κ_K at this temperature and the size of each term of the series at λ."""

    def __init__(self, max_order=12, width=425, height=290):
        super().__init__()
        self.max_order = int(max_order)
        w, h = width, height
        k = plot("fig_kappa", "Cumulants κₙ at this temperature", width=w, height=h,
                 x_axis_label="Cumulant order n", y_axis_label="cumulant κₙ")
        kap = self.source("kappa", "n", "kappa", "term")
        kap.data["color"] = []   # strings: an empty float column is an "invalid color array"
        k.vbar(x="n", top="kappa", width=0.7, source=kap, fill_color="color", line_color=None)
        k.add_tools(HoverTool(tooltips=[("n", "@n"), ("κₙ", "@kappa{0.000000e}"),
                                        ("n-th term of F at λ", "@term{0.000000e}")]))
        k.xaxis.ticker = BasicTicker(desired_num_ticks=self.max_order, min_interval=1)
        t = plot("fig_terms", "Size of the n-th term of the series at λ", width=w, height=h, y_axis_type="log",
                 x_axis_label="Cumulant order n", y_axis_label="|n-th term| (nats)")
        terms = self.source("terms", "n", "size")
        t.scatter("n", "size", source=terms, size=9, color="#2ca02c")
        t.line("n", "size", source=terms, color="#2ca02c")
        t.add_tools(HoverTool(tooltips=[("n", "@n"), ("|term|", "@size{0.000e}")]))
        t.xaxis.ticker = BasicTicker(desired_num_ticks=self.max_order, min_interval=1)
        self.fig_kappa, self.fig_terms = k, t
        self.layout = row(explained(EXPLANATIONS["kappa"], w, k), explained("", w, t), name="rbm_cumulants")

    def show(self, kappa, terms):
        """κ_1..κ_K as bars and |n-th term of the series| on a log axis."""
        kappa = np.asarray(kappa, dtype=float)
        terms = np.asarray(terms, dtype=float)
        n = np.arange(1, kappa.size + 1, dtype=float)
        colors = np.array(series_colors(self.max_order))[: kappa.size]
        keep = np.isfinite(kappa) & np.isfinite(terms)
        self.sources["kappa"].data = small({"n": n[keep], "kappa": kappa[keep], "term": terms[keep],
                                            "color": list(colors[keep])})
        self.sources["terms"].data = small(finite_rows({"n": n, "size": np.abs(terms)}, positive=("size",)))


class UnitView(SourceRegistry):
    """Magnetisations of every unit (exact, mean field, TAP) and the couplings W."""

    def __init__(self, width=425, height=290):
        super().__init__()
        w, h = width, height
        m = plot("fig_magnetisation", "Magnetisations ⟨sᵢ⟩ at this temperature", width=w, height=h,
                 x_axis_label="unit (visible first, then hidden)", y_axis_label="magnetisation ⟨sᵢ⟩",
                 y_range=Range1d(-0.03, 1.03))
        mags = self.source("magnetisation", "i", "unit", "exact", "mean_field", "tap2", "tap3")
        m.vbar(x="i", top="exact", width=0.8, source=mags, fill_color="#cccccc", line_color=None, legend_label="exact")
        for key, marker in (("mean_field", "circle"), ("tap2", "triangle"), ("tap3", "square")):
            m.scatter("i", key, source=mags, marker=marker, size=8, color=COLORS[key],
                      legend_label=CURVES[key].replace(" bound", ""))
        m.add_tools(HoverTool(tooltips=[("unit", "@unit"), ("exact", "@exact{0.0000}"),
                                        ("mean field", "@mean_field{0.0000}"),
                                        ("TAP2", "@tap2{0.0000}"), ("TAP3", "@tap3{0.0000}")]))
        legend_outside(m, "below", ncols=4)     # inside, it covered the bars of units 16-23
        self.fig_magnetisation = m
        self.color_mapper = LinearColorMapper(palette=tuple(reversed(RdBu11)), low=-1, high=1)
        wf = plot("fig_weights", "Couplings W", width=w, height=h, tools="hover,save,reset",
                  x_axis_label="hidden unit j", y_axis_label="visible unit i",
                  tooltips=[("visible i", "$y{0}"), ("hidden j", "$x{0}"), ("Wᵢⱼ", "@image{0.0000}")])
        ws = self.source("weights", "image", "x", "y", "dw", "dh")
        ws.data = {"image": [np.zeros((1, 1))], "x": [-0.5], "y": [-0.5], "dw": [1.0], "dh": [1.0]}
        wf.image(image="image", x="x", y="y", dw="dw", dh="dh", source=ws, color_mapper=self.color_mapper)
        wf.add_layout(ColorBar(color_mapper=self.color_mapper, width=10), "right")
        wf.y_range.flipped = True  # row 0 at the top, like the matrix
        self.fig_weights = wf
        self.layout = row(explained(EXPLANATIONS["magnetisation"], w, m), explained(EXPLANATIONS["weights"], w, wf),
                          name="rbm_units")

    def show_magnetisations(self, exact, mean_field, tap2, tap3, units):
        """Per-unit magnetisations (arrays of length nv + nh) and the units' names."""
        cols = finite_rows({"i": np.arange(len(units)), "exact": exact, "mean_field": mean_field,
                            "tap2": tap2, "tap3": tap3})
        cols["unit"] = [units[i] for i in cols["i"].astype(int)]
        self.sources["magnetisation"].data = small(cols)

    def show_weights(self, weights):
        w = np.asarray(weights, dtype=float)
        w = np.where(np.isfinite(w), w, 0.0)
        nv, nh = w.shape
        lim = float(np.max(np.abs(w))) if w.size else 1.0
        lim = lim if lim > 0 else 1.0
        self.color_mapper.update(low=-lim, high=lim)
        self.sources["weights"].data = {"image": [w], "x": [-0.5], "y": [-0.5], "dw": [float(nh)], "dh": [float(nv)]}
        self.fig_weights.x_range.update(start=-0.5, end=nh - 0.5)
        self.fig_weights.y_range.update(start=nv - 0.5, end=-0.5)


class SamplingView(SourceRegistry):
    """AIS estimates of F against the exact F, with ±2 standard errors."""

    def __init__(self, t_range=(0.1, 10.0), width=520, height=290):
        super().__init__()
        w, h = width, height
        self.t_cursor = self.source("t_cursor", "x")
        af = plot("fig_sampling", "Annealed importance sampling vs exact", width=w, height=h, x_axis_type="log",
                  x_range=Range1d(*t_range), x_axis_label="Temperature T", y_axis_label="AIS estimate − exact F (nats)")
        ais = self.source("ais", "x", "diff", "lower", "upper", "ais", "exact", "stderr")
        af.add_layout(Whisker(base="x", lower="lower", upper="upper", source=ais, line_color=COLORS["ais"]))
        af.scatter("x", "diff", source=ais, size=8, color=COLORS["ais"], legend_label="AIS − exact")
        # invisible ends of the error bars: the automatic y range includes them (a Whisker,
        # being an annotation, does not count for the range)
        af.scatter("x", "lower", source=ais, size=1, alpha=0.0)
        af.scatter("x", "upper", source=ais, size=1, alpha=0.0)
        af.add_tools(HoverTool(tooltips=[("T", "@x{0.000}"), ("F from AIS", "@ais" + _FMT),
                                         ("exact F", "@exact" + _FMT), ("± 1 std. error", "@stderr{0.00000}")]))
        af.hspan(y=[0.0], line_color="black", line_width=1)
        _cursor(af, self.t_cursor)
        _temperature_axis(af, t_range)
        legend_outside(af, "below")
        sync_legend(af)
        self.fig_sampling = af
        self.note = Div(text="", width=w, name="sampling_note")
        self.layout = explained(EXPLANATIONS["sampling"], w, af, self.note)

    def show(self, temperature, ais, stderr, exact, note=""):
        t = np.asarray(temperature, dtype=float)
        ais, exact = np.asarray(ais, dtype=float), np.asarray(exact, dtype=float)
        err = np.asarray(stderr, dtype=float)
        err = np.where(np.isfinite(err), err, 0.0)
        d = ais - exact
        self.sources["ais"].data = finite_rows({"x": t, "diff": d, "lower": d - 2 * err, "upper": d + 2 * err,
                                                "ais": ais, "exact": exact, "stderr": err})
        self.note.text = note
        sync_legend(self.fig_sampling)

    def clear(self, note):
        self.sources["ais"].data = empty("x", "diff", "lower", "upper", "ais", "exact", "stderr")
        self.note.text = note
        sync_legend(self.fig_sampling)

    def show_temperature_cursor(self, temperature):
        self.t_cursor.data = {"x": [float(temperature)]}


class ScalingView(SourceRegistry):
    """Temperature is a rescaling: −ln Z(T) against rescaled models at T = 1."""

    def __init__(self, t_range=(0.1, 10.0), width=520, height=290):
        super().__init__()
        w, h = width, height
        self.t_cursor = self.source("t_cursor", "x")
        sf = plot("fig_scaling", "Scaling all parameters by 1/T equals temperature T", width=w, height=h,
                  x_axis_type="log", x_range=Range1d(*t_range), x_axis_label="Temperature T",
                  y_axis_label="−ln Z (nats)")
        line, pts = self.source("scaling_line", "x", "y"), self.source("scaling_points", "x", "y")
        wts = self.source("scaling_weights", "x", "y", "norm")
        sf.line("x", "y", source=line, color="black", line_width=2, legend_label="exact −ln Z(T)")
        sf.scatter("x", "y", source=pts, size=8, color="#d62728", legend_label="all parameters / T, at T = 1")
        rw = sf.line("x", "y", source=wts, color="#1f77b4", line_dash="dashed", line_width=2,
                     legend_label="weights only: ‖W‖/T, at T = 1")
        sf.add_tools(HoverTool(tooltips=[("T", "@x{0.000}"), ("−ln Z", "@y" + _FMT)]))
        sf.add_tools(HoverTool(renderers=[rw], tooltips=[("T", "@x{0.000}"), ("‖W‖ used", "@norm{0.000}"),
                                                         ("−ln Z", "@y" + _FMT)]))
        _cursor(sf, self.t_cursor)
        _temperature_axis(sf, t_range)
        legend_outside(sf, "below", ncols=2)
        sync_legend(sf)
        self.fig_scaling = sf
        self.layout = explained(EXPLANATIONS["scaling"], w, sf)

    def show(self, temperature, minus_log_z, t_points, scaled_points, t_weights, weights_only, norms):
        s = self.sources
        s["scaling_line"].data = finite_rows({"x": temperature, "y": minus_log_z})
        s["scaling_points"].data = finite_rows({"x": t_points, "y": scaled_points})
        s["scaling_weights"].data = finite_rows({"x": t_weights, "y": weights_only, "norm": norms})
        sync_legend(self.fig_scaling)

    def show_temperature_cursor(self, temperature):
        self.t_cursor.data = {"x": [float(temperature)]}


class WeightNormView(SourceRegistry):
    """The free energies along the weight norm ‖W‖ at the cursor's temperature, cursor at the slider."""

    def __init__(self, width=620, height=300):
        super().__init__()
        self.renderers = {}
        self.hidden = set()
        self.norm_cursor = self.source("norm_cursor", "x")
        f = plot("fig_weight_norm", "Free energy F vs weight norm ‖W‖ at this temperature", width=width,
                 height=height, x_axis_label="Weight norm ‖W‖ (biases kept)", y_axis_label="Free energy F (nats)")
        for key in ("mean_field", "tap2", "tap3", "series", "exact"):
            s = self.source(f"norm_{key}", "x", "y", "exact", "diff")
            dash = {"tap2": "dashed", "tap3": "dotdash"}.get(key, "solid")
            r = f.line("x", "y", source=s, color=COLORS[key], line_dash=dash, line_width=3 if key == "exact" else 2,
                       legend_label=CURVES[key])
            self.renderers[f"norm_{key}"] = r
            f.add_tools(HoverTool(renderers=[r], tooltips=[("curve", CURVES[key]), ("‖W‖", "@x{0.000}"),
                                                           ("F", "@y" + _FMT), ("difference", "@diff" + _FMT)]))
        invisible_tap_markers(f, "x", "y", self.sources["norm_exact"], name="tap_norm_markers")
        _cursor(f, self.norm_cursor)
        f.y_range = DataRange1d(renderers=[self.renderers["norm_exact"], self.renderers["norm_mean_field"]],
                                range_padding=0.15)
        legend_outside(f, "below", ncols=3)
        sync_legend(f)
        self.fig_weight_norm = f
        self.note = Div(text="", width=width, name="weight_norm_note")
        self.layout = explained(EXPLANATIONS["weight_norm"], width, f, self.note)
        #: what a tap sets: kind -> [(source, column holding the value)]
        self.tap_sources = {"norm": [(self.sources["norm_exact"], "x")]}

    def show(self, norms, exact, approximations, exact_lambda, note=""):
        """``approximations``: key of :data:`CURVES` -> values along ``norms`` (the series is compared
        with ``exact_lambda``, the exact F(λ), the others with ``exact``); NaN entries are left out."""
        norms, exact = np.asarray(norms, dtype=float), np.asarray(exact, dtype=float)
        self.sources["norm_exact"].data = finite_rows({"x": norms, "y": exact, "exact": exact,
                                                       "diff": np.zeros_like(norms)})
        for key, y in approximations.items():
            ref = np.asarray(exact_lambda if key == "series" else exact, dtype=float)
            y = np.asarray(y, dtype=float)
            self.sources[f"norm_{key}"].data = finite_rows({"x": norms, "y": y, "exact": ref, "diff": y - ref})
        self.note.text = note
        sync_legend(self.fig_weight_norm, hidden=self.hidden)

    def clear(self, note):
        for key in ("mean_field", "tap2", "tap3", "series", "exact"):
            self.sources[f"norm_{key}"].data = empty("x", "y", "exact", "diff")
        self.note.text = note
        sync_legend(self.fig_weight_norm, hidden=self.hidden)

    def show_norm_cursor(self, norm):
        self.norm_cursor.data = {"x": [float(norm)]}

    def set_visible(self, key, visible):
        if f"norm_{key}" in self.renderers:
            r = self.renderers[f"norm_{key}"]
            r.visible = bool(visible)
            (self.hidden.discard if visible else self.hidden.add)(r)
            sync_legend(self.fig_weight_norm, hidden=self.hidden)
