"""The "Hold q" panel of the VAE explorer: a Gaussian q the student moves and fits, and the exact gaps.

No widgets and no physics: the app (explorer.app.vae.hold_q) asks :mod:`explorer.vae.variational` for every
number and passes arrays here. Sources (by name, for the app, browser tests and benchmarks):

``q_posterior`` (heat map of p(z|x)), ``q_held_ellipses`` (the held q at 1σ, 2σ), ``q_held_mean`` (its mean:
drag it, or tap the map to put it there), ``q_encoder_ellipses``,
``q_fit_ellipses`` (best diagonal and full q, 1σ and 2σ), ``q_fit_path`` (the fit's iterates), ``q_terms``
(bars), ``q_hist_amortisation`` / ``q_hist_approximation`` (histograms over the test split) and
``q_hist_marks`` (this digit's gaps on them).
"""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    CDSView,
    FactorRange,
    GroupFilter,
    HoverTool,
    LinearColorMapper,
    PointDrawTool,
    Range1d,
)
from bokeh.palettes import Viridis256

from ..common import SourceRegistry, explained, finite_rows, legend_outside, plot, small, sync_legend

#: Bars of the terms (key -> label).
TERMS = {
    "expected_energy": "⟨H⟩ under q",
    "minus_entropy": "−S[q]",
    "neg_elbo": "−ELBO(q)",
    "free_energy": "−ln p(x)",
    "kl_posterior": "KL(q‖p(z|x))",
}
TERM_COLORS = {"expected_energy": "#1f77b4", "minus_entropy": "#ff7f0e", "neg_elbo": "#d62728",
               "free_energy": "#2ca02c", "kl_posterior": "#9467bd"}
FIT_COLORS = {"encoder": "white", "diagonal": "#ff7f0e", "full": "#e377c2"}
HELD_COLOR = "red"

EXPLANATIONS = {
    "map": ("<b>Hold q.</b> Heat map: the exact posterior p(z|x). Red: your Gaussian q (1σ, 2σ); drag its mean "
            "(or click the map to put it there), set its widths and correlation above. Dashed white: the encoder's "
            "q; orange and pink: the best diagonal and full-covariance q after “Fit q”, with the fit's path."),
    "terms": ("<b>Any q is a bound</b>: −ELBO(q) = E<sub>q</sub>[H] − S[q] ≥ −ln p(x), exact by quadrature; "
              "the difference is KL(q‖p(z|x)) ≥ 0."),
    "hist": ("<b>Over the test split</b>: the amortisation gap (encoder vs the best diagonal q for that digit) and "
             "the approximation gap (best diagonal q vs exact), exact per digit. Red line: this digit."),
}


def ellipse_rows(ellipses):
    """Columns for Bokeh's ``ellipse`` glyph from dicts with x, y, width, height, angle (and extra keys)."""
    keys = ("x", "y", "width", "height", "angle")
    return finite_rows({k: [e[k] for e in ellipses] for k in keys})


