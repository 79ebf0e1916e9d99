"""The VAE explorer's Bokeh views, one per panel: figures and sources fed with plain arrays.

No widgets and no physics here: the app (explorer.app.vae.explorer) asks the VAE layer for
every number and hands arrays to the ``show_*`` methods, which replace ``source.data`` in
place (figures are built once). The rules of :mod:`explorer.views.common` hold.

Panels: :class:`PosteriorLambdaView` (the first screen: the true posterior against q, and
F(λ) with the series), :class:`LatentView`, :class:`ElboView`, :class:`TemperatureView`,
:class:`IwaeView`, :class:`TrainingView`.
"""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Div, FactorRange, HoverTool, LinearColorMapper, Range1d, Span, TapTool, Whisker
from bokeh.palettes import Category10_10, Greys256, Viridis256

from ..common import (
    SourceRegistry,
    explained,
    finite_rows,
    legend_outside,
    placeholder,
    plot,
    set_symlog_ticks,
    show_placeholder,
    small,
    symlog,
    symlog_axis,
    symlog_threshold,
    sync_legend,
)
from ..glossary import annotate
from ..html import ERROR_COLOUR
from ..series import series_colors

MAX_ORDER = 8
SERIES_COLORS = series_colors(MAX_ORDER)

#: Bars of the decomposition plot (key -> label a student reads).
BARS = {
    "expected_energy": "expected energy ⟨H⟩ under q",
    "minus_entropy": "− entropy −S[q]",
    "neg_elbo": "−ELBO",
    "free_energy": "exact F = −ln p(x)",
    "kl_posterior": "gap KL(q‖p(z|x))",
}

EXPLANATIONS = {
    "latent": ("<b>Latent space.</b> Each dot is the mean of q(z|x) for one test digit, coloured by "
               "the digit. Click a dot to select that digit: every other plot follows."),
    "posterior": ("<b>The true posterior p(z|x)</b> (heat map, exact on a grid) against the encoder's "
                  "Gaussian q(z|x) (ellipses at 1, 2, 3 σ, dots are samples). Where they differ, the "
                  "ELBO misses −ln p(x): that gap is KL(q‖p(z|x))."),
    "lambda": ("<b>F(λ) = −ln E<sub>q</sub>[w<sup>λ</sup>]</b>, w = p(x,z)/q(z|x): λ = 0 is the reference, λ = 1 "
               "the exact −ln p(x). The cumulant series of orders 1..K expands F(λ) around λ = 0 (order 1 "
               "is −λ·ELBO); the Rényi (VR) family F(λ)/λ is an upper bound on (0, 1], falling from −ELBO at "
               "λ → 0 to −ln p(x) at λ = 1 (past 1 it is no bound). Dots: Monte Carlo, ±2 standard errors where "
               "the variance of w<sup>λ</sup> is finite (2λ &lt; λ*); above λ* (dotted) "
               "E<sub>q</sub>[w<sup>λ</sup>] is infinite: the exact curve stops. <b>Under it, each curve minus the "
               "exact value</b> on a signed "
               "log axis (zero: exact): the series and Monte Carlo minus F(λ) (order 1 at λ = 1: the gap "
               "KL(q‖p(z|x))), the Rényi family minus −ln p(x)."),
    "temperature": ("<b>Free energy at temperature T</b>: exact F<sub>T</sub> = −T ln ∫ e<sup>−H/T</sup> dz "
                    "against the variational bound E<sub>q</sub>[H] − T·S[q] with q fixed. They meet nowhere: the "
                    "encoder was fitted at T = 1. S[q] is the entropy of a density over the continuous z (a "
                    "differential entropy): it is negative when q is narrow (σ below 1/√(2πe) ≈ 0.24 along an axis), "
                    "which is allowed here, unlike the RBM's S ≥ 0 over discrete states; then −T·S[q] &gt; 0 and the "
                    "bound rises with T."),
    "iwae": ("<b>IWAE bound vs K</b>: averaging K importance weights tightens the bound from −ELBO "
             "(K = 1) towards the exact −ln p(x) (line). Dots: the estimate from one pool of draws cut into "
             "groups of K. Bars: ±2 standard errors from the spread of those groups, the noise of the estimate "
             "(another seed moves the dots about that much), not its bias: the bound, the dots' expectation, stays "
             "above the line."),
    "bars": ("<b>−ELBO = expected energy − entropy</b>, and the gap between −ELBO and the exact "
             "free energy: KL(q‖p(z|x)) ≥ 0. Whiskers: Monte Carlo estimates ±2 standard errors."),
    "weight_scale": ("<b>Decoder weight scale c</b>: every weight matrix of the decoder multiplied by c, "
                     "biases kept, the encoder unchanged. The exact −ln p(x) (quadrature) and −ELBO with the "
                     "encoder's q: a stronger decoder sharpens the posterior, q no longer fits, the gap grows."),
    "weights": ("<b>Importance weights w = p(x, z)/q(z|x)</b> under q. Their right tail decides whether "
                "sampling estimates can be trusted: with a bounded (tanh) decoder E<sub>q</sub>[w<sup>s</sup>] is "
                "infinite for s ≥ λ*, so the weights' variance is infinite when λ* ≤ 2 and the error bars of plain "
                "importance sampling lie. PSIS (Vehtari, Simpson, Gelman, Yao, Gabry) estimates the tail's Pareto "
                "shape k̂ from the samples; here the exact shape k = 1/λ* is known too."),
    "training": ("<b>Training</b>: the loss (−ELBO per image, nats) on the training and validation "
                 "sets after each epoch."),
}


