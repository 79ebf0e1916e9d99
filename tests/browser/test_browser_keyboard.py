"""Issue 25, accessibility: every control usable from the keyboard, with a visible focus, in Voila
(1280 × 720, headless Chromium).

* PageUp / PageDown on a slider handle move it by a big step: 20 of the slider's steps (the
  explorer's template, share/jupyter/voila/templates/explorer/index.html.j2, turns one press into
  four of noUiSlider's page steps of 5), so the temperature slider (0.1 … 10, 200 steps) is crossed
  in 10 presses instead of 200; Home / End jump to the ends. The slider's readout, the explorer's
  readout and the plots follow.
* The VAE explorer's Hold q: the mouse drags q's mean on the map; the keyboard moves it with the
  "mean z₁" / "mean z₂" sliders (arrows and PageUp / PageDown), and the plot's mean, the bound's
  terms and the readout follow.
* Focus is visible: a focused slider handle, and every control Tab reaches (buttons, coloured ones
  included, drop-downs, check boxes, number fields, links, the tab bar), draw an outline (not
  "none", at least 2 px wide) with at least 3:1 contrast against what lies beside it (WCAG 2.2,
  1.4.11 and 2.4.7), and no widget box cuts part of it off (a ring drawn around a control was cut
  by its box's ``overflow``: the template draws it inside); without focus a handle draws none.
"""

from __future__ import annotations

import pytest

