"""End to end: Voila serves the explorer to headless Chromium (Playwright)."""

from __future__ import annotations

import os
import re
import time

import pytest

from explorer.serving import static_files
from harness.voila import (
    DATA_TO_CLIENT_JS,
    EXPLORER,
    READ_SOURCE_JS,
    WAIT_SOURCE_JS,
    WATCH_SOURCES_JS,
    change_count,
    console_text,
    js_errors,
    new_page,
    open_explorer,
    open_tab,
    serve,
    wait_for_change,
)
from tests.browser.layout_checks import assert_fits_at_1280x720

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The first screen's figures, then each tab's (title, a source it builds, its figures).
CORE_FIGURES = ["fig_free_energy", "fig_lambda"]
TABS = [("Errors, U, S, C", "thermo", ["fig_error", "fig_thermo"]),
        ("Cumulants", "kappa", ["fig_kappa", "fig_terms"]),
        ("Units", "magnetisation", ["fig_weights", "fig_magnetisation"]),
        ("Along ‖W‖", "norm_exact", ["fig_weight_norm"]),
        ("Sampling", "ais", ["fig_sampling"]),
        ("Rescaling", "scaling_line", ["fig_scaling"])]
WATCHED = ["t_cursor", "lam_curves", "magnetisation", "kappa", "lam_cursor", "f_exact"]


@pytest.fixture(scope="module")
def session(server, browser, artifacts):
    """One explorer page for the whole module, with console messages collected."""
    messages, failed = [], []
    page = new_page(browser, server)
    page.on("console", lambda m: messages.append(console_text(m))
            if m.type == "error" else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda r: failed.append(r.url))
    frames = []         # what the kernel's websocket brought, in order
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(
        payload if isinstance(payload, bytes) else payload.encode())))
    seconds = open_explorer(page, server, "T=0.5&order=6")
    # tabs are built when first opened: nothing of theirs is in the page yet
    assert page.evaluate(WAIT_SOURCE_JS, "kappa") is False
    for title, source, _figures in TABS:
        open_tab(page, "explorer", title, source)
    page.evaluate(WATCH_SOURCES_JS, WATCHED)
    page.screenshot(path=str(artifacts / "explorer_first_render.png"), full_page=True)
    yield {"page": page, "messages": messages, "failed": failed, "first_render_s": seconds,
           "base": server, "frames": frames}
    page.close()


def readout(page, cls):
    return page.locator(f".{cls} .widget-readout").first.inner_text()


def test_explorer_renders_fast_from_the_url_state(session):
    page = session["page"]
    # first render: page request -> widgets and Bokeh sources exist. The issue asks for
    # under 10 s on this machine; the machine is shared, so the bound grows with how
    # oversubscribed the CPUs were (load average per core above 1), never below 10 s.
    busy = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert session["first_render_s"] < 10.0 * busy, f"load per core {busy:.1f}"
    assert readout(page, "explorer-temperature") == "0.5012"
    assert page.locator(".widget-slider", has_text="Cumulant order K").locator(".widget-readout") \
        .inner_text() == "6"
    cursor = page.evaluate(READ_SOURCE_JS, "t_cursor")
    assert cursor["x"] == [pytest.approx(10 ** (-0.3), rel=1e-12)]
    assert len(page.evaluate(READ_SOURCE_JS, "f_exact")["x"]) == 201


