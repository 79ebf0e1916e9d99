"""The Learning tab's view alone: arrays in, finite named sources out, figures built once."""

from __future__ import annotations

import numpy as np

from explorer.rbm.learning import Race, inspect_model, learning_dataset
from explorer.views.rbm.learning import LearningView, method_label, slot, tiles


def _finite(view):
    for name, src in view.sources.items():
        assert name.startswith("learning_")
        for col, values in src.data.items():
            if col != "label":
                assert np.isfinite(np.asarray(values, dtype=float)).all(), (name, col)


def test_race_curves_and_legend():
    v = LearningView()
    before = {id(m) for m in v.layout.references()}
    epochs = np.arange(1, 5)
    v.show_curves({"exact": (epochs, [-6.0, -5.0, np.nan, -4.0], [-6.1, -5.2, -5.0, -4.5]),
                   "cd3": (epochs, [-6.0, -5.5, -5.0, -4.9], None)}, optimum=-np.log(14))
    assert v.sources["learning_ll_exact"].data["epoch"] == [1.0, 2.0, 4.0]      # the NaN row dropped
    assert len(v.sources["learning_ll_exact_held_out"].data["held_out"]) == 4
    assert len(v.sources["learning_ll_cd_held_out"].data["held_out"]) == 0
    assert v._legend_items["cd"].label.value == "CD-3" and v._legend_items["cd"].visible
    assert not v._legend_items["tap3"].visible
    assert v.optimum.visible and np.isclose(v.optimum.location, -np.log(14))
    v.show_curves({"pcd": ([1], [-6.0], None)}, optimum=None)
    assert len(v.sources["learning_ll_exact"].data["epoch"]) == 0 and not v.optimum.visible
    _finite(v)
    assert {id(m) for m in v.layout.references()} == before
    assert slot("cd12") == "cd" and slot("pcd") == "pcd" and method_label("cd1") == "CD-1"


def test_model_plots_from_an_inspection():
    data = learning_dataset("bars-stripes-3")
    race = Race(data, 9, ["exact"], learning_rate=0.2, momentum=0.9)
    for _ in race.run(5):
        pass
    ins = inspect_model(race.model("exact"), data.train, n_samples=6, sample_steps=5)
    v = LearningView()
    before = {id(m) for m in v.layout.references()}
    v.show_model(data.shape, ins.patterns, ins.is_data, ins.clamped, ins.free_energy, ins.log_p, ins.top_patterns,
                 ins.top_probability, ins.top_frequency, data.train[:6], ins.samples, ins.hidden_weights)
    d = v.sources["learning_decomposition"].data
    assert len(d["x"]) == 8 and d["label"][0] == "data #1" and d["label"][-1] == "not data #8"
    assert np.allclose(np.array(d["log_p"]), np.array(d["free_energy"]) - np.array(d["clamped"]))
    assert len(v.sources["learning_decomposition_tiles"].data["x"]) == 8 * 9
    assert len(v.sources["learning_pattern_tiles"].data["x"]) == 12 * 9
    assert len(v.sources["learning_samples"].data["x"]) == 12 * 9
    assert len(v.sources["learning_weights"].data["x"]) == 9 * 9       # 9 hidden units, two rows
    assert min(v.sources["learning_weights"].data["y"]) < -0.5
    _finite(v)
    assert {id(m) for m in v.layout.references()} == before
    v.clear_model()
    assert len(v.sources["learning_weights"].data["x"]) == 0


def test_tiles_place_pixels_under_their_bar():
    t = tiles(np.array([[1, 0, 0, 1], [0, 1, 1, 0]]), (2, 2))
    assert len(t["x"]) == 8
    assert np.all(np.abs(t["x"][:4] - 0) < 0.5) and np.all(np.abs(t["x"][4:] - 1) < 0.5)
    assert t["y"][0] > t["y"][2]          # row 0 on top
    assert len(tiles(np.zeros((0, 4)), (2, 2))["x"]) == 0


def test_pattern_legend_sits_outside_the_bars():
    """The legend of "Most likely patterns" is above the frame, not over the bars (inside, it
    covered the tallest ones); the bars keep their tiles right below them."""
    from bokeh.models import Legend

    f = LearningView().fig_patterns
    assert not any(isinstance(r, Legend) for r in f.center)
    (legend,) = [r for r in f.above if isinstance(r, Legend)]
    assert legend.orientation == "horizontal"
    assert [item.label.value for item in legend.items] == ["model p(v)", "data frequency"]
    assert not any(isinstance(r, Legend) for r in f.below)
