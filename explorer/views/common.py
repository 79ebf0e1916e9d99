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
#: Text inside a plot that says it is empty ("press Start"): 7:1 on white (#777 was 4.48:1, below WCAG's 4.5:1).
PLACEHOLDER_COLOUR = "#595959"


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
    """One or two sentences above a plot: what to look at, each technical word explained where it
    stands (:func:`explorer.views.glossary.explain`: a hover title and a "What do these words mean?"
    line)."""
    from .glossary import explain

    caption = Div(text=explain(text), width=width, styles={"font-size": "12px"}, css_classes=["plot-caption"])
    return column(caption, *figures)


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


def font_px(size):
    """A CSS font size of Bokeh's (``"12px"``, ``"9pt"``, or a ``value(...)`` of one) in pixels."""
    size = size.get("value", size) if isinstance(size, dict) else getattr(size, "value", size)
    text = str(size).strip()
    if text.endswith("pt"):
        return float(text[:-2]) * 4.0 / 3.0
    if text.endswith("px"):
        return float(text[:-2])
    raise ValueError(f"font size in px or pt expected, got {size!r}")


def legend_style(fig, location, font="8pt"):
    """A legend that hides a curve on click, half transparent, small."""
    fig.legend.click_policy = "hide"
    fig.legend.label_text_font_size = font
    fig.legend.background_fill_alpha = 0.6
    fig.legend.location = location