def test_all_controls_and_plots_render(session):
    page = session["page"]
    controls = page.locator(".explorer-controls")
    for label in ("Temperature T", "Weight norm ‖W‖", "Perturbation λ", "Cumulant order K"):
        assert controls.locator(".widget-slider", has_text=label).locator(".noUi-handle").is_visible()
    for label in ("Preset", "Reference", "RBM"):
        assert controls.locator(".widget-dropdown", has_text=label).locator("select").is_visible()
    # make app has no class service: no "Follow the teacher", nothing of the class (issue 27)
    assert page.locator(".class-follow").count() == 0
    assert controls.locator(".widget-checkbox input").count() == 5
    assert controls.locator(".widget-upload").is_visible()
    assert controls.locator("button", has_text="Reset").is_visible()
    assert controls.locator("a", has_text="Link to this view").is_visible()
    controls.locator("a.explorer-csv").wait_for(state="visible", timeout=30_000)
    for name in CORE_FIGURES:
        xy = page.evaluate(DATA_TO_CLIENT_JS, [name, 1.0, 0.0])
        assert xy is not None, f"figure {name} has no view"
    for title, source, figures in TABS:
        open_tab(page, "explorer", title, source)
        for name in figures:
            assert page.evaluate(DATA_TO_CLIENT_JS, [name, 1.0, 0.0]) is not None, f"figure {name} has no view"
    # every figure is drawn in a canvas of the page
    assert page.locator("canvas").count() >= len(CORE_FIGURES) + sum(len(f) for *_, f in TABS)
    # the guide tells the story of the first screen
    page.locator(".explorer-tabs .lm-TabBar-tab", has_text="Guide").click()
    assert "Gibbs–Bogoliubov–Feynman" in page.locator(".explorer-guide").inner_text()


def test_keyboard_on_temperature_slider_changes_the_plots(session, artifacts):
    """A move patches the plots on screen (the first screen and the tab shown); a hidden tab is
    brought up to date when it is shown again."""
    page = session["page"]
    open_tab(page, "explorer", "Cumulants", "kappa")
    handle = page.locator(".explorer-temperature .noUi-handle")
    # a first move: its reply comes after everything the tab click asked for, so counts are settled
    before = change_count(page, "t_cursor")
    handle.focus()
    page.keyboard.press("ArrowRight")
    wait_for_change(page, "t_cursor", before)
    page.wait_for_function("() => document.querySelector('.explorer-temperature .widget-readout')"
                           ".innerText === '0.5129'")
    before = {n: change_count(page, n) for n in WATCHED}
    t0 = page.evaluate(READ_SOURCE_JS, "t_cursor")["x"][0]
    lam0 = page.evaluate(READ_SOURCE_JS, "lam_curves")["exact"]
    kappa0 = page.evaluate(READ_SOURCE_JS, "kappa")["kappa"]
    page.keyboard.press("ArrowRight")
    for name in ("t_cursor", "lam_curves", "kappa"):
        wait_for_change(page, name, before[name])
    t1 = page.evaluate(READ_SOURCE_JS, "t_cursor")["x"][0]
    assert t1 == pytest.approx(t0 * 10 ** 0.01, rel=1e-9)
    assert page.evaluate(READ_SOURCE_JS, "lam_curves")["exact"] != lam0
    assert page.evaluate(READ_SOURCE_JS, "kappa")["kappa"] != kappa0
    # the Units tab is hidden: not patched now, up to date once shown
    assert change_count(page, "magnetisation") == before["magnetisation"]
    page.locator(".explorer-tabs .lm-TabBar-tab", has_text="Units").first.click()
    wait_for_change(page, "magnetisation", before["magnetisation"])
    # a temperature move never resends the cached curves along T
    assert change_count(page, "f_exact") == before["f_exact"]
    assert readout(page, "explorer-temperature") == "0.5248"
    page.screenshot(path=str(artifacts / "explorer_after_keypress.png"), full_page=True)


#: Whether the named renderer is in the page's BokehJS documents ("model"), visible, and drawn by a
#: view of its figure ("view").
RENDERER_JS = """name => {
  function* walk(v) { yield v; for (const c of (v.child_views || [])) yield* walk(c); }
  let model = null;
  for (const d of window.Bokeh.documents) { model = model || d.get_model_by_name(name); }
  let view = false;
  for (const root of window.Bokeh.index.roots) {
    for (const v of walk(root)) {
      if (v.model === model || (v.renderer_views && model && v.renderer_views.get(model))) view = true;
    }
  }
  return {model: model !== null, visible: model !== null && model.visible, view};
}"""


