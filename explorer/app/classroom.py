"""Classroom options shared by both explorers: teacher mode (hide chosen controls) and the theme.

Both come from the page's URL query string, which Voila hands the kernel as ``QUERY_STRING``:

* ``?teacher=1&hide=order,reference`` hides those controls (names: see each explorer's
  ``CONTROL_NAMES``); ``hide`` without ``teacher=1`` is ignored, so a student's shared link
  never loses controls by accident;
* ``?theme=dark`` (Voila's own page theme parameter; ``voila-theme`` also accepted) switches
  the Bokeh figures to Bokeh's built-in ``dark_minimal`` theme so that they match the page.

No widgets are built here and nothing is imported from the physics layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs

DARK_BOKEH_THEME = "dark_minimal"


@dataclass(frozen=True)
class ClassroomOptions:
    teacher: bool = False
    hide: frozenset = field(default_factory=frozenset)
    theme: str = "light"

    def query_items(self):
        """The (key, value) pairs that reproduce these options in a link."""
        out = []
        if self.teacher:
            out.append(("teacher", "1"))
            if self.hide:
                out.append(("hide", ",".join(sorted(self.hide))))
        if self.theme == "dark":
            out.append(("theme", "dark"))
        return out


def classroom_options(query):
    """Parse teacher mode and theme from a URL query string (unknown values are ignored)."""
    q = {k: v[-1] for k, v in parse_qs((query or "").lstrip("?"), keep_blank_values=True).items()}
    teacher = q.get("teacher", "").lower() in ("1", "true", "yes", "on")
    hide = frozenset(h.strip() for h in q.get("hide", "").split(",") if h.strip()) if teacher else frozenset()
    theme = q.get("theme", q.get("voila-theme", "light")).lower()
    return ClassroomOptions(teacher=teacher, hide=hide, theme="dark" if theme == "dark" else "light")


def hide_controls(controls, hide):
    """Hide the widgets named in ``hide``; ``controls`` maps a name to a widget or a list of widgets.

    Returns the names in ``hide`` that are not controls (for a readable message).
    """
    for name in hide:
        ws = controls.get(name)
        if ws is None:
            continue
        for w in ws if isinstance(ws, (list, tuple)) else [ws]:
            # a fresh Layout: the explorers share one Layout object between several sliders,
            # and setting display on it would hide them all
            kept = {k: getattr(w.layout, k) for k in ("width", "min_width", "height")
                    if getattr(w.layout, k, None)}
            w.layout = type(w.layout)(display="none", **kept)
    return sorted(set(hide) - set(controls))


def apply_bokeh_theme(layout, theme):
    """Give ``layout`` its own Bokeh document with the dark theme when the page is dark.

    Must run before the layout is wrapped in ``BokehModel``: the themed values are then part
    of the render bundle. Light pages keep Bokeh's default look (no theme set).
    """
    if theme != "dark":
        return
    from bokeh.document import Document
    from bokeh.themes import built_in_themes

    doc = layout.document
    if doc is None:
        doc = Document()
        doc.add_root(layout)
    doc.theme = built_in_themes[DARK_BOKEH_THEME]
    _lighten_black(layout)


#: What black lines and markers become on a dark page (the theme styles axes and backgrounds,
#: not the glyphs: a black "exact" curve would vanish on dark_minimal's #20262B).
DARK_FOREGROUND = "#e8e8e8"


def _lighten_black(layout):
    from bokeh.models import GlyphRenderer, Span, Whisker

    def fix(model):
        for attr in ("line_color", "fill_color", "hatch_color"):
            if attr in model.properties() and isinstance(getattr(model, attr), str) \
                    and getattr(model, attr).lower() in ("black", "#000000", "#000"):
                setattr(model, attr, DARK_FOREGROUND)

    for r in layout.select({"type": GlyphRenderer}):
        for g in (r.glyph, r.nonselection_glyph, r.selection_glyph, r.hover_glyph, r.muted_glyph):
            if g is not None and g != "auto":
                fix(g)
    for m in layout.select({"type": Whisker}):
        fix(m)
        for head in (m.upper_head, m.lower_head):
            if head is not None:
                fix(head)
    for m in layout.select({"type": Span}):
        fix(m)


def rbm_controls(explorer):
    """The RBM explorer's hideable controls by name (for ``?teacher=1&hide=...``)."""
    box = explorer._controls.children
    curves = [w for w in box if getattr(w, "value", None) == "<b>Curves shown</b>"]
    grids = [w for w in box if type(w).__name__ == "GridBox"]
    model_label = [w for w in box if getattr(w, "value", None) == "<b>Model</b>"]
    rows = [w for w in box if type(w).__name__ == "HBox"]
    return {"preset": explorer.w_preset, "temperature": explorer.w_temperature, "norm": explorer.w_norm,
            "lam": explorer.w_lam, "order": explorer.w_order, "reference": explorer.w_reference,
            "curves": curves + grids, "model": [explorer.w_model] + model_label + rows,
            "link": explorer.w_link, "csv": explorer.w_csv}


def apply_rbm_classroom(explorer, query):
    """Teacher mode for the RBM explorer (its one-line hook)."""
    opts = classroom_options(query)
    hide_controls(rbm_controls(explorer), opts.hide)
    apply_bokeh_theme(explorer.view.layout, opts.theme)
    return opts
