"""How the figures look on a dark page and on a projector (no widgets, no physics).

* ``theme="dark"``: Bokeh's built-in ``dark_minimal`` theme, with black glyphs lightened so
  the exact curves stay visible on the dark background;
* ``size="large"`` (projector): larger titles, axis labels, tick labels and legends, and
  thicker lines, for the back row of a lecture hall.
"""

from __future__ import annotations

DARK_BOKEH_THEME = "dark_minimal"
#: What black lines and markers become on a dark page (the theme styles axes and backgrounds,
#: not the glyphs: a black "exact" curve would vanish on dark_minimal's #20262B).
DARK_FOREGROUND = "#e8e8e8"
#: Font sizes and the line-width factor of the projector size.
PROJECTOR_FONTS = {"title": "13pt", "axis_label": "13pt", "tick": "12pt", "legend": "11pt"}
PROJECTOR_LINE_FACTOR = 1.6


#: How far a figure, caption or layout may shrink below (narrow page) and grow above (wide screen)
#: the width its view was designed with (at 1280 px): :func:`fit_to_page`.
MIN_WIDTH_FACTOR = 0.8
MAX_WIDTH_FACTOR = 1.8
#: Captions and notes (Bokeh Divs) on the projector: every font size inside them becomes this.
PROJECTOR_TEXT = "16px"


def style_layout(layout, theme="light", size="normal"):
    """Apply the page's theme and size to ``layout`` (before it is wrapped in ``BokehModel``:
    the styled values are then part of the render bundle); every layout also follows the page's
    width (:func:`fit_to_page`)."""
    fit_to_page(layout)
    if theme == "dark":
        apply_dark_theme(layout)
    if size == "large":
        apply_projector_size(layout)


def fit_to_page(layout):
    """Let ``layout`` follow the width of the page (its widget's box): every figure, Div and row or
    column stretches to the width it is given, between :data:`MIN_WIDTH_FACTOR` and
    :data:`MAX_WIDTH_FACTOR` times the width it was built with (heights stay). The views are
    designed for a 1280 px screen; a 1920 px screen then draws them larger instead of leaving a
    third of it empty, and a slightly narrower box (a tab's padding) shrinks them instead of
    cutting off their right-hand toolbars. Models with their own ``sizing_mode`` are left alone;
    applying it twice changes nothing.
    A figure that draws an image (a heat map, a digit) keeps its aspect ratio instead: it may shrink
    (``scale_width``) but grows no wider than it was built, so no picture is stretched sideways."""
    from bokeh.models import GlyphRenderer, Image, LayoutDOM, Plot

    for m in layout.select({"type": LayoutDOM}):
        if m.sizing_mode not in (None, "stretch_width", "scale_width"):
            continue
        width = getattr(m, "width", None)
        images = isinstance(m, Plot) and any(isinstance(r.glyph, Image) for r in m.select({"type": GlyphRenderer}))
        if images and width and m.height:
            m.min_width, m.max_width = int(width * MIN_WIDTH_FACTOR), int(width)
            m.aspect_ratio = width / m.height
            m.sizing_mode = "scale_width"
            continue
        if width:
            m.min_width = int(width * MIN_WIDTH_FACTOR)
            m.max_width = int(width * MAX_WIDTH_FACTOR)
        m.sizing_mode = "stretch_width"


def apply_dark_theme(layout):
    """Give ``layout`` its own Bokeh document with the dark theme."""
    from bokeh.document import Document
    from bokeh.themes import built_in_themes

    doc = layout.document
    if doc is None:
        doc = Document()
        doc.add_root(layout)
    doc.theme = built_in_themes[DARK_BOKEH_THEME]
    _lighten_black(layout)


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


def _fewer_legend_columns(plot):
    """A legend below or above ``plot`` in as many columns as still fit its narrowest width at the
    projector's font (Bokeh does not wrap a legend: wider than its figure, it is cut off)."""
    from bokeh.models import Legend

    pt = float(PROJECTOR_FONTS["legend"].removesuffix("pt"))
    char_px = 0.62 * pt * 4 / 3                          # an average glyph of the legend's font
    width = plot.min_width or plot.width or 0
    for lg in [*plot.below, *plot.above]:
        if not isinstance(lg, Legend) or lg.orientation != "horizontal" or not lg.items or not width:
            continue
        labels = [str(getattr(it.label, "value", it.label) or "") for it in lg.items]
        entry = max(len(t) for t in labels) * char_px + lg.glyph_width + lg.label_standoff + lg.spacing + 8
        fit = max(1, int(width // entry))
        if lg.ncols == "auto" or not isinstance(lg.ncols, int) or lg.ncols > fit:
            lg.ncols = min(fit, len(labels))


def apply_projector_size(layout):
    """Larger fonts and thicker lines on every figure of ``layout``; larger captions and notes
    (every font size inside a Bokeh Div, inline styles included)."""
    from bokeh.models import Div, GlyphRenderer, LabelSet, Legend, Plot, Title

    big = (f":host {{ font-size: {PROJECTOR_TEXT} !important; line-height: 1.4; }} "
           f"[style*='font-size'] {{ font-size: {PROJECTOR_TEXT} !important; }}")
    for d in layout.select({"type": Div}):
        if big not in d.stylesheets:
            d.stylesheets = [*d.stylesheets, big]

    for p in layout.select({"type": Plot}):
        if isinstance(p.title, Title):
            p.title.text_font_size = PROJECTOR_FONTS["title"]
        for ax in p.axis:
            ax.axis_label_text_font_size = PROJECTOR_FONTS["axis_label"]
            ax.major_label_text_font_size = PROJECTOR_FONTS["tick"]
    for lg in layout.select({"type": Legend}):
        lg.label_text_font_size = PROJECTOR_FONTS["legend"]
    # labels drawn in a plot (names at a cursor, values over bars): the views place them for their
    # font size (explorer.views.common.font_px), so they stay apart at this size too
    for ls in layout.select({"type": LabelSet}):
        ls.text_font_size = PROJECTOR_FONTS["legend"]
    for p in layout.select({"type": Plot}):
        _fewer_legend_columns(p)
    for r in layout.select({"type": GlyphRenderer}):
        g = r.glyph
        if "line_width" in g.properties() and isinstance(g.line_width, (int, float)):
            g.line_width = g.line_width * PROJECTOR_LINE_FACTOR
