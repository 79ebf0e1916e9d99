"""The Learning tab's Bokeh views: the race of training methods and one trained model up close.

Plain arrays in (computed by :mod:`explorer.rbm.learning`), sources patched in place; the
rules of :mod:`explorer.views.common` hold (no NaN/inf reaches BokehJS, every source is
named ``learning_*``). Figures:

* the race: exact mean ``ln p`` per epoch, one colour per method, training data solid and
  held-out data dashed, the best possible value dotted;
* the decomposition ``ln p(v) = -F_c(v) + F`` for data rows and non-data patterns;
* the exact probability of the most likely patterns against their data frequencies;
* data rows next to Gibbs samples, and each hidden unit's weights, as small images.

Patterns are drawn as tiles of square pixels (``rect`` glyphs): tile ``i`` sits at x = i,
under bar ``i`` of the plot above it (the two share their x range).
"""

from __future__ import annotations

import re

import numpy as np
from bokeh.core.properties import value
from bokeh.layouts import column, row
from bokeh.models import HoverTool, Legend, LegendItem, LinearColorMapper, Range1d, Span
from bokeh.palettes import RdBu11
from bokeh.transform import dodge

from ..common import (
    SourceRegistry,
    explained,
    finite_rows,
    legend_outside,
    placeholder,
    plot,
    show_placeholder,
    small,
    sync_legend,
)
from ..common import legend_style as _legend

#: Method slots of the race plot (a CD lane of any k uses the "cd" slot).
SLOTS = ("exact", "cd", "pcd", "tap2", "tap3")
COLORS = {"exact": "black", "cd": "#ff7f0e", "pcd": "#9467bd", "tap2": "#d62728", "tap3": "#2ca02c"}
LABELS = {"exact": "exact gradient", "cd": "CD-k", "pcd": "PCD", "tap2": "TAP2 (EMF)", "tap3": "TAP3 (EMF)"}

EXPLANATIONS = {
    "race": (
        "<b>The race: exact mean ln p(v) of the data after every epoch</b> (the models are small "
        "enough to enumerate, so no estimate is involved). Solid: training rows; dashed: held-out "
        "rows, where the data set has a split; dotted: the best any model can do (minus the entropy "
        "of the training rows). All methods start from the same weights."),
    "decomposition": (
        "<b>ln p(v) = −F<sub>c</sub>(v) + F</b> (T = 1) for data rows and for the patterns outside the "
        "data that this model finds most likely: clamped free energy F<sub>c</sub>(v), equilibrium "
        "free energy F (the same for every v), and their difference ln p(v)."),
    "patterns": (
        "<b>Exact probability of the most likely patterns</b> under this model against their "
        "frequency in the training data. A perfect model puts its mass on the data patterns only."),
    "samples": (
        "<b>Data (top row) and Gibbs samples (bottom row)</b>: chains started at random patterns "
        "after many block-Gibbs sweeps."),
    "weights": (
        "<b>The weights of each hidden unit</b> W[:, j] drawn as an image (red positive, blue "
        "negative): what a hidden unit has learned to detect."),
}


def slot(method):
    """The plot slot of a method name (``cd1``, ``cd5`` -> ``cd``)."""
    return "cd" if re.fullmatch(r"cd\d+", method) else method


def method_label(method):
    return f"CD-{method[2:]}" if slot(method) == "cd" else LABELS.get(method, method)


def tiles(images, shape, centers=None, width=0.8):
    """Pixels of small images as rectangles: columns x, y, w, h and value.

    Image ``i`` (a flat row, reshaped row-major to ``shape``) is centred at ``centers[i]``
    (default ``i``) and ``width`` wide; row 0 is drawn at the top.
    """
    imgs = np.asarray(images, dtype=np.float64).reshape(len(images), -1) if len(images) else np.zeros((0, 1))
    rows, cols = shape
    centers = np.arange(imgs.shape[0], dtype=np.float64) if centers is None else np.asarray(centers, float)
    px = width / max(rows, cols)
    r, c = np.divmod(np.arange(rows * cols), cols)
    x = centers[:, None] + (c[None, :] - (cols - 1) / 2) * px
    y = np.broadcast_to(((rows - 1) / 2 - r) * px, x.shape)
    return finite_rows({"x": x.ravel(), "y": y.ravel(), "value": imgs[:, :rows * cols].ravel(),
                        "w": np.full(x.size, px * 0.94), "h": np.full(x.size, px * 0.94)})