from harness.voila import (
    READ_SOURCE_JS,
    SOURCES_HAVE_DATA_JS,
    WAIT_SOURCE_JS,
    WATCH_SOURCES_JS,
    change_count,
    js_errors,
    new_page,
    open_explorer,
    open_tab,
    wait_for_change,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: One PageUp / PageDown: this many slider steps (the template's PAGES × noUiSlider's page of 5).
PAGE_STEPS = 20
#: The temperature slider: log10 T in steps of 0.01.
T_STEP = 0.01
#: The VAE Hold q mean sliders: z in steps of 0.01 (explorer/app/vae/hold_q.py: MU_STEP).
MU_STEP = 0.01
VAE_EXPLORER = "voila/render/vae_explorer.ipynb"

#: The computed focus ring of the element ``sel`` (or the focused element when sel is null): outline
#: style, width, offset and colour; its contrast against what lies beside it (an inset ring, drawn
#: inside the element: the element's own background when opaque; else the first opaque background
#: behind it; white when none); and every ancestor that cuts part of it off (overflow not visible).
RING_JS = r"""sel => {
  const el = sel ? document.querySelector(sel) : document.activeElement;
  if (!el) return null;
  const cs = getComputedStyle(el);
  const rgb = s => { const m = (s || '').match(/rgba?\(([^)]+)\)/); if (!m) return null;
                     const p = m[1].split(/[ ,\/]+/).filter(x => x.length).map(Number);
                     return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                     return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const width = parseFloat(cs.outlineWidth) || 0, offset = parseFloat(cs.outlineOffset) || 0;
  let bg = {r: 255, g: 255, b: 255, a: 1};
  for (let a = offset < 0 ? el : el.parentElement; a; a = a.parentElement) {
    const c = rgb(getComputedStyle(a).backgroundColor);
    if (c && c.a >= 0.99) { bg = c; break; }
  }
  const ring = rgb(cs.outlineColor);
  const l1 = ring ? lum(ring) : 0, l2 = lum(bg);
  const r = el.getBoundingClientRect(), out = offset + width;
  const box = {l: r.left - out, r: r.right + out, t: r.top - out, b: r.bottom + out};
  const cut = [];
  for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
    const q = a.getBoundingClientRect();
    const l = q.left + a.clientLeft, t = q.top + a.clientTop;
    const d = Math.max(l - box.l, box.r - (l + a.clientWidth), t - box.t, box.b - (t + a.clientHeight));
    if (d > 0.5) cut.push(`${a.tagName.toLowerCase()}.${[...a.classList].slice(0, 3).join('.')} by ${d.toFixed(1)} px`);
  }
  return {tag: el.tagName.toLowerCase(), cls: String(el.className || ''),
          text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40),
          style: cs.outlineStyle, width, offset, color: cs.outlineColor,
          focused: el === document.activeElement, focusVisible: el.matches(':focus-visible'),
          contrast: ring ? (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05) : 0, cut};
}"""


def ring_problems(ring):
    """What keeps a focus ring from being seen (empty: it is clear)."""
    bad = []
    if ring["style"] == "none" or ring["width"] < 2:
        bad.append(f"no ring ({ring['style']}, {ring['width']} px)")
    if ring["contrast"] < 3.0:
        bad.append(f"contrast {ring['contrast']:.2f} < 3")
    if ring["cut"]:
        bad.append("cut off by " + ", ".join(ring["cut"]))
    return bad


def tab_through(page, start, presses, within, until=None):
    """Focus ``start`` and press Tab up to ``presses`` times (until a control matching the selector
    ``until`` has the focus); the ring of every control focused on the way that lies in ``within``
    (a CSS selector; Bokeh's plots, whose toolbars draw their own focus, are left out)."""
    page.locator(start).focus()
    rings = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        inside = page.evaluate("w => { const a = document.activeElement; return !!(a && a.closest(w)"
                               " && !a.closest('.bk-Row, .bk-Column, .bk-Figure')); }", within)
        if inside:
            rings.append(page.evaluate(RING_JS, None))
            if until and page.evaluate("u => document.activeElement.matches(u)", until):
                break
    return rings


@pytest.fixture(scope="module")
def rbm(server, browser):
    errors, failed = [], []
    page = new_page(browser, server, errors, width=1280, height=720)
    page.on("requestfailed", lambda r: failed.append(r.url))
    open_explorer(page, server)
    page.wait_for_function(SOURCES_HAVE_DATA_JS, arg=["t_cursor", "lam_curves"], timeout=120_000)
    yield {"page": page, "errors": errors, "failed": failed, "base": server}
    page.close()


def slider_readout(page, cls):
    """The number a slider's readout shows (ipywidgets writes a minus sign as "−")."""
    return float(page.locator(f".{cls} .widget-readout").first.inner_text().replace("−", "-"))


def t_cursor(page):
    return page.evaluate(READ_SOURCE_JS, "t_cursor")["x"][0]


def press_on(page, handle, key, sources, timeout=120_000):
    """Press ``key`` on the slider handle ``handle`` and wait until every source in ``sources`` changed."""
    page.evaluate(WATCH_SOURCES_JS, sources)
    before = {s: change_count(page, s) for s in sources}
    page.locator(handle).focus()
    page.keyboard.press(key)
    for s in sources:
        wait_for_change(page, s, before[s], timeout=timeout)


def wait_for_value(page, source, column, want, rel=1e-9, timeout=120_000):
    """Wait until ``source.data[column][0]`` is ``want`` (a big step arrives as several small ones)."""
    page.wait_for_function(
        """([name, col, want, rel]) => {
          for (const d of window.Bokeh.documents) {
            const s = d.get_model_by_name(name);
            if (s && s.data[col] && s.data[col].length) return Math.abs(s.data[col][0] - want) <= rel * Math.abs(want);
          }
          return false;
        }""", arg=[source, column, want, rel], timeout=timeout)


def test_page_up_and_down_move_the_temperature_by_a_big_step(rbm):
    page = rbm["page"]
    handle = ".explorer-temperature .noUi-handle"
    readout = page.locator(".explorer-temperature .widget-readout").first
    assert t_cursor(page) == pytest.approx(1.0, rel=1e-12) and readout.inner_text() == "1.000"
    lam_before = page.evaluate(READ_SOURCE_JS, "lam_curves")["exact"]

    # one PageUp: 20 steps of 0.01 in log10 T, one keypress
    press_on(page, handle, "PageUp", ["t_cursor", "lam_curves"])
    up = 10 ** (PAGE_STEPS * T_STEP)
    wait_for_value(page, "t_cursor", "x", up)
    page.wait_for_function("() => document.querySelector('.explorer-temperature .widget-readout').innerText"
                           " === '1.585'")
    assert page.evaluate("() => document.querySelector('.explorer-temperature .noUi-handle')"
                         ".getAttribute('aria-valuetext')") == "1.585"
    # the plots and the numbers follow: F(λ) at the new T, the readout's heading
    page.wait_for_function("() => document.querySelector('.explorer-readout').innerText.includes('T = 1.585')")
    assert page.evaluate(READ_SOURCE_JS, "lam_curves")["exact"] != lam_before
    # an arrow is still one step
    press_on(page, handle, "ArrowRight", ["t_cursor"])
    wait_for_value(page, "t_cursor", "x", 10 ** ((PAGE_STEPS + 1) * T_STEP))

    # two PageDowns: 40 steps down, below T = 1
    page.locator(handle).focus()
    page.keyboard.press("PageDown")
    page.keyboard.press("PageDown")
    down = 10 ** ((PAGE_STEPS + 1 - 2 * PAGE_STEPS) * T_STEP)
    wait_for_value(page, "t_cursor", "x", down)
    page.wait_for_function("() => document.querySelector('.explorer-temperature .widget-readout').innerText"
                           " === '0.6457'")
    page.wait_for_function("() => document.querySelector('.explorer-readout').innerText.includes('T = 0.6457')")

    # ten presses cross the whole slider (200 steps): from the top end to the bottom one
    page.keyboard.press("End")
    wait_for_value(page, "t_cursor", "x", 10.0)
    for _ in range(200 // PAGE_STEPS):
        page.keyboard.press("PageDown")
    wait_for_value(page, "t_cursor", "x", 0.1)
    page.wait_for_function("() => document.querySelector('.explorer-temperature .widget-readout').innerText"
                           " === '0.1000'")
    # back to the default for the other tests (T = 1: Home is 0.1, so five PageUps)
    for _ in range(100 // PAGE_STEPS):
        page.keyboard.press("PageUp")
    wait_for_value(page, "t_cursor", "x", 1.0)
    assert js_errors(rbm["errors"], rbm["failed"], rbm["base"]) == []


def test_every_control_shows_a_clear_uncut_focus_ring(rbm, artifacts):
    """A focused slider handle, and every control Tab reaches in the controls and the tabs (buttons,
    drop-downs, check boxes, number fields, links, the tab bar): a ring at least 2 px wide, 3:1
    against what lies beside it, and no part of it cut off by a widget's box."""
    page = rbm["page"]
    handle = ".explorer-norm .noUi-handle"
    page.mouse.click(5, 5)                                  # nothing focused, the mouse used last
    unfocused = page.evaluate(RING_JS, handle)
    assert not unfocused["focused"] and (unfocused["style"] == "none" or unfocused["width"] == 0), unfocused

    page.locator(handle).focus()
    ring = page.evaluate(RING_JS, handle)
    assert ring["focused"], ring
    assert ring_problems(ring) == [], f"the slider handle's focus ring: {ring}"

    # through the controls and the first screen's plots (their toolbars' buttons) to the tab bar
    rings = tab_through(page, ".explorer-temperature .noUi-handle", 150, ".rbm-explorer", until=".lm-TabBar-tab")
    kinds = {r["tag"] for r in rings}
    assert {"button", "select", "input", "a"} <= kinds, kinds
    assert any(r["tag"] == "li" and "lm-TabBar-tab" in r["cls"] for r in rings), "the tab bar was not reached"
    bad = [f"{r['tag']} {r['text']!r}: {'; '.join(ring_problems(r))}" for r in rings if ring_problems(r)]
    assert bad == [], "focus rings not clearly visible:\n  " + "\n  ".join(bad)
    assert all(r["focusVisible"] for r in rings if r["tag"] == "button")
    page.keyboard.press("Shift+Tab")             # nothing was pressed on the way
    page.screenshot(path=str(artifacts / "keyboard_focus_ring.png"))
    assert js_errors(rbm["errors"], rbm["failed"], rbm["base"]) == []


def test_vae_hold_q_mean_moves_from_the_keyboard(server, browser, artifacts):
    errors, failed = [], []
    page = new_page(browser, server, errors, width=1280, height=720)
    page.on("requestfailed", lambda r: failed.append(r.url))
    try:
        # torch and the first digit's quadrature: generous on a shared machine
        page.goto(server + VAE_EXPLORER, wait_until="commit", timeout=240_000)
        page.wait_for_selector(".vae-temperature .noUi-handle", timeout=240_000)
        page.wait_for_function(WAIT_SOURCE_JS, arg="lam_series", timeout=240_000)
        open_tab(page, "vae", "Hold q", "q_terms", timeout=240_000)
        page.wait_for_function(SOURCES_HAVE_DATA_JS, arg=["q_terms", "q_held_mean", "q_posterior"],
                               timeout=240_000)
        mu1, mu2 = ".vae-q-mu1 .noUi-handle", ".vae-q-mu2 .noUi-handle"
        for h, name in ((mu1, "mean z₁"), (mu2, "mean z₂")):
            page.wait_for_function("([h, n]) => (document.querySelector(h).getAttribute('aria-label') || '')"
                                   ".includes(n)", arg=[h, name], timeout=30_000)
        start = page.evaluate(READ_SOURCE_JS, "q_held_mean")
        z1, z2 = start["z1"][0], start["z2"][0]
        # the sliders show the encoder's mean, to their 0.01 steps
        shown = slider_readout(page, "vae-q-mu1")
        assert shown == pytest.approx(z1, abs=MU_STEP / 2 + 1e-9)

        def neg_elbo():
            d = page.evaluate(READ_SOURCE_JS, "q_terms")
            return d["value"][d["name"].index("−ELBO(q)")]

        bound = neg_elbo()
        # → one step to the right: the mean on the map, the terms and the readout follow
        press_on(page, mu1, "ArrowRight", ["q_held_mean", "q_terms"], timeout=180_000)
        want = round(shown + MU_STEP, 2)
        wait_for_value(page, "q_held_mean", "z1", want, rel=1e-6)
        moved = page.evaluate(READ_SOURCE_JS, "q_held_mean")
        assert moved["z2"][0] == pytest.approx(z2, abs=1e-12)          # the other coordinate stays
        assert neg_elbo() != bound
        # the readout's heading names the new mean ("mean (0.540, −1.234)")
        page.wait_for_function("v => document.querySelector('.vae-q-readout').innerText.includes(v)",
                               arg=f"{abs(want):.3f},", timeout=60_000)
        # PageUp: a big step (20 of them)
        page.keyboard.press("PageUp")
        want = round(want + PAGE_STEPS * MU_STEP, 2)
        wait_for_value(page, "q_held_mean", "z1", want, rel=1e-6, timeout=180_000)
        assert slider_readout(page, "vae-q-mu1") == pytest.approx(want, abs=1e-9)
        # ↓ on the second mean slider moves z₂ down; z₁ stays
        shown2 = slider_readout(page, "vae-q-mu2")
        press_on(page, mu2, "ArrowDown", ["q_held_mean"], timeout=180_000)
        wait_for_value(page, "q_held_mean", "z2", round(shown2 - MU_STEP, 2), rel=1e-6)
        assert page.evaluate(READ_SOURCE_JS, "q_held_mean")["z1"][0] == pytest.approx(want, abs=1e-9)
        page.wait_for_function("() => { const d = (() => { for (const doc of window.Bokeh.documents) {"
                               " const s = doc.get_model_by_name('q_terms'); if (s) return s.data; } })();"
                               " return d && d.value.length > 0; }", timeout=60_000)
        assert neg_elbo() >= page.evaluate(READ_SOURCE_JS, "q_terms")["value"][
            page.evaluate(READ_SOURCE_JS, "q_terms")["name"].index("−ln p(x)")] - 1e-9   # still a bound
        # on to the buttons: "Start from the encoder's q" and the coloured "Fit q to this digit"
        rings = tab_through(page, mu2, 12, ".vae-hold-q")
        buttons = [r for r in rings if r["tag"] == "button"]
        assert any("Fit q" in r["text"] for r in buttons), [r["text"] for r in rings]
        bad = [f"{r['tag']} {r['text']!r}: {'; '.join(ring_problems(r))}" for r in rings if ring_problems(r)]
        assert bad == [], "focus rings not clearly visible:\n  " + "\n  ".join(bad)
        page.locator(mu2).focus()
        page.screenshot(path=str(artifacts / "keyboard_vae_hold_q_mean.png"))
        assert js_errors(errors, failed, server) == []
    finally:
        page.close()
