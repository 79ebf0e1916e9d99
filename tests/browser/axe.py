"""axe-core in the browser tests: inject it into a page and list its violations.

axe-core is installed from npm into ``tests/browser/node_modules`` (``tests/browser/package.json``
and its lock file; ``make test`` runs ``npm ci`` there, never a global install). The page gets
``axe.min.js`` as an inline script (the pages reach no network but the local server), and
:func:`violations` runs the WCAG 2.0/2.1/2.2 A and AA rules on the whole document, shadow roots
included (BokehJS draws in them).
"""

from __future__ import annotations

from pathlib import Path

AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
#: The rules run: WCAG's levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: The impacts a page must not have.
BLOCKING = ("critical", "serious")

RUN_JS = """async tags => {
  const r = await window.axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: JSON.stringify(n.target), html: n.html.slice(0, 160),
                              summary: (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 300)}))}));
}"""


def inject(page):
    """Put axe-core into ``page`` (once)."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(content=AXE_JS.read_text())


def violations(page):
    """axe-core's WCAG A/AA violations on ``page``: ``[{id, impact, help, nodes: [{target, html,
    summary}]}]``."""
    inject(page)
    return page.evaluate(RUN_JS, WCAG_TAGS)


def blocking(found):
    """The critical and serious ones among ``found``, one entry per rule (the nodes of several
    runs on one page merged, each node once)."""
    merged = {}
    for v in found:
        if v["impact"] not in BLOCKING:
            continue
        m = merged.setdefault(v["id"], dict(v, nodes=[]))
        known = {n["target"] for n in m["nodes"]}
        m["nodes"] += [dict(n, where=v.get("where")) for n in v["nodes"] if n["target"] not in known]
    return list(merged.values())


def report(found):
    """One line per violation and node (an assertion message)."""
    lines = []
    for v in found:
        lines.append(f"{v['impact']}: {v['id']} ({v['help']}), {len(v['nodes'])} nodes")
        lines += [f"    {n['target']}" + (f" (view: {n['where']})" if n.get("where") else "")
                  + f": {n['html']}  -- {n['summary']}" for n in v["nodes"][:8]]
    return "\n".join(lines)