def _fig(name, title, **kw):
    width, height = kw.pop("width"), kw.pop("height")
    return plot(name, title, width=width, height=height, **kw)


class PosteriorLambdaView(SourceRegistry):
    """The first screen: p(z|x) against q(z|x), and F(λ) with the series, VR bound and Monte Carlo."""

    def __init__(self, lam_range=(0.0, 1.5), width=410, height=320):
        super().__init__()
        w, h = width, height
        post = self.source("posterior", "image", "x", "y", "dw", "dh")
        ell = self.source("q_ellipses", "x", "y", "width", "height", "level")
        qs = self.source("q_samples", "z1", "z2")
        qmu = self.source("q_mean", "z1", "z2")
        p = _fig("fig_posterior", "True posterior p(z|x) and q(z|x)", width=w, height=h,
                 x_range=Range1d(-3, 3), y_range=Range1d(-3, 3), x_axis_label="z₁", y_axis_label="z₂")
        self.post_mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=1.0)
        p.image(image="image", x="x", y="y", dw="dw", dh="dh", source=post, color_mapper=self.post_mapper)
        p.ellipse(x="x", y="y", width="width", height="height", source=ell, fill_color=None,
                  line_color="white", line_width=2, legend_label="q(z|x): 1, 2, 3 σ")
        p.scatter("z1", "z2", source=qs, size=3, color="orange", alpha=0.7, legend_label="samples z ~ q")
        p.scatter("z1", "z2", source=qmu, size=10, marker="cross", color="red", line_width=2, legend_label="mean of q")
        legend_outside(p, "below", ncols=3)      # the heat map fills the frame: no free corner
        self.fig_posterior = p

        lam_ex, lam_vr = self.source("lam_exact", "x", "y"), self.source("lam_vr", "x", "y", "diff", "diff_y")
        lam_vr_past = self.source("lam_vr_past", "x", "y", "diff", "diff_y")
        lam_mc = self.source("lam_mc", "x", "y")
        lam_mc_diff = self.source("lam_mc_diff", "x", "diff", "diff_y")
        lam_mc_err = self.source("lam_mc_err", "x", "lower", "upper")
        series = self.source("lam_series", "xs", "ys", "color", "order", "diff_xs", "diff_ys")
        lam_cur = self.source("lam_cursor", "x", "y")
        g = _fig("fig_lambda", "F(λ): exact, series, Rényi family, Monte Carlo", width=w + 20, height=h - 50,
                 y_axis_label="free energy F(λ) (nats)", x_range=Range1d(*lam_range))
        g.multi_line("xs", "ys", source=series, color="color", line_width=1.5, alpha=0.9,
                     legend_label="cumulant series, orders 1..K")
        g.line("x", "y", source=lam_ex, color="black", line_width=3, legend_label="exact F(λ)")
        # F(λ)/λ is an upper bound on −ln p(x) only for 0 < λ ≤ 1: past 1 it is drawn, not called a bound
        g.line("x", "y", source=lam_vr, color="#d62728", line_width=2, line_dash="dashed",
               legend_label="Rényi (VR) bound F(λ)/λ, 0 < λ ≤ 1")
        g.line("x", "y", source=lam_vr_past, color="#d62728", line_width=1.5, line_dash="dotted",
               legend_label="F(λ)/λ past λ = 1: not a bound")
        g.scatter("x", "y", source=lam_mc, size=4, color="#9467bd", legend_label="Monte Carlo F(λ)")
        # error bars only where the variance of w^λ is finite (2λ < λ*)
        g.add_layout(Whisker(source=lam_mc_err, base="x", lower="lower", upper="upper", line_color="#9467bd",
                             upper_head=None, lower_head=None))
        g.scatter("x", "y", source=lam_cur, size=12, color="red", marker="diamond", legend_label="λ (slider)")
        self.lam_critical = Span(location=10.0, dimension="height", line_dash="dotted", line_color="grey",
                                 line_width=2)
        g.add_layout(self.lam_critical)
        g.add_tools(HoverTool(tooltips=[("λ", "@x{0.000}"), ("F", "@y{0.0000}")]))
        g.xaxis.major_label_text_font_size = "0pt"     # the same λ axis is labelled under the differences
        g.min_border_bottom = 4
        legend_outside(g, "above", ncols=2)
        self.fig_lambda = g

        # the differences on their own axis, under F(λ): each curve minus the exact value it approximates
        d = _fig("fig_lambda_diff", "Each curve minus the exact value", width=w + 20, height=230,
                 x_axis_label="perturbation λ", y_axis_label="curve − exact (nats)", x_range=g.x_range)
        d.hspan(y=[0.0], line_color="black", line_width=2)
        d.multi_line("diff_xs", "diff_ys", source=series, color="color", line_width=1.5, alpha=0.9,
                     name="lam_diff_series")
        d.line("x", "diff_y", source=lam_vr, color="#d62728", line_width=2, line_dash="dashed", name="lam_diff_vr")
        d.line("x", "diff_y", source=lam_vr_past, color="#d62728", line_width=1.5, line_dash="dotted")
        d.scatter("x", "diff_y", source=lam_mc_diff, size=4, color="#9467bd", name="lam_diff_mc")
        d.vspan("x", source=lam_cur, line_color="#444444", line_width=1.5, line_dash="dashed")
        self.lam_critical_diff = Span(location=10.0, dimension="height", line_dash="dotted", line_color="grey",
                                      line_width=2)
        d.add_layout(self.lam_critical_diff)
        d.add_tools(HoverTool(tooltips=[("λ", "@x{0.000}"), ("difference", "@diff{0.0000}")]))
        self.diff_ticker, self.diff_formatter = symlog_axis(d)
        self.diff_scale = 1e-4
        self.fig_lambda_diff = d
        self._lam_exact = (np.zeros(0), np.zeros(0))
        self.mc_note = Div(text="", width=w + 20, name="lam_mc_note", styles={"font-size": "12px"})
        self.layout = row(explained(EXPLANATIONS["posterior"], w, p),
                          explained(EXPLANATIONS["lambda"], w + 20, g, d, self.mc_note), name="vae_posterior_lambda")

    def show_posterior(self, z1, z2, density, mu, sigma, samples):
        """Heat map of ``density`` (rows: z2) on the grid, q's 1-2-3σ ellipses and samples."""
        z1, z2 = np.asarray(z1, float), np.asarray(z2, float)
        d = np.nan_to_num(np.asarray(density, float), nan=0.0, posinf=0.0, neginf=0.0)
        self.post_mapper.high = float(d.max()) if d.max() > 0 else 1.0
        self.sources["posterior"].data = {"image": [d], "x": [z1[0]], "y": [z2[0]], "dw": [z1[-1] - z1[0]],
                                          "dh": [z2[-1] - z2[0]]}
        lv = np.array([1.0, 2.0, 3.0])
        self.sources["q_ellipses"].data = finite_rows({
            "x": np.full(3, mu[0]), "y": np.full(3, mu[1]), "width": 2 * lv * sigma[0],
            "height": 2 * lv * sigma[1], "level": lv})
        s = np.asarray(samples, float)
        self.sources["q_samples"].data = finite_rows({"z1": s[:, 0], "z2": s[:, 1]})
        self.sources["q_mean"].data = small(finite_rows({"z1": [mu[0]], "z2": [mu[1]]}))
        # The quadrature box is much wider than the mass: zoom to where the posterior is visible
        # (above 1e-3 of its peak) and to q's 3σ ellipse, whichever is larger, plus a margin.
        rows, cols = np.nonzero(d > 1e-3 * d.max()) if d.max() > 0 else (np.array([0]), np.array([0]))
        lo1, hi1 = min(z1[cols.min()], mu[0] - 3 * sigma[0]), max(z1[cols.max()], mu[0] + 3 * sigma[0])
        lo2, hi2 = min(z2[rows.min()], mu[1] - 3 * sigma[1]), max(z2[rows.max()], mu[1] + 3 * sigma[1])
        m1, m2 = 0.25 * (hi1 - lo1), 0.25 * (hi2 - lo2)
        xr, yr = self.fig_posterior.x_range, self.fig_posterior.y_range
        xr.start, xr.end = float(max(lo1 - m1, z1[0])), float(min(hi1 + m1, z1[-1]))
        yr.start, yr.end = float(max(lo2 - m2, z2[0])), float(min(hi2 + m2, z2[-1]))

    def show_lambda_curves(self, lam, exact, vr, mc, mc_stderr, series, order, lam_critical):
        """``series`` has one row per order 1..(at least K); only orders 1..``order`` are drawn.

        ``mc_stderr`` is NaN where the Monte Carlo variance is infinite: those points get no error
        bar, and the note under the plot says why.

        Under F(λ), each curve minus the exact value it approximates, on a signed log axis
        (:func:`~explorer.views.common.symlog`; the columns ``diff`` hold the differences): the
        series and Monte Carlo minus the exact F(λ), the Rényi family F(λ)/λ minus −ln p(x) = F(1).
        """
        lam, exact = np.asarray(lam, float), np.asarray(exact, float)
        self._lam_exact = (lam, exact)
        ok = np.isfinite(exact)
        f1 = float(np.interp(1.0, lam[ok], exact[ok])) if ok.sum() > 1 and lam[ok].max() >= 1.0 else np.nan
        vr = np.asarray(vr, float)
        mc, se = np.asarray(mc, float), np.asarray(mc_stderr, float)
        series = np.asarray(series, float)
        with np.errstate(invalid="ignore"):     # inf − inf: NaN, dropped
            d_vr, d_mc = vr - f1, mc - exact
            d_1 = series[0] - exact if series.shape[0] else np.zeros(0)
        # the scale follows the bound's gap (order 1), the Rényi family and Monte Carlo
        c = self.diff_scale = symlog_threshold(d_1, d_vr, d_mc)
        self.sources["lam_exact"].data = finite_rows({"x": lam, "y": exact})
        inside = (lam > 0) & (lam <= 1.0)
        self.sources["lam_vr"].data = finite_rows({"x": lam[inside], "y": vr[inside], "diff": d_vr[inside],
                                                   "diff_y": symlog(d_vr[inside], c)})
        past = lam >= 1.0
        self.sources["lam_vr_past"].data = finite_rows({"x": lam[past], "y": vr[past], "diff": d_vr[past],
                                                        "diff_y": symlog(d_vr[past], c)})
        self.sources["lam_mc"].data = finite_rows({"x": lam, "y": mc})
        self.sources["lam_mc_diff"].data = finite_rows({"x": lam, "diff": d_mc, "diff_y": symlog(d_mc, c)})
        self.sources["lam_mc_err"].data = finite_rows({"x": lam, "lower": mc - 2 * se, "upper": mc + 2 * se})
        no_bar = np.isfinite(mc) & ~np.isfinite(se)
        self.mc_note.text = ("" if not no_bar.any() else
                             f"Monte Carlo from λ = {lam[no_bar].min():.3g} on: variance of w<sup>λ</sup> infinite "
                             f"(2λ ≥ λ* = {lam_critical:.4g}): no error bar.")
        self.show_series(lam, series, order)
        # beyond the axis when λ* is out of range (a Span cannot be hidden by NaN)
        loc = float(lam_critical) if np.isfinite(lam_critical) else 1e9
        self.lam_critical.location = self.lam_critical_diff.location = loc

    def show_series(self, lam, series, order):
        """The truncated series of orders 1..``order`` (rows of ``series``) along λ, and each minus the
        exact F(λ) of the last :meth:`show_lambda_curves` under it."""
        lam = np.asarray(lam, float)
        lam_ex, exact = self._lam_exact
        if lam_ex.shape != lam.shape or not np.array_equal(lam_ex, lam):
            exact = np.full(lam.size, np.nan)
        c = self.diff_scale
        xs, ys, dxs, dys, cols, orders = [], [], [], [], [], []
        lows, highs = [0.0], [0.0]
        for n in range(1, int(order) + 1):
            rowd = finite_rows({"x": lam, "y": series[n - 1]})
            xs.append(rowd["x"])
            ys.append(rowd["y"])
            with np.errstate(invalid="ignore"):
                diff = finite_rows({"x": lam, "d": np.asarray(series[n - 1], float) - exact})
            dxs.append(diff["x"])
            dys.append(symlog(diff["d"], c))
            if diff["d"].size:
                lows.append(float(diff["d"].min()))
                highs.append(float(diff["d"].max()))
            cols.append(SERIES_COLORS[n - 1])
            orders.append(n)
        self.sources["lam_series"].data = {"xs": xs, "ys": ys, "color": cols, "order": orders,
                                           "diff_xs": dxs, "diff_ys": dys}
        for name in ("lam_vr", "lam_vr_past", "lam_mc_diff"):
            dv = np.asarray(self.sources[name].data["diff"], float)
            if dv.size:
                lows.append(float(dv.min()))
                highs.append(float(dv.max()))
        set_symlog_ticks(self.diff_ticker, self.diff_formatter, c, min(lows), max(highs))
        sync_legend(self.fig_lambda)

    def show_lambda_cursor(self, lam, value):
        self.sources["lam_cursor"].data = small(finite_rows({"x": [lam], "y": [value]}))
        sync_legend(self.fig_lambda)