def legend_outside(fig, place="below", ncols=None, font="8pt"):
    """The figure's legend moved out of the frame, ``place`` "below", "right" or "above": a legend
    inside the frame covers data somewhere (a curve, a bar, a drag handle, a heat map), so none is
    put there. Below or above, the entries run in ``ncols`` columns (default: as many as fit in
    one or two rows). Clicking an entry hides its curve."""
    (legend,) = fig.legend
    fig.add_layout(legend, place)        # (taken out of the frame's centre)
    legend_style(fig, "top_left", font=font)
    legend.background_fill_alpha = 0.0
    legend.border_line_alpha = 0.0
    legend.margin = 2
    legend.padding = 2
    legend.label_height = legend.glyph_height = 14
    legend.label_standoff = 3
    legend.spacing = 0
    if place in ("below", "above"):
        legend.spacing = 10          # between columns (the grid has no other gap)
        n = len(legend.items)
        legend.orientation = "horizontal"
        legend.ncols = int(ncols) if ncols else max(1, min(n, (n + 1) // 2 if n > 3 else n))
    else:
        legend.orientation = "vertical"
    return legend


def has_data(renderer):
    """Whether ``renderer`` draws anything: its source has rows (those its view's group filter
    keeps, for a renderer drawn through a ``CDSView(filter=GroupFilter(...))``)."""
    from bokeh.models import GroupFilter

    data = renderer.data_source.data
    cols = [v for v in data.values()]
    if not cols or len(cols[0]) == 0:
        return False
    f = getattr(renderer.view, "filter", None)
    if isinstance(f, GroupFilter):
        return any(str(v) == f.group for v in data.get(f.column_name, []))
    return True


def sync_legend(fig, hidden=()):
    """Legend entries only for what is drawn: an entry shows when one of its renderers has data
    and is not in ``hidden`` (the renderers the app switched off). The renderers' own ``visible``
    is not read: a click on an entry hides its curve, and the entry must stay to show it again."""
    for legend in fig.legend:
        for item in legend.items:
            shown = any(has_data(r) and r not in hidden for r in item.renderers)
            if item.visible != shown:
                item.visible = shown


def placeholder(fig, text, x=0.0, y=0.0):
    """Grey text in an empty figure (``text``: what to do, e.g. "Press Start …"), returned as its
    source (``<figure name>_placeholder``); :func:`show_placeholder` removes and restores it.

    The text is a glyph at (``x``, ``y``): it gives an automatic range something to span, so an
    empty figure has ranges (no "could not set initial ranges" from BokehJS). Put it inside fixed
    ranges where the figure has them."""
    src = ColumnDataSource({"x": [float(x)], "y": [float(y)], "text": [text]}, name=f"{fig.name}_placeholder",
                           tags=[float(x), float(y), text])
    fig.text("x", "y", "text", source=src, text_align="center", text_baseline="middle", text_color=PLACEHOLDER_COLOUR,
             text_font_size="11pt", name=f"{fig.name}_placeholder_text")
    return src


def show_placeholder(source, shown=True, text=None):
    """Show the placeholder of :func:`placeholder` (its own text, or ``text``) or hide it (an empty
    source: it neither draws nor counts for the automatic ranges)."""
    if not shown:
        if len(source.data["x"]):
            source.data = {"x": [], "y": [], "text": []}
        return
    x, y, own = source.tags
    want = {"x": [x], "y": [y], "text": [own if text is None else text]}
    if source.data != want:
        source.data = want


#: Linear threshold of :func:`symlog` as a fraction of the largest |value| shown: values 3000 times
#: smaller than the largest still stand apart from zero (about 3.5 decades above the threshold).
SYMLOG_DYNAMIC = 3000.0
#: The values that can be labelled on a signed log axis (and their negatives).
_SYMLOG_TICKS = tuple(m * 10.0 ** e for e in range(-12, 4) for m in (1.0,))


def symlog_threshold(*arrays):
    """The linear threshold ``c`` of :func:`symlog` for data ``arrays``: a power of ten near
    max|value| / :data:`SYMLOG_DYNAMIC` (1e-4 for a largest |value| of 0.3), never below 1e-12."""
    vals = [np.abs(np.asarray(a, dtype=float)) for a in arrays]
    vals = [v[np.isfinite(v)] for v in vals]
    top = max((float(v.max()) for v in vals if v.size), default=0.0)
    if not top > 0:
        return 1e-3
    return float(10.0 ** max(-12, np.round(np.log10(top / SYMLOG_DYNAMIC))))


def symlog(values, c):
    """Signed log scale: ``sign(v) · log10(1 + |v|/c)``: linear (slope 1/(c ln 10)) for |v| ≪ c,
    one unit per decade for |v| ≫ c; zero stays zero and the sign is kept."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.sign(v) * np.log10(1.0 + np.abs(v) / c)


def symlog_ticks(c, low, high):
    """Positions (on the :func:`symlog` scale) and labels of the ticks between the values
    ``low`` and ``high``: zero and ±10^k from the threshold ``c`` up."""
    # from 10c up: a tick at c itself would crowd the one at zero
    values = [0.0] + [s * t for t in _SYMLOG_TICKS if t >= c * 9.9 for s in (1.0, -1.0)]
    values = sorted(v for v in values if low <= v <= high)
    return [float(symlog(v, c)) for v in values], [_tick_label(v) for v in values]


def _tick_label(v):
    if v == 0:
        return "0"
    a = abs(v)
    text = f"{a:g}" if 1e-3 <= a < 1e4 else f"1e{int(round(np.log10(a)))}"
    return ("−" if v < 0 else "") + text


def symlog_axis(fig):
    """Label the y axis of ``fig`` as a signed log axis (:func:`symlog`): returns the ticker and the
    formatter, whose ``ticks`` / ``args["labels"]`` :func:`set_symlog_ticks` updates with the data."""
    ticker = FixedTicker(ticks=[0.0], minor_ticks=[])
    formatter = CustomJSTickFormatter(args={"labels": {"0.000000": "0"}},
                                      code="return labels[tick.toFixed(6)] ?? '';")
    fig.yaxis.ticker = ticker
    fig.yaxis.formatter = formatter
    return ticker, formatter


def set_symlog_ticks(ticker, formatter, c, low, high):
    """Ticks of a signed log axis for values in [``low``, ``high``] with threshold ``c``."""
    pos, labels = symlog_ticks(c, min(low, 0.0), max(high, 0.0))
    ticker.ticks = pos
    formatter.args = {"labels": {f"{p:.6f}": lab for p, lab in zip(pos, labels)}}


def cursor_line(fig, source):
    """The slider's position as a dashed vertical line (``source`` has one ``x``)."""
    fig.vspan("x", source=source, line_color="#444444", line_width=1.5, line_dash="dashed")
