"""One declaration per State field, from which an explorer's State, URL codec, snapping and
controls follow.

An explorer lists its fields once (:class:`Field`: name, default, how a URL's text is read, how a
value is snapped to its control's grid, whether a link carries it, and its :class:`Control`: what
the student moves, as plain data; :mod:`explorer.app.core.controls` builds and binds the widget)
and builds a :class:`Schema` from them. The schema makes the frozen ``State`` dataclass, parses a
URL query into a snapped State (``preset`` first, then each parameter), encodes a State back into
a query, and names the fields in which two States differ (:meth:`Schema.changed`): what a panel
that reads those fields must render again (see :class:`explorer.app.core.updater.Panel`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from .state import QueryError, parse_query


@dataclass(frozen=True)
class Control:
    """How a field's control looks (plain data: no widgets in the State modules).

    Parameters
    ----------
    label : str
        What the control is called on the page (and for screen readers).
    kind : str
        ``"slider"`` (over the field's grid, or from ``lo`` to ``hi`` for an int), ``"choice"``
        (a dropdown of ``choices``), ``"count"`` (a box for a whole number from ``lo`` to ``hi``).
    readout : str, optional
        The slider's number format (Python's format mini-language, as ipywidgets takes it).
    continuous : bool
        False: the State changes when the slider is released (each value costs a computation).
    choices : tuple of (label, value)
    css : str
        A CSS class (the browser tests and the template find the control by it).
    width, label_width : str
        The control's width and its label's.
    term : str
        The glossary's key (:data:`explorer.views.glossary.TERMS`) of what the control sets: its plain
        explanation is the label's hover text, so every control is explained where it stands.
    """
    label: str
    kind: str = "slider"
    readout: str | None = None
    continuous: bool = True
    choices: tuple = ()
    css: str = ""
    width: str = "310px"
    label_width: str = "140px"
    term: str = ""


@dataclass(frozen=True)
class Field:
    """One field of an explorer's State.

    Parameters
    ----------
    name : str
        The attribute name, which is also its URL parameter name.
    default : object
        The value of the default view.
    parse : callable or None
        URL text -> value; raises :class:`~explorer.app.core.state.QueryError` with a readable
        message. None: a link does not carry the field (e.g. a model's identity in this kernel).
    snap : callable
        value -> the nearest value its control can show (grid point, clipped range). Applied
        whenever a URL, a preset or a control sets the field, and nowhere else.
    encode : callable
        value -> URL text (floats with 6 significant digits, tuples comma-separated by default).
    grid : Grid, optional
        The points the field's slider moves on (and the curves are computed on); without a
        ``snap``, values are clipped to its range and snapped to its nearest point.
    lo, hi : int, optional
        The range of a whole-number field; without a ``snap``, values are clipped to it.
    control : Control, optional
        The field's control (None: the explorer builds its own, or the field has none).
    """
    name: str
    default: object
    parse: Callable | None = None
    snap: Callable | None = None
    encode: Callable | None = None
    grid: object = None
    lo: int | None = None
    hi: int | None = None
    control: Control | None = None

    def snapped(self, value):
        """``value`` as its control can show it (see ``snap``, ``grid``, ``lo``/``hi``)."""
        if self.snap is not None:
            return self.snap(value)
        if value is None:
            return None
        if self.grid is not None:
            return self.grid.clip_snap(value)
        if self.lo is not None or self.hi is not None:
            v = int(value)
            return min(max(v, self.lo if self.lo is not None else v), self.hi if self.hi is not None else v)
        return value

    @property
    def in_url(self):
        return self.parse is not None

    def text(self, value):
        if self.encode is not None:
            return self.encode(value)
        if isinstance(value, (tuple, list)):
            return ",".join(map(str, value))
        return f"{value:.6g}" if isinstance(value, float) else str(value)


class Schema:
    """An explorer's State fields, presets and URL codec (see the module docstring).

    Parameters
    ----------
    name : str
        The State class's name.
    fields : sequence of Field
    presets : dict
        key -> (label, changes to the default State, what to look at).
    aliases : dict, optional
        Old preset keys -> current keys (links shared before a rename keep working).
    joint_snap : callable, optional
        State -> State, applied after the fields' own snapping (rules across fields).
    url_skip : callable, optional
        State -> names of fields a link leaves out for this state (e.g. a random model's size
        when the model is not random).
    doc : str
        The State class's docstring.
    """

    def __init__(self, name, fields, presets=None, aliases=None, joint_snap=None, url_skip=None, doc=""):
        self.fields = {f.name: f for f in fields}
        self.presets = dict(presets or {})
        self.aliases = dict(aliases or {})
        self._joint_snap = joint_snap
        self._url_skip = url_skip or (lambda state: ())
        self.State = dataclasses.make_dataclass(
            name, [(f.name, object, dataclasses.field(default=f.default)) for f in fields], frozen=True,
            namespace={"copy": lambda self, **changes: dataclasses.replace(self, **changes),
                       "__doc__": doc or f"{name}: everything a view of the explorer is (what a link encodes)."})
        self.default = self.State()
        self._linked_presets = None

    @property
    def names(self):
        return tuple(self.fields)

    def snap(self, state):
        """``state`` with every field snapped (then the rules across fields)."""
        state = state.copy(**{n: f.snapped(getattr(state, n)) for n, f in self.fields.items()})
        return self._joint_snap(state) if self._joint_snap else state

    def preset_state(self, key, base=None):
        """The snapped State of preset ``key`` (aliases accepted); KeyError when unknown."""
        key = self.aliases.get(key, key)
        return self.snap((base or self.default).copy(**self.presets[key][1]))

    def preset_of(self, state):
        """The key of the preset ``state`` shows (every field a link carries as the preset sets it), or ``""``."""
        if self._linked_presets is None:        # once: asked after every update
            linked = [n for n, f in self.fields.items() if f.in_url]
            self._linked_presets = [(key, linked, self.preset_state(key)) for key in self.presets]
        for key, linked, preset in self._linked_presets:
            if all(getattr(preset, n) == getattr(state, n) for n in linked):
                return key
        return ""

    def from_query(self, query, base=None, parsers=None):
        """A snapped State from a URL query: ``preset`` first, then each field's parameter.

        Unknown parameters are ignored (Voila adds its own). ``parsers`` (name -> function)
        replaces fields' own parsing where it depends on more than the text (e.g. the size of the
        loaded test set).

        Returns
        -------
        (State, list of str)
            The state and one readable message per parameter that could not be used.
        """
        q = parse_query(query)
        state, problems = base or self.default, []
        if "preset" in q:
            key = self.aliases.get(q["preset"], q["preset"])
            if key in self.presets:
                state = state.copy(**self.presets[key][1])
            else:
                problems.append(f"unknown preset {q['preset']!r}; known: {', '.join(self.presets)}")
        parsers = parsers or {}
        for name, f in self.fields.items():
            if f.in_url and name in q:
                try:
                    state = state.copy(**{name: parsers.get(name, f.parse)(q[name])})
                except QueryError as exc:
                    problems.append(str(exc))
        return self.snap(state), problems

    def to_query(self, state):
        """The query string reproducing ``state`` (fields at their default left out)."""
        skip = set(self._url_skip(state))
        out = {}
        for name, f in self.fields.items():
            value = getattr(state, name)
            if not f.in_url or name in skip or value is None or value == f.default:
                continue
            out[name] = f.text(value)
        return urlencode(out, safe=",")

    def changed(self, old, new):
        """The names of the fields in which ``new`` differs from ``old`` (all of them if ``old`` is None)."""
        if old is None:
            return frozenset(self.fields)
        return frozenset(n for n in self.fields if getattr(old, n) != getattr(new, n))


__all__ = ["Control", "Field", "Schema"]
