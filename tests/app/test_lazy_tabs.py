"""A tab's own widgets are built when it is first opened: a page that never opens the Learning or
Hold q tab receives none of their widget models (fewer models, a faster first render)."""

from __future__ import annotations

import ipywidgets as W
import pytest

from explorer.app.core.lazy import LazyWidgets
from explorer.app.rbm.explorer import RBMExplorer


def models_under(widget, seen=None):
    """Every widget model reachable from ``widget`` (children, layouts, styles)."""
    seen = set() if seen is None else seen
    if id(widget) in seen:
        return seen
    seen.add(id(widget))
    for name in ("layout", "style"):
        child = getattr(widget, name, None)
        if isinstance(child, W.Widget):
            models_under(child, seen)
    for child in getattr(widget, "children", ()) or ():
        models_under(child, seen)
    return seen


@pytest.fixture(scope="module")
def app():
    return RBMExplorer(run_ais=False, prefetch=False)


def test_unopened_tabs_hold_no_widgets(app):
    assert not app.learning.widgets_built and not app.hold_q.widgets_built
    for key in ("learning", "hold_q"):
        assert app.panels[key].box.children == ()
    # the whole page: far fewer models than with every tab's controls built at start
    assert len(models_under(app.widget)) < 120


def test_opening_a_tab_builds_its_widgets_and_renders(app):
    app.open_panel("hold_q")
    assert app.hold_q.widgets_built
    box = app.panels["hold_q"].box
    assert app.hold_q.w_readout in models_under_widgets(box)
    assert "F[q]" in app.hold_q.w_readout.value


def models_under_widgets(box):
    out = []
    stack = [box]
    while stack:
        w = stack.pop()
        out.append(w)
        stack.extend(getattr(w, "children", ()) or ())
    return out


def test_asking_for_a_widget_builds_them_all():
    class Tab(LazyWidgets):
        LAZY = ("box",)
        builds = 0

        def _build_widgets(self):
            type(self).builds += 1
            self.w_a = W.IntSlider()
            self.box = W.VBox([self.w_a])

    tab = Tab()
    assert not tab.widgets_built
    assert tab.box.children == (tab.w_a,)
    assert tab.w_a.value == 0 and Tab.builds == 1
    with pytest.raises(AttributeError):
        _ = tab.w_missing   # a widget the tab does not have is an error, not another build
    assert Tab.builds == 1


def test_teacher_mode_hides_a_tab_control_that_is_not_built_yet():
    app = RBMExplorer(query="teacher=1&hide=learning", run_ais=False, prefetch=False)
    assert app.learning.widgets_built
    assert all(w.layout.display == "none" for w in app.learning.settings_controls)
