"""Small Bokeh figures of the lessons (notebooks/lessons/) that the explorers do not have.

Like every view here: figures and named sources are built once, the ``show_*`` methods replace
``source.data`` with plain arrays (no widgets, no physics; the rules of
:mod:`explorer.views.common` hold). The lessons also reuse the explorers' views
(:class:`~explorer.views.rbm.explorer.FreeEnergyView`, :class:`~explorer.views.rbm.explorer.CumulantView`,
:class:`~explorer.views.vae.explorer.PosteriorLambdaView`, ...).

Views: :class:`BoundView` (lesson 1: F vs T against the bound, the gap, and U, S, C),
:class:`TrialLawView` (lesson 1: the bound for random product laws),
:class:`CorrectionsView` (lesson 2: each approximation minus the exact F, and F(λ) with the series),
:class:`TrainingView` (lesson 4: log-likelihood per epoch and CD's bias against k).
"""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import DataRange1d, HoverTool, Range1d, Span

from .common import SourceRegistry, explained, finite_rows, legend_outside, plot, small
from .common import cursor_line as _cursor
from .common import temperature_axis as _temperature_axis
from .rbm.explorer import COLORS, CURVES
from .series import SeriesPlot, order_columns

_FMT = "{0.0000}"



#: Line colours of the training methods (lesson 4).
METHOD_COLORS = {"exact": "black", "cd1": "#ff7f0e", "cd5": "#8c564b", "pcd": "#9467bd",
                 "tap2": "#d62728", "tap3": "#e377c2"}
#: What a student reads for each method.
METHOD_LABELS = {"exact": "exact gradient", "cd1": "CD-1", "cd5": "CD-5", "pcd": "PCD",
                 "tap2": "TAP2 (EMF)", "tap3": "TAP3 (EMF)"}

EXPLANATIONS = {
    "bound": ("<b>Exact F and the mean-field bound.</b> The bound F<sub>q</sub> (dashed) never falls "
              "below the exact F; on this scale the two are hard to tell apart."),
    "gap": ("<b>The gap itself</b>, F<sub>q</sub> − F = T·KL(q‖p): never negative, zero only where q is "
            "the exact law."),
    # the captions of the lessons' figures name what is drawn, never the answer to the lesson's question
    "corrections": ("<b>Each approximation minus the exact F.</b> Zero (black) is exact: above it an "
                    "approximation over-estimates F, below it under-estimates F. The series of order K is "
                    "compared at λ = 1 and leaves the plot where it is far off."),
    "lambda": ("<b>F(λ) at the cursor's temperature</b>, exact (black) and the cumulant series of orders "
               "1..K, all starting at −T ln Z<sub>q</sub> at λ = 0. Order 1 is a straight line."),
    "thermo": ("<b>What F generates</b>: U = ∂(βF)/∂β, S = −∂F/∂T and C = ∂U/∂T = Var(E)/T², "
               "all exact."),
    "trial": ("<b>Random product laws q</b> (dots): the F<sub>q</sub> of each against its distance from the "
              "mean-field optimum. Dashed: mean field, the lowest F<sub>q</sub> of any product law; the black "
              "line is the exact F."),
    "training": ("<b>Mean log-likelihood of the 14 patterns</b> after each epoch (exact, by "
                 "enumeration), one line per way of estimating the model term. Dotted: the best "
                 "possible value −ln 14."),
    "cd_bias": ("<b>How wrong is CD-k's model term?</b> Mean |CD-k estimate − exact E<sub>p</sub>[v hᵀ]| "
                "for each trained model, against the number of Gibbs sweeps k. Grey: the Monte Carlo "
                "noise level; above it, the estimate is biased."),
}


