"""Issue 25: "Error displaying widget: model not found" — widgets the kernel changes while a page loads.

Voila's front end starts once the whole page has arrived, asks the kernel for every widget's state
at once and builds the widget models from that answer, asynchronously. A change the kernel makes on
its own in that time (a worker thread's result) went wrong in the browser:

* a value changed just after the kernel answered was dropped: the page kept the old value;
* a displayed widget closed before the front end drew it showed "Error displaying widget: model not
  found" (console: "Error: widget model not found", the widget manager's ``get_model`` for an id it
  does not hold).

The page (tests/browser/widget_timing/late_changes.ipynb and its module late_changes.py) changes its
widgets from a worker thread through the app's own channel (``loop_poster``) at those two moments.
Since explorer/app/core/frontend.py such changes wait until the page has built its widgets (the
explorer template's script says so), and each page must end showing the change with no widget error.
"""

from __future__ import annotations

import time

import pytest

from harness.voila import ROOT, console_text, new_page, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "voila/render/late_changes.ipynb"
#: Seconds a page has, once its widgets are drawn, to show the thread's change (the kernel's own
#: limit without the page's message, explorer.app.core.frontend.FALLBACK_S, is longer).
SHOWN_WITHIN = 20.0

PAGE_JS = """() => {
  const text = document.body ? document.body.innerText : '';
  const box = document.querySelector('.timing-box');
  const manager = window.jupyterapp && window.jupyterapp.widgetManager;
  return {restored: !!(manager && manager.restoredStatus),
          error: (text.match(/Error displaying widget[^\\n]*/) || [null])[0],
          loading: text.includes('Loading widget...'),
          box: !!box, children: box ? box.querySelectorAll(':scope > .jupyter-widgets').length : 0,
          lateValue: text.includes('late value'), late: !!document.querySelector('.timing-late'),
          beside: !!document.querySelector('.timing-beside')};
}"""

#: (when, kind) -> what the page must end up showing.
EXPECTED = {
    ("state", "value"): lambda s: s["lateValue"],
    ("state", "child"): lambda s: s["late"] and s["children"] == 2,
    ("display", "replace"): lambda s: s["late"] and not s["beside"] and s["children"] == 1,
}


@pytest.fixture(scope="module")
def timing_server(chromium, artifacts):
    with serve(ROOT / "tests" / "browser" / "widget_timing", artifacts / "voila_widget_timing.log") as (base, _):
        yield base


