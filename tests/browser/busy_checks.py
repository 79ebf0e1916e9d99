"""Issue 25: a slow update shows that it is working within 0.2 s (the shell's busy line,
explorer/app/core/updater.py: StateUpdater.set_busy; its CSS in explorer/app/core/page.py).

Shared by the Voila test (test_browser_live_parts.py) and the JupyterLab one (test_browser_jupyterlab.py);
the page-side watch, BUSY_WATCH_JS, is in harness/voila.py (benchmarks/vae_busy_during_load.py uses it too).
"""

from __future__ import annotations

from harness.voila import BUSY_WATCH_JS, WATCH_SOURCES_JS, change_count, wait_for_change

#: What the student must see within this time of the key press.
BUSY_WITHIN_S = 0.2


def press_and_watch(page, root, handle, source, timeout=300_000):
    """Press → on the slider ``handle`` (an update that computes for a while) and check that the page
    shows "computing…" before the plot ``source`` changes and hides it once the update is done.
    Returns the seconds from the key press to "computing…" and to the new data."""
    # the page is not busy now (an earlier update may still be finishing: its mark would count)
    page.wait_for_function("r => !document.querySelector(r + ' .explorer-busy-line').classList"
                           ".contains('explorer-busy')", arg=root, timeout=300_000)
    page.wait_for_timeout(300)
    assert page.evaluate(BUSY_WATCH_JS, root), f"no busy line under {root}"
    page.evaluate(WATCH_SOURCES_JS, [source])
    before = change_count(page, source)
    page.locator(handle).focus()
    page.keyboard.press("ArrowRight")
    wait_for_change(page, source, before, timeout=timeout)
    page.wait_for_function("() => window.__busy.hidden !== null", timeout=60_000)
    w = page.evaluate("() => window.__busy")
    changed = page.evaluate("n => window.__changes[n][window.__changes[n].length - 1]", source)
    assert w["visible"] is not None, f"the busy line never showed: {w}"
    to_busy, to_data = (w["visible"] - w["key"]) / 1000, (changed - w["key"]) / 1000
    assert to_data > to_busy, f"the new data ({to_data:.3f} s) came before 'computing…' ({to_busy:.3f} s)"
    assert w["hidden"] >= w["visible"]
    return to_busy, to_data


def wait_until_responsive(page, handle, source, within_s=0.5, timeout_s=120):
    """Wait until a cheap update (→ on ``handle``, which changes ``source``) comes back within
    ``within_s``: right after a page shows, its kernel is still loading (torch, in a thread) and every
    answer waits for it. Moves the slider back and forth (ends where it started)."""
    import time

    t_end = time.monotonic() + timeout_s
    key = "ArrowRight"
    while True:
        page.evaluate(WATCH_SOURCES_JS, [source])
        before = change_count(page, source)
        page.locator(handle).focus()
        t0 = time.monotonic()
        page.keyboard.press(key)
        wait_for_change(page, source, before, timeout=120_000)
        if time.monotonic() - t0 <= within_s and key == "ArrowLeft":
            return
        key = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
        if time.monotonic() > t_end and key == "ArrowRight":
            return


def check_slow_update_shows_busy(page, root, handle, source, attempts=3):
    """:func:`press_and_watch` until "computing…" showed within :data:`BUSY_WITHIN_S` (at most
    ``attempts`` presses, each a new slow update: a shared, oversubscribed machine can delay one
    kernel answer). Returns every attempt's (to busy, to data)."""
    tries = []
    for _ in range(attempts):
        tries.append(press_and_watch(page, root, handle, source))
        if tries[-1][0] <= BUSY_WITHIN_S:
            return tries
    raise AssertionError(f"'computing…' showed later than {BUSY_WITHIN_S} s after the key press in every try "
                         f"(seconds to busy, to data): {tries}")