class BoundView(SourceRegistry):
    """Lesson 1: exact F and the mean-field bound along T, the gap itself, and the exact U, S, C."""

    def __init__(self, t_range=(0.1, 10.0), width=400, height=270):
        super().__init__()
        w, h = width, height
        self.t_cursor = self.source("t_cursor", "x")
        f = plot("fig_bound", "Free energy: exact and the mean-field bound", width=w, height=h,
                 x_axis_type="log", x_range=Range1d(*t_range), x_axis_label="Temperature T",
                 y_axis_label="Free energy F (nats)")
        bound = self.source("bound_mean_field", "x", "y", "gap")
        exact = self.source("bound_exact", "x", "y")
        re = f.line("x", "y", source=exact, color="black", line_width=3, legend_label="exact F = −T ln Z")
        rb = f.line("x", "y", source=bound, color=COLORS["mean_field"], line_width=2, line_dash="dashed",
                    legend_label="mean-field bound")
        f.add_tools(HoverTool(renderers=[rb], tooltips=[("T", "@x{0.000}"), ("bound", "@y" + _FMT),
                                                        ("gap", "@gap{0.00000}")]))
        f.add_tools(HoverTool(renderers=[re], tooltips=[("T", "@x{0.000}"), ("exact F", "@y" + _FMT)]))
        _cursor(f, self.t_cursor)
        _temperature_axis(f, t_range)
        legend_outside(f, "below", ncols=2)
        self.fig_bound = f

        g = plot("fig_gap", "The gap: bound − exact F = T·KL(q‖p) ≥ 0", width=w, height=h, x_axis_type="log",
                 x_range=f.x_range, x_axis_label="Temperature T", y_axis_label="bound − exact F (nats)")
        gap = self.source("bound_gap", "x", "zero", "gap")
        g.varea("x", "zero", "gap", source=gap, fill_color=COLORS["mean_field"], fill_alpha=0.25)
        rg = g.line("x", "gap", source=gap, color=COLORS["mean_field"], line_width=2)
        g.add_tools(HoverTool(renderers=[rg], tooltips=[("T", "@x{0.000}"), ("gap", "@gap{0.00000}")]))
        g.hspan(y=[0.0], line_color="black", line_width=2)
        _cursor(g, self.t_cursor)
        _temperature_axis(g, t_range)
        self.fig_gap = g

        th = plot("fig_lesson_thermo", "Internal energy U, entropy S, heat capacity C", width=w, height=h,
                  x_axis_type="log", x_range=f.x_range, x_axis_label="Temperature T", y_axis_label="U, S, C")
        self.thermo = self.source("lesson_thermo", "x", "U", "S", "C")
        lines = [th.line("x", key, source=self.thermo, color=color, line_width=2, legend_label=label)
                 for key, color, label in (("U", "#8c564b", "internal energy U"), ("S", "#17becf", "entropy S"),
                                           ("C", "#e377c2", "heat capacity C"))]
        th.add_tools(HoverTool(mode="vline", renderers=[lines[0]], tooltips=[
            ("T", "@x{0.000}"), ("U", "@U" + _FMT), ("S", "@S" + _FMT), ("C", "@C" + _FMT)]))
        self.s_limit = Span(location=0.0, dimension="width", line_dash="dotted", line_color="#17becf",
                            line_width=2)
        th.add_layout(self.s_limit)
        _cursor(th, self.t_cursor)
        _temperature_axis(th, t_range)
        legend_outside(th, "below", ncols=3)     # inside, it covered the entropy curve
        self.fig_thermo = th
        self.layout = column(row(explained(EXPLANATIONS["bound"], w, f), explained(EXPLANATIONS["gap"], w, g)),
                             explained(EXPLANATIONS["thermo"], w, th), name="lesson_bound")

    def show_curves(self, temperature, exact, mean_field, internal_energy, entropy, heat_capacity,
                    entropy_limit=None):
        """Curves along T; ``entropy_limit`` (a dotted line) is S at T → ∞, (n_v + n_h) ln 2."""
        t = np.asarray(temperature, dtype=float)
        exact, mf = np.asarray(exact, dtype=float), np.asarray(mean_field, dtype=float)
        self.sources["bound_exact"].data = finite_rows({"x": t, "y": exact})
        self.sources["bound_mean_field"].data = finite_rows({"x": t, "y": mf, "gap": mf - exact})
        self.sources["bound_gap"].data = finite_rows({"x": t, "zero": np.zeros_like(t), "gap": mf - exact})
        self.thermo.data = finite_rows({"x": t, "U": internal_energy, "S": entropy, "C": heat_capacity})
        if entropy_limit is not None and np.isfinite(entropy_limit):
            self.s_limit.location = float(entropy_limit)

    def show_cursor(self, temperature):
        self.t_cursor.data = {"x": [float(temperature)]}