def test_raising_the_order_draws_the_new_series_line(session):
    """The λ plot's line of an order is built when the order is first shown (the page opens with
    those of the URL's K = 6): raising K sends it to the page, which draws it."""
    page = session["page"]
    assert page.evaluate(RENDERER_JS, "lam_order_6") == {"model": True, "visible": True, "view": True}
    assert page.evaluate(RENDERER_JS, "lam_order_7")["model"] is False
    order = page.locator(".widget-slider", has_text="Cumulant order K")
    order.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => ({RENDERER_JS})('lam_order_7').view")
    assert page.evaluate(RENDERER_JS, "lam_order_7") == {"model": True, "visible": True, "view": True}
    assert order.locator(".widget-readout").inner_text() == "7"
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => !({RENDERER_JS})('lam_order_7').visible")
    assert page.evaluate(RENDERER_JS, "lam_order_6")["visible"] is True


#: True once the source ``name``'s first x is within ``rel`` of ``target``.
CURSOR_NEAR_JS = f"""([name, target, rel]) => {{
  const s = ({READ_SOURCE_JS})(name);
  return !!s && s.x.length > 0 && Math.abs(s.x[0] - target) <= rel * Math.abs(target);
}}"""


def test_clicking_a_plot_point_moves_the_slider(session, artifacts):
    page = session["page"]
    exact = page.evaluate(READ_SOURCE_JS, "f_exact")
    i = 40                                        # T = 10^-0.6, left of the legend
    x, y = page.evaluate(DATA_TO_CLIENT_JS, ["fig_free_energy", exact["x"][i], exact["y"][i]])
    page.mouse.click(x, y)
    # wait for the click's own cursor, not for any change: a previous test's last update (the
    # cursor sent again at the same T) can still arrive on a loaded machine (a CI run saw 0.5248)
    page.wait_for_function(CURSOR_NEAR_JS, arg=["t_cursor", exact["x"][i], 0.03], timeout=60_000)
    t = page.evaluate(READ_SOURCE_JS, "t_cursor")["x"][0]
    assert t == pytest.approx(exact["x"][i], rel=0.03)   # the nearest grid point under the mouse
    assert float(readout(page, "explorer-temperature")) == pytest.approx(t, rel=2e-3)
    # and in the λ plot: the λ slider follows
    lam = page.evaluate(READ_SOURCE_JS, "lam_curves")
    j = 5                                         # λ = 0.5
    x, y = page.evaluate(DATA_TO_CLIENT_JS, ["fig_lambda", lam["x"][j], lam["exact"][j]])
    page.mouse.click(x, y)
    page.wait_for_function(CURSOR_NEAR_JS, arg=["lam_cursor", 0.5, 1e-6], timeout=60_000)
    assert page.evaluate(READ_SOURCE_JS, "lam_cursor")["x"][0] == pytest.approx(0.5)
    assert readout(page, "explorer-lambda") == "0.50"
    page.screenshot(path=str(artifacts / "explorer_after_click.png"), full_page=True)


def test_preset_and_link_to_this_view(session):
    page = session["page"]
    before = change_count(page, "f_exact")
    page.locator(".explorer-controls .widget-dropdown", has_text="Preset").locator("select").select_option(
        label="Strong coupling: the series diverges")
    wait_for_change(page, "f_exact", before, timeout=120_000)
    assert readout(page, "explorer-norm") == "8.00"
    page.wait_for_function("() => document.querySelector('.explorer-link code').innerText.includes('norm=8')")
    link = page.locator(".explorer-link code").inner_text()
    assert link.startswith(session["base"] + "voila/render/rbm_explorer.ipynb?")
    for part in ("norm=8", "order=8", "ref=independent", "T=0.501187"):
        assert part in link