@pytest.mark.parametrize(("when", "kind"), list(EXPECTED), ids=[f"{w}-{k}" for w, k in EXPECTED])
def test_a_threads_change_while_the_page_loads_is_shown_without_widget_errors(timing_server, browser, when, kind):
    messages = []
    page = new_page(browser, timing_server, width=900, height=700)
    page.on("console", lambda m: messages.append(console_text(m)) if m.type == "error" else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    try:
        page.goto(f"{timing_server}{NOTEBOOK}?when={when}&kind={kind}", wait_until="commit", timeout=120_000)
        page.wait_for_function("() => document.querySelector('.timing-box') || "
                               "(document.body && /Error displaying widget/.test(document.body.innerText))",
                               timeout=120_000)
        deadline = time.monotonic() + SHOWN_WITHIN
        while True:
            state = page.evaluate(PAGE_JS)
            # once the widget manager has built the page's widgets (Voila's restore): an error, or
            # the change with every widget drawn (a widget's output may say "Loading widget..." for
            # a moment after the restore before it shows its error)
            done = state["error"] or (EXPECTED[when, kind](state) and not state["loading"])
            if (state["restored"] and done) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        time.sleep(1.0)                 # anything the change brings later (an error) has arrived
        state = page.evaluate(PAGE_JS)
    finally:
        page.close()
    widget_errors = [m for m in messages if "model not found" in m or "Error displaying widget" in m]
    assert state["error"] is None and not state["loading"] and widget_errors == [], (state, messages)
    assert EXPECTED[when, kind](state), f"the thread's change ({kind}, posted at {when}) is not shown: {state}"


#: A browser too busy for its timers while the page starts (a student's laptop drawing the first
#: Bokeh plots), as ipywidgets 8.1's get_model sees it: get_model polls for a missing model with
#: 100 ms timers for 2 s and then gives up without a last look. Here its timers set before the
#: widget manager has restored the kernel's widgets fire only after that, when 3 s have passed on
#: its clock. A widget output that asked for its model before the restore then said "Error
#: displaying widget: model not found" although its model was there. Only get_model's own timers
#: and clock readings are touched (found by the call stack), nothing else of the page.
BUSY_BROWSER_JS = """(() => {
  const inGetModel = () => /get_model/.test(new Error().stack || '');
  let skew = 0, restored = false;
  const held = [], setTimeoutOriginal = window.setTimeout, now = Date.now.bind(Date);
  Date.now = () => (skew && inGetModel()) ? now() + skew : now();
  window.setTimeout = function (callback, delay, ...args) {
    if (restored || delay !== 100 || typeof callback !== 'function' || !inGetModel()) {
      return setTimeoutOriginal.call(window, callback, delay, ...args);
    }
    held.push(() => callback(...args));
    window.__heldTimers = held.length;
    return 0;
  };
  Object.defineProperty(window, 'jupyterapp', {configurable: true, set(app) {
    Object.defineProperty(window, 'jupyterapp', {value: app, writable: true, configurable: true});
    const manager = app.widgetManager;
    const release = () => {
      if (manager) { manager.restored.disconnect(release); }
      restored = true;
      skew = 3000;
      held.splice(0).forEach(run => setTimeoutOriginal.call(window, run, 0));
    };
    window.__noManager = !manager;
    if (!manager || manager.restoredStatus) { release(); } else { manager.restored.connect(release); }
  }});
})()"""

OUTPUTS_JS = """() => {
  const text = document.body ? document.body.innerText : '';
  const manager = window.jupyterapp && window.jupyterapp.widgetManager;
  return {app: !!window.jupyterapp, manager: !!manager, noManagerAtStart: !!window.__noManager,
          restored: !!(manager && manager.restoredStatus), heldTimers: window.__heldTimers || 0,
          heldOutputs: document.querySelectorAll('script[type="application/x-explorer-widget-output+json"]').length,
          error: (text.match(/Error displaying widget[^\\n]*/) || [null])[0],
          loading: text.includes('Loading widget...'),
          shown: ['first', 'second, a box', 'third', 'the last output']
                   .filter(s => text.includes(s)).length,
          slider: !!document.querySelector('.widget-slider')};
}"""


def test_a_busy_browser_draws_every_widget_output_once_the_widgets_are_restored(timing_server, browser):
    messages = []
    page = new_page(browser, timing_server, width=900, height=700)
    page.add_init_script(BUSY_BROWSER_JS)
    page.on("console", lambda m: messages.append(console_text(m)) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    try:
        page.goto(f"{timing_server}voila/render/several_outputs.ipynb", wait_until="commit", timeout=120_000)
        deadline = time.monotonic() + 120
        while True:
            state = page.evaluate(OUTPUTS_JS)
            if state["error"] or (state["restored"] and state["shown"] == 4 and not state["loading"]):
                break
            assert time.monotonic() < deadline, f"the page's widgets are not drawn within 120 s: {state} {messages}"
            time.sleep(0.25)
        time.sleep(1.0)                 # an error that comes later has arrived
        state = page.evaluate(OUTPUTS_JS)
    finally:
        page.close()
    widget_errors = [m for m in messages if "model not found" in m or "Error displaying widget" in m]
    assert state["error"] is None and widget_errors == [], (state, messages)
    assert state["shown"] == 4 and state["slider"] and not state["loading"], state
