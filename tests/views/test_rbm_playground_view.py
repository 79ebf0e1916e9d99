"""The playground view alone: plain arrays in, finite named sources out, drags read back."""

import numpy as np

from explorer.views.rbm.hold_q import HoldQView


def test_named_sources_and_finite_data():
    v = HoldQView()
    assert {"pg_bars", "pg_handles", "pg_path", "pg_exact_f", "pg_basins"} <= set(v.sources)
    assert all(s.name == k for k, s in v.sources.items())
    before = {id(m) for m in v.layout.references()}
    v.show_q([0.2, 0.5], [1.0, 0.0, 0.3], [0.1, 0.2], [0.3, np.nan, 0.5], ["v1", "v2", "h1", "h2", "h3"])
    v.show_path([1.0, 0.5, 0.2], [0.9, 0.3, 0.1], [0.8, 0.2, np.nan], -0.1, upto=1)
    v.show_basins([-3.0, -2.0, np.inf], [40, 10, 1])
    v.show_q([0.3, 0.5], [1.0, 0.0, 0.3], [0.1, 0.2], [0.3, 0.4, 0.5], ["v1", "v2", "h1", "h2", "h3"])
    assert {id(m) for m in v.layout.references()} == before        # data replaced, no new models
    bars = v.sources["pg_bars"].data
    assert bars["m"] == [0.3, 0.5, 1.0, 0.0, 0.3] and bars["unit"][2] == "h1"
    assert v.sources["pg_handles"].data == {"x": [0.0, 1.0, 2.0, 3.0, 4.0], "y": [0.3, 0.5, 1.0, 0.0, 0.3]}
    assert v.sources["pg_path"].data["it"] == [0.0, 1.0]             # iterations shown so far
    assert v.sources["pg_exact_f"].data == {"y": [-0.1]}
    assert v.sources["pg_basins"].data["count"] == [40.0, 10.0]      # the non-finite minimum left out
    for s in v.sources.values():
        for col in s.data.values():
            arr = np.asarray(col)
            if arr.dtype.kind == "f":
                assert np.all(np.isfinite(arr))
    assert (v.fig_bars.x_range.start, v.fig_bars.x_range.end) == (-0.5, 4.5)
    assert v.split.data == {"x": [1.5]}                              # visible | hidden


def test_the_handles_can_be_dragged_but_not_added():
    v = HoldQView()
    assert v.draw_tool.add is False and v.draw_tool.drag is True
    assert v.fig_bars.toolbar.active_drag is v.draw_tool
    labels = [it.label.value for it in v.fig_path.legend[0].items]
    assert {"F[q] (a bound)", "TAP2 at q (not a bound)", "TAP3 at q (not a bound)"} <= set(labels)


def test_dragged_reads_the_unit_and_clips():
    v = HoldQView()
    current = [0.2, 0.5, 1.0]
    assert v.dragged({"x": [0.0, 1.0, 2.0], "y": current}, current) is None
    assert v.dragged({"x": [0.0, 1.3, 2.0], "y": [0.2, 0.9, 1.0]}, current) == (1, 0.9)
    assert v.dragged({"x": [0.0, 1.0, 2.0], "y": [0.2, 0.5, 1.7]}, current) == (2, 1.0)
    assert v.dragged({"x": [0.0, 1.0, 2.0], "y": [-0.4, 0.5, 1.0]}, current) == (0, 0.0)
    assert v.dragged({"x": [0.0, 1.0], "y": [0.2, 0.5]}, current) is None          # a deleted handle
    assert v.dragged({"x": [0.0, 1.0, 2.0], "y": [0.2, float("nan"), 1.0]}, current) is None
