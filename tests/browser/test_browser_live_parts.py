"""Issue 25, "live parts stay consistent", in Voila: one VAE explorer page (and one RBM page) for the module.

* Fit q's replay: while the fit's path replays in the Hold q tab, every number of the readout belongs to the
  q its heading names. The page is sampled many times during the replay; each readout's q (mean, σ, ρ as
  shown) is found among the fit's iterates, computed here with the app's own compute wrapper (HoldQCompute:
  explorer.vae.variational) from the shipped checkpoint, and every number under it is compared with a direct
  computation for that q. Two causes made them disagree: the page sent each kernel patch back to the kernel
  (jupyter_bokeh does not skip BokehJS's ``sync = false`` events), so old means came back as "drags" and the
  held q jumped between old iterates for ever; and the σ, ρ and mean sliders sent back the values the kernel
  put on them, snapped to their steps, which moved q off the path. So the page must also send no plot data
  to the kernel while nobody touches it.
* Presets stay selected while the State is theirs, in both explorers.
* A slow update (the decoder scale c) shows "computing…" within 0.2 s (tests/browser/busy_checks.py).
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest

from harness.voila import (
    SOURCES_HAVE_DATA_JS,
    WAIT_SOURCE_JS,
    WATCH_SOURCES_JS,
    change_count,
    console_text,
    js_errors,
    new_page,
    open_explorer,
    open_tab,
    wait_for_change,
)
from tests.browser.busy_checks import BUSY_WATCH_JS, check_slow_update_shows_busy, wait_until_responsive

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INDEX, LAM, ORDER = 5, 0.5, 6
QUERY = f"index={INDEX}&T=0.5&lam={LAM}&order={ORDER}"

#: Counts what the page sends to the kernel: Bokeh data changes (a kernel patch coming back would be one).
COUNT_SENT_JS = """
(() => {
  window.__dataSent = 0;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    try {
      const s = typeof d === 'string' ? d
        : new TextDecoder('latin1').decode(d instanceof ArrayBuffer ? new Uint8Array(d) : d);
      if (s.includes('"jsevent"') && s.includes('"attr":"data"')) { window.__dataSent += 1; }
    } catch (e) { /* not ours to break */ }
    return send.call(this, d);
  };
})();
"""

#: The readout as shown: its heading and each cell's (name, value).
READOUT_JS = """() => {
  const r = document.querySelector('.vae-hold-q .vae-q-readout');
  const step = document.querySelector('.vae-q-step .widget-readout');
  if (!r) return null;
  const head = r.cloneNode(true);
  head.querySelectorAll('div').forEach(d => d.remove());
  const items = r.querySelector(':scope > div');
  const cells = items ? Array.from(items.children).map(c => c.innerText.split('\\n').map(s => s.trim())
                                                              .filter(s => s.length)) : [];
  const chain = document.querySelector('.vae-hold-q .vae-q-chain');
  return {heading: head.textContent, cells: cells, step: step ? step.innerText : null,
          chain: chain ? chain.innerText : null};
}"""

NUM = r"([-−]?\d+\.\d+)"
HEADING = re.compile(rf"mean \({NUM}, {NUM}\), σ = \({NUM}, {NUM}\),\s*ρ = {NUM}")


def number(text):
    return float(text.replace("−", "-"))


def cell_key(name):
    """The readout cell ``name`` as a key of :func:`direct` (None: unknown: the test must learn it)."""
    n = name.replace(" ", "")
    for key, test in (("bound_T", lambda s: "T·S" in s), ("neg_elbo", lambda s: "ELBO" in s),
                      ("lam", lambda s: "F(λ" in s), ("F_T", lambda s: s.startswith("exactF")),
                      ("series", lambda s: s.startswith("series")), ("expected_energy", lambda s: "[H]" in s),
                      ("entropy", lambda s: s.startswith("S[q]")), ("kl", lambda s: s.startswith("KL")),
                      ("free_energy", lambda s: "lnp(x)" in s)):
        if test(n):
            return key
    return None


@pytest.fixture(scope="module")
def reference():
    """The fit's iterates and the numbers of any q, computed here (in a thread while the page loads)."""
    out = {}

    def work():
        try:
            from explorer.app.vae.hold_q import HoldQCompute
            from explorer.app.vae.state import T_GRID
            from explorer.vae import VAESession
            session = VAESession()
            compute = HoldQCompute(lambda: session)
            out["compute"], out["fit"] = compute, compute.fit(INDEX, 1.0)
            out["T"] = min(T_GRID, key=lambda t: abs(t - 0.5))
            exact, _bound, _err = session.point(INDEX).exact.free_energy_temperature([out["T"]])
            out["F_T"] = float(exact[0])
        except Exception as exc:  # reported by the test
            out["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield lambda: (thread.join(), out)[1]


def direct(ref, row):
    """Every number of the readout for the fit's iterate ``row`` (mean, σ1, σ2, ρ)."""
    c = ref["compute"]
    mu, s1, s2, rho = row[:2], row[2], row[3], row[4]
    held = c.terms(INDEX, 1.0, mu, s1, s2, rho, LAM, ORDER)
    t = held.bound
    return {"neg_elbo": t.neg_elbo, "expected_energy": t.expected_energy, "entropy": t.entropy,
            "kl": t.kl_posterior, "free_energy": t.free_energy,
            "lam": c.lam_exact(INDEX, 1.0, mu, s1, s2, rho, LAM), "series": held.series[ORDER - 1],
            "bound_T": t.expected_energy - ref["T"] * t.entropy, "F_T": ref["F_T"]}


@pytest.fixture(scope="module")
def vae(server, browser, reference):
    """The VAE explorer at digit 5 (λ, T and order off their defaults: every row of the Hold q readout)."""
    messages, failed = [], []
    page = new_page(browser, server)
    page.add_init_script(COUNT_SENT_JS)
    page.on("console", lambda m: messages.append(console_text(m)) if m.type == "error" else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(server + "voila/render/vae_explorer.ipynb?" + QUERY, wait_until="commit", timeout=240_000)
    page.wait_for_function(WAIT_SOURCE_JS, arg="lam_series", timeout=240_000)
    yield {"page": page, "messages": messages, "failed": failed, "base": server}
    page.close()


def test_fit_q_replay_readout_numbers_belong_to_the_q_shown(vae, artifacts, reference):
    page = vae["page"]
    open_tab(page, "vae", "Hold q", "q_terms", timeout=180_000)
    page.wait_for_function(SOURCES_HAVE_DATA_JS, arg=["q_terms", "q_held_mean"], timeout=180_000)
    ref = reference()                    # the fit computed here (overlapped with the page's start)
    assert "error" not in ref, ref.get("error")
    end = str(len(ref["fit"].path) - 1)
    sent_before = page.evaluate("() => window.__dataSent")
    page.locator("button.vae-q-fit").click()
    page.wait_for_function("() => document.querySelector('.vae-hold-q .vae-q-chain')", timeout=240_000)
    samples, seen, t0 = [], set(), time.monotonic()
    while time.monotonic() - t0 < 120:
        s = page.evaluate(READOUT_JS)
        key = (s["heading"], tuple(map(tuple, s["cells"])))
        if key not in seen:
            seen.add(key)
            samples.append(s)
        if s["step"] == end:             # the Play has reached the last iterate
            break
        time.sleep(0.05)
    # after the end, q stays where the replay left it (no old mean comes back)
    page.wait_for_timeout(3000)
    final = page.evaluate(READOUT_JS)
    page.wait_for_timeout(2000)
    assert page.evaluate(READOUT_JS)["heading"] == final["heading"], "the held q still moves after the replay"
    if (final["heading"], tuple(map(tuple, final["cells"]))) not in seen:
        samples.append(final)
    sent = page.evaluate("() => window.__dataSent") - sent_before
    page.screenshot(path=str(artifacts / "vae_fit_q_replay_end.png"), full_page=True)

    assert sent == 0, f"the page sent {sent} plot data changes to the kernel during a replay nobody touched"
    path = ref["fit"].path
    assert len(samples) >= 5, f"only {len(samples)} distinct readouts sampled during the replay"
    for s in samples:
        m = HEADING.search(s["heading"])
        assert m, s["heading"]
        shown = np.array([number(g) for g in m.groups()])
        # the fit's iterates this heading can name (values as rounded on screen)
        tol = np.array([5e-4, 5e-4, 5e-4, 5e-4, 5e-3]) + 1e-9
        rows = [r for r in path if np.all(np.abs(np.asarray(r) - shown) <= tol)]
        assert rows, f"the readout's q {shown} is none of the fit's iterates"
        cells = {}
        for c in s["cells"]:
            key = cell_key(c[0])
            assert key is not None, f"unknown readout cell {c!r}: teach cell_key its name"
            cells[key] = c[-1]
        assert {"neg_elbo", "expected_energy", "entropy", "kl", "free_energy", "series", "lam", "bound_T",
                "F_T"} <= set(cells), cells
        problems = None
        for r in rows:
            want = direct(ref, r)
            bad = {k: (v, round(want[k], 4)) for k, v in cells.items()
                   if v not in ("…", "—") and abs(number(v) - want[k]) > 1.01e-4}
            if not bad:
                problems = None
                break
            problems = bad
        assert problems is None, f"readout of q {shown} (step {s['step']}): shown vs direct {problems}"
    # the replay ends on the full-covariance optimum, as the chain says
    m = re.search(r"ELBO\(q\*\s*full\) = ([0-9.]+)", final["chain"].replace("\n", ""))
    assert m and any(c[-1] == m.group(1) for c in final["cells"] if cell_key(c[0]) == "neg_elbo")
    assert js_errors(vae["messages"], vae["failed"], vae["base"]) == []


#: The preset dropdown's selected option, as the page shows it.
PRESET_JS = """root => {
  const box = [...document.querySelectorAll(root + ' .widget-dropdown')].find(d => d.innerText.includes('Preset'));
  const sel = box && box.querySelector('select');
  return sel ? [sel.selectedIndex, sel.options[sel.selectedIndex] ? sel.options[sel.selectedIndex].text : null] : null;
}"""


def check_preset_stays_selected(page, root, source, handle):
    """Choose the first preset: it stays selected after its update; a slider step away shows "choose a
    scenario…"; the step back (the preset's State again) shows the preset again."""
    select = page.locator(f"{root} .widget-dropdown", has_text="Preset").locator("select")
    page.evaluate(WATCH_SOURCES_JS, [source])
    before = change_count(page, source)
    select.select_option(index=1)
    wait_for_change(page, source, before, timeout=240_000)
    label = page.evaluate(PRESET_JS, root)[1]
    page.wait_for_timeout(1500)                     # every message of the update has arrived
    assert page.evaluate(PRESET_JS, root) == [1, label], "the preset's name left the dropdown after its update"
    for key, want in (("ArrowRight", 0), ("ArrowLeft", 1)):
        before = change_count(page, source)
        page.locator(handle).focus()
        page.keyboard.press(key)
        wait_for_change(page, source, before, timeout=240_000)
        page.wait_for_function("([r, w]) => { const b = [...document.querySelectorAll(r + ' .widget-dropdown')]"
                               ".find(d => d.innerText.includes('Preset')); return b && "
                               "b.querySelector('select').selectedIndex === w; }", arg=[root, want], timeout=30_000)
    assert page.evaluate(PRESET_JS, root) == [1, label]


def test_vae_preset_stays_selected_while_the_state_is_its(vae):
    check_preset_stays_selected(vae["page"], ".vae-explorer", "lam_cursor", ".vae-lambda .noUi-handle")
    assert js_errors(vae["messages"], vae["failed"], vae["base"]) == []


def test_rbm_preset_stays_selected_while_the_state_is_its(server, browser):
    messages, failed = [], []
    page = new_page(browser, server)
    page.on("console", lambda m: messages.append(console_text(m)) if m.type == "error" else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda r: failed.append(r.url))
    try:
        open_explorer(page, server)
        check_preset_stays_selected(page, ".rbm-explorer", "t_cursor", ".explorer-temperature .noUi-handle")
    finally:
        page.close()
    assert js_errors(messages, failed, server) == []


def test_slow_vae_update_shows_busy_within_0_2_s(vae, artifacts):
    """The decoder scale c: a new posterior and its quadratures (seconds). Last: it leaves c off 1."""
    page = vae["page"]
    wait_until_responsive(page, ".vae-lambda .noUi-handle", "lam_cursor")
    tries = check_slow_update_shows_busy(page, ".vae-explorer", ".vae-scale .noUi-handle", "posterior")
    print("VAE c: (s to 'computing…', s to the new posterior):", tries)
    page.screenshot(path=str(artifacts / "vae_busy_after.png"), full_page=True)
    # a fast update (λ: cached curves) shows nothing: its mark comes and goes before the CSS shows it
    assert page.evaluate(BUSY_WATCH_JS, ".vae-explorer")
    page.locator(".vae-lambda .noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__busy.marks > 0", timeout=60_000)
    page.wait_for_timeout(1500)
    w = page.evaluate("() => window.__busy")
    assert w["visible"] is None or w["hidden"] is not None, w
    assert js_errors(vae["messages"], vae["failed"], vae["base"]) == []
