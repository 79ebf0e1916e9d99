"""The RBM explorer's "Hold q" tab: the student's product law q, its bound, the iteration, the basins.

Plain arrays in (the app computes them with :mod:`explorer.rbm.playground`), Bokeh sources out;
the rules of :mod:`explorer.views.common` hold (no NaN/inf reaches BokehJS; every source is named).

* ``pg_bars``: one bar per unit, the magnetisation ``m_i`` of q, and the exact marginal as a marker;
* ``pg_handles``: a handle on top of each bar the student drags (Bokeh's PointDrawTool, adding
  points disabled); :meth:`HoldQView.dragged` reads which unit moved and where to;
* ``pg_path``: ``F[q]``, ``F_TAP2``, ``F_TAP3`` per iteration shown so far; ``pg_exact_f``: the exact F
  as a horizontal line (the bound ``F[q]`` is never below it; TAP may be);
* ``pg_basins``: the distinct minima reached from random starts and how many starts reached each.
"""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Div, FixedTicker, HoverTool, LabelSet, PointDrawTool, Range1d

from ..common import SourceRegistry, empty, explained, finite_rows, legend_outside, plot, small, sync_legend
from .explorer import COLORS

EXPLANATIONS = {
    "bars": (
        "<b>Your q: one magnetisation m<sub>i</sub> per unit</b> (visible first, then hidden). Drag a "
        "bar's handle up or down. Grey dashes: the exact marginals ⟨s<sub>i</sub>⟩."),
    "path": (
        "<b>F[q] per iteration</b> of mean field from your q. F[q] = ⟨E⟩<sub>q</sub> − T S[q] is a bound: "
        "never below the exact F (black line), whatever q is. Each iteration lowers it. "
        "TAP2/TAP3 at the same q are <i>not bounds</i>: they may dip below."),
    "basins": (
        "<b>Where random starts end.</b> Each bar is a distinct mean-field minimum (its F[q] on the axis), "
        "its height the number of starts that reached it. Mean field reports the lowest."),
}

_FMT = "{0.000000}"


