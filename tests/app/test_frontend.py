"""Issue 25: what the kernel changes on its own waits until a Voila page has built its widgets
(explorer/app/core/frontend.py). The browser side is tests/browser/test_browser_widget_timing.py."""

from __future__ import annotations

import asyncio
import threading

import pytest

from explorer.app.core import frontend
from explorer.app.core.scheduling import loop_poster, start_worker
from harness.voila import ROOT


@pytest.fixture
def page_gate(monkeypatch):
    """This process as a Voila page's kernel whose page has not built its widgets yet."""
    gate = frontend.WidgetsLoaded(gated=True)
    monkeypatch.setattr(frontend, "_gate", gate)
    return gate


def test_outside_a_voila_page_nothing_waits(monkeypatch):
    monkeypatch.setattr(frontend, "_gate", None)
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    ran = []
    frontend.when_widgets_loaded(lambda: ran.append(1))
    assert ran == [1] and frontend.gate().loaded


def test_a_voila_kernel_is_gated_only_where_it_can_hear_the_page(monkeypatch):
    assert frontend.in_voila_kernel({"VOILA_PREHEAT": "False"}) and not frontend.in_voila_kernel({})
    monkeypatch.setattr(frontend, "_gate", None)
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    assert frontend.gate().loaded              # no kernel here: nothing could ever open it


def test_the_pages_message_on_the_comm_releases_held_work_in_order(monkeypatch):
    monkeypatch.setattr(frontend, "_gate", None)
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setattr(frontend, "_kernel", lambda: object())     # as inside Voila's kernel
    gate = frontend.gate()
    assert not gate.loaded and gate.comm is not None and gate.comm.target_name == frontend.TARGET
    ran = []
    frontend.when_widgets_loaded(lambda: ran.append("first"))
    frontend.when_widgets_loaded(lambda: ran.append("second"))
    assert ran == []
    gate.comm.handle_msg({"content": {"data": {"event": "widgets_loaded"}}})     # the template's message
    assert gate.loaded and ran == ["first", "second"]
    frontend.when_widgets_loaded(lambda: ran.append("later"))
    assert ran == ["first", "second", "later"]


def test_a_worker_threads_result_waits_for_the_page(page_gate):
    seen = []

    async def main():
        post = loop_poster(True)

        def work():
            post(lambda: seen.append(threading.current_thread().name))

        start_worker(work, "test-worker").join(timeout=30)
        await asyncio.sleep(0.2)
        assert seen == []                      # posted while the page builds its widgets: held
        page_gate.set_loaded()
        await asyncio.sleep(0)
        seen.append("after")

    asyncio.run(main())
    assert seen == [threading.current_thread().name, "after"]


def test_without_the_pages_message_held_work_runs_after_the_fallback(page_gate, monkeypatch):
    monkeypatch.setattr(frontend, "FALLBACK_S", 0.2)
    ran = []

    async def main():
        frontend.when_widgets_loaded(lambda: ran.append("held"))
        await asyncio.sleep(0.05)
        assert ran == []
        await asyncio.sleep(0.4)

    asyncio.run(main())
    assert ran == ["held"] and page_gate.loaded


def test_the_explorers_idle_work_fallback_counts_from_the_built_widgets(page_gate, monkeypatch):
    """A slow page (a loaded machine) must not find its kernel busy with idle work while it asks
    for the widgets' state: PAGE_READY_FALLBACK_S runs from the page's message, not from show()."""
    from explorer.app import RBMExplorer
    from explorer.app.core import page

    monkeypatch.setattr(page, "PAGE_READY_FALLBACK_S", 0.2)
    app = RBMExplorer(query="", page_url="", run_ais=False)
    ran = []

    async def open_the_page():
        app.show()
        app.after_page_ready(lambda: ran.append("held work"))
        await asyncio.sleep(0.5)
        assert not app.page_ready and ran == []
        page_gate.set_loaded()
        await asyncio.sleep(0.5)
    asyncio.run(open_the_page())
    assert app.page_ready and ran == ["held work"]


def test_the_template_sends_the_message_the_kernel_listens_for():
    template = (ROOT / "share" / "jupyter" / "voila" / "templates" / "explorer" / "index.html.j2").read_text()
    assert f'var TARGET = "{frontend.TARGET}";' in template
    assert "restoredStatus" in template and "requestCommInfo" in template
