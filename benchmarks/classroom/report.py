"""The classroom benchmark's summary: medians, quantiles, rounds, the printed table and the JSON result.

Part of ``python -m benchmarks.classroom_load`` (see its docstring)."""

from __future__ import annotations

import statistics

from harness.processes import (
    BROWSER_NICENESS,
)


def quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

def rounded(x, nd=3):
    return None if x is None else round(x, nd)

def round_summary(k, t_s, ms, pressed, errors=()):
    """One simultaneous slider round: when (seconds after the pages were opened) and how fast."""
    return {"round": k, "t_s": rounded(t_s, 1), "answered": len(ms), "pressed": pressed,
            "median_ms": rounded(statistics.median(ms) if ms else None, 1),
            "p95_ms": rounded(quantile(ms, 0.95), 1), "max_ms": rounded(max(ms) if ms else None, 1),
            "errors": sorted(set(errors))}

def slider_round_summary(k, t_s, results, rendered):
    """:func:`round_summary` of the browser pages' results (error kinds included)."""
    return round_summary(k, t_s, [results[i]["update_ms"] for i in rendered if "update_ms" in results[i]],
                         len(rendered),
                         [results[i]["error"].split(":")[1].strip() for i in rendered if "error" in results[i]])

def summarise(out, results, args):
    renders = [r["render_s"] for r in results if "render_s" in r]
    htmls = [r["html_s"] for r in results if "html_s" in r]
    out["html_s_median"] = rounded(statistics.median(htmls) if htmls else None)
    out["html_s_max"] = rounded(max(htmls) if htmls else None)
    updates = [r["update_ms"] for r in results if "update_ms" in r]
    sliders = [r for r in results if r.get("slider")]
    out.update({
        "rendered": len(renders),
        "render_s_median": rounded(statistics.median(renders) if renders else None),
        "render_s_max": rounded(max(renders) if renders else None),
        "render_s_min": rounded(min(renders) if renders else None),
        "with_slider": len(sliders),
        "updated": len(updates),
        "update_ms_median": rounded(statistics.median(updates) if updates else None, 1),
        "update_ms_p95": rounded(quantile(updates, 0.95), 1),
        "update_ms_max": rounded(max(updates) if updates else None, 1),
        "errors": [f"session {r['session']}: {r['error']}" for r in results if "error" in r],
        "blocked_offsite_requests": out.get("blocked_offsite_requests", 0),
        "sessions": [{k: rounded(v) if isinstance(v, float) else v for k, v in r.items()} for r in results],
    })
    # how much longer N pages at once take than one page alone (the warm-up page, opened alone
    # just before): 1 would mean the N pages cost nothing extra
    one = out.get("warmup_render_s")
    out["all_rendered_over_one_page"] = (rounded(max(renders) / one, 2)
                                         if renders and len(renders) == args.n and one else None)
    slider_ok = all("update_ms" in r for r in sliders) and (len(sliders) == len(renders) or len(sliders) == 0)
    out["ok"] = (len(renders) == args.n and bool(renders) and max(renders) <= args.render_limit and slider_ok
                 and not out["errors"])
    return out

def print_summary(out, limit):
    print(f"load test: {out['n']} sessions of {out['notebook']} ({out['cpus']} CPUs, "
          f"{out['browsers']} browser process(es){f' at nice {BROWSER_NICENESS}' if out.get('nice_browser') else ''}, "
          f"Voila args {out['voila_args'] or 'none'})")
    if "warmup_render_s" in out:
        print(f"  warm-up page (not counted; one page alone): {out['warmup_render_s']} s")
    print(f"  rendered: {out['rendered']}/{out['n']}; first render median {out['render_s_median']} s, "
          f"max {out['render_s_max']} s (limit {limit:.0f} s); notebook executed (HTML complete) "
          f"median {out['html_s_median']} s, max {out['html_s_max']} s")
    if out.get("all_rendered_over_one_page") is not None:
        print(f"  all {out['n']} rendered in {out['all_rendered_over_one_page']} x the time of one page alone")
    if out.get("with_slider"):
        print(f"  slider keypress -> Bokeh source change: {out['updated']}/{out['with_slider']} answered; "
              f"median {out['update_ms_median']} ms, p95 {out['update_ms_p95']} ms, max {out['update_ms_max']} ms")
        for r in out.get("slider_rounds", [])[1:]:
            print(f"    round {r['round']} at {r['t_s']} s: {r['answered']}/{r['pressed']} answered; "
                  f"median {r['median_ms']} ms, p95 {r['p95_ms']} ms, max {r['max_ms']} ms")
        if out.get("slider_rounds_cut"):
            print(f"    {out['slider_rounds_cut']}")
    else:
        print("  no .widget-slider in this notebook: no update latency")
    if "kernel_rss_mb_median" in out:
        print(f"  memory: {out['kernels']} kernels, {out['kernel_rss_mb_median']} MB RSS per session "
              f"(median; USS {out['kernel_uss_mb_median']} MB, max RSS {out['kernel_rss_mb_max']} MB), "
              f"kernels total {out['kernels_rss_total_mb']} MB, Voila server {out.get('voila_server_rss_mb')} MB; "
              f"CPU per kernel {out.get('kernel_cpu_s_median')} s")
    print(f"  browsers (client side, same machine): {out.get('browser_rss_total_mb')} MB RSS total")
    if "cpu_s_during_render" in out:
        print(f"  CPU seconds while the pages opened: {out['cpu_s_during_render']} ({out['cpus']} cores x "
              f"{out.get('all_rendered_s')} s = {out['cpus'] * (out.get('all_rendered_s') or 0):.0f} CPU-s available)")
    for e in out["errors"][:10]:
        print("  ERROR", e)
    print(f"  result: {'OK' if out['ok'] else 'FAILED'}")
