"""A State field's widget, built from its declaration (:class:`~explorer.app.core.fields.Control`).

A slider over a log grid is a ``FloatLogSlider`` whose steps are the grid's points, over a linear
grid a ``FloatSlider``, over a list of values (K, sample counts) a ``SelectionSlider``; a whole
number in a range an ``IntSlider`` (or a box, ``kind="count"``); a choice a ``Dropdown``. The
widget starts at the field's default; :meth:`ExplorerShell.control` also binds it to the field.
"""

from __future__ import annotations

import collections
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
    if c.term:
        from ...views.glossary import term_text

        common["tooltip"] = term_text(c.term)
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


class SliderEchoes:
    """Tells a slider's echo of a value the kernel put on it from a user's move.

    The browser's slider (noUiSlider) snaps a value the kernel sets off its steps, and ipywidgets
    sends the snapped value back as if the user had moved the slider; during an animation the echo
    of an older value arrives after newer ones were set, and taken as a move it would put an old
    value back (issue 25: the VAE Hold q's q left the fit's path during a replay). :meth:`put` sets a
    value and remembers it (the last ``keep`` per slider); :meth:`is_echo` is True for a value within
    half a step (in the slider's own coordinate: log_base for a log slider) of one of them. A user
    moves a slider by whole steps from where it shows, so a user's move is never one.
    """

    def __init__(self, keep=16):
        self._keep = keep
        self._put = {}

    @staticmethod
    def _position(widget, value):
        if isinstance(widget, W.FloatLogSlider):
            return math.log(value, widget.base) if value > 0 else -math.inf
        return float(value)

    def put(self, widget, value):
        """Set ``widget.value`` (the caller keeps its observers quiet) and remember what it holds."""
        widget.value = value
        kept = self._put.setdefault(widget.model_id, collections.deque(maxlen=self._keep))
        kept.append(self._position(widget, widget.value))

    def is_echo(self, widget, value):
        """True when ``value`` (a change the browser sent) is a snapped echo of a value :meth:`put` set."""
        pos = self._position(widget, value)
        half = 0.5 * float(widget.step) * (1 + 1e-6) + 1e-12
        return any(abs(pos - p) <= half for p in self._put.get(widget.model_id, ()))


__all__ = ["SliderEchoes", "build_control", "show_value"]
