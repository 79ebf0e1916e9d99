"""A State field's widget, built from its declaration (:class:`~explorer.app.core.fields.Control`).

A slider over a log grid is a ``FloatLogSlider`` whose steps are the grid's points, over a linear
grid a ``FloatSlider``, over a list of values (K, sample counts) a ``SelectionSlider``; a whole
number in a range an ``IntSlider`` (or a box, ``kind="count"``); a choice a ``Dropdown``. The
widget starts at the field's default; :meth:`ExplorerShell.control` also binds it to the field.
"""

from __future__ import annotations

import math

import ipywidgets as W

#: The largest whole number a box accepts when its field has no upper bound.
INT_MAX = 2**31 - 1


def build_control(field, value=None):
    """The widget of ``field`` (a :class:`~explorer.app.core.fields.Field` with a ``control``),
    showing ``value`` (default: the field's default)."""
    c = field.control
    if c is None:
        raise ValueError(f"field {field.name!r} declares no control")
    value = field.default if value is None else value
    common = dict(description=c.label, layout=W.Layout(width=c.width), style={"description_width": c.label_width})
    if c.kind == "choice":
        widget = W.Dropdown(options=list(c.choices), value=value, **common)
    elif c.kind == "count":
        widget = W.BoundedIntText(value=int(value), min=field.lo if field.lo is not None else -INT_MAX,
                                  max=field.hi if field.hi is not None else INT_MAX, **common)
    elif c.kind != "slider":
        raise ValueError(f"field {field.name!r}: unknown control kind {c.kind!r}")
    elif field.grid is None:
        widget = W.IntSlider(value=int(value), min=field.lo, max=field.hi, step=1, continuous_update=c.continuous,
                             **common)
    else:
        widget = _grid_slider(field.grid, value, c, common)
    if c.css:
        widget.add_class(c.css)
    return widget


def _grid_slider(grid, value, c, common):
    fmt = {} if c.readout is None else {"readout_format": c.readout}
    spacing = grid.spacing
    if spacing is None:             # a list of values: a selection slider over exactly them
        return W.SelectionSlider(options=[_plain(v) for v in grid.values], value=_plain(value),
                                 continuous_update=c.continuous, **common)
    if spacing[0] == "log":
        _, base, lo, hi, step = spacing
        return W.FloatLogSlider(value=value, base=base, min=lo, max=hi, step=step, continuous_update=c.continuous,
                                **fmt, **common)
    _, lo, hi, step = spacing
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, continuous_update=c.continuous, **fmt, **common)


def _plain(v):
    """A grid value as the widget shows it: whole numbers as ints (K = 100, not 100.0)."""
    v = float(v)
    return int(v) if math.isfinite(v) and v.is_integer() else v


def show_value(widget, value):
    """Put ``value`` on ``widget`` as it holds values (ints for whole-number grids)."""
    widget.value = _plain(value) if isinstance(widget, W.SelectionSlider) else value


__all__ = ["build_control", "show_value"]