class LatentView(SourceRegistry):
    """The test digits' latent means (tap one to select it), the digit and its reconstruction."""

    def __init__(self, width=440, height=320):
        super().__init__()
        w, h = width, height
        lat = self.source("latent", "z1", "z2", "label", "index", "color")
        sel = self.source("latent_selected", "z1", "z2")
        f = _fig("fig_latent", "Latent means of the test digits (click one)", width=w, height=h,
                 x_axis_label="z₁", y_axis_label="z₂")
        r = f.scatter("z1", "z2", source=lat, size=7, color="color", alpha=0.75, line_color=None,
                      nonselection_alpha=0.75, selection_color="color")
        f.scatter("z1", "z2", source=sel, size=16, marker="circle", fill_color=None, line_color="red", line_width=3)
        f.add_tools(TapTool(renderers=[r]), HoverTool(renderers=[r], tooltips=[("digit", "@label"),
                                                                                ("test index", "@index")]))
        self.fig_latent = f
        self.digit_title = Div(text="", name="digit_title", width=w - 40)
        imgs = []
        for name, title in (("digit", "Selected digit x"), ("reconstruction", "Reconstruction p(x|z = μ)")):
            s = self.source(name, "image", "x", "y", "dw", "dh")
            g = _fig(f"fig_{name}", title, width=200, height=220, tools="save",
                     x_range=Range1d(0, 8), y_range=Range1d(0, 8))
            g.image(image="image", x="x", y="y", dw="dw", dh="dh", source=s,
                    color_mapper=LinearColorMapper(palette=Greys256[::-1], low=0.0, high=1.0))
            g.axis.visible = False
            g.grid.visible = False
            imgs.append(g)
        self.layout = row(explained(EXPLANATIONS["latent"], w, f), column(self.digit_title, row(*imgs)),
                          name="vae_latent")
        #: what a tap sets: kind -> [(source, column holding the value)]
        self.tap_sources = {"digit": [(lat, "index")]}

    def show_latents(self, mu, labels, indices):
        """The scatter: q means ``mu`` (n, 2), integer ``labels`` (or None) and test indices."""
        mu = np.asarray(mu, dtype=np.float64)
        keep = np.all(np.isfinite(mu), axis=1)
        labs = np.zeros(mu.shape[0], dtype=int) if labels is None else np.asarray(labels, dtype=int)
        self.sources["latent"].data = {
            "z1": mu[keep, 0], "z2": mu[keep, 1], "label": labs[keep].tolist(),
            "index": np.asarray(indices)[keep].tolist(),
            "color": [Category10_10[int(v) % 10] for v in labs[keep]]}

    def show_selected(self, z, title_html, digit, reconstruction):
        """The selected digit: its latent mean, a title, and its image and reconstruction
        (h×w arrays in [0, 1], first row at the top: flipped, since Bokeh draws rows upwards)."""
        self.sources["latent_selected"].data = small(finite_rows({"z1": [z[0]], "z2": [z[1]]}))
        self.digit_title.text = title_html
        for name, img in (("digit", digit), ("reconstruction", reconstruction)):
            a = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0)
            hgt, wid = a.shape
            self.sources[name].data = {"image": [a[::-1]], "x": [0], "y": [0], "dw": [wid], "dh": [hgt]}


