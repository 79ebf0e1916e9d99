"""A static overview figure: F(T) exact next to its approximations (the first notebook's plot)."""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column
from bokeh.models import Band, ColumnDataSource, HoverTool
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

_STYLES = {
    "exact": dict(color="black", line_width=3, legend_label="exact"),
    "mean_field": dict(color="#1f77b4", line_width=2, legend_label="mean field (bound)"),
    "tap2": dict(color="#d62728", line_width=2, line_dash="dashed", legend_label="TAP2"),
    "tap3": dict(color="#ff7f0e", line_width=2, line_dash="dotdash", legend_label="TAP3"),
}


def _series_colors(order):
    return [Viridis256[int(i)] for i in np.linspace(40, 220, order)]


def free_energy_overview(curves, *, width=760, height=330):
    """Two linked panels along T: F itself, and each approximation minus the exact F.

    Parameters
    ----------
    curves : dict
        ``Curves.as_dict()`` of a temperature sweep (plain arrays: temperature, exact,
        mean_field, tap2, tap3, series (B, K)).

    Returns
    -------
    bokeh.layouts.Column
    """
    t = np.asarray(curves["temperature"])
    series = np.asarray(curves["series"])
    order = series.shape[1]
    data = {"T": t}
    for key in _STYLES:
        data[key] = np.asarray(curves[key])
    for k in range(order):
        data[f"series_{k + 1}"] = series[:, k]
    # differences to the exact value: what a student should look at
    for key in list(data):
        if key not in ("T", "exact"):
            data[f"{key}_gap"] = data[key] - data["exact"]
    data["zero"] = np.zeros_like(t)
    source = ColumnDataSource(data, name="overview")

    top = figure(width=width, height=height, x_axis_type="log", title="Free energy F(T)",
                 x_axis_label="Temperature T", y_axis_label="free energy F (nats)",
                 tools="pan,wheel_zoom,box_zoom,reset,save")
    gap = figure(width=width, height=height, x_axis_type="log", x_range=top.x_range,
                 title="Error of each approximation: approximation − exact F(T)",
                 x_axis_label="Temperature T", y_axis_label="approx. − exact F (nats)",
                 tools="pan,wheel_zoom,box_zoom,reset,save")
    # the shaded gap between the bound and the exact value is never negative (GBF)
    gap.add_layout(Band(base="T", lower="zero", upper="mean_field_gap", source=source,
                        fill_alpha=0.15, fill_color="#1f77b4"))
    for key, style in _STYLES.items():
        top.line("T", key, source=source, **style)
        if key != "exact":
            gap.line("T", f"{key}_gap", source=source, **style)
    gap.line("T", "zero", source=source, color="black", line_width=1)
    for k, color in enumerate(_series_colors(order), start=1):
        top.line("T", f"series_{k}", source=source, color=color, alpha=0.8,
                 legend_label=f"series order {k}")
        gap.line("T", f"series_{k}_gap", source=source, color=color, alpha=0.8,
                 legend_label=f"series order {k}")
    tips = [("T", "@T{0.000}"), ("exact F", "@exact{0.0000}"), ("mean field", "@mean_field{0.0000}"),
            ("TAP2", "@tap2{0.0000}"), ("TAP3", "@tap3{0.0000}")]
    top.add_tools(HoverTool(tooltips=tips, mode="vline"))
    gap.add_tools(HoverTool(tooltips=[("T", "@T{0.000}"), ("mean field − exact", "@mean_field_gap{0.00000}"),
                                      ("TAP2 − exact", "@tap2_gap{0.00000}"),
                                      ("TAP3 − exact", "@tap3_gap{0.00000}")], mode="vline"))
    for fig in (top, gap):
        fig.legend.click_policy = "hide"
        fig.legend.location = "top_right" if fig is gap else "bottom_left"
        fig.legend.label_text_font_size = "8pt"
    return column(top, gap)
