"""N students' pages opened together in headless Chromium: first render, then a slider pressed on every page at once.

Part of ``python -m benchmarks.classroom_load`` (see its docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
import urllib.parse
import urllib.request

from benchmarks.classroom.report import rounded, slider_round_summary, summarise
from harness.processes import (
    CLEANUP,
    PARTIAL,
    browser_rss_mb,
    cpu_by_role,
    kernel_processes,
    memory_of,
    renice_browsers,
)
from harness.voila import CHROMIUM_ARGS, READY_JS, chromium_path

# headless pages must not be throttled as "background" tabs while 30 of them load at once
EXTRA_CHROMIUM_ARGS = ["--disable-renderer-backgrounding", "--disable-background-timer-throttling",
                       "--disable-backgrounding-occluded-windows"]

#: Connects a listener to every ColumnDataSource; window.__lt_changes collects change times.
WATCH_JS = """() => {
  window.__lt_changes = window.__lt_changes || [];
  window.__lt_watched = window.__lt_watched || new Set();
  for (const d of window.Bokeh.documents) {
    for (const m of d.all_models) {
      if (String(m.type).endsWith('ColumnDataSource') && !window.__lt_watched.has(m)) {
        window.__lt_watched.add(m);
        m.change.connect(() => window.__lt_changes.push(performance.now()));
      }
    }
  }
  return window.__lt_watched.size;
}"""

SLIDER = ".widget-slider .noUi-handle"

async def one_session(i, page, url, t_open, deadline, render_limit, results):
    loop = asyncio.get_running_loop()
    r = results[i]
    # "load": the streamed HTML is complete, i.e. Voila has executed the notebook in the kernel
    page.once("load", lambda *_: r.setdefault("html_s", loop.time() - t_open))
    try:
        await page.goto(url, wait_until="commit", timeout=max(1.0, deadline - loop.time()) * 1000)
        r["first_byte_s"] = loop.time() - t_open
        await page.wait_for_function(READY_JS, polling=250,
                                     timeout=max(1.0, deadline - loop.time()) * 1000)
        r["render_s"] = loop.time() - t_open
    except Exception as exc:  # timeout or a closed page: recorded, the others go on
        r["error"] = f"render: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"

async def slider_move(i, page, deadline, results, key="ArrowRight"):
    loop = asyncio.get_running_loop()
    r = results[i]
    try:
        # widgets may appear shortly after the plot: allow a few seconds for a slider to show up
        try:
            await page.wait_for_selector(SLIDER, timeout=min(5000, max(1.0, deadline - loop.time()) * 1000))
        except Exception:
            r["slider"] = False
            return
        r["slider"] = True
        r["sources"] = await page.evaluate(WATCH_JS)
        handle = page.locator(SLIDER).first
        await handle.focus()
        t_press = await page.evaluate("() => performance.now()")
        await page.keyboard.press(key)
        await page.wait_for_function("t => (window.__lt_changes || []).some(x => x > t)", arg=t_press,
                                     polling=100, timeout=max(1.0, deadline - loop.time()) * 1000)
        first = await page.evaluate("t => Math.min(...window.__lt_changes.filter(x => x > t))", t_press)
        r["update_ms"] = first - t_press
    except Exception as exc:
        r["error"] = f"update: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"

async def run(args, base, voila_pid, t_start):
    from playwright.async_api import async_playwright

    loop = asyncio.get_running_loop()
    # every phase ends by this instant; the browsers' close and the report need the last seconds
    hard_end = loop.time() + (args.timeout - (time.monotonic() - t_start)) - 5
    url = urllib.parse.urljoin(base, "voila/render/" + urllib.parse.quote(args.notebook.name))
    if args.query:
        url += "?" + args.query
    out = {"n": args.n, "notebook": args.notebook.name, "url": url, "browsers": args.browsers,
           "voila_args": args.voila_arg, "preheat": args.preheat, "cpus": os.cpu_count()}
    async with async_playwright() as p:
        for _ in range(args.browsers):
            CLEANUP.browsers.append(await p.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS + EXTRA_CHROMIUM_ARGS))
        if args.nice_browser:
            renice_browsers()
        out["nice_browser"] = args.nice_browser
        blocked = []

        async def make_page(i):
            ctx = await CLEANUP.browsers[i % args.browsers].new_context(viewport={"width": 1280, "height": 900})
            page = await ctx.new_page()
            # loopback only: anything off the local server (the template's CDN fonts) is refused
            async def refuse(route):
                blocked.append(route.request.url)
                await route.abort()

            await page.route(lambda u: not u.startswith(base), refuse)
            return page

        if args.warmup:
            # one page first, not counted: disk caches and Voila's templates warm, as when the
            # teacher checks the link before the class opens it
            wpage = await make_page(0)
            t0 = loop.time()
            warm = [{}]
            await one_session(0, wpage, url, t0, min(hard_end, t0 + 60), args.render_limit, warm)
            out["warmup_render_s"] = rounded(warm[0].get("render_s"))
            await wpage.context.close()
            await asyncio.sleep(1.0)
        # kernels that exist now are the warm-up page's and, with preheating, the pool that the
        # sessions are about to take: all of them are counted below (one per session at most + 1)

        pages = [await make_page(i) for i in range(args.n)]
        if args.nice_browser:
            renice_browsers()
        results = [{"session": i} for i in range(args.n)]
        PARTIAL.update(out=out, results=results)
        cpu0 = cpu_by_role(voila_pid)
        t_open = loop.time()
        load_avg0 = os.getloadavg()
        # pages get up to twice the render limit (so a miss is measured, not just flagged), and
        # at least 60 s stay for the slider moves and the memory reading
        render_end = min(t_open + 2 * args.render_limit, hard_end - 20)
        await asyncio.gather(*(one_session(i, pg, url, t_open, render_end, args.render_limit, results)
                               for i, pg in enumerate(pages)))
        out["all_rendered_s"] = rounded(max((r["render_s"] for r in results if "render_s" in r), default=None))
        # where the CPU went while the pages opened (kernels that ended meanwhile are not counted)
        cpu1 = cpu_by_role(voila_pid)
        out["cpu_s_during_render"] = {k: round(cpu1[k] - cpu0.get(k, 0.0), 1) for k in cpu1}
        out["load_avg_1min_after_render"] = round(os.getloadavg()[0], 2)
        # everyone moves a slider at once
        rendered = [i for i, r in enumerate(results) if "render_s" in r]
        out["timed_out"] = len(rendered_now(results)) < args.n and loop.time() >= render_end - 1 \
            and render_end < t_open + 2 * args.render_limit
        slider_end = min(loop.time() + 60, hard_end - 5)
        t_round = loop.time()
        await asyncio.gather(*(slider_move(i, pages[i], slider_end, results) for i in rendered))
        # further rounds: everyone presses again every --slider-every seconds (left and right in
        # turn), so that a lesson's later minutes show, e.g. while the pool refills
        out["slider_rounds"] = [slider_round_summary(0, t_round - t_open, results, rendered)]
        for k in range(1, args.slider_rounds):
            t_round += args.slider_every
            if t_round + 30 > hard_end - 5:
                out["slider_rounds_cut"] = f"stopped after {k} round(s): the --timeout leaves no room"
                break
            await asyncio.sleep(max(0.0, t_round - loop.time()))
            round_results = [{"session": i} for i in range(args.n)]
            end = min(loop.time() + 30, hard_end - 5)
            await asyncio.gather(*(slider_move(i, pages[i], end, round_results,
                                               "ArrowLeft" if k % 2 else "ArrowRight") for i in rendered))
            out["slider_rounds"].append(slider_round_summary(k, t_round - t_open, round_results, rendered))
        await asyncio.sleep(0.5)
        if voila_pid:
            kernels = kernel_processes(voila_pid)
            mem = memory_of(kernels)
            import psutil
            with contextlib.suppress(psutil.Error):
                vm = psutil.Process(voila_pid).memory_full_info()
                out["voila_server_rss_mb"] = round(vm.rss / 2**20, 1)
            out["kernels"] = len(mem)
            if mem:
                rss = [m["rss_mb"] for m in mem]
                uss = [m["uss_mb"] for m in mem]
                out["kernel_rss_mb_median"] = round(statistics.median(rss), 1)
                out["kernel_rss_mb_max"] = round(max(rss), 1)
                out["kernel_uss_mb_median"] = round(statistics.median(uss), 1)
                out["kernels_rss_total_mb"] = round(sum(rss), 1)
                out["kernel_cpu_s_median"] = round(statistics.median([m["cpu_s"] for m in mem]), 2)
        out["browser_rss_total_mb"] = round(browser_rss_mb(), 1)
        out["blocked_offsite_requests"] = len(blocked)
        out["load_avg_before"] = round(load_avg0[0], 2)
        for b in CLEANUP.browsers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(b.close(), 20)
        CLEANUP.browsers.clear()

    return summarise(out, results, args)

def rendered_now(results):
    return [r for r in results if "render_s" in r]
