"""The explorer's linked Bokeh plots: figures and data sources fed with plain arrays.

This module knows nothing about widgets or physics. The app computes every number with
the physics layer and hands arrays to the ``show_*`` methods, which replace
``source.data`` in place (one small patch per source; figures are built once).

Rules every ``show_*`` method follows:

* no NaN or inf ever reaches BokehJS: rows with a non-finite value are dropped (a line
  then simply has fewer points), and a log axis never receives a value <= 0;
* every source has a ``name`` so that browser tests and the benchmark can find it in
  ``window.Bokeh.documents``.
"""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column, gridplot, row
from bokeh.models import (BasicTicker, ColorBar, ColumnDataSource, CustomJSTickFormatter, DataRange1d,
                          Div, FixedTicker, HoverTool, LinearColorMapper, Range1d, TapTool, Whisker)
from bokeh.palettes import RdBu11, Viridis256
from bokeh.plotting import figure

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

_TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
_FMT = "{0.000000}"

# One or two sentences per plot, tied to the essay's claims (the app shows them verbatim).
EXPLANATIONS = {
    "free_energy": (
        "<b>Free energy F vs temperature.</b> The mean-field value is a variational bound "
        "(Gibbs–Bogoliubov–Feynman): it is never below the exact F, and the shaded band is the gap. "
        "TAP adds the Onsager correction and is <i>not</i> a bound: it can fall below the exact curve."),
    "lambda": (
        "<b>F vs perturbation strength λ at this temperature.</b> The cumulant series of orders 1..K "
        "expands F(λ) around the reference (λ = 0); order 1 is the Gibbs–Bogoliubov–Feynman bound at the "
        "reference and, around the mean-field optimum, order 2 adds exactly the Onsager term of TAP. At strong coupling the higher "
        "orders run away from the exact curve: the series diverges."),
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
    "scaling": (
        "<b>Temperature is a rescaling.</b> Markers: −ln Z of the model with <i>every</i> parameter "
        "divided by T, evaluated at T = 1; they sit on the exact −ln Z(T) line. Dashed: only the "
        "weights rescaled to ‖W‖/T (biases kept), the rough rule T<sub>eff</sub> ~ 1/‖W‖."),
}


def finite_rows(columns, positive=()):
    """Keep the rows where every column is finite (and the ``positive`` ones are > 0).

    Parameters
    ----------
    columns : dict of str -> 1-D array
        Columns of equal length.
    positive : iterable of str
        Columns drawn on a log axis: their rows must also be strictly positive.

    Returns
    -------
    dict of str -> ndarray (float64), ready for ``ColumnDataSource.data``.
    """
    cols = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in columns.items()}
    n = {v.size for v in cols.values()}
    if len(n) > 1:
        raise ValueError(f"columns of unequal length: { {k: v.size for k, v in cols.items()} }")
    keep = np.ones(n.pop() if n else 0, dtype=bool)
    for k, v in cols.items():
        keep &= np.isfinite(v)
        if k in positive:
            keep &= v > 0
    return {k: v[keep] for k, v in cols.items()}


def small(data):
    """Columns as JSON lists, for the small sources patched on every temperature move.

    A numpy column travels as a binary buffer, and jupyter_bokeh sends every buffer as two
    extra comm messages; for a few dozen numbers those messages, not the bytes, dominate
    the keypress-to-plot latency (measured: ~60 ms more per move with buffers).
    """
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in data.items()}


def _empty(*names):
    return {k: np.zeros(0) for k in names}


def _series_colors(n):
    return [Viridis256[int(i)] for i in np.linspace(20, 230, n)]


