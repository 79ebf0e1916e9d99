"""Helpers every view uses: clean columns, JSON-list sources, the HTML pieces, themes."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from bokeh.themes import built_in_themes

from explorer.views.common import finite_rows, small
from explorer.views.html import csv_html, escape, fmt, link_html, message_html, readout_html
from explorer.views.rbm.explorer import FreeEnergyView
from explorer.views.theme import PROJECTOR_FONTS, style_layout


def test_finite_rows_drops_non_finite_and_non_positive_rows():
    out = finite_rows({"x": [1, 2, 3, 4, 5], "y": [1.0, np.nan, np.inf, 0.0, -2.0]}, positive=("y",))
    assert out["x"].tolist() == [1.0] and out["y"].tolist() == [1.0]
    out = finite_rows({"x": [1, 2, 3], "y": [0.0, -np.inf, -1.0]})
    assert out["x"].tolist() == [1.0, 3.0]
    with pytest.raises(ValueError, match="unequal"):
        finite_rows({"x": [1, 2], "y": [1.0]})


def test_small_sources_travel_as_lists():
    assert small({"x": np.array([1.5, 2.0]), "u": ["a"]}) == {"x": [1.5, 2.0], "u": ["a"]}


def test_html_pieces_escape_user_text():
    assert escape("<a href='x'>&") == "&lt;a href=&#39;x&#39;&gt;&amp;"
    assert message_html("p", "") == ""
    m = message_html("p", "bad <file>", error=True)
    assert "p-message p-error" in m and "&lt;file&gt;" in m
    link = link_html("p", "http://h/a?x=1&y='2'")
    assert "class='p-link'" in link and "&amp;y=&#39;2&#39;" in link
    c = csv_html("p", "f.csv", "a,b\n1,2\n")
    assert base64.b64encode(b"a,b\n1,2\n").decode() in c and "download='f.csv'" in c


def test_readout_numbers():
    assert fmt(None) == fmt(float("nan")) == "—"
    assert fmt(float("-inf")) == "−∞ (diverges)"
    assert fmt(1.5, 2, stderr=0.25) == "<b>1.50</b> ± 0.50"
    r = readout_html("p", "At T", [("exact F", fmt(1.0), None), ("bound", fmt(1.5), 0.5)], note="n")
    assert "class='p-readout'" in r and "+5.00e-01" in r and "inline-block" in r


def test_dark_theme_and_projector_size():
    v = FreeEnergyView()
    style_layout(v.layout, theme="dark", size="large")
    assert v.layout.document.theme is built_in_themes["dark_minimal"]
    exact = v.renderers["f_exact"].glyph
    assert exact.line_color != "black" and exact.line_width == pytest.approx(3 * 1.6)
    assert v.fig_free_energy.title.text_font_size == PROJECTOR_FONTS["title"]
    light = FreeEnergyView()
    style_layout(light.layout)
    assert light.layout.document is None and light.renderers["f_exact"].glyph.line_width == 3


def test_layouts_follow_the_page_width_and_pictures_keep_their_shape():
    """explorer.views.theme.fit_to_page (applied by style_layout): figures, captions and rows stretch
    between 0.8 and 1.8 times their designed width; a figure drawing an image keeps its aspect ratio
    and grows no wider; the projector enlarges captions and puts wide legends in fewer columns."""
    from bokeh.models import Div, Legend, Plot

    from explorer.views.rbm.explorer import ErrorThermoView, UnitView
    from explorer.views.theme import MAX_WIDTH_FACTOR, MIN_WIDTH_FACTOR, PROJECTOR_TEXT

    v = UnitView()
    style_layout(v.layout)
    style_layout(v.layout)               # twice: the same
    for p in v.layout.select({"type": Plot}):
        if p.name == "fig_weights":      # a heat map
            assert p.sizing_mode == "scale_width" and p.max_width == p.width
            assert p.aspect_ratio == pytest.approx(p.width / p.height)
        else:
            assert p.sizing_mode == "stretch_width"
            assert (p.min_width, p.max_width) == (int(p.width * MIN_WIDTH_FACTOR), int(p.width * MAX_WIDTH_FACTOR))
    assert v.layout.sizing_mode == "stretch_width"
    big = ErrorThermoView()
    style_layout(big.layout, size="large")
    assert all(any(PROJECTOR_TEXT in s for s in d.stylesheets) for d in big.layout.select({"type": Div}))
    for p in big.layout.select({"type": Plot}):
        for lg in p.below:
            if isinstance(lg, Legend):
                assert lg.ncols * 9 * max(len(str(it.label.value)) for it in lg.items) < p.min_width