class CorrectionsView(SourceRegistry):
    """Lesson 2: each approximation minus the exact F along T (signed), and F(λ) with the series."""

    def __init__(self, max_order=12, t_range=(0.1, 10.0), lam_range=(0.0, 2.0), width=420, height=290):
        super().__init__()
        self.max_order = int(max_order)
        w, h = width, height
        self.t_cursor = self.source("t_cursor", "x")
        self.lam_cursor = self.source("lam_cursor", "x")
        d = plot("fig_corrections", "Approximation − exact F along T", width=w, height=h, x_axis_type="log",
                 x_range=Range1d(*t_range), x_axis_label="Temperature T", y_axis_label="approx. − exact F (nats)")
        self.renderers = {}
        for key in ("mean_field", "tap2", "tap3", "series"):
            s = self.source(f"diff_{key}", "x", "y")
            dash = {"tap2": "dashed", "tap3": "dotdash"}.get(key, "solid")
            r = d.line("x", "y", source=s, color=COLORS[key], line_dash=dash, line_width=2,
                       legend_label=CURVES[key])
            d.add_tools(HoverTool(renderers=[r], tooltips=[("curve", CURVES[key]), ("T", "@x{0.000}"),
                                                           ("difference", "@y{0.00000}")]))
            self.renderers[key] = r
        d.hspan(y=[0.0], line_color="black", line_width=2)
        _cursor(d, self.t_cursor)
        # the range follows mean field and TAP: a diverging series leaves the plot instead of flattening it
        d.y_range = DataRange1d(renderers=[self.renderers[k] for k in ("mean_field", "tap2", "tap3")],
                                range_padding=0.2)
        _temperature_axis(d, t_range)
        legend_outside(d, "below", ncols=2)
        self.fig_corrections = d

        self.lam_curves = self.source("lam_curves", "x", "exact", *order_columns(self.max_order))
        self.series = SeriesPlot("fig_lesson_lambda", self.lam_curves, self.lam_cursor, max_order=self.max_order,
                                 lam_range=lam_range, width=w + 60, height=h)
        self.fig_lambda = g = self.series.figure
        self.layout = row(explained(EXPLANATIONS["corrections"], w, d), explained(EXPLANATIONS["lambda"], w + 60, g),
                          name="lesson_corrections")

    def show_differences(self, temperature, exact, approximations, references=None):
        """``approximations``: key -> values along T; each minus ``references[key]`` (default ``exact``)."""
        t = np.asarray(temperature, dtype=float)
        refs = references or {}
        for key, y in approximations.items():
            ref = np.asarray(refs.get(key, exact), dtype=float)
            self.sources[f"diff_{key}"].data = finite_rows({"x": t, "y": np.asarray(y, dtype=float) - ref})

    def show_lambda_curves(self, lam, exact, series, order):
        """F(λ) exact and the series of orders 1..``order`` (``series`` of shape (L, ≥ order))."""
        self.series.show_curves(lam, exact, series, order)
        self.series.show_orders(order)

    def show_cursors(self, temperature, lam=1.0):
        self.t_cursor.data = {"x": [float(temperature)]}
        self.lam_cursor.data = {"x": [float(lam)]}


class TrialLawView(SourceRegistry):
    """Lesson 1: F_q(m) of random product laws against their distance from the mean-field optimum."""

    def __init__(self, width=520, height=290):
        super().__init__()
        f = plot("fig_trial", "Random product laws q against the exact F", width=width, height=height,
                 x_axis_label="distance of m from the mean-field optimum (RMS)",
                 y_axis_label="free-energy bound of q (nats)")
        laws = self.source("trial_laws", "x", "y")
        r = f.scatter("x", "y", source=laws, size=5, color=COLORS["mean_field"], alpha=0.5,
                      legend_label="random product laws")
        f.add_tools(HoverTool(renderers=[r], tooltips=[("distance", "@x{0.000}"), ("bound", "@y" + _FMT)]))
        self.exact_line = Span(location=0.0, dimension="width", line_color="black", line_width=3)
        self.best_line = Span(location=0.0, dimension="width", line_color=COLORS["mean_field"], line_width=2,
                              line_dash="dashed")
        f.add_layout(self.exact_line)
        f.add_layout(self.best_line)
        # invisible points at the two levels: a Span does not count for the automatic y range
        self.levels = self.source("trial_levels", "x", "y")
        f.scatter("x", "y", source=self.levels, size=1, alpha=0.0)
        legend_outside(f, "below")
        self.fig_trial = f
        self.layout = explained(EXPLANATIONS["trial"], width, f)

    def show(self, distance, trial_free_energy, exact, best):
        """``distance`` and ``trial_free_energy`` per random law; ``exact`` F and the mean-field ``best``."""
        self.sources["trial_laws"].data = finite_rows({"x": distance, "y": trial_free_energy})
        self.exact_line.location = float(exact)
        self.best_line.location = float(best)
        self.levels.data = small({"x": [0.0, 0.0], "y": [float(exact), float(best)]})