class HoldQView(SourceRegistry):
    """The playground's figures: magnetisation bars with drag handles, F[q] per iteration, basins."""

    def __init__(self, width=405, height=290):
        super().__init__()
        w, h = width, height
        bars = plot("fig_pg_bars", "Magnetisations of q (drag a handle)", width=w, height=h,
                    tools="reset,save", x_axis_label="unit (visible first, then hidden)",
                    y_axis_label="m_i", y_range=Range1d(-0.05, 1.05), x_range=Range1d(-0.5, 1.5))
        src = self.source("pg_bars", "i", "unit", "m", "exact", "layer_color")
        src.data = {**empty("i", "m", "exact"), "unit": [], "layer_color": []}
        bars.vbar(x="i", top="m", width=0.7, source=src, fill_color="layer_color", fill_alpha=0.55,
                  line_color=None, legend_label="q: m_i")
        bars.scatter("i", "exact", source=src, marker="dash", size=18, line_width=3, color="#555555",
                     legend_label="exact ⟨s_i⟩")
        handles = self.source("pg_handles", "x", "y")
        r = bars.scatter("x", "y", source=handles, size=13, marker="circle", fill_color="white",
                         line_color="black", line_width=2, name="pg_handle_markers")
        self.draw_tool = PointDrawTool(renderers=[r], add=False, drag=True, description="Drag a magnetisation")
        bars.add_tools(self.draw_tool)
        bars.toolbar.active_tap = self.draw_tool
        bars.toolbar.active_drag = self.draw_tool
        bars.add_tools(HoverTool(renderers=[bars.renderers[0]], tooltips=[
            ("unit", "@unit"), ("m_i of q", "@m{0.0000}"), ("exact", "@exact{0.0000}")]))
        self.split = self.source("pg_split", "x")
        bars.vspan("x", source=self.split, line_color="#888888", line_dash="dotted")
        # below the frame: inside, it covered the drag handles of the last units
        legend_outside(bars, "below", ncols=2)
        self.fig_bars = bars

        f = plot("fig_pg_path", "F[q] along the mean-field iteration", width=w, height=h,
                 x_axis_label="iteration", y_axis_label="free energy")
        path = self.source("pg_path", "it", "free_energy", "tap2", "tap3", "exact")
        exact = self.source("pg_exact_f", "y")
        f.hspan(y="y", source=exact, line_color=COLORS["exact"], line_width=2, legend_label="exact F (the floor)")
        self.line_bound = f.line("it", "free_energy", source=path, color=COLORS["mean_field"], line_width=2,
                                 legend_label="F[q] (a bound)")
        f.scatter("it", "free_energy", source=path, color=COLORS["mean_field"], size=5)
        f.line("it", "tap2", source=path, color=COLORS["tap2"], line_dash="dashed", line_width=2,
               legend_label="TAP2 at q (not a bound)")
        f.line("it", "tap3", source=path, color=COLORS["tap3"], line_dash="dotdash", line_width=2,
               legend_label="TAP3 at q (not a bound)")
        f.add_tools(HoverTool(renderers=[self.line_bound], mode="vline", tooltips=[
            ("iteration", "@it"), ("F[q]", "@free_energy" + _FMT), ("exact F", "@exact" + _FMT),
            ("TAP2", "@tap2" + _FMT), ("TAP3", "@tap3" + _FMT)]))
        legend_outside(f, "below", ncols=2)
        sync_legend(f)
        self.fig_path = f

        b = plot("fig_pg_basins", "Minima reached from random starts", width=w, height=220,
                 tools="save", x_axis_label="minimum (lowest first)", y_axis_label="starts")
        basins = self.source("pg_basins", "rank", "free_energy", "count", "label")
        basins.data = {**empty("rank", "free_energy", "count"), "label": []}
        b.vbar(x="rank", top="count", width=0.6, source=basins, fill_color=COLORS["mean_field"], line_color=None)
        b.add_layout(LabelSet(x="rank", y="count", text="label", source=basins, text_font_size="9pt",
                              text_align="center", y_offset=2))
        b.add_tools(HoverTool(tooltips=[("minimum", "@rank"), ("F[q]", "@free_energy" + _FMT),
                                        ("starts", "@count")]))
        b.y_range.start = 0
        self.basin_ticks = FixedTicker(ticks=[1])
        b.xaxis.ticker = self.basin_ticks
        self.fig_basins = b
        self.note = Div(text="", width=w, name="pg_note")
        self.layout = column(
            row(explained(EXPLANATIONS["bars"], w, bars), explained(EXPLANATIONS["path"], w, f)),
            row(explained(EXPLANATIONS["basins"], w, b), self.note), name="rbm_playground")

    # ------------------------------------------------------------------ q
    def show_q(self, visible, hidden, exact_visible, exact_hidden, units):
        """The bars and handles at ``m = (m_v, m_h)``; the exact marginals as markers."""
        m = np.concatenate([np.asarray(visible, float), np.asarray(hidden, float)])
        exact = np.concatenate([np.asarray(exact_visible, float), np.asarray(exact_hidden, float)])
        nv = len(visible)
        i = np.arange(m.size, dtype=float)
        m = np.clip(np.where(np.isfinite(m), m, 0.5), 0.0, 1.0)
        exact = np.where(np.isfinite(exact), exact, np.nan)
        colors = [COLORS["mean_field"] if k < nv else COLORS["tap3"] for k in range(m.size)]
        self.sources["pg_bars"].data = small({"i": i, "unit": list(units), "m": m,
                                              "exact": np.where(np.isfinite(exact), exact, -1.0),
                                              "layer_color": colors})
        self.sources["pg_handles"].data = small({"x": i, "y": m})
        if self.fig_bars.x_range.end != m.size - 0.5:
            self.fig_bars.x_range.update(start=-0.5, end=m.size - 0.5)
            self.split.data = {"x": [nv - 0.5]}

    def dragged(self, data, current):
        """Which unit a drag moved and its new magnetisation, from the handles' new ``data``.

        ``current``: the magnetisations shown (nv + nh). Returns ``(unit, m)`` with ``m`` clipped
        to [0, 1], or None when nothing moved (or the data are not a drag: a deleted point,
        a non-finite value).
        """
        x = np.asarray(data.get("x", []), dtype=float)
        y = np.asarray(data.get("y", []), dtype=float)
        current = np.asarray(current, dtype=float)
        if x.size != current.size or y.size != current.size:
            return None
        moved = np.flatnonzero((np.abs(x - np.arange(x.size)) > 1e-9) | (np.abs(y - current) > 1e-9))
        moved = moved[np.isfinite(y[moved])]
        if moved.size == 0:
            return None
        k = int(moved[0])
        return k, float(np.clip(y[k], 0.0, 1.0))

    # ------------------------------------------------------------------ the path
    def show_path(self, free_energy, tap2, tap3, exact_free_energy, upto=None):
        """``F[q]``, TAP2, TAP3 for iterations ``0..upto`` (all when None); the exact F as a line."""
        f = np.asarray(free_energy, dtype=float)
        n = f.size if upto is None else int(upto) + 1
        it = np.arange(n, dtype=float)
        exact = float(exact_free_energy)
        self.sources["pg_path"].data = small(finite_rows({
            "it": it, "free_energy": f[:n], "tap2": np.asarray(tap2, float)[:n],
            "tap3": np.asarray(tap3, float)[:n], "exact": np.full(n, exact)}))
        self.sources["pg_exact_f"].data = {"y": [exact] if np.isfinite(exact) else []}
        sync_legend(self.fig_path)

    # ------------------------------------------------------------------ basins
    def show_basins(self, free_energies, counts):
        f = np.asarray(free_energies, dtype=float)
        c = np.asarray(counts, dtype=float)
        cols = finite_rows({"rank": np.arange(1, f.size + 1), "free_energy": f, "count": c})
        cols["label"] = [f"{x:.4f}" for x in cols["free_energy"]]
        self.sources["pg_basins"].data = small(cols)
        self.basin_ticks.ticks = [int(r) for r in cols["rank"]] or [1]

    def show_note(self, html):
        self.note.text = html


__all__ = ["HoldQView"]