class TemperatureView(SourceRegistry):
    """Exact F_T against the bound E_q[H] − T·S[q] with q fixed."""

    def __init__(self, t_range=(0.25, 4.0), width=520, height=300):
        super().__init__()
        t_ex, t_bd, t_cur = self.source("t_exact", "x", "y"), self.source("t_bound", "x", "y"), \
            self.source("t_cursor", "x", "y")
        t = _fig("fig_temperature", "Free energy vs temperature: exact and bound", width=width, height=height,
                 x_axis_type="log", x_range=Range1d(*t_range), x_axis_label="temperature T",
                 y_axis_label="free energy (nats)")
        t.line("x", "y", source=t_ex, color="black", line_width=3, legend_label="exact F(T)")
        t.line("x", "y", source=t_bd, color="#1f77b4", line_width=2, legend_label="bound ⟨H⟩ under q − T·S[q]")
        t.scatter("x", "y", source=t_cur, size=12, color="red", marker="diamond", legend_label="T (slider)")
        t.add_tools(HoverTool(tooltips=[("T", "@x{0.000}"), ("F", "@y{0.0000}")]))
        legend_outside(t, "below", ncols=3)
        self.fig_temperature = t
        self.layout = explained(EXPLANATIONS["temperature"], width, t)

    def show_curves(self, t, exact, bound):
        self.sources["t_exact"].data = finite_rows({"x": t, "y": exact}, positive=("x",))
        self.sources["t_bound"].data = finite_rows({"x": t, "y": bound}, positive=("x",))

    def show_cursor(self, t, value):
        self.sources["t_cursor"].data = small(finite_rows({"x": [t], "y": [value]}, positive=("x",)))


