"""Text drawn inside a plot stays inside its frame and apart: computed from the view's own sources and
ranges, in pixels of the frames the figures get (measured in Chromium; the views' constants say so).

* RBM Hold q, "Minima reached from random starts": each minimum's F[q] over the bars was cut at the
  top of the frame (the automatic y range ended at the tallest bar). Now the y range leaves room,
  and with many minima the labels form staggered rows with fewer decimals instead of overlapping.
* RBM first screen, "Each approximation minus the exact F": TAP2 and TAP3 lie ~10 px apart at the
  cursor at the default state; a marker and a name at the cursor tell each curve, the names at least a
  line apart and inside the frame.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from explorer.views.common import font_px
from explorer.views.rbm import hold_q
from explorer.views.rbm.explorer import DIFF_LABEL_LINE_EM, DIFF_MIN_FRAME_HEIGHT, FreeEnergyView
from explorer.views.rbm.hold_q import BASIN_MIN_FRAME, LABEL_CHAR_EM, LABEL_LINE_EM, HoldQView
from explorer.views.theme import apply_projector_size

# ------------------------------------------------------------------ the basins' labels
#: Frames (width, height) in px: the smallest the views assume, Chromium's at 1280 px (normal and
#: projector fonts) and at 1920 px.
BASIN_FRAMES = [BASIN_MIN_FRAME, (354, 150), (308, 136), (650, 150)]


def basin_boxes(view, frame):
    """The labels' boxes and the bars' rectangles, (left, right, bottom, top) in px of ``frame``
    (y up from the frame's bottom edge), computed from the source and the ranges as BokehJS draws
    them: the label centred on x + x_offset, its baseline at y + y_offset, one line high."""
    d = view.sources["pg_basins"].data
    xr, yr = view.fig_basins.x_range, view.fig_basins.y_range
    w, h = frame
    font = font_px(view.basin_label_set.text_font_size)

    def sx(x):
        return (x - xr.start) / (xr.end - xr.start) * w

    def sy(y):
        return (y - yr.start) / (yr.end - yr.start) * h

    labels = []
    for text, x, y, dx, dy in zip(d["label"], d["rank"], d["label_y"], d["label_dx"], d["label_dy"]):
        if text:
            half = len(text) * LABEL_CHAR_EM * font / 2
            cx, bottom = sx(x) + dx, sy(y) + dy
            labels.append((text, (cx - half, cx + half, bottom, bottom + LABEL_LINE_EM * font)))
    bars = [(sx(x - 0.3), sx(x + 0.3), 0.0, sy(c)) for x, c in zip(d["rank"], d["count"])]
    return labels, bars


def overlap(a, b):
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def basin_problems(view, frame):
    labels, bars = basin_boxes(view, frame)
    w, h = frame
    bad = [f"{t!r} outside the {w}×{h} frame: {box}" for t, box in labels
           if box[0] < -0.5 or box[1] > w + 0.5 or box[2] < -0.5 or box[3] > h + 0.5]
    bad += [f"{a!r} and {b!r} overlap" for (a, ba), (b, bb) in itertools.combinations(labels, 2) if overlap(ba, bb)]
    bad += [f"{t!r} covers bar {i + 1}" for t, box in labels for i, bar in enumerate(bars) if overlap(box, bar)]
    return bad


CASES = {
    "one minimum (the default state)": ([-16.7021], [50]),
    "three": ([-16.70, -16.41, -15.9], [30, 15, 5]),
    "a tall bar between short ones": ([-20.1234, -20.0, -19.5], [1, 48, 1]),
    "five, equal": (list(-16.7 + 0.01 * np.arange(5)), [10] * 5),
    "eight": (list(-16.7 + 0.013 * np.arange(8)), list(range(8, 0, -1))),
    "thirteen, large |F|": (list(-1234.5 + 0.5 * np.arange(13)), [40] + [5] * 12),
    "forty": (list(-16.7 + 0.01 * np.arange(40)), [25] * 40),
    "two hundred": (list(-8.0 + 0.001 * np.arange(200)), [5] * 200),
}


@pytest.mark.parametrize("projector", [False, True], ids=["normal", "projector"])
@pytest.mark.parametrize("case", list(CASES))
def test_basin_labels_inside_the_frame_apart_and_off_the_bars(case, projector):
    v = HoldQView()
    if projector:
        apply_projector_size(v.layout)
    f, counts = CASES[case]
    v.show_basins(f, counts)
    shown = [t for t in v.sources["pg_basins"].data["label"] if t]
    assert shown and shown[0] == v.sources["pg_basins"].data["label"][0]     # the lowest is always named
    for frame in BASIN_FRAMES:
        assert basin_problems(v, frame) == [], f"{case} in a {frame} frame"


def test_a_few_minima_are_named_in_full_on_their_bars():
    v = HoldQView()
    v.show_basins([-16.70213, -16.5], [40, 10])
    d = v.sources["pg_basins"].data
    assert d["label"] == ["-16.7021", "-16.5000"] and d["label_y"] == [40.0, 10.0]
    assert v.fig_basins.y_range.end > 40 * 1.1          # room above the tallest bar


def test_the_check_finds_the_old_cut_label():
    """Before: the automatic y range ended at the tallest bar (padding aside), so its label went
    past the frame's top; the check says so."""
    v = HoldQView()
    v.show_basins([-16.7021], [50])
    v.fig_basins.y_range.update(start=0.0, end=50 * 1.05)
    assert any("outside" in p for p in basin_problems(v, (354, 150)))
    v.show_basins(list(-16.7 + 0.01 * np.arange(8)), [10] * 8)
    v.sources["pg_basins"].data = {**v.sources["pg_basins"].data, "label": [f"{x:.4f}" for x in
                                   v.sources["pg_basins"].data["free_energy"]],
                                   "label_dx": [0.0] * 8, "label_dy": [2.0] * 8}
    assert any("overlap" in p for p in basin_problems(v, BASIN_MIN_FRAME))


def test_basin_labels_choose_fewer_decimals_and_rows_only_when_needed():
    one = hold_q.basin_labels([-16.7021], [50])
    assert (one["on_bars"], one["rows"], one["decimals"], one["stride"]) == (True, 1, 4, 1)
    many = hold_q.basin_labels(list(-16.7 + 0.01 * np.arange(40)), [25] * 40)
    assert not many["on_bars"] and many["rows"] == 2 and many["stride"] > 1 and many["text"][0]


# ------------------------------------------------------------------ the names at the cursor
def default_like_curves():
    """Curves along T like the RBM explorer's default state: at T = 1 the bound's gap 0.279, TAP2's
    error 1.70e-3, TAP3's 1.02e-3 and the series' 4.8e-4 (TAP2 and TAP3 ~10 px apart on the axis)."""
    t = np.geomspace(0.1, 10, 201)
    exact = -16.98 / t
    bump = np.exp(-np.log(t / 0.6) ** 2)
    mf = exact + 0.3 * bump
    tap2 = exact + 1.7e-3 * np.exp(-np.log(t) ** 2) * 1.0
    tap3 = exact + 1.02e-3 * np.exp(-np.log(t) ** 2)
    series = exact + 4.8e-4 * np.exp(-np.log(t) ** 2)
    return t, exact, mf, tap2, tap3, series


def name_positions(view, frame_height):
    """{name: (centre px of the name, px of its curve's marker)} from the bottom of the frame."""
    d = view.diff_labels.data
    r = view.fig_free_energy_diff.y_range

    def px(y):
        return (y - r.start) / (r.end - r.start) * frame_height

    return {t: (px(ly), px(y)) for t, ly, y in zip(d["text"], d["label_y"], d["y"])}


@pytest.mark.parametrize("projector", [False, True], ids=["normal", "projector"])
@pytest.mark.parametrize("temperature", [0.1, 0.3, 1.0, 3.0, 10.0])
def test_names_at_the_cursor_inside_the_frame_and_a_line_apart(temperature, projector):
    v = FreeEnergyView()
    if projector:
        apply_projector_size(v.layout)
    t, exact, mf, tap2, tap3, series = default_like_curves()
    v.show_temperature_curves(t, exact, mf, tap2, tap3, series, exact, lam=1.0)
    v.show_temperature_cursor(t[np.argmin(np.abs(t - temperature))])
    line = DIFF_LABEL_LINE_EM * font_px(v.diff_label_set.text_font_size)
    for height in (DIFF_MIN_FRAME_HEIGHT, 186, 200, 320):     # the smallest assumed; Chromium's; taller
        pos = name_positions(v, height)
        assert [n.split()[0] for n in pos] == ["bound", "TAP2", "TAP3", "series"]
        for name, (centre, _marker) in pos.items():
            assert line / 2 - 0.5 <= centre <= height - line / 2 + 0.5, f"{name} outside the frame: {pos}"
        centres = sorted(c for c, _ in pos.values())
        gaps = np.diff(centres)
        assert np.all(gaps >= line - 1e-6), f"T = {temperature}, {height} px: names {gaps} px apart ({pos})"


def test_the_names_at_the_cursor_stand_on_a_card_no_curve_strikes_through():
    """The curves run on past the cursor, under the names beside it (TAP3's own orange dashes struck
    its name through at the default state): each name is drawn on a nearly opaque white card."""
    label_set = FreeEnergyView().diff_label_set
    assert label_set.background_fill_color == "white"
    assert label_set.background_fill_alpha >= 0.8


def test_the_names_sit_by_their_curves_and_follow_the_cursor():
    v = FreeEnergyView()
    t, exact, mf, tap2, tap3, series = default_like_curves()
    v.show_temperature_curves(t, exact, mf, tap2, tap3, series, exact, lam=1.0)
    i = int(np.argmin(np.abs(t - 1.0)))
    v.show_temperature_cursor(t[i])
    d = v.diff_labels.data
    assert d["x"] == [t[i]] * 4
    for key, y in zip(("mean_field", "tap2", "tap3", "series"), d["y"]):
        assert y == pytest.approx(v.sources[f"f_{key}"].data["diff_y"][i])     # the markers on the curves
    pos = name_positions(v, 200)
    # TAP2 and TAP3 are close (the reason for the names), the names a line apart, each near its curve
    assert abs(pos["TAP2"][1] - pos["TAP3"][1]) < 14
    assert abs(pos["TAP2"][0] - pos["TAP3"][0]) >= 14
    assert all(abs(c - m) < 20 for c, m in pos.values())
    assert d["align"] == ["left"] * 4 and d["dx"] == [8.0] * 4
    # right of the axis' 70 %: the names go left of the cursor
    v.show_temperature_cursor(t[-1])
    assert v.diff_labels.data["align"] == ["right"] * 4
    # a curve switched off loses its name; a series off the plot is named at the edge, with an arrow
    v.set_visible("tap3", False)
    assert "TAP3" not in v.diff_labels.data["text"]
    v.show_temperature_cursor(t[i])
    v.show_temperature_curves(t, exact, mf, tap2, tap3, exact + 50.0, exact, lam=1.0)
    assert "series ↑" in v.diff_labels.data["text"]
    assert max(v.diff_labels.data["label_y"]) < v.fig_free_energy_diff.y_range.end


def test_a_cursor_move_that_changes_nothing_sends_nothing():
    v = FreeEnergyView()
    t, exact, mf, tap2, tap3, series = default_like_curves()
    v.show_temperature_curves(t, exact, mf, tap2, tap3, series, exact, lam=1.0)
    v.show_temperature_cursor(1.0)
    before = v.diff_labels.data
    v.show_temperature_cursor(1.0)
    assert v.diff_labels.data is before
