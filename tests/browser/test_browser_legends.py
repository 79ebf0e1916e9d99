"""In Voila, at 1280 × 720 and 1920 × 1080, both explorers with every tab opened: no legend box
covers a drawn glyph (computed from BokehJS's own views), an empty plot says what to press and
logs no "could not set initial ranges", and the first screen shows its differences apart.

The first screen's differences, at the default state and at the cursor: the mean-field bound's
gap, TAP's and the series' errors (RBM; the VAE: the bound's gap −ELBO − (−ln p(x)) as order 1 of
the series at λ = 1, the series' error at order K) and zero (the exact value) each at least 10 px
apart on screen, through the figure's own y scale; the RBM's names at the cursor (TAP2 and TAP3 lie
only ~10 px apart there) inside the frame and at least a line apart. Screenshots of every view are kept in
``artifacts/legends_*.png``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.voila import WAIT_SOURCE_JS, new_page
from tests.browser.layout_checks import legend_overlaps, screen_y_at_cursor, too_close, wait_for_layout

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = ((1280, 720), (1920, 1080))
#: Console text of BokehJS when a plot has nothing to span (an empty plot without explicit ranges).
RANGE_WARNING = "could not set initial ranges"


@dataclass(frozen=True)
class Explorer:
    notebook: str
    root: str
    ready: str
    source: str
    diff_figure: str
    cursor: str
    curves: tuple          # (label, source, column, x column); source 0: the zero line
    apart: tuple           # labels that must be >= 10 px apart pairwise
    placeholders: tuple    # (tab title, placeholder source) of the plots that start empty
    names: str = ""        # source of the names written at the cursor in the difference plot


K = 4   # the default cumulant order of both explorers
EXPLORERS = {
    "rbm": Explorer(
        "rbm_explorer.ipynb", ".rbm-explorer", ".explorer-temperature .noUi-handle", "t_cursor",
        "fig_free_energy_diff", "t_cursor",
        (("bound", "f_mean_field", "diff_y", "x"), ("TAP2", "f_tap2", "diff_y", "x"),
         ("TAP3", "f_tap3", "diff_y", "x"), ("series", "f_series", "diff_y", "x"), ("exact", 0, "", "")),
        ("bound", "TAP2", "series", "exact"),
        (("Learning", "fig_learning_race_placeholder"),), "diff_labels"),
    "vae": Explorer(
        "vae_explorer.ipynb", ".vae-explorer", ".vae-temperature .noUi-handle", "lam_series",
        "fig_lambda_diff", "lam_cursor",
        (("bound", "lam_series", "diff_ys[0]", "diff_xs[0]"),
         ("series", "lam_series", f"diff_ys[{K - 1}]", f"diff_xs[{K - 1}]"),
         ("Monte Carlo", "lam_mc_diff", "diff_y", "x"), ("exact", 0, "", "")),
        ("bound", "series", "exact"),
        (("Training", "fig_training_placeholder"),)),
}


#: The names written at the cursor in a figure (a LabelSet of the source ``names``): each one's text and
#: page y (its middle, through the figure's own y scale) and half its font's line (px).
NAMES_JS = r"""([figure, names]) => {
  function* walk(v) {
    yield v;
    const kids = typeof v.children_views === 'function' ? v.children_views() : (v.child_views || []);
    for (const c of kids) yield* walk(c);
  }
  for (const root of window.Bokeh.index.roots) {
    for (const v of walk(root)) {
      if (!(v.model && v.model.name === figure && v.frame)) continue;
      let src = null;
      for (const d of window.Bokeh.documents) { src = src || d.get_model_by_name(names); }
      const top = v.canvas_view.el.getBoundingClientRect().top;
      const labels = v.model.center.find(a => a.source === src);
      const font = parseFloat(labels.text_font_size.value || labels.text_font_size) || 11;
      return Array.from(src.data.text).map((t, i) => ({text: t, half: 0.65 * font,
        y: top + v.frame.y_scale.compute(src.data.label_y[i])}));
    }
  }
  return null;
}"""


#: True once the element ``sel`` holds a drawn Bokeh plot (a canvas view in ``Bokeh.index``).
PANEL_HAS_PLOTS_JS = r"""sel => {
  const panel = document.querySelector(sel);
  if (!panel || !window.Bokeh || !window.Bokeh.index) return false;
  for (const v of window.Bokeh.index.roots) {
    let host = v.el;
    while (host.getRootNode().host) host = host.getRootNode().host;    // out of shadow roots
    if (panel.contains(host) && (typeof v.has_finished !== 'function' || v.has_finished())) return true;
  }
  return false;
}"""


@pytest.fixture(scope="module", params=sorted(EXPLORERS))
def explorer(request, server, browser):
    """One explorer page (widgets and plots drawn) and the console messages it logged."""
    ex = EXPLORERS[request.param]
    messages = []
    page = new_page(browser, server, width=SIZES[0][0], height=SIZES[0][1])
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.goto(server + "voila/render/" + ex.notebook, wait_until="commit", timeout=240_000)
    page.wait_for_selector(ex.ready, timeout=240_000)
    page.wait_for_function(WAIT_SOURCE_JS, arg=ex.source, timeout=240_000)
    wait_for_layout(page, ex.root)
    yield request.param, ex, page, messages
    page.close()


def _settle(page, root, width, height):
    page.set_viewport_size({"width": width, "height": height})
    wait_for_layout(page, root)


def test_first_screen_differences_apart_and_legends_clear(explorer, artifacts):
    name, ex, page, _ = explorer
    for width, height in SIZES:
        _settle(page, ex.root, width, height)
        page.screenshot(path=str(artifacts / f"legends_{name}_first_{width}x{height}.png"))
        pos = screen_y_at_cursor(page, ex.diff_figure, ex.curves, ex.cursor)
        assert "error" not in pos, pos
        top, bottom = pos["frame"]
        for label, *_ in ex.curves:
            assert top - 0.5 <= pos[label]["y"] <= bottom + 0.5, f"{label} outside the frame: {pos}"
        bad = too_close(pos, ex.apart)
        assert bad == [], f"at {width}x{height}, the differences at the cursor are too close: {bad}; {pos}"
        legends, overlaps = legend_overlaps(page)
        assert legends, "no legend found"
        assert overlaps == [], f"at {width}x{height}: " + "; ".join(overlaps)
        if ex.names:
            # the names at the cursor (TAP2 and TAP3 lie ~10 px apart there): inside the frame, a line apart
            names = page.evaluate(NAMES_JS, [ex.diff_figure, ex.names])
            assert [n["text"] for n in names] == ["bound", "TAP2", "TAP3", "series"], names
            for n in names:
                assert top + n["half"] - 0.5 <= n["y"] <= bottom - n["half"] + 0.5, f"{n} outside {pos['frame']}"
            ys = sorted(n["y"] for n in names)
            gaps = [b - a for a, b in zip(ys, ys[1:])]
            assert min(gaps) >= 2 * names[0]["half"] - 0.5, f"at {width}x{height}: names {gaps} px apart: {names}"


def test_every_tab_legends_clear_and_empty_plots_say_what_to_press(explorer, artifacts):
    name, ex, page, messages = explorer
    _settle(page, ex.root, *SIZES[0])
    tabs = page.locator(f"{ex.root} .lm-TabBar-tab")
    titles = [t.strip() for t in tabs.all_inner_texts()]
    assert len(titles) >= 5, titles
    problems = []
    for i, title in enumerate(titles):
        tabs.nth(i).click()
        # a tab's widgets and plots are built when it is first opened: wait for its Bokeh views
        shown = f"{ex.root} .widget-tab-contents > :not(.lm-mod-hidden)"
        page.wait_for_selector(shown, timeout=60_000)
        if not page.locator(shown).first.evaluate("el => el.classList.contains('widget-html')"):   # a guide
            page.wait_for_function(PANEL_HAS_PLOTS_JS, arg=shown, timeout=180_000)
        page.wait_for_timeout(1500)     # its first data (computed on opening)
        for width, height in SIZES:
            _settle(page, ex.root, width, height)
            page.locator(f"{ex.root} .lm-TabBar-tab").nth(i).scroll_into_view_if_needed()
            safe = "".join(c if c.isalnum() else "_" for c in title)
            page.screenshot(path=str(artifacts / f"legends_{name}_tab_{safe}_{width}x{height}.png"))
            _, overlaps = legend_overlaps(page)
            problems += [f"tab {title!r} at {width}x{height}: {o}" for o in overlaps]
    assert problems == [], "\n".join(problems)
    for title, source in ex.placeholders:
        text = page.evaluate("""name => {
          for (const d of window.Bokeh.documents) {
            const s = d.get_model_by_name(name);
            if (s) return Array.from(s.data.text);
          }
          return null;
        }""", source)
        assert text and "Press" in text[0], f"tab {title!r}: no placeholder saying what to press ({text})"
    warnings = [m for m in messages if RANGE_WARNING in m]
    assert warnings == [], warnings


def test_the_check_finds_a_legend_on_the_data(browser, tmp_path):
    """The check itself: a legend inside the frame over a line and bars is found; the same
    figure with its legend below the frame is clean."""
    from bokeh.embed import file_html
    from bokeh.layouts import row
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    from explorer.views.common import legend_outside

    def fig(name, outside):
        f = figure(name=name, width=300, height=250)
        f.line([0, 1, 2, 3], [0, 1, 2, 3], legend_label="a line")
        f.vbar(x=[0.2, 2.8], top=[3, 3], width=0.3, legend_label="bars")
        f.legend.location = "top_left"
        if outside:
            legend_outside(f, "below")
        return f

    page = browser.new_page(viewport={"width": 800, "height": 400})
    try:
        path = tmp_path / "legends.html"
        path.write_text(file_html(row(fig("inside", False), fig("outside", True)), INLINE, "legends"))
        page.goto(path.as_uri())
        page.wait_for_function("() => window.Bokeh && Bokeh.index && Bokeh.index.roots.length > 0"
                               " && Bokeh.index.roots.every(v => v.has_finished())")
        legends, overlaps = legend_overlaps(page)
        assert {lg["figure"] for lg in legends} == {"inside", "outside"}
        assert overlaps and all('"inside"' in o for o in overlaps), overlaps
    finally:
        page.close()