class IwaeView(SourceRegistry):
    """The IWAE bound −L_K against K, with the exact −ln p(x)."""

    def __init__(self, k_range=(1, 5000), width=520, height=300):
        super().__init__()
        iw, iw_ex, iw_cur = self.source("iwae", "x", "y"), self.source("iwae_exact", "x", "y"), \
            self.source("iwae_cursor", "x", "y")
        iw_err = self.source("iwae_err", "x", "lower", "upper")
        k = _fig("fig_iwae", "IWAE bound vs number of samples K", width=width, height=height, x_axis_type="log",
                 x_range=Range1d(k_range[0] * 0.7, k_range[1] * 1.4), x_axis_label="number of samples K (log axis)",
                 y_axis_label="−ln p(x) and its bounds (nats)")
        k.line("x", "y", source=iw_ex, color="black", line_width=2, line_dash="dashed", legend_label="exact −ln p(x)")
        k.line("x", "y", source=iw, color="#2ca02c", line_width=2)
        k.scatter("x", "y", source=iw, size=6, color="#2ca02c", legend_label="IWAE bound with K samples")
        k.add_layout(Whisker(source=iw_err, base="x", lower="lower", upper="upper", line_color="#2ca02c"))
        k.scatter("x", "y", source=iw_cur, size=13, color="red", marker="diamond", legend_label="K (slider)")
        k.add_tools(HoverTool(tooltips=[("K", "@x"), ("IWAE bound", "@y{0.0000}")]))
        legend_outside(k, "below", ncols=3)
        self.fig_iwae = k
        self.note = Div(text="", width=width, name="iwae_note", styles={"font-size": "12px"})
        self.layout = explained(EXPLANATIONS["iwae"], width, k, self.note)

    def show(self, k, bound, stderr, exact, note=""):
        """``stderr``: the standard error of each estimate (NaN: no error bar, ``note`` says why)."""
        k, bound, se = (np.asarray(a, float) for a in (k, bound, stderr))
        self.sources["iwae"].data = finite_rows({"x": k, "y": bound}, positive=("x",))
        self.sources["iwae_err"].data = finite_rows({"x": k, "lower": bound - 2 * se, "upper": bound + 2 * se},
                                                    positive=("x",))
        self.note.text = note
        self.sources["iwae_exact"].data = finite_rows({"x": [k.min() * 0.7, k.max() * 1.4], "y": [exact, exact]})

    def show_cursor(self, k, value):
        self.sources["iwae_cursor"].data = small(finite_rows({"x": [k], "y": [value]}, positive=("x",)))