class LearningView(SourceRegistry):
    """The race plot, the decomposition, pattern probabilities, samples and weight images."""

    def __init__(self, width=830):
        super().__init__()
        half = width // 2 - 5
        self._race(width)
        self._decomposition(half)
        self._patterns(half)
        self._samples(half)
        self._weights(half)
        self.layout = column(
            explained(EXPLANATIONS["race"], width, self.fig_race),
            row(explained(EXPLANATIONS["decomposition"], half, self.fig_decomposition, self.fig_decomposition_tiles),
                explained(EXPLANATIONS["patterns"], half, self.fig_patterns, self.fig_pattern_tiles)),
            row(explained(EXPLANATIONS["samples"], half, self.fig_samples),
                explained(EXPLANATIONS["weights"], half, self.fig_weights)),
            name="rbm_learning")

    # ------------------------------------------------------------------ figures
    def _race(self, width):
        f = plot("fig_learning_race", "Exact mean ln p(v) per epoch", width=width, height=300,
                 x_axis_label="epoch", y_axis_label="mean ln p(v) (nats)")
        items = []
        self._legend_items = {}
        for s in SLOTS:
            src = self.source(f"learning_ll_{s}", "epoch", "train")
            held = self.source(f"learning_ll_{s}_held_out", "epoch", "held_out")
            r1 = f.line("epoch", "train", source=src, color=COLORS[s], line_width=2)
            r2 = f.line("epoch", "held_out", source=held, color=COLORS[s], line_width=2, line_dash="dashed")
            # value(): a bare string set later would be read as a column name
            item = LegendItem(label=value(LABELS[s]), renderers=[r1, r2], visible=False)
            self._legend_items[s] = item
            items.append(item)
        self.optimum = Span(location=0.0, dimension="width", line_color="#555555", line_dash="dotted", line_width=2,
                            visible=False)
        f.add_layout(self.optimum)
        # an invisible point at the optimum: a Span does not count for the automatic y range
        f.scatter("epoch", "ll", source=self.source("learning_optimum", "epoch", "ll"), size=1, alpha=0.0)
        f.add_layout(Legend(items=items), "right")      # outside the frame: inside, it covered curves
        _legend(f, "top_left")
        f.legend.background_fill_alpha = 0.0
        f.legend.border_line_alpha = 0.0
        self.placeholder_race = placeholder(f, "Press Start to run the race: the curves grow epoch by epoch.")
        f.add_tools(HoverTool(tooltips=[("epoch", "@epoch"), ("ln p", "$y{0.0000}")]))
        self.fig_race = f

    def _decomposition(self, w):
        f = plot("fig_learning_decomposition", "ln p(v) = F − clamped F(v), at T = 1", width=w, height=270,
                 y_axis_label="free energy, ln p (nats)", tools="save,reset", x_range=Range1d(-0.6, 7.6))
        src = self.source("learning_decomposition", "x", "clamped", "free_energy", "log_p", "label")
        for offset, column_, color, label in ((-0.27, "clamped", "#1f77b4", "clamped free energy F(v)"),
                                              (0.0, "free_energy", "#7f7f7f", "free energy F"),
                                              (0.27, "log_p", "#d62728", "ln p(v)")):
            f.vbar(x=dodge("x", offset, range=f.x_range), top=column_, source=src, width=0.25, color=color,
                   legend_label=label)
        self._decomp_src = src
        f.add_tools(HoverTool(tooltips=[("pattern", "@label"), ("clamped F(v)", "@clamped{0.0000}"),
                                        ("F", "@free_energy{0.0000}"), ("ln p(v)", "@log_p{0.0000}")]))
        f.xaxis.visible = False
        legend_outside(f, "below")     # the bars hang down from 0: no free corner inside
        sync_legend(f)
        self.placeholder_decomposition = placeholder(f, "Press Start: a trained model's ln p(v) shows here.", x=3.5)
        self.fig_decomposition = f
        t = _tile_figure("fig_learning_decomposition_tiles", w, f.x_range)
        self._tile_glyph(t, self.source("learning_decomposition_tiles", "x", "y", "w", "h", "value"), _grey())
        self.fig_decomposition_tiles = t

    def _patterns(self, w):
        f = plot("fig_learning_patterns", "Most likely patterns: model p(v) vs data", width=w, height=240,
                 y_axis_label="probability", tools="save,reset", x_range=Range1d(-0.6, 11.6))
        src = self.source("learning_patterns", "x", "x_model", "x_data", "model", "data")
        f.vbar(x="x_model", top="model", source=src, width=0.38, color="#1f77b4", legend_label="model p(v)")
        f.vbar(x="x_data", top="data", source=src, width=0.38, color="#aaaaaa", legend_label="data frequency")
        f.add_tools(HoverTool(tooltips=[("model p(v)", "@model{0.0000}"), ("data", "@data{0.0000}")]))
        f.xaxis.visible = False
        # outside the frame, above it: inside, the legend covered the tallest bars (the first
        # ones, on the left, and data frequencies of 1/14 on the right); below, it would come
        # between the bars and their pattern tiles
        legend_outside(f, "above")
        sync_legend(f)
        self.placeholder_patterns = placeholder(f, "Press Start: its most likely patterns show here.", x=5.5)
        self.fig_patterns = f
        t = _tile_figure("fig_learning_pattern_tiles", w, f.x_range)
        self._tile_glyph(t, self.source("learning_pattern_tiles", "x", "y", "w", "h", "value"), _grey())
        self.fig_pattern_tiles = t

    def _samples(self, w):
        f = plot("fig_learning_samples", "Data and Gibbs samples", width=w, height=170, tools="save",
                 x_range=Range1d(-0.6, 11.6), y_range=Range1d(-1.6, 0.6))
        _bare(f)
        self._tile_glyph(f, self.source("learning_samples", "x", "y", "w", "h", "value"), _grey())
        self.placeholder_samples = placeholder(f, "Press Start: data and samples show here.", x=5.5, y=-0.5)
        self.fig_samples = f

    def _weights(self, w):
        f = plot("fig_learning_weights", "Weights of each hidden unit", width=w, height=170, tools="save,hover",
                 x_range=Range1d(-0.6, 7.6), y_range=Range1d(-1.6, 0.6), tooltips=[("W", "@value{0.000}")])
        _bare(f)
        self.weight_mapper = LinearColorMapper(palette=tuple(reversed(RdBu11)), low=-1, high=1)
        self._tile_glyph(f, self.source("learning_weights", "x", "y", "w", "h", "value"), self.weight_mapper)
        self.placeholder_weights = placeholder(f, "Press Start: the learned weights show here.", x=3.5, y=-0.5)
        self.fig_weights = f

    @staticmethod
    def _tile_glyph(fig, source, mapper):
        fig.rect("x", "y", "w", "h", source=source, line_color=None,
                 fill_color={"field": "value", "transform": mapper})

    # ------------------------------------------------------------------ updates
    def show_curves(self, curves, optimum=None):
        """``curves``: method -> (epochs, train ln p, held-out ln p or None); ``optimum`` the best ln p."""
        shown = set()
        for method, (epochs, train, held) in curves.items():
            s = slot(method)
            shown.add(s)
            self.sources[f"learning_ll_{s}"].data = small(finite_rows({"epoch": epochs, "train": train}))
            self.sources[f"learning_ll_{s}_held_out"].data = small(finite_rows(
                {"epoch": epochs[:len(held)] if held is not None else [],
                 "held_out": held if held is not None else []}))
            self._legend_items[s].update(label=value(method_label(method)), visible=True)
        for s in SLOTS:
            if s not in shown:
                self._legend_items[s].visible = False
                self.sources[f"learning_ll_{s}"].data = {"epoch": [], "train": []}
                self.sources[f"learning_ll_{s}_held_out"].data = {"epoch": [], "held_out": []}
        ok = optimum is not None and np.isfinite(optimum)
        self.optimum.update(location=float(optimum) if ok else 0.0, visible=bool(ok))
        self.sources["learning_optimum"].data = {"epoch": [1.0], "ll": [float(optimum)]} if ok else \
            {"epoch": [], "ll": []}
        show_placeholder(self.placeholder_race, shown=not shown)

    def show_model(self, shape, patterns, is_data, clamped, free_energy, log_p, top_patterns, top_probability,
                   top_frequency, data_rows, samples, hidden_weights):
        """One model's decomposition, pattern probabilities, samples and weights (see the module docstring)."""
        n = len(patterns)
        labels = [f"{'data' if d else 'not data'} #{i + 1}" for i, d in enumerate(is_data)]
        cols = finite_rows({"x": np.arange(n), "clamped": clamped, "free_energy": np.full(n, free_energy),
                            "log_p": log_p})
        keep = cols["x"].astype(int)
        cols["label"] = [labels[i] for i in keep]
        self._decomp_src.data = small(cols)
        self.fig_decomposition.x_range.update(start=-0.6, end=max(n, 1) - 0.4)
        self.sources["learning_decomposition_tiles"].data = small(tiles(patterns, shape))
        m = len(top_patterns)
        self.sources["learning_patterns"].data = small(finite_rows(
            {"x": np.arange(m), "x_model": np.arange(m) - 0.2, "x_data": np.arange(m) + 0.2,
             "model": top_probability, "data": top_frequency}))
        self.fig_patterns.x_range.update(start=-0.6, end=max(m, 1) - 0.4)
        self.sources["learning_pattern_tiles"].data = small(tiles(top_patterns, shape))
        k = max(len(data_rows), len(samples), 1)
        d = tiles(data_rows, shape)
        s = tiles(samples, shape)
        s["y"] = s["y"] - 1.0
        self.sources["learning_samples"].data = small({c: np.concatenate([d[c], s[c]]) for c in d})
        self.fig_samples.x_range.update(start=-0.6, end=k - 0.4)
        wts = np.asarray(hidden_weights, dtype=np.float64)
        lim = float(np.max(np.abs(wts[np.isfinite(wts)]))) if np.isfinite(wts).any() else 1.0
        lim = lim if lim > 0 else 1.0
        self.weight_mapper.update(low=-lim, high=lim)
        # up to 8 units in one row, more in two rows
        per_row = max(len(wts), 1) if len(wts) <= 8 else int(np.ceil(len(wts) / 2))
        parts = []
        for first in range(0, len(wts), per_row):
            t = tiles(wts[first:first + per_row], shape)
            t["y"] = t["y"] - first // per_row
            parts.append(t)
        self.sources["learning_weights"].data = small(
            {c: np.concatenate([p[c] for p in parts]) for c in parts[0]} if parts else tiles([], shape))
        self.fig_weights.x_range.update(start=-0.6, end=per_row - 0.4)
        self._model_placeholders(False)

    def _model_placeholders(self, shown):
        for p in (self.placeholder_decomposition, self.placeholder_patterns, self.placeholder_samples,
                  self.placeholder_weights):
            show_placeholder(p, shown)
        sync_legend(self.fig_decomposition)
        sync_legend(self.fig_patterns)

    def clear_model(self):
        for name in ("learning_decomposition", "learning_decomposition_tiles", "learning_patterns",
                     "learning_pattern_tiles", "learning_samples", "learning_weights"):
            self.sources[name].data = {k: [] for k in self.sources[name].data}
        self._model_placeholders(True)


def _tile_figure(name, width, x_range):
    f = plot(name, None, width=width, height=64, tools="", x_range=x_range, y_range=Range1d(-0.5, 0.5))
    _bare(f)
    return f


def _bare(fig):
    fig.axis.visible = False
    fig.grid.visible = False
    fig.toolbar_location = None if not fig.tools else fig.toolbar_location
    fig.min_border_top = fig.min_border_bottom = 2


def _grey():
    return LinearColorMapper(palette=("#f4f4f4", "#111111"), low=0.0, high=1.0)
