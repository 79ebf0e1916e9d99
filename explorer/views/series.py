"""The F(λ) plot shared by the RBM explorer's first screen and lesson 2: the exact curve and
the cumulant series of orders 1..K, one line per order.

A series line is built when its order is first shown. Each line is seven Bokeh models the
kernel serialises and the browser builds; the twelve built up front were a fifth of the first
screen's models, and the default order is 4.
"""

from __future__ import annotations

import numpy as np
from bokeh.core.properties import value
from bokeh.models import DataRange1d, HoverTool, LegendItem, Range1d
from bokeh.palettes import Viridis256

from .common import cursor_line, finite_rows, invisible_tap_markers, legend_outside, plot, small

_FMT = "{0.000000}"
#: Orders whose values the hover over the exact curve lists.
HOVER_ORDERS = 4
#: Line widths of the exact curve and of each order (before a projector page scales them).
EXACT_WIDTH, ORDER_WIDTH = 3, 1.5


def series_colors(n):
    """One colour per order 1..n, dark (low orders) to light."""
    return [Viridis256[int(i)] for i in np.linspace(20, 230, n)]


def order_columns(max_order):
    """The series' columns of the plot's source: ``order_1`` .. ``order_K``."""
    return [f"order_{k}" for k in range(1, max_order + 1)]


class SeriesPlot:
    """F(λ) exact (black) and the series of orders 1..K read from ``source``.

    Parameters
    ----------
    source : ColumnDataSource
        Columns ``x`` (λ), ``exact`` and ``order_1`` .. ``order_<max_order>``; a hidden order's
        column may repeat the exact curve (every column stays finite).
    max_order : int
        Largest order K offered.
    cursor : ColumnDataSource
        The λ slider's position (one ``x``), drawn as a dashed line.
    tap : bool
        Invisible markers on the exact curve that a tap can select (the app moves λ there).
    """

    def __init__(self, name, source, cursor, *, max_order=12, lam_range=(0.0, 2.0), width=455, height=300,
                 tap=False, line_alpha=1.0):
        self.max_order = int(max_order)
        self.source = source
        self.line_alpha = line_alpha
        self.colors = series_colors(self.max_order)
        g = plot(name, "F(λ) at this temperature: exact and series", width=width, height=height,
                 x_range=Range1d(*lam_range), x_axis_label="Perturbation λ", y_axis_label="Free energy F(λ) (nats)")
        self.exact_line = g.line("x", "exact", source=source, color="black", line_width=EXACT_WIDTH,
                                 legend_label="exact F(λ)", name="lam_exact")
        g.add_tools(HoverTool(renderers=[self.exact_line], mode="vline", tooltips=[
            ("λ", "@x{0.00}"), ("exact F(λ)", "@exact" + _FMT)] + [
            (f"order {k}", f"@order_{k}" + _FMT) for k in range(1, min(HOVER_ORDERS, self.max_order) + 1)]))
        if tap:
            invisible_tap_markers(g, "x", "exact", source, name="tap_lam_markers")
        cursor_line(g, cursor)
        # The y range follows the exact curve only: a diverging series leaves the plot
        # instead of squashing the exact curve into a flat line.
        g.y_range = DataRange1d(renderers=[self.exact_line], range_padding=0.6)
        # outside the frame: inside, up to 13 entries would cover the curves (and catch taps)
        legend_outside(g, "right", font="7pt")
        self.figure = g
        self.lines = {}        # order -> renderer, built on first use
        self._items = {}       # order -> LegendItem

    def _build(self, k):
        g = self.figure
        # the exact line's width was set by the page's size (projector): the series follow it
        width = ORDER_WIDTH * self.exact_line.glyph.line_width / EXACT_WIDTH
        r = g.line("x", f"order_{k}", source=self.source, color=self.colors[k - 1], line_width=width,
                   alpha=self.line_alpha, name=f"lam_order_{k}")
        # drawn under the exact curve, as if it had been there from the start
        renderers = [x for x in g.renderers if x is not r]
        renderers.insert(renderers.index(self.exact_line), r)
        g.renderers = renderers
        self.lines[k] = r
        self._items[k] = LegendItem(label=value(f"order {k}"), renderers=[r])
        # the orders in their order, then the exact curve: one assignment, one change for BokehJS
        exact_items = [it for it in g.legend[0].items if it.renderers == [self.exact_line]]
        g.legend[0].items = [self._items[j] for j in sorted(self._items)] + exact_items

    def show_curves(self, lam, exact, series, order=None):
        """F(λ) exact and the series of orders 1..``order`` (default: every column of ``series``,
        of shape (L, ≥ order)) into the source. Columns of higher orders repeat the exact curve:
        every column stays finite and the source keeps its columns, so no figure is rebuilt when
        the order changes."""
        lam = np.asarray(lam, dtype=float)
        exact = np.asarray(exact, dtype=float)
        series = np.asarray(series, dtype=float).reshape(lam.size, -1)
        shown = series.shape[1] if order is None else min(int(order), series.shape[1])
        data = {"x": lam, "exact": exact}
        for k in range(1, self.max_order + 1):
            data[f"order_{k}"] = series[:, k - 1] if k <= shown else exact
        self.source.data = small(finite_rows(data))

    def show_orders(self, order):
        """Show the lines of orders 1..``order`` (building those not built yet), hide the rest."""
        order = int(order)
        for k in range(1, min(order, self.max_order) + 1):
            if k not in self.lines:
                self._build(k)
        for k, r in self.lines.items():
            r.visible = k <= order
            self._items[k].visible = k <= order

    def shown_orders(self):
        """The orders whose lines are visible."""
        return sorted(k for k, r in self.lines.items() if r.visible)