#: Bar colours of the ELBO decomposition.
BAR_COLORS = {"expected_energy": "#1f77b4", "minus_entropy": "#ff7f0e", "neg_elbo": "#2ca02c",
              "free_energy": "#7f7f7f", "kl_posterior": "#d62728"}


class ElboView(SourceRegistry):
    """−ELBO = expected energy − entropy, the exact free energy and the gap, as bars."""

    def __init__(self, width=560, height=300):
        super().__init__()
        bars, bmc = self.source("elbo_bars", "name", "value", "color"), self.source("elbo_bars_mc", "name", "lower",
                                                                                  "upper")
        b = _fig("fig_bars", "−ELBO = expected energy − entropy, and the gap", width=width, height=height,
                 x_range=FactorRange(factors=list(BARS.values())), y_axis_label="value (nats)")
        b.vbar(x="name", top="value", source=bars, width=0.7, color="color")
        b.add_layout(Whisker(source=bmc, base="name", lower="lower", upper="upper", line_color="black"))
        b.xaxis.major_label_orientation = 0.35
        b.add_tools(HoverTool(tooltips=[("", "@name"), ("value", "@value{0.0000}")]))
        self.fig_bars = b
        self.layout = explained(EXPLANATIONS["bars"], width, b)

    def show(self, values, mc=None):
        """``values``: key of :data:`BARS` -> exact number; ``mc``: key -> (estimate, stderr)."""
        keys = [k for k in BARS if k in values and np.isfinite(values[k])]
        self.sources["elbo_bars"].data = {"name": [BARS[k] for k in keys], "value": [float(values[k]) for k in keys],
                                          "color": [BAR_COLORS[k] for k in keys]}
        mc = mc or {}
        mk = [k for k in BARS if k in mc and all(np.isfinite(mc[k]))]
        self.sources["elbo_bars_mc"].data = {"name": [BARS[k] for k in mk],
                                             "lower": [mc[k][0] - 2 * mc[k][1] for k in mk],
                                             "upper": [mc[k][0] + 2 * mc[k][1] for k in mk]}