class TrainingView(SourceRegistry):
    """Lesson 4: mean log-likelihood per epoch for each training method, and CD-k's bias against k."""

    def __init__(self, methods=("exact", "cd1", "pcd", "tap2"), width=400, height=300):
        super().__init__()
        self.methods = tuple(methods)
        w, h = width, height
        f = plot("fig_training_curves", "Training on bars and stripes (3×3)", width=w, height=h,
                 x_axis_label="epoch", y_axis_label="mean ln p(v) of the data")
        for m in self.methods:
            s = self.source(f"ll_{m}", "epoch", "ll")
            f.line("epoch", "ll", source=s, color=METHOD_COLORS.get(m, "grey"), line_width=2,
                   legend_label=METHOD_LABELS.get(m, m))
        self.optimum = Span(location=0.0, dimension="width", line_color="black", line_dash="dotted", line_width=2)
        f.add_layout(self.optimum)
        # an invisible point at the optimum: a Span does not count for the automatic y range
        f.scatter("epoch", "ll", source=self.source("ll_optimum", "epoch", "ll"), size=1, alpha=0.0)
        f.add_tools(HoverTool(tooltips=[("epoch", "@epoch"), ("ln p", "@ll" + _FMT)]))
        legend_outside(f, "below", ncols=2)
        self.fig_training = f

        g = plot("fig_cd_bias", "Bias of CD-k's model term", width=w + 150, height=h, x_axis_type="log",
                 y_axis_type="log", x_axis_label="Gibbs sweeps k", y_axis_label="mean |CD-k − exact|")
        for m in self.methods:
            s = self.source(f"cd_bias_{m}", "k", "bias")
            g.line("k", "bias", source=s, color=METHOD_COLORS.get(m, "grey"), line_width=2,
                   legend_label=f"trained by {METHOD_LABELS.get(m, m)}")
            g.scatter("k", "bias", source=s, color=METHOD_COLORS.get(m, "grey"), size=6)
        noise = self.source("cd_noise", "k", "noise")
        g.line("k", "noise", source=noise, color="#aaaaaa", line_width=6, alpha=0.6, legend_label="noise level")
        g.add_tools(HoverTool(tooltips=[("k", "@k"), ("bias", "@bias{0.0000}")]))
        legend_outside(g, "right", font="8pt")
        self.fig_cd_bias = g
        self.layout = row(explained(EXPLANATIONS["training"], w, f), explained(EXPLANATIONS["cd_bias"], w + 150, g),
                          name="lesson_training")

    def show_training(self, curves, optimum):
        """``curves``: method -> mean ln p per epoch (a method left out keeps an empty line)."""
        for m in self.methods:
            ll = np.asarray(curves.get(m, []), dtype=float)
            self.sources[f"ll_{m}"].data = finite_rows({"epoch": np.arange(1, ll.size + 1), "ll": ll})
        self.optimum.location = float(optimum)
        self.sources["ll_optimum"].data = small({"epoch": [1.0], "ll": [float(optimum)]})

    def show_cd_bias(self, k, bias, noise):
        """``bias``: method -> mean |CD-k − exact| for each ``k``; ``noise``: the Monte Carlo level per k."""
        k = np.asarray(k, dtype=float)
        for m in self.methods:
            b = np.asarray(bias.get(m, np.full(k.size, np.nan)), dtype=float)
            self.sources[f"cd_bias_{m}"].data = small(finite_rows({"k": k, "bias": b}, positive=("k", "bias")))
        self.sources["cd_noise"].data = small(finite_rows({"k": k, "noise": noise}, positive=("k", "noise")))