def test_bad_upload_shows_a_message_and_keeps_the_plots(session, tmp_path):
    page = session["page"]
    bad = tmp_path / "weights_only.npz"
    import numpy as np
    np.savez(bad, weights=np.ones((3, 3)))
    exact_before = page.evaluate(READ_SOURCE_JS, "f_exact")
    # the widget's <input type=file> is not in the DOM: answer the file chooser it opens
    with page.expect_file_chooser() as chooser:
        page.locator(".explorer-controls .widget-upload").click()
    chooser.value.set_files(str(bad))
    msg = page.locator(".explorer-error")
    msg.wait_for(timeout=60_000)
    text = msg.inner_text()
    assert "weights_only.npz" in text and "visible_bias" in text and "previous model" in text
    time.sleep(0.3)
    assert page.evaluate(READ_SOURCE_JS, "f_exact") == exact_before


def test_the_csv_link_comes_after_the_widget_state_the_page_waits_for(session):
    """The page's first widget states (its snapshot, and the kernel's ``update_states`` reply, which
    now holds only what changed since: explorer/app/core/widget_answer.py) leave out the CSV link's
    data URL; a later message brings it."""
    frames = session["frames"]
    session["page"].locator("a.explorer-csv").wait_for(state="visible", timeout=30_000)
    states = [i for i, f in enumerate(frames) if b'"update_states"' in f]
    with_csv = [i for i, f in enumerate(frames) if b"data:text/csv;base64," in f]
    assert len(states) == 1 and b"data:text/csv" not in frames[states[0]]
    assert with_csv and with_csv[0] > states[0]


def test_csv_download(session, tmp_path):
    page = session["page"]
    with page.expect_download() as dl:
        page.locator("a.explorer-csv").click()
    assert dl.value.suggested_filename == "rbm_explorer_curves.csv"
    path = tmp_path / "curves.csv"
    dl.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("temperature,exact_F,mean_field_bound")
    assert len(lines) == 1 + 201
    exact = page.evaluate(READ_SOURCE_JS, "f_exact")
    first = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert float(first["exact_F"]) == pytest.approx(exact["y"][0], rel=1e-10)


def test_no_javascript_errors(session):
    errors = js_errors(session["messages"], session["failed"], session["base"])
    assert errors == []
    # the blocked requests were all outside the local server (offline: no CDN needed)
    assert all(not u.startswith(session["base"]) for u in session["failed"])