class TrainingView(SourceRegistry):
    """The training loss per epoch (training and validation sets)."""

    def __init__(self, width=520, height=260):
        super().__init__()
        tr = self.source("train_loss", "epoch", "train", "val")
        tf = _fig("fig_training", "Training loss (−ELBO per image)", width=width, height=height,
                  x_axis_label="epoch", y_axis_label="−ELBO per image (nats)")
        tf.line("epoch", "train", source=tr, color="#1f77b4", line_width=2, legend_label="training")
        tf.line("epoch", "val", source=tr, color="#ff7f0e", line_width=2, legend_label="validation")
        legend_outside(tf, "below", ncols=2)
        sync_legend(tf)
        self.placeholder = placeholder(tf, "Press “Train a new model” to see the loss per epoch.")
        self.fig_training = tf
        self.layout = explained(EXPLANATIONS["training"], width, tf)

    def show(self, epoch, train, val):
        self.sources["train_loss"].data = finite_rows({"epoch": epoch, "train": train, "val": val})
        show_placeholder(self.placeholder, shown=len(self.sources["train_loss"].data["epoch"]) == 0)
        sync_legend(self.fig_training)


class WeightScaleView(SourceRegistry):
    """Exact −ln p(x) and −ELBO (the encoder's q) along the decoder weight scale c, the gap shaded."""

    def __init__(self, c_range=(0.25, 4.0), width=560, height=300):
        super().__init__()
        ex, bd = self.source("scale_exact", "x", "y"), self.source("scale_neg_elbo", "x", "y")
        gap = self.source("scale_gap", "x", "exact", "bound", "gap")
        cur = self.source("scale_cursor", "x")
        f = _fig("fig_weight_scale", "Free energies vs decoder weight scale c", width=width, height=height,
                 x_axis_type="log", x_range=Range1d(*c_range), x_axis_label="decoder weight scale c (log axis)",
                 y_axis_label="free energy (nats)")
        f.varea("x", "exact", "bound", source=gap, fill_color="#1f77b4", fill_alpha=0.15,
                legend_label="gap KL(q‖p(z|x))")
        f.line("x", "y", source=bd, color="#1f77b4", line_width=2, legend_label="−ELBO with the encoder's q")
        f.line("x", "y", source=ex, color="black", line_width=3, legend_label="exact −ln p(x)")
        f.add_tools(HoverTool(renderers=[f.renderers[0]], tooltips=[("c", "@x{0.000}"), ("gap", "@gap{0.0000}")]))
        f.vspan("x", source=cur, line_color="#444444", line_width=1.5, line_dash="dashed")
        legend_outside(f, "below", ncols=2)
        self.fig_weight_scale = f
        self.layout = explained(EXPLANATIONS["weight_scale"], width, f)

    def show(self, scale, exact, neg_elbo):
        scale, exact, neg_elbo = (np.asarray(a, float) for a in (scale, exact, neg_elbo))
        self.sources["scale_exact"].data = finite_rows({"x": scale, "y": exact}, positive=("x",))
        self.sources["scale_neg_elbo"].data = finite_rows({"x": scale, "y": neg_elbo}, positive=("x",))
        self.sources["scale_gap"].data = finite_rows({"x": scale, "exact": exact, "bound": neg_elbo,
                                                      "gap": neg_elbo - exact}, positive=("x",))

    def show_cursor(self, scale):
        self.sources["scale_cursor"].data = {"x": [float(scale)]}


