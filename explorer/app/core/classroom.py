"""Classroom options shared by both explorers: teacher mode, theme and projector size.

All come from the page's URL query string, which Voila hands the kernel as ``QUERY_STRING``:

* ``?teacher=1&hide=order,reference`` hides those controls (names: each explorer's
  ``CONTROL_NAMES``); ``hide`` without ``teacher=1`` is ignored, so a student's shared link
  never loses controls by accident;
* ``?theme=dark`` (Voila's own page theme parameter; ``voila-theme`` also accepted) switches
  the figures to a dark theme that matches the page;
* ``?size=large`` (projector): larger fonts and thicker lines in the figures and controls.

No widgets are built here and nothing is imported from the physics layer or Bokeh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .state import parse_query

SIZES = ("normal", "large")


@dataclass(frozen=True)
class ClassroomOptions:
    teacher: bool = False
    hide: frozenset = field(default_factory=frozenset)
    theme: str = "light"
    size: str = "normal"

    def query_items(self):
        """The (key, value) pairs that reproduce these options in a link."""
        out = []
        if self.teacher:
            out.append(("teacher", "1"))
            if self.hide:
                out.append(("hide", ",".join(sorted(self.hide))))
        if self.theme == "dark":
            out.append(("theme", "dark"))
        if self.size != "normal":
            out.append(("size", self.size))
        return out


def classroom_options(query):
    """Parse teacher mode, theme and size from a URL query string (unknown values are ignored)."""
    q = parse_query(query)
    teacher = q.get("teacher", "").lower() in ("1", "true", "yes", "on")
    hide = frozenset(h.strip() for h in q.get("hide", "").split(",") if h.strip()) if teacher else frozenset()
    theme = q.get("theme", q.get("voila-theme", "light")).lower()
    size = q.get("size", "normal").lower()
    return ClassroomOptions(teacher=teacher, hide=hide, theme="dark" if theme == "dark" else "light",
                            size=size if size in SIZES else "normal")


def hide_controls(controls, hide):
    """Hide the widgets named in ``hide``; ``controls`` maps a name to a widget, a list of widgets,
    or a function returning them (a tab's widgets are built only when they are to be hidden).

    Returns the names in ``hide`` that are not controls (for a readable message).
    """
    for name in hide:
        ws = controls.get(name)
        if ws is None:
            continue
        if callable(ws):
            ws = ws()
        for w in ws if isinstance(ws, (list, tuple)) else [ws]:
            # a fresh Layout: widgets may share one Layout object, and setting display on it
            # would hide them all
            kept = {k: getattr(w.layout, k) for k in ("width", "min_width", "height")
                    if getattr(w.layout, k, None)}
            w.layout = type(w.layout)(display="none", **kept)
    return sorted(set(hide) - set(controls))