def _first_screen_scripts(browser, base):
    """The scripts the explorer's first screen asked its server for (paths under ``base``), after
    a slider was moved and answered without a JavaScript error."""
    messages, failed, requested = [], [], []
    page = new_page(browser, base)
    try:
        page.on("console", lambda m: messages.append(console_text(m)) if m.type == "error" else None)
        page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("request", lambda r: requested.append(r.url))
        open_explorer(page, base)
        page.evaluate(WATCH_SOURCES_JS, ["t_cursor"])
        before = change_count(page, "t_cursor")
        page.locator(".explorer-temperature .noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        wait_for_change(page, "t_cursor", before)
        assert js_errors(messages, failed, base) == []
    finally:
        page.close()
    scripts = [u.removeprefix(base).split("?")[0] for u in requested
               if u.startswith(base) and u.split("?")[0].endswith(".js")]
    assert "voila/static/voila.js" in scripts
    chunks = [s for s in scripts if s.startswith(("voila/static/", "voila/labextensions/"))
              and s != "voila/static/voila.js" and not s.rsplit("/", 1)[-1].startswith("remoteEntry.")]
    return scripts, chunks


def test_voilas_chunks_come_in_one_file(server, browser):
    """The front-end bundle (explorer/serving/static_files.py): the first screen gets Voila's and
    its extensions' ~90 script chunks in one request and asks for none on its own, only the entry
    scripts Voila loads itself; the explorer works."""
    scripts, chunks = _first_screen_scripts(browser, server)
    assert [s for s in scripts if s.startswith("explorer/frontend/chunks-")], scripts
    assert chunks == []


def test_with_the_bundle_switched_off_voila_loads_its_chunks_itself(browser, artifacts):
    """FREE_ENERGY_EXPLORER_BUNDLE=0 (and a Voila whose files differ from the recorded ones): no
    bundle; Voila's front end asks for its chunks one by one and the explorer works as with it."""
    with serve("notebooks/", artifacts / "voila_no_bundle.log", env={static_files.BUNDLE_ENV: "0"}) as (base, _p):
        scripts, chunks = _first_screen_scripts(browser, base)
    assert not [s for s in scripts if s.startswith("explorer/frontend/")], scripts
    assert len(chunks) > 50, chunks


BOKEHJS = re.compile(r"/explorer/bokehjs/[\w-]+\.min\.js")
FRONT_END_BUNDLE = re.compile(r"/explorer/frontend/chunks-[0-9a-f]+\.js$")

#: The page has loaded, Voila's front end has started and restored the widgets, and the widget
#: outputs say they are loading.
STARTED_WITHOUT_BOKEHJS_JS = """() => {
  const app = window.jupyterapp, manager = app && app.widgetManager;
  return document.readyState === "complete" && !!manager && manager.restoredStatus
    && [...document.querySelectorAll(".jp-OutputArea-output")].some(n => n.textContent === "Loading widget...");
}"""


def test_bokehjs_comes_after_the_bundle_and_holds_back_neither_the_load_event_nor_voila(server, browser):
    """BokehJS (0.37 MB Brotli) is asked for once the front-end bundle has arrived, and run at the
    window's load event (static_files.fetched_after_bundle; the template's window.explorerBokehJS): on a slow
    link it no longer shares the link with the bundle, and Voila's front end, which starts at the
    load event, starts while BokehJS is on its way. Held here: the page loads, Voila starts and
    restores the widgets, the outputs say they are loading, nothing fails; released: the plots are
    drawn, with the guard that keeps the kernel's patches from being sent back, and answer a slider."""
    messages, failed, events, held, released = [], [], [], [], []
    page = new_page(browser, server)
    page.on("console", lambda m: messages.append(console_text(m)) if m.type == "error" else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("request", lambda r: events.append(("asked", r.url.split("?")[0])))
    page.on("requestfinished", lambda r: events.append(("arrived", r.url.split("?")[0])))
    page.route(BOKEHJS, lambda route: route.continue_() if released else held.append(route))
    try:
        page.goto(server + EXPLORER, wait_until="commit", timeout=180_000)
        page.wait_for_function(STARTED_WITHOUT_BOKEHJS_JS, timeout=180_000)
        page.wait_for_timeout(300)                 # a widget view that failed without BokehJS would show now
        assert held and page.evaluate("() => window.Bokeh === undefined")
        assert page.evaluate("() => document.querySelectorAll('.bk-Canvas, .bk-root').length") == 0
        assert js_errors(messages, failed, server) == [], messages
        first_bokehjs = next(i for i, (what, url) in enumerate(events) if what == "asked" and BOKEHJS.search(url))
        bundle_arrived = next(i for i, (what, url) in enumerate(events)
                              if what == "arrived" and FRONT_END_BUNDLE.search(url))
        assert bundle_arrived < first_bokehjs, events
        released.append(True)
        for route in held:              # the prefetch and the script elements (routing: no cache)
            route.continue_()
        page.wait_for_selector(".explorer-temperature .noUi-handle", timeout=120_000)
        page.wait_for_function(WAIT_SOURCE_JS, arg="t_cursor", timeout=120_000)
        assert page.evaluate('() => window.Bokeh.require("document").Document.prototype.__explorerSyncGuard')
        page.evaluate(WATCH_SOURCES_JS, ["t_cursor"])
        before = change_count(page, "t_cursor")
        page.locator(".explorer-temperature .noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        wait_for_change(page, "t_cursor", before)
        assert js_errors(messages, failed, server) == [], messages
    finally:
        page.close()


#: Whether BokehJS had run when the window's load event began (an init script: the first listener).
BOKEHJS_AT_LOAD_JS = """window.addEventListener("load", () => { window.__bokehJSAtLoad = !!window.Bokeh; });"""


def test_bokehjs_in_the_cache_runs_before_the_load_event(server, browser):
    """Where BokehJS is in the browser's cache (a reload; a first visit whose kernel ran longer than
    the download) the loader runs it as soon as the page names it, not at the load event: it takes
    no time of its own after that event, as when it was a script tag. The first visit fills the
    cache (the network through CDP, everything off the server blocked there: Playwright's own
    routing would switch the cache off)."""
    context = browser.new_context(viewport={"width": 1500, "height": 2700})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setBlockedURLs", {"urls": ["https://*"]})     # the server is plain http on the loopback
    messages, failed = [], []
    page.on("console", lambda m: messages.append(console_text(m)) if m.type == "error" else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.add_init_script(BOKEHJS_AT_LOAD_JS)
    try:
        open_explorer(page, server)
        page.reload(wait_until="commit", timeout=180_000)
        page.wait_for_selector(".explorer-temperature .noUi-handle", timeout=180_000)
        page.wait_for_function(WAIT_SOURCE_JS, arg="t_cursor", timeout=180_000)
        assert page.evaluate("() => window.__bokehJSAtLoad") is True
        assert page.evaluate('() => window.Bokeh.require("document").Document.prototype.__explorerSyncGuard')
        assert js_errors(messages, failed, server) == [], messages
    finally:
        context.close()


def test_loading_screen_is_still_and_counts_seconds(server, browser):
    """While a page loads nothing animates (an endless spinner costs a frame every 16 ms); a line
    counts the seconds instead. Voila's own scripts are held back so the loading screen stays."""
    page = new_page(browser, server)
    try:
        page.route("**/voila/static/**", lambda route: route.abort())
        page.goto(server + "voila/render/rbm_explorer.ipynb", wait_until="commit")
        page.wait_for_selector("#loading .spinner", state="attached")
        assert page.evaluate("() => document.getAnimations().length") == 0
        assert page.evaluate(
            "() => getComputedStyle(document.querySelector('#loading .spinner')).animationName") == "none"
        page.wait_for_function(
            "() => /Starting the explorer\\u2026 [2-9] s/.test("
            "(document.getElementById('explorer-loading-elapsed') || {}).textContent || '')", timeout=30_000)
        assert page.evaluate("() => document.getAnimations().length") == 0
    finally:
        page.close()


def test_weight_norm_tab_follows_the_norm_slider(session, artifacts):
    page = session["page"]
    open_tab(page, "explorer", "Along ‖W‖", "norm_exact")
    norm = float(readout(page, "explorer-norm"))
    page.locator(".explorer-norm .noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    # the cursor follows the slider to its next step (compared by value: the tab's own catch-up
    # after the click may patch the cursor too)
    page.wait_for_function(
        "x => { const s = window.Bokeh.documents.map(d => d.get_model_by_name('norm_cursor')).filter(Boolean)[0];"
        " return s && Math.abs(s.data.x[0] - x) < 0.006; }", arg=norm + 0.1, timeout=120_000)
    assert float(readout(page, "explorer-norm")) == pytest.approx(norm + 0.1, abs=0.006)
    assert len(page.evaluate(READ_SOURCE_JS, "norm_exact")["x"]) == 61
    page.screenshot(path=str(artifacts / "explorer_weight_norm_tab.png"), full_page=True)


def test_hold_q_tab_drag_fallback_step_and_play(session, artifacts):
    """Issue 14: the student moves q (a handle dragged with the mouse, then the keyboard's unit +
    m slider): F[q] changes and stays above the exact F; Step and Play grow the path."""
    from harness.voila import SOURCES_HAVE_DATA_JS

    page = session["page"]
    open_tab(page, "explorer", "Hold q", "pg_handles")
    page.wait_for_function(SOURCES_HAVE_DATA_JS, arg=["pg_handles", "pg_path", "pg_basins"], timeout=120_000)
    page.evaluate(WATCH_SOURCES_JS, ["pg_handles", "pg_bars", "pg_path"])

    def numbers():
        text = page.locator(".pg-readout").inner_text()
        return (float(page.locator(".pg-readout .pg-fq").inner_text()),
                float(page.locator(".pg-readout .pg-exact").inner_text()), text)

    fq0, exact, _ = numbers()
    assert fq0 >= exact
    # drag the handle of unit v2 from 1/2 up to 0.9 with the mouse
    unit = 1
    before = change_count(page, "pg_bars")
    x0, y0 = page.evaluate(DATA_TO_CLIENT_JS, ["fig_pg_bars", unit, 0.5])
    x1, y1 = page.evaluate(DATA_TO_CLIENT_JS, ["fig_pg_bars", unit + 0.1, 0.9])
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    wait_for_change(page, "pg_bars", before)
    page.wait_for_function("() => Math.abs(window.Bokeh.documents.map(d => d.get_model_by_name('pg_bars'))"
                           ".filter(Boolean)[0].data.m[1] - 0.9) < 0.03", timeout=60_000)
    # snapped back onto its unit (the kernel's reply to the drag: it may follow the bars' patch)
    page.wait_for_function("u => window.Bokeh.documents.map(d => d.get_model_by_name('pg_handles'))"
                           ".filter(Boolean)[0].data.x[u] === 1.0", arg=unit, timeout=60_000)
    handles = page.evaluate(READ_SOURCE_JS, "pg_handles")
    assert handles["x"][unit] == 1.0
    page.wait_for_function("v => document.querySelector('.pg-readout .pg-fq').innerText !== v",
                           arg=f"{fq0:.6f}", timeout=60_000)
    fq1, exact1, _ = numbers()
    assert fq1 != fq0 and exact1 == exact and fq1 >= exact
    # the keyboard's way: pick unit h2 and press the m slider's arrow keys
    page.locator(".pg-unit select").select_option(label="h2")
    page.wait_for_function("() => document.querySelector('.pg-m .widget-readout').innerText === '0.50'")
    page.locator(".pg-m .noUi-handle").focus()
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    page.wait_for_function("v => document.querySelector('.pg-readout .pg-fq').innerText !== v",
                           arg=f"{fq1:.6f}", timeout=60_000)
    page.wait_for_function("() => document.querySelector('.pg-m .widget-readout').innerText === '0.45'")
    fq2, exact2, _ = numbers()
    assert fq2 != fq1 and fq2 >= exact2 == exact
    # Step: one more point on the path, F[q] lower; Play: the browser counts on
    assert len(page.evaluate(READ_SOURCE_JS, "pg_path")["it"]) == 1
    page.locator(".pg-step").click()
    page.wait_for_function("() => window.Bokeh.documents.map(d => d.get_model_by_name('pg_path'))"
                           ".filter(Boolean)[0].data.it.length === 2", timeout=60_000)
    path = page.evaluate(READ_SOURCE_JS, "pg_path")
    assert path["it"] == [0, 1] and path["free_energy"][1] <= path["free_energy"][0]
    page.locator(".pg-play button").first.click()
    page.wait_for_function("() => window.Bokeh.documents.map(d => d.get_model_by_name('pg_path'))"
                           ".filter(Boolean)[0].data.it.length >= 4", timeout=60_000)
    # offline there is no icon font: the buttons carry words (CSS)
    labels = page.locator(".pg-play button").evaluate_all(
        "bs => bs.slice(0, 2).map(b => getComputedStyle(b, '::after').content)")
    assert labels[0] in ('"Play"', '"Pause"') and labels[1] == '"Stop"'
    page.locator(".pg-play button").nth(1).click()            # Stop
    path = page.evaluate(READ_SOURCE_JS, "pg_path")
    assert all(a >= b - 1e-12 for a, b in zip(path["free_energy"], path["free_energy"][1:]))
    assert all(f >= e for f, e in zip(path["free_energy"], path["exact"]))
    # at 1280 x 720 the tab fits: nothing cut off sideways (its tab title included), the readout whole
    assert_fits_at_1280x720(page, ".rbm-explorer", ".pg-readout", artifacts / "explorer_hold_q_1280x720.png",
                            readouts=[".pg-readout"])