def histogram(values, bins=30):
    """``left``, ``right``, ``count`` of a histogram of the finite ``values``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"left": np.zeros(0), "right": np.zeros(0), "count": np.zeros(0)}
    count, edges = np.histogram(v, bins=bins)
    return {"left": edges[:-1], "right": edges[1:], "count": count.astype(np.float64)}


class HoldQView(SourceRegistry):
    """p(z|x) with the held, the encoder's and the fitted Gaussians; the terms; the split's gaps."""

    def __init__(self, width=410, height=330):
        super().__init__()
        w, h = width, height
        post = self.source("q_posterior", "image", "x", "y", "dw", "dh")
        held = self.source("q_held_ellipses", "x", "y", "width", "height", "angle")
        mean = self.source("q_held_mean", "z1", "z2")
        enc = self.source("q_encoder_ellipses", "x", "y", "width", "height", "angle")
        fit = self.source("q_fit_ellipses", "x", "y", "width", "height", "angle", "kind")
        path = self.source("q_fit_path", "z1", "z2")
        p = plot("fig_q_map", "Hold q: the posterior p(z|x) and your q", width=w, height=h,
                 x_range=Range1d(-3, 3), y_range=Range1d(-3, 3), x_axis_label="z₁", y_axis_label="z₂",
                 tools="pan,wheel_zoom,reset,save")
        self.mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=1.0)
        p.image(image="image", x="x", y="y", dw="dw", dh="dh", source=post, color_mapper=self.mapper)
        p.ellipse(x="x", y="y", width="width", height="height", angle="angle", source=enc, fill_color=None,
                  line_color=FIT_COLORS["encoder"], line_width=1.5, line_dash="dashed", legend_label="encoder's q")
        # fixed colours per kind through filtered views (a colour column breaks the legend of an empty source)
        for kind, label in (("diagonal", "best diagonal q"), ("full", "best full-covariance q")):
            p.ellipse(x="x", y="y", width="width", height="height", angle="angle", source=fit, fill_color=None,
                      line_color=FIT_COLORS[kind], line_width=2, legend_label=label,
                      view=CDSView(filter=GroupFilter(column_name="kind", group=kind)))
        p.line("z1", "z2", source=path, color=FIT_COLORS["diagonal"], line_width=1.5, legend_label="fit path")
        p.ellipse(x="x", y="y", width="width", height="height", angle="angle", source=held, fill_color=None,
                  line_color=HELD_COLOR, line_width=2.5, legend_label="your q: 1σ, 2σ")
        mean_r = p.scatter("z1", "z2", source=mean, size=13, color=HELD_COLOR, line_color="white", line_width=1.5,
                           legend_label="mean of q (drag)")
        # one point at most: a tap on the map adds a point there and drops the old one, i.e. moves the mean;
        # a drag moves it too. Active from the start, so the student needs no toolbar.
        drag = PointDrawTool(renderers=[mean_r], add=True, num_objects=1, drag=True)
        p.add_tools(drag)
        p.toolbar.active_tap = drag
        p.toolbar.active_drag = drag
        self.draw_tool = drag
        # below the map: inside, it covered the posterior (and the mean's drag area); entries only for
        # what is drawn (no "best diagonal q" or "fit path" before a fit)
        legend_outside(p, "below", ncols=3)
        sync_legend(p)
        self.fig_map = p

        terms = self.source("q_terms", "name", "value", "color")
        b = plot("fig_q_terms", "The terms of the bound for your q (nats)", width=w, height=h,
                 x_range=FactorRange(factors=list(TERMS.values())), y_axis_label="value (nats)")
        b.vbar(x="name", top="value", source=terms, width=0.7, color="color")
        b.xaxis.major_label_orientation = 0.3
        b.add_tools(HoverTool(tooltips=[("", "@name"), ("value", "@value{0.0000}")]))
        self.fig_terms = b

        hists = []
        marks = self.source("q_hist_marks", "x", "kind")
        for kind, label in (("amortisation", "amortisation gap"), ("approximation", "approximation gap")):
            src = self.source(f"q_hist_{kind}", "left", "right", "count")
            f = plot(f"fig_q_hist_{kind}", f"{label} over the test split", width=w, height=220,
                     x_axis_label="gap (nats)", y_axis_label="number of digits", tools="pan,wheel_zoom,reset,save")
            f.quad(left="left", right="right", top="count", bottom=0, source=src, fill_color="#8c8c8c",
                   line_color="white")
            hists.append(f)
            setattr(self, f"fig_hist_{kind}", f)
        for kind, f in zip(("amortisation", "approximation"), hists):
            # one source for both marks; each figure draws its own kind through a filtered view
            f.ray(x="x", y=0, length=0, angle=np.pi / 2, source=marks, color=HELD_COLOR, line_width=2.5,
                  view=CDSView(filter=GroupFilter(column_name="kind", group=kind)))
        self.layout = column(row(explained(EXPLANATIONS["map"], w, p), explained(EXPLANATIONS["terms"], w, b)),
                             explained(EXPLANATIONS["hist"], 2 * w, row(*hists)), name="vae_hold_q")

    @property
    def mean_source(self):
        return self.sources["q_held_mean"]

    def show_posterior(self, z1, z2, density, mu, sigma):
        """Heat map of ``density`` (rows: z2), zoomed to where it exceeds 1e-3 of its peak and to the
        3σ box of the Gaussian ``(mu, sigma)`` (the encoder's q). Returns the view's box."""
        z1, z2 = np.asarray(z1, float), np.asarray(z2, float)
        d = np.nan_to_num(np.asarray(density, float), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(d.max())
        self.mapper.high = peak if peak > 0 else 1.0
        self.sources["q_posterior"].data = {"image": [d], "x": [z1[0]], "y": [z2[0]], "dw": [z1[-1] - z1[0]],
                                            "dh": [z2[-1] - z2[0]]}
        rows, cols = np.nonzero(d > 1e-3 * peak) if peak > 0 else (np.array([0]), np.array([0]))
        lo1, hi1 = min(z1[cols.min()], mu[0] - 3 * sigma[0]), max(z1[cols.max()], mu[0] + 3 * sigma[0])
        lo2, hi2 = min(z2[rows.min()], mu[1] - 3 * sigma[1]), max(z2[rows.max()], mu[1] + 3 * sigma[1])
        m1, m2 = 0.3 * (hi1 - lo1), 0.3 * (hi2 - lo2)
        lo1, hi1 = float(max(lo1 - m1, z1[0])), float(min(hi1 + m1, z1[-1]))
        lo2, hi2 = float(max(lo2 - m2, z2[0])), float(min(hi2 + m2, z2[-1]))
        xr, yr = self.fig_map.x_range, self.fig_map.y_range
        xr.start, xr.end, yr.start, yr.end = lo1, hi1, lo2, hi2
        return lo1, hi1, lo2, hi2

    def show_held(self, mu, ellipses):
        """The held q: its mean and its ellipses (dicts as :func:`ellipse_rows` takes)."""
        self.sources["q_held_ellipses"].data = small(ellipse_rows(ellipses))
        self.sources["q_held_mean"].data = small(finite_rows({"z1": [mu[0]], "z2": [mu[1]]}))
        sync_legend(self.fig_map)

    def show_encoder(self, ellipses):
        self.sources["q_encoder_ellipses"].data = small(ellipse_rows(ellipses))
        sync_legend(self.fig_map)

    def show_fit(self, ellipses, kinds, path):
        """Fitted ellipses (``kinds``: "diagonal" or "full" per ellipse) and the fit's path of means, shape (n, 2)."""
        ok = [k for k, e in enumerate(ellipses) if all(np.isfinite(e[c]) for c in ("x", "y", "width", "height",
                                                                                        "angle"))]
        rows = ellipse_rows([ellipses[k] for k in ok])
        self.sources["q_fit_ellipses"].data = small({**rows, "kind": [str(kinds[k]) for k in ok]})
        pth = np.asarray(path, float).reshape(-1, 2)
        self.sources["q_fit_path"].data = small(finite_rows({"z1": pth[:, 0], "z2": pth[:, 1]}))
        sync_legend(self.fig_map)

    def show_terms(self, values):
        """``values``: key of :data:`TERMS` -> number (nats)."""
        keys = [k for k in TERMS if k in values and np.isfinite(values[k])]
        self.sources["q_terms"].data = {"name": [TERMS[k] for k in keys], "value": [float(values[k]) for k in keys],
                                        "color": [TERM_COLORS[k] for k in keys]}

    def show_histograms(self, amortisation, approximation, bins=30):
        for kind, vals in (("amortisation", amortisation), ("approximation", approximation)):
            self.sources[f"q_hist_{kind}"].data = histogram(vals, bins)

    def show_marks(self, amortisation=None, approximation=None):
        """This digit's gaps on the histograms (None: no mark)."""
        xs, kinds = [], []
        for kind, v in (("amortisation", amortisation), ("approximation", approximation)):
            if v is not None and np.isfinite(v):
                xs.append(float(v))
                kinds.append(kind)
        self.sources["q_hist_marks"].data = {"x": xs, "kind": kinds}