class ImportanceWeightView(SourceRegistry):
    """The distribution of ln w under q, and whether an importance-sampling estimate can be trusted."""

    def __init__(self, width=560, height=280, bins=60):
        super().__init__()
        self.bins = int(bins)
        hist = self.source("log_w_hist", "left", "right", "count")
        mark = self.source("log_w_marks", "x", "label", "color")
        f = _fig("fig_log_w", "Distribution of ln w under q (Monte Carlo samples)", width=width, height=height,
                 x_axis_label="ln w = ln p(x, z) − ln q(z|x)", y_axis_label="number of samples")
        f.quad(left="left", right="right", top="count", bottom=0, source=hist, fill_color="#9467bd", fill_alpha=0.6,
               line_color=None)
        f.vspan("x", source=mark, line_color="color", line_width=2, line_dash="dashed")
        f.add_tools(HoverTool(tooltips=[("ln w from", "@left{0.000}"), ("to", "@right{0.000}"), ("samples", "@count")]))
        self.fig_log_w = f
        self.diagnostics = Div(text="", width=width, name="weights_diagnostics", styles={"font-size": "13px"})
        self.layout = explained(EXPLANATIONS["weights"], width, f, self.diagnostics)

    def show(self, log_w, lam_critical, pareto_k_exact, pareto_k_hat, ess, raw_free_energy, psis_free_energy,
             exact_free_energy, reliable, k_threshold):
        """The histogram of ``log_w`` and the tail diagnostics; ``reliable`` and ``k_threshold`` are
        PSIS's verdict for this sample size (k̂ ≤ min(1 − 1/log10 S, 0.7))."""
        lw = np.asarray(log_w, float)
        lw = lw[np.isfinite(lw)]
        if lw.size:
            count, edges = np.histogram(lw, bins=self.bins)
            self.sources["log_w_hist"].data = {"left": edges[:-1], "right": edges[1:], "count": count.astype(float)}
        else:
            self.sources["log_w_hist"].data = {"left": [], "right": [], "count": []}
        # −ln p(x) sits at ln w = ln p(x): every estimator averages w = e^{ln w} towards it
        self.sources["log_w_marks"].data = small(finite_rows({"x": [-exact_free_energy]}) | {"label": ["ln p(x)"],
                                                                                               "color": ["black"]})
        # The exact k = 1/λ* is known here; k̂ is an estimate of it from the largest draws of this one sample
        # (another seed gives another k̂, and for some digits the other side of the threshold).
        exact_ok = bool(pareto_k_exact <= k_threshold)
        exact_verdict = (f"k ≤ {k_threshold:.2f}: importance sampling is usable" if exact_ok else
                         f"k &gt; {k_threshold:.2f}: <b style='color:{ERROR_COLOUR}'>importance-sampling estimates are "
                         f"unreliable</b> at any practical sample size")
        fitted = bool(np.isfinite(pareto_k_hat))
        hat_verdict = ("too few draws to fit a tail" if not fitted else
                       f"k̂ ≤ {k_threshold:.2f}: on its own, PSIS would call the estimate usable" if reliable else
                       f"k̂ &gt; {k_threshold:.2f}: on its own, PSIS calls the estimate unreliable")
        if fitted and exact_ok != bool(reliable):
            trust = ("<b>Why they disagree, and which to trust.</b> The exact k describes the far tail of the "
                     "weights: the rare z far out along q's narrow directions, where q is tiny and w is huge. "
                     f"{lw.size} draws seldom reach that far, so k̂ fits the part of the tail they did reach, and "
                     "another seed gives another k̂. <b>Trust the exact k</b>: it is a property of q and the model, "
                     "not of one sample. In practice k is rarely known and k̂ is all one has; this tab shows that "
                     "it can miss a heavy tail.")
        else:
            trust = ("k̂ agrees with the exact k here. Where they disagree, trust the exact k: k̂ is estimated "
                     "from the largest draws of one sample, which seldom reach the far tail, and it changes with the "
                     "seed.")
        lam = "∞" if not np.isfinite(lam_critical) else f"{lam_critical:.4f}"
        self.diagnostics.text = annotate(
            f"<div class='vae-weights'>"
            f"<div><b>Exact</b> (from q and the model): tail index λ* = {lam}, so E<sub>q</sub>[w<sup>s</sup>] is "
            f"finite only for s &lt; λ*; the weights' Pareto shape is k = 1/λ* = {pareto_k_exact:.3f}: "
            f"{exact_verdict}.</div>"
            f"<div><b>Estimated</b> from these {lw.size} draws: PSIS's k̂ = {pareto_k_hat:.3f} ({hat_verdict}).</div>"
            f"<div class='vae-weights-trust'>{trust}</div>"
            f"<div>Effective sample size {ess:.0f} of {lw.size} draws. "
            f"−ln p(x): exact {exact_free_energy:.4f}, raw importance sampling {raw_free_energy:.4f}, "
            f"PSIS-smoothed {psis_free_energy:.4f}.</div></div>")
