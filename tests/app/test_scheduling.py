"""How worker threads hand their results to the kernel's event loop (explorer/app/core/scheduling.py)."""

from __future__ import annotations

import asyncio
import threading

from explorer.app.core.scheduling import call_now, loop_poster, start_worker


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