class ExplorerView:
    """All figures and sources of the RBM explorer, laid out in one Bokeh root.

    Parameters
    ----------
    max_order : int
        Largest cumulant order K the app offers; one line per order is built up front and
        the unused ones are hidden (figures are never rebuilt).
    t_range : (float, float)
        Range of the temperature axis (log scale), shared by every plot along T.
    lam_range : (float, float)
        Range of the λ axis.
    """

    def __init__(self, max_order=12, t_range=(0.1, 10.0), lam_range=(0.0, 2.0), width=470,
                 height=290):
        self.max_order = int(max_order)
        self.sources = {}
        self.renderers = {}
        w, h = width, height
        # Every plot along T shares this range object: zooming one zooms all (linked x ranges).
        self.t_range = Range1d(*t_range)
        self.lam_range = Range1d(lam_range[0], lam_range[1])

        def src(name, *cols):
            s = ColumnDataSource(_empty(*cols), name=name)
            self.sources[name] = s
            return s

        # ---------------------------------------------------------------- cursors
        t_cursor = src("t_cursor", "x")
        lam_cursor = src("lam_cursor", "x")

        # ------------------------------------------------------- 1. F vs T
        f = figure(width=w, height=h, x_axis_type="log", x_range=self.t_range, tools=_TOOLS,
                   title="Free energy F vs temperature", x_axis_label="Temperature T",
                   y_axis_label="Free energy F", name="fig_free_energy")
        gap = src("f_gap", "x", "exact", "bound")
        f.varea("x", "exact", "bound", source=gap, fill_color=COLORS["mean_field"], fill_alpha=0.15,
                legend_label="gap: bound − exact")
        lines = {}
        for key in ("mean_field", "tap2", "tap3", "series", "exact_lambda", "exact"):
            s = src(f"f_{key}", "x", "y", "exact", "diff")
            label = CURVES.get(key, "exact F(λ) at this λ")
            dash = {"tap2": "dashed", "tap3": "dotdash", "exact_lambda": "dotted"}.get(key, "solid")
            lines[key] = f.line("x", "y", source=s, color=COLORS[key], line_dash=dash,
                                line_width=3 if key == "exact" else 2, legend_label=label,
                                name=f"line_{key}")
            f.add_tools(HoverTool(renderers=[lines[key]], mode="mouse", tooltips=[
                ("curve", label), ("T", "@x{0.0000}"), ("F", "@y" + _FMT),
                ("exact F", "@exact" + _FMT), ("difference", "@diff" + _FMT)]))
        self.renderers.update({f"f_{k}": r for k, r in lines.items()})
        self.renderers["f_gap"] = f.renderers[0]
        # Tap targets: one marker per grid temperature on the exact curve (invisible until
        # selected); a tap selects the nearest one and the app moves the temperature slider.
        tap_t = src("tap_t", "x", "y")
        tap_r = f.scatter("x", "y", source=tap_t, size=9, fill_alpha=0.0, line_alpha=0.0,
                          selection_fill_alpha=0.0, selection_line_alpha=0.0,
                          nonselection_fill_alpha=0.0, nonselection_line_alpha=0.0,
                          name="tap_t_markers")
        f.add_tools(TapTool(renderers=[tap_r]))
        f.vspan("x", source=t_cursor, line_color="#444444", line_width=1.5, line_dash="dashed")
        f.y_range = DataRange1d(renderers=[lines["exact"], lines["mean_field"]], range_padding=0.15)
        self.fig_free_energy = f

        # ------------------------------------------------------- 2. F vs lambda
        g = figure(width=w + 80, height=h, x_range=self.lam_range, tools=_TOOLS,
                   title="Free energy F(λ) at this temperature: exact and series",
                   x_axis_label="Perturbation λ", y_axis_label="Free energy F(λ)", name="fig_lambda")
        cols = ["x", "exact"] + [f"order_{k}" for k in range(1, self.max_order + 1)]
        lam_src = src("lam_curves", *cols)
        self.lambda_lines = []
        for k, color in enumerate(_series_colors(self.max_order), start=1):
            r = g.line("x", f"order_{k}", source=lam_src, color=color, line_width=1.5, alpha=0.9,
                       legend_label=f"order {k}", name=f"lam_order_{k}")
            self.lambda_lines.append(r)
        lam_exact = g.line("x", "exact", source=lam_src, color="black", line_width=3,
                           legend_label="exact F(λ)")
        g.add_tools(HoverTool(renderers=[lam_exact], mode="vline", tooltips=[
            ("λ", "@x{0.00}"), ("exact F(λ)", "@exact" + _FMT)] + [
            (f"order {k}", f"@order_{k}" + _FMT) for k in range(1, 5)]))
        tap_l = g.scatter("x", "exact", source=lam_src, size=9, fill_alpha=0.0, line_alpha=0.0,
                          selection_fill_alpha=0.0, selection_line_alpha=0.0,
                          nonselection_fill_alpha=0.0, nonselection_line_alpha=0.0,
                          name="tap_lam_markers")
        g.add_tools(TapTool(renderers=[tap_l]))
        g.vspan("x", source=lam_cursor, line_color="#444444", line_width=1.5, line_dash="dashed")
        # The y range follows the exact curve only: a diverging series leaves the plot
        # instead of squashing the exact curve into a flat line.
        g.y_range = DataRange1d(renderers=[lam_exact], range_padding=0.6)
        # outside the frame: inside, the 13 entries would cover the curves (and catch taps)
        g.add_layout(g.legend[0], "right")
        g.legend.label_text_font_size = "7pt"
        g.legend.spacing = 0
        g.legend.padding = 2
        self.fig_lambda = g

        # ------------------------------------------------------- 3. errors vs T (log)
        e = figure(width=w, height=h, x_axis_type="log", y_axis_type="log", x_range=self.t_range,
                   tools=_TOOLS, title="Error of each approximation vs temperature",
                   x_axis_label="Temperature T", y_axis_label="|F_approx − F_exact|", name="fig_error")
        for key in ("mean_field", "tap2", "tap3", "series"):
            s = src(f"err_{key}", "x", "y")
            dash = {"tap2": "dashed", "tap3": "dotdash"}.get(key, "solid")
            r = e.line("x", "y", source=s, color=COLORS[key], line_dash=dash, line_width=2,
                       legend_label=CURVES[key])
            self.renderers[f"err_{key}"] = r
            e.add_tools(HoverTool(renderers=[r], tooltips=[("curve", CURVES[key]), ("T", "@x{0.0000}"),
                                                           ("|error|", "@y{0.000e}")]))
        e.vspan("x", source=t_cursor, line_color="#444444", line_width=1.5, line_dash="dashed")
        self.fig_error = e

        # ------------------------------------------------------- 4. U, S, C vs T
        th = figure(width=w, height=h, x_axis_type="log", x_range=self.t_range, tools=_TOOLS,
                    title="Internal energy U, entropy S, heat capacity C (exact)",
                    x_axis_label="Temperature T", y_axis_label="U, S, C", name="fig_thermo")
        thermo = src("thermo", "x", "U", "S", "C")
        for key, color, label in (("U", "#8c564b", "internal energy U"), ("S", "#17becf", "entropy S"),
                                  ("C", "#e377c2", "heat capacity C")):
            th.line("x", key, source=thermo, color=color, line_width=2, legend_label=label)
        th.add_tools(HoverTool(mode="vline", renderers=[th.renderers[0]], tooltips=[
            ("T", "@x{0.0000}"), ("U", "@U" + _FMT), ("S", "@S" + _FMT), ("C", "@C" + _FMT)]))
        tap_thermo = th.scatter("x", "C", source=thermo, size=9, fill_alpha=0.0, line_alpha=0.0,
                                selection_fill_alpha=0.0, selection_line_alpha=0.0,
                                nonselection_fill_alpha=0.0, nonselection_line_alpha=0.0)
        th.add_tools(TapTool(renderers=[tap_thermo]))
        th.vspan("x", source=t_cursor, line_color="#444444", line_width=1.5, line_dash="dashed")
        self.fig_thermo = th

        # ------------------------------------------------------- 5. cumulants
        kfig = figure(width=w, height=h, tools=_TOOLS, title="Cumulants κ_n at this temperature",
                      x_axis_label="Cumulant order n", y_axis_label="κ_n", name="fig_kappa")
        kap = src("kappa", "n", "kappa", "term")
        kap.data["color"] = []   # strings: an empty float column is an "invalid color array"
        kfig.vbar(x="n", top="kappa", width=0.7, source=kap, fill_color="color", line_color=None)
        kfig.add_tools(HoverTool(tooltips=[("n", "@n"), ("κ_n", "@kappa{0.000000e}"),
                                           ("n-th term of F at λ", "@term{0.000000e}")]))
        kfig.xaxis.ticker = BasicTicker(desired_num_ticks=self.max_order, min_interval=1)
        tfig = figure(width=w, height=int(h * 0.8), y_axis_type="log", tools=_TOOLS,
                      title="Size of the n-th term of the series at λ",
                      x_axis_label="Cumulant order n", y_axis_label="|n-th term|", name="fig_terms")
        terms = src("terms", "n", "size")
        tfig.scatter("n", "size", source=terms, size=9, color="#2ca02c")
        tfig.line("n", "size", source=terms, color="#2ca02c")
        tfig.add_tools(HoverTool(tooltips=[("n", "@n"), ("|term|", "@size{0.000e}")]))
        tfig.xaxis.ticker = BasicTicker(desired_num_ticks=self.max_order, min_interval=1)
        self.fig_kappa, self.fig_terms = kfig, tfig

        # ------------------------------------------------------- 6. weights + magnetisations
        self.color_mapper = LinearColorMapper(palette=tuple(reversed(RdBu11)), low=-1, high=1)
        wf = figure(width=w, height=h, tools="hover,save,reset", title="Couplings W",
                    x_axis_label="hidden unit j", y_axis_label="visible unit i", name="fig_weights",
                    tooltips=[("visible i", "$y{0}"), ("hidden j", "$x{0}"), ("W_ij", "@image{0.0000}")])
        wsrc = src("weights", "image", "x", "y", "dw", "dh")
        self.sources["weights"].data = {"image": [np.zeros((1, 1))], "x": [-0.5], "y": [-0.5],
                                        "dw": [1.0], "dh": [1.0]}
        wf.image(image="image", x="x", y="y", dw="dw", dh="dh", source=wsrc,
                 color_mapper=self.color_mapper)
        wf.add_layout(ColorBar(color_mapper=self.color_mapper, width=10), "right")
        wf.y_range.flipped = True  # row 0 at the top, like the matrix
        self.fig_weights = wf

        mfig = figure(width=w, height=h, tools=_TOOLS, title="Magnetisations ⟨s_i⟩ at this temperature",
                      x_axis_label="unit (visible first, then hidden)", y_axis_label="⟨s_i⟩",
                      y_range=Range1d(-0.03, 1.03), name="fig_magnetisation")
        mags = src("magnetisation", "i", "unit", "exact", "mean_field", "tap2", "tap3")
        mfig.vbar(x="i", top="exact", width=0.8, source=mags, fill_color="#cccccc", line_color=None,
                  legend_label="exact")
        for key, marker in (("mean_field", "circle"), ("tap2", "triangle"), ("tap3", "square")):
            mfig.scatter("i", key, source=mags, marker=marker, size=8, color=COLORS[key],
                         legend_label=CURVES[key].replace(" bound", ""))
        mfig.add_tools(HoverTool(tooltips=[("unit", "@unit"), ("exact", "@exact{0.0000}"),
                                           ("mean field", "@mean_field{0.0000}"),
                                           ("TAP2", "@tap2{0.0000}"), ("TAP3", "@tap3{0.0000}")]))
        self.fig_magnetisation = mfig

        # ------------------------------------------------------- 7. sampling (AIS)
        af = figure(width=w, height=h, x_axis_type="log", x_range=self.t_range, tools=_TOOLS,
                    title="Annealed importance sampling vs exact", x_axis_label="Temperature T",
                    y_axis_label="F_AIS − F_exact", name="fig_sampling")
        ais = src("ais", "x", "diff", "lower", "upper", "ais", "exact", "stderr")
        af.add_layout(Whisker(base="x", lower="lower", upper="upper", source=ais,
                              line_color=COLORS["ais"]))
        af.scatter("x", "diff", source=ais, size=8, color=COLORS["ais"], legend_label="AIS − exact")
        # invisible ends of the error bars: the automatic y range includes them (a Whisker,
        # being an annotation, does not count for the range)
        af.scatter("x", "lower", source=ais, size=1, alpha=0.0)
        af.scatter("x", "upper", source=ais, size=1, alpha=0.0)
        af.add_tools(HoverTool(tooltips=[("T", "@x{0.000}"), ("F_AIS", "@ais" + _FMT),
                                         ("exact F", "@exact" + _FMT), ("± 1 std. error", "@stderr{0.00000}")]))
        af.hspan(y=[0.0], line_color="black", line_width=1)
        af.vspan("x", source=t_cursor, line_color="#444444", line_width=1.5, line_dash="dashed")
        self.fig_sampling = af
        self.sampling_note = Div(text="", width=w, name="sampling_note")

        # ------------------------------------------------------- 8. scaling = temperature
        sf = figure(width=w, height=h, x_axis_type="log", x_range=self.t_range, tools=_TOOLS,
                    title="Scaling all parameters by 1/T equals temperature T",
                    x_axis_label="Temperature T", y_axis_label="−ln Z", name="fig_scaling")
        sc_line = src("scaling_line", "x", "y")
        sc_pts = src("scaling_points", "x", "y")
        sc_w = src("scaling_weights", "x", "y", "norm")
        sf.line("x", "y", source=sc_line, color="black", line_width=2, legend_label="exact −ln Z(T)")
        sf.scatter("x", "y", source=sc_pts, size=8, color="#d62728",
                   legend_label="all parameters / T, at T = 1")
        rw = sf.line("x", "y", source=sc_w, color="#1f77b4", line_dash="dashed", line_width=2,
                     legend_label="weights only: ‖W‖/T, at T = 1")
        sf.add_tools(HoverTool(tooltips=[("T", "@x{0.000}"), ("−ln Z", "@y" + _FMT)]))
        sf.add_tools(HoverTool(renderers=[rw], tooltips=[("T", "@x{0.000}"), ("‖W‖ used", "@norm{0.000}"),
                                                         ("−ln Z", "@y" + _FMT)]))
        sf.vspan("x", source=t_cursor, line_color="#444444", line_width=1.5, line_dash="dashed")
        self.fig_scaling = sf

        # labelled ticks a student can read on the log T axes (Bokeh labels only decades)
        t_ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10) if t_range[0] <= t <= t_range[1]]
        for fig in (f, e, th, af, sf):
            fig.xaxis.ticker = FixedTicker(ticks=t_ticks, minor_ticks=[
                m * 10.0 ** d for d in range(-2, 2) for m in range(1, 10)])
            fig.xaxis.formatter = CustomJSTickFormatter(code="return tick.toString();")
        for fig in (f, g, e, th, mfig, af, sf):
            fig.legend.click_policy = "hide"
            if fig is not g:
                fig.legend.label_text_font_size = "8pt"
            fig.legend.background_fill_alpha = 0.6
            fig.toolbar.logo = None
        for fig in (kfig, tfig, wf):
            fig.toolbar.logo = None
        f.legend.location = "top_right"
        e.legend.location = "bottom_right"
        th.legend.location = "top_left"
        sf.legend.location = "top_right"
        mfig.legend.location = "top_right"

        def panel(key, *figs):
            return column(Div(text=EXPLANATIONS[key], width=w, styles={"font-size": "12px"}), *figs)

        self.layout = gridplot([
            [panel("free_energy", f), panel("lambda", g)],
            [panel("error", e), panel("thermo", th)],
            [panel("kappa", kfig, tfig), panel("magnetisation", mfig)],
            [panel("weights", wf), panel("sampling", af, self.sampling_note)],
            [panel("scaling", sf), None],
        ], toolbar_location=None, merge_tools=False)
        self.tap_sources = {"temperature": [tap_t, thermo], "lambda": [lam_src]}
        self.set_order(4)

    # ------------------------------------------------------------------ updates
    def show_temperature_curves(self, temperature, exact, mean_field, tap2, tap3, series, exact_lambda,
                                internal_energy, entropy, heat_capacity, lam=1.0, minima=None):
        """The curves along T (plots 1, 3, 4).

        ``series`` is the cumulant series at order K (one array); ``exact_lambda`` the exact
        F(λ) it approximates (drawn only when λ ≠ 1). Entries set to NaN by the caller (e.g.
        TAP points that did not converge) are left out.
        """
        t = np.asarray(temperature, dtype=float)
        exact = np.asarray(exact, dtype=float)
        ref_for = {"series": exact_lambda}
        s = self.sources
        s["f_exact"].data = finite_rows({"x": t, "y": exact, "exact": exact, "diff": np.zeros_like(t)})
        s["f_gap"].data = finite_rows({"x": t, "exact": exact, "bound": mean_field})
        for key, y in (("mean_field", mean_field), ("tap2", tap2), ("tap3", tap3), ("series", series)):
            ref = np.asarray(ref_for.get(key, exact), dtype=float)
            y = np.asarray(y, dtype=float)
            s[f"f_{key}"].data = finite_rows({"x": t, "y": y, "exact": ref, "diff": y - ref})
            # |error| on a log axis: rows with zero error (or non-finite) are dropped
            s[f"err_{key}"].data = finite_rows({"x": t, "y": np.abs(y - ref)}, positive=("y",))
        el = np.asarray(exact_lambda, dtype=float)
        show_el = float(lam) != 1.0
        s["f_exact_lambda"].data = (finite_rows({"x": t, "y": el, "exact": el, "diff": np.zeros_like(t)})
                                    if show_el else _empty("x", "y", "exact", "diff"))
        # at λ = 1 the exact F(λ) is the exact F: no separate line, no legend entry
        r = self.renderers["f_exact_lambda"]
        r.visible = show_el
        for item in self.fig_free_energy.legend[0].items:
            if r in item.renderers:
                item.visible = show_el
        s["tap_t"].data = finite_rows({"x": t, "y": exact})
        s["thermo"].data = finite_rows({"x": t, "U": internal_energy, "S": entropy, "C": heat_capacity})

    def show_temperature_cursor(self, temperature):
        self.sources["t_cursor"].data = {"x": [float(temperature)]}

    def show_lambda_cursor(self, lam):
        self.sources["lam_cursor"].data = {"x": [float(lam)]}

    def show_lambda_curves(self, lam, exact, series):
        """F(λ) exact and the series at orders 1..K (``series`` of shape (L, K))."""
        lam = np.asarray(lam, dtype=float)
        exact = np.asarray(exact, dtype=float)
        series = np.asarray(series, dtype=float).reshape(lam.size, -1)
        data = {"x": lam, "exact": exact}
        for k in range(1, self.max_order + 1):
            # hidden orders (> K) repeat the exact curve: every column stays finite and the
            # source keeps its columns, so no figure is rebuilt when K changes
            data[f"order_{k}"] = series[:, k - 1] if k <= series.shape[1] else exact
        self.sources["lam_curves"].data = small(finite_rows(data))

    def show_cumulants(self, kappa, terms):
        """κ_1..κ_K as bars and |n-th term of the series| on a log axis."""
        kappa = np.asarray(kappa, dtype=float)
        terms = np.asarray(terms, dtype=float)
        n = np.arange(1, kappa.size + 1, dtype=float)
        colors = np.array(_series_colors(self.max_order))[: kappa.size]
        keep = np.isfinite(kappa) & np.isfinite(terms)
        self.sources["kappa"].data = small({"n": n[keep], "kappa": kappa[keep], "term": terms[keep],
                                            "color": list(colors[keep])})
        self.sources["terms"].data = small(finite_rows({"n": n, "size": np.abs(terms)}, positive=("size",)))

    def show_weights(self, weights):
        w = np.asarray(weights, dtype=float)
        w = np.where(np.isfinite(w), w, 0.0)
        nv, nh = w.shape
        lim = float(np.max(np.abs(w))) if w.size else 1.0
        lim = lim if lim > 0 else 1.0
        self.color_mapper.update(low=-lim, high=lim)
        self.sources["weights"].data = {"image": [w], "x": [-0.5], "y": [-0.5], "dw": [float(nh)],
                                        "dh": [float(nv)]}
        self.fig_weights.x_range.update(start=-0.5, end=nh - 0.5)
        self.fig_weights.y_range.update(start=nv - 0.5, end=-0.5)

    def show_magnetisations(self, exact, mean_field, tap2, tap3, n_visible):
        """Per-unit magnetisations (visible units first): arrays of length nv + nh."""
        exact = np.asarray(exact, dtype=float)
        units = [f"v{i + 1}" if i < n_visible else f"h{i - n_visible + 1}" for i in range(exact.size)]
        cols = finite_rows({"i": np.arange(exact.size), "exact": exact, "mean_field": mean_field,
                            "tap2": tap2, "tap3": tap3})
        idx = cols["i"].astype(int)
        cols["unit"] = [units[i] for i in idx]
        self.sources["magnetisation"].data = small(cols)

    def show_sampling(self, temperature, ais, stderr, exact, note=""):
        t = np.asarray(temperature, dtype=float)
        ais = np.asarray(ais, dtype=float)
        exact = np.asarray(exact, dtype=float)
        err = np.asarray(stderr, dtype=float)
        err = np.where(np.isfinite(err), err, 0.0)
        d = ais - exact
        self.sources["ais"].data = finite_rows({"x": t, "diff": d, "lower": d - 2 * err, "upper": d + 2 * err,
                                                "ais": ais, "exact": exact, "stderr": err})
        self.sampling_note.text = note

    def clear_sampling(self, note):
        self.sources["ais"].data = _empty("x", "diff", "lower", "upper", "ais", "exact", "stderr")
        self.sampling_note.text = note

    def show_scaling(self, temperature, minus_log_z, t_points, scaled_points, t_weights, weights_only,
                     norms):
        s = self.sources
        s["scaling_line"].data = finite_rows({"x": temperature, "y": minus_log_z})
        s["scaling_points"].data = finite_rows({"x": t_points, "y": scaled_points})
        s["scaling_weights"].data = finite_rows({"x": t_weights, "y": weights_only, "norm": norms})

    def set_visible(self, key, visible):
        """Show or hide one curve of the F-vs-T plot (and its error curve)."""
        for name in (f"f_{key}", f"err_{key}"):
            if name in self.renderers:
                self.renderers[name].visible = bool(visible)
        if key == "mean_field":
            self.renderers["f_gap"].visible = bool(visible)

    def set_order(self, order):
        """Show the series lines of orders 1..K in the λ plot (and their legend entries)."""
        items = {id(it.renderers[0]): it for it in self.fig_lambda.legend[0].items if it.renderers}
        for k, r in enumerate(self.lambda_lines, start=1):
            r.visible = k <= order
            if id(r) in items:
                items[id(r)].visible = k <= order
