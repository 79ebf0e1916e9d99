"""Helpers every view uses: clean columns for ``ColumnDataSource.data`` and one figure style.

Rules every ``show_*`` method of the views follows:

* no NaN or inf ever reaches BokehJS: rows with a non-finite value are dropped (a line then
  simply has fewer points), and a log axis never receives a value <= 0;
* every source has a ``name`` so that browser tests and benchmarks can find it in
  ``window.Bokeh.documents``.
"""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, CustomJSTickFormatter, Div, FixedTicker
from bokeh.plotting import figure

TOOLS = "pan,wheel_zoom,box_zoom,reset,save"


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
    """Columns as JSON lists, for the small sources patched on every slider move.

    A numpy column travels as a binary buffer, and jupyter_bokeh sends every buffer as two
    extra comm messages; for a few dozen numbers those messages, not the bytes, dominate
    the keypress-to-plot latency (measured: ~60 ms more per move with buffers).
    """
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in data.items()}


def empty(*names):
    """Empty columns (float arrays) for a source built before its first data."""
    return {k: np.zeros(0) for k in names}


class SourceRegistry:
    """Named ``ColumnDataSource`` objects of one view (``view.sources[name]``)."""

    def __init__(self):
        self.sources = {}

    def source(self, name, *columns):
        s = ColumnDataSource(empty(*columns), name=name)
        self.sources[name] = s
        return s


def plot(name, title, *, width, height, tools=TOOLS, **kwargs):
    """A figure with the project's defaults (named, no Bokeh logo)."""
    f = figure(name=name, title=title, width=width, height=height, tools=tools, **kwargs)
    f.toolbar.logo = None
    return f


def explained(text, width, *figures):
    """One or two sentences above a plot: what to look at (shown verbatim)."""
    return column(Div(text=text, width=width, styles={"font-size": "12px"}), *figures)


def invisible_tap_markers(fig, x, y, source, name=None):
    """Markers a tap can select (invisible until then): the app moves a slider to the tapped x."""
    from bokeh.models import TapTool

    r = fig.scatter(x, y, source=source, size=9, fill_alpha=0.0, line_alpha=0.0,
                    selection_fill_alpha=0.0, selection_line_alpha=0.0,
                    nonselection_fill_alpha=0.0, nonselection_line_alpha=0.0, name=name)
    fig.add_tools(TapTool(renderers=[r]))
    return r


def temperature_axis(fig, t_range):
    """Labelled ticks a student can read on a log T axis (Bokeh labels only the decades)."""
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10) if t_range[0] <= t <= t_range[1]]
    fig.xaxis.ticker = FixedTicker(ticks=ticks, minor_ticks=[m * 10.0 ** d for d in range(-2, 2)
                                                             for m in range(1, 10)])
    fig.xaxis.formatter = CustomJSTickFormatter(code="return tick.toString();")


def legend_style(fig, location, font="8pt"):
    """A legend that hides a curve on click, half transparent, small."""
    fig.legend.click_policy = "hide"
    fig.legend.label_text_font_size = font
    fig.legend.background_fill_alpha = 0.6
    fig.legend.location = location


def cursor_line(fig, source):
    """The slider's position as a dashed vertical line (``source`` has one ``x``)."""
    fig.vspan("x", source=source, line_color="#444444", line_width=1.5, line_dash="dashed")
