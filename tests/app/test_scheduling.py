"""How worker threads hand their results to the kernel's event loop (explorer/app/core/scheduling.py)."""

from __future__ import annotations

import asyncio
import threading

from explorer.app.core.scheduling import call_now, loop_poster, start_worker
from explorer.views.html import csv_html


def test_without_a_running_loop_work_is_posted_at_once_and_runs_here():
    assert loop_poster(True) is call_now and loop_poster(False) is call_now
    ran = []
    assert start_worker(lambda: ran.append(threading.current_thread().name), "w", background=False) is None
    assert ran == [threading.current_thread().name]


def test_a_worker_thread_posts_onto_the_loop_thread():
    seen = {}

    async def main():
        post = loop_poster(True)
        assert post is not call_now
        done = asyncio.Event()

        def work():
            seen["worker"] = threading.current_thread().name
            post(lambda: (seen.__setitem__("posted", threading.current_thread().name), done.set()))

        thread = start_worker(work, "test-worker")
        await asyncio.wait_for(done.wait(), timeout=30)
        thread.join(timeout=30)
        seen["loop"] = threading.current_thread().name
        assert loop_poster(False) is call_now        # not in the background: at once, even with a loop

    asyncio.run(main())
    assert seen["worker"] == "test-worker" and seen["posted"] == seen["loop"] != "test-worker"


def _points_cached(app):
    _token, todo, _work = app.prefetch_plan(app.state)
    return sum((app.compute.point_key(app.state.copy(T=float(t))) in app.compute._points) for t in todo), len(todo)


def test_idle_work_waits_until_the_page_has_drawn_its_plots():
    """While a page opens, the kernel answers it and computes nothing else: the prefetch (and
    what after_page_ready holds) starts on BokehJS's document_ready of the first panel."""
    from bokeh.events import DocumentReady

    from explorer.app import RBMExplorer

    app = RBMExplorer(query="", page_url="", run_ais=False)
    ran = []

    async def open_the_page():
        app.show()
        app.after_page_ready(lambda: ran.append("held work"))
        await asyncio.sleep(0.3)
        assert not app.page_ready and ran == [] and _points_cached(app)[0] == 0
        app.panels["free_energy"].view.layout.document.callbacks.trigger_event(DocumentReady())
        for _ in range(100):                       # the prefetch: one temperature per loop turn
            await asyncio.sleep(0.05)
            if _points_cached(app)[0] == _points_cached(app)[1]:
                break
    asyncio.run(open_the_page())
    assert app.page_ready and ran == ["held work"]
    done, todo = _points_cached(app)
    assert todo > 0 and done == todo
    app.after_page_ready(lambda: ran.append("now"))  # once ready: at once
    assert ran == ["held work", "now"]


def test_idle_work_starts_anyway_when_the_page_never_says_it_is_ready(monkeypatch):
    from explorer.app import RBMExplorer
    from explorer.app.core import page

    monkeypatch.setattr(page, "PAGE_READY_FALLBACK_S", 0.2)
    app = RBMExplorer(query="", page_url="", run_ais=False)
    ran = []

    async def open_the_page():
        app.show()
        app.after_page_ready(lambda: ran.append("held work"))
        await asyncio.sleep(0.6)
    asyncio.run(open_the_page())
    assert app.page_ready and ran == ["held work"]


def test_the_csv_link_is_not_in_the_first_widget_state_and_follows_the_first_plots():
    """The CSV link's data URL (a fifth of the page's first widget state) is left out of what the
    browser fetches before it draws anything; it replaces "preparing…" once the plots are drawn,
    with the curves then shown, and from then on follows every change at once."""
    from bokeh.events import DocumentReady

    from explorer.app import RBMExplorer

    app = RBMExplorer(query="", page_url="", run_ais=False)
    assert "data:text/csv;base64," in app.w_csv.value        # plain Python: nothing held

    async def open_the_page():
        app.show()
        assert "data:text/csv" not in app.w_csv.value and "preparing" in app.w_csv.value
        app.update_state(lam=0.25)                          # a change of the curves while the page opens: held
        app.flush()
        assert "data:text/csv" not in app.w_csv.value
        app.panels["free_energy"].view.layout.document.callbacks.trigger_event(DocumentReady())
        await asyncio.sleep(0.1)

    asyncio.run(open_the_page())
    assert app.page_ready and app.w_csv.value.count("data:text/csv;base64,") == 1
    assert app.w_csv.value == csv_html("explorer", app.csv_filename(), app.csv())
    before = app.w_csv.value
    app.update_state(lam=0.5)
    app.flush()
    assert app.w_csv.value != before and app.w_csv.value == csv_html("explorer", app.csv_filename(), app.csv())
