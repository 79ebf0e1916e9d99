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

from ..common import (
    SourceRegistry,
    empty,
    explained,
    finite_rows,
    font_px,
    legend_outside,
    plot,
    small,
    sync_legend,
)
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

#: The basins plot: its height, and the smallest frame (plot area, px) it gets: at its narrowest
#: (:data:`~explorer.views.theme.MIN_WIDTH_FACTOR` of its width) and with the projector's larger
#: title and axis fonts (measured in Chromium at 1280 px: 354 × 150 px, 308 × 136 with the projector's
#: fonts; a figure may shrink to 0.8 of its width; the margin covers font differences between machines).
BASIN_HEIGHT = 220
BASIN_MIN_FRAME = (240.0, 120.0)
#: Each minimum's F[q] is written above its bar: font (px) and the box a label takes (per character
#: and line height, in ems of the font: generous for any sans-serif font, Chromium's digits take
#: 0.49 em); labels keep LABEL_GAP px apart.
LABEL_FONT_PX = 12
LABEL_CHAR_EM, LABEL_LINE_EM, LABEL_GAP = 0.625, 1.25, 6.0


def basin_labels(free_energies, counts, frame=BASIN_MIN_FRAME, font=LABEL_FONT_PX):
    """Where the basins plot writes each minimum's F[q] so that every label lies inside the frame
    and none covers another label or a bar.

    The bars stand at x = 1..n in an x range 0.5 .. n + 0.5 and y from 0, in a frame of
    ``frame = (width, height)`` px, the labels' font ``font`` px high. When every label fits over
    its own bar (narrower than the bar's slot), each stands on its bar. Otherwise they form a band
    above the tallest bar, in two staggered rows, with fewer decimals and, for many minima, only
    every s-th minimum labelled (the lowest, rank 1, always); a label at either end is shifted
    inwards to stay in the frame.
    The y range's end leaves room for the labels: nothing is cut at the top.

    Returns
    -------
    dict with ``text`` (one per minimum; "" where none is written), ``y`` (data units: the
    label's baseline before the offsets), ``x_offset`` and ``y_offset`` (px, right and up),
    ``rows``, ``stride``, ``decimals``, ``on_bars`` and ``y_end`` (the y range's end).
    """
    f = np.asarray(free_energies, dtype=float)
    c = np.asarray(counts, dtype=float)
    n = f.size
    width, height = (float(v) for v in frame)
    char, line = LABEL_CHAR_EM * font, LABEL_LINE_EM * font
    top = float(c.max()) if n else 1.0
    slot = width / max(n, 1)
    centres = (np.arange(n) + 0.5) * slot

    def candidates():
        for decimals in (4, 2, 1):
            yield decimals, 1, 1
            yield decimals, 2, 1
        for stride in range(2, n + 1):
            yield 1, 2, stride

    for decimals, rows, stride in candidates():
        texts = [f"{x:.{decimals}f}" if i % stride == 0 else "" for i, x in enumerate(f)]
        widths = np.array([len(t) * char for t in texts])
        on_bars = rows == 1 and bool(np.all(widths + LABEL_GAP <= slot))
        # shifted inwards where a label would leave the frame sideways
        left = np.clip(centres - widths / 2, 0.0, np.maximum(width - widths, 0.0))
        x_offset = left + widths / 2 - centres
        row = (np.arange(n) // stride) % rows
        clear = True
        for r in range(rows):
            shown = np.flatnonzero((row == r) & (widths > 0))
            if shown.size > 1 and np.any(left[shown[1:]] - (left[shown[:-1]] + widths[shown[:-1]]) < LABEL_GAP):
                clear = False
        if (on_bars or rows == 2 or stride > 1) and clear and np.all(widths <= width):
            break
    if on_bars:
        y = c.copy()                                     # each on its own bar
        y_offset = np.full(n, 2.0)
    else:
        y = np.full(n, top)                              # a band above the tallest bar
        y_offset = 2.0 + line * row
    band = 2.0 + rows * line + 2.0             # px the labels need above the tallest bar
    y_end = top * height / max(height - band, 1.0)
    return {"text": texts, "y": y, "x_offset": x_offset, "y_offset": y_offset, "rows": rows, "stride": stride,
            "decimals": decimals, "on_bars": on_bars, "y_end": float(max(y_end, 1.0))}


class HoldQView(SourceRegistry):
    """The playground's figures: magnetisation bars with drag handles, F[q] per iteration, basins."""

    def __init__(self, width=405, height=290):
        super().__init__()
        w, h = width, height
        bars = plot("fig_pg_bars", "Magnetisations of q (drag a handle)", width=w, height=h,
                    tools="reset,save", x_axis_label="unit (visible first, then hidden)",
                    y_axis_label="magnetisation mᵢ", y_range=Range1d(-0.05, 1.05), x_range=Range1d(-0.5, 1.5))
        src = self.source("pg_bars", "i", "unit", "m", "exact", "layer_color")
        src.data = {**empty("i", "m", "exact"), "unit": [], "layer_color": []}
        bars.vbar(x="i", top="m", width=0.7, source=src, fill_color="layer_color", fill_alpha=0.55,
                  line_color=None, legend_label="your q: mᵢ")
        bars.scatter("i", "exact", source=src, marker="dash", size=18, line_width=3, color="#555555",
                     legend_label="exact ⟨sᵢ⟩")
        handles = self.source("pg_handles", "x", "y")
        r = bars.scatter("x", "y", source=handles, size=13, marker="circle", fill_color="white",
                         line_color="black", line_width=2, name="pg_handle_markers")
        self.draw_tool = PointDrawTool(renderers=[r], add=False, drag=True, description="Drag a magnetisation")
        bars.add_tools(self.draw_tool)
        bars.toolbar.active_tap = self.draw_tool
        bars.toolbar.active_drag = self.draw_tool
        bars.add_tools(HoverTool(renderers=[bars.renderers[0]], tooltips=[
            ("unit", "@unit"), ("mᵢ of q", "@m{0.0000}"), ("exact", "@exact{0.0000}")]))
        self.split = self.source("pg_split", "x")
        bars.vspan("x", source=self.split, line_color="#888888", line_dash="dotted")
        # below the frame: inside, it covered the drag handles of the last units
        legend_outside(bars, "below", ncols=2)
        self.fig_bars = bars

        f = plot("fig_pg_path", "F[q] along the mean-field iteration", width=w, height=h,
                 x_axis_label="iteration", y_axis_label="free energy (nats)")
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

        # fixed ranges, set with the data (basin_labels): the labels never leave the frame
        b = plot("fig_pg_basins", "Minima reached from random starts", width=w, height=BASIN_HEIGHT,
                 tools="save", x_axis_label="minimum (lowest first)", y_axis_label="starts",
                 x_range=Range1d(0.5, 1.5), y_range=Range1d(0.0, 1.0))
        basins = self.source("pg_basins", "rank", "free_energy", "count", "label", "label_y", "label_dx", "label_dy")
        basins.data = {**empty("rank", "free_energy", "count", "label_y", "label_dx", "label_dy"), "label": []}
        b.vbar(x="rank", top="count", width=0.6, source=basins, fill_color=COLORS["mean_field"], line_color=None)
        self.basin_label_set = LabelSet(x="rank", y="label_y", text="label", source=basins,
                                     text_font_size=f"{LABEL_FONT_PX}px", text_align="center",
                                     text_baseline="bottom", x_offset="label_dx", y_offset="label_dy",
                                     name="pg_basin_labels")
        b.add_layout(self.basin_label_set)
        b.add_tools(HoverTool(tooltips=[("minimum", "@rank"), ("F[q]", "@free_energy" + _FMT),
                                        ("starts", "@count")]))
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
        lab = basin_labels(cols["free_energy"], cols["count"], font=font_px(self.basin_label_set.text_font_size))
        cols.update(label=lab["text"], label_y=lab["y"], label_dx=lab["x_offset"], label_dy=lab["y_offset"])
        self.sources["pg_basins"].data = small(cols)
        self.basin_ticks.ticks = [int(r) for r in cols["rank"]] or [1]
        n = len(cols["rank"])
        self.fig_basins.x_range.update(start=0.5, end=max(n, 1) + 0.5)
        self.fig_basins.y_range.update(start=0.0, end=lab["y_end"])

    def show_note(self, html):
        self.note.text = html


__all__ = ["HoldQView"]
