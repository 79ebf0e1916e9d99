"""One layout check for the browser tests: what does the page clip?

``clipping(page, root, scope=..., readouts=...)`` runs :data:`CLIPPING_JS` in the page and returns a
list of human-readable problems (empty: nothing clipped). Three checks:

1. **root fits**: the element ``root`` (e.g. ``.rbm-explorer``) lies horizontally inside its
   *visible area*: the viewport (``documentElement.clientWidth``, scroll bar excluded) intersected
   with the padding box of every ancestor whose ``overflow-x`` is not ``visible`` (in JupyterLab
   that is the notebook panel's scroller; in Voila the page's own scroll container), 1 px tolerance.
2. **nothing scrolls or cuts sideways**: ``scope`` (the closest ancestor of ``root`` matching the
   selector, e.g. JupyterLab's ``.jp-OutputArea``; ``root`` itself by default) and every element in
   it whose ``overflow-x`` is ``hidden``, ``clip``, ``auto`` or ``scroll`` has
   ``scrollWidth <= clientWidth + 1``.
3. **readouts are never clipped**: for every element matching a ``readouts`` selector, it and each
   ancestor up to its widget container (the closest ``.jupyter-widgets`` / ``.widget-html``) have
   ``scrollWidth <= clientWidth + 1`` and ``scrollHeight <= clientHeight + 1``, whatever their
   overflow, and the readout's right edge lies inside its visible area.

Each problem names the element (tag, classes, the explorer part it is in), the measured sizes,
what clips it, and what lies outside the box (innermost elements: table cells and labels whole,
named Bokeh figures) with by how many pixels. Measured on the RBM explorer of commit 99fb0fa
(Voila, 1280 × 720)::

    readout .explorer-readout: div.widget-html-content (in .rbm-explorer): content 148 px high in a
    92 px box (scrollHeight > clientHeight + 1); outside it: "exact F -16.981290" (26 px out), ...
    div.lm-Panel.jupyter-widgets.widget-container.widget-box (in .rbm-explorer): content 964 px wide
    in a 910 px box (overflow-x: auto, scrollWidth > clientWidth + 1); outside it: ...,
    Bokeh Figure "fig_lambda" (x = 835..1385, y = 343..633: 120 px out), ...

Elements inside shadow roots are not scanned (BokehJS's plot frames overflow there by design);
their host elements are, and named Bokeh models are listed when they lie outside a box.
"""

from __future__ import annotations

#: ``opts => [problem, ...]``; ``opts = {root, scope, readouts, fit}`` (CSS selectors; scope and
#: readouts optional; ``fit: false`` skips checks 1 and 2). See the module docstring.
CLIPPING_JS = r"""opts => {
  const TOL = 1;
  const px = Math.round;
  const problems = [];
  const root = document.querySelector(opts.root);
  if (!root) return [`root ${opts.root} not found`];

  const short = s => {
    s = (s || '').replace(/\s+/g, ' ').trim();
    return s.length > 60 ? s.slice(0, 57) + '...' : s;
  };
  const ours = c => /^(rbm-|vae-|explorer-)/.test(c);   // the explorers' own classes come first
  const classes = el => [...el.classList].filter(c => !/^(lm-|p-)Widget$/.test(c))
    .sort((a, b) => ours(b) - ours(a)).slice(0, 4).map(c => '.' + c).join('');
  // the explorer part an element is in: its closest rbm-* / vae-* / explorer-* class
  const part = el => {
    for (let a = el; a; a = a.parentElement) {
      const c = [...a.classList].find(ours);
      if (c) return c;
    }
    return null;
  };
  const describe = el => {
    let d = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes(el);
    if (d === el.tagName.toLowerCase() && el.parentElement) {
      d = el.parentElement.tagName.toLowerCase() + classes(el.parentElement) + ' > ' + d;
    }
    const p = part(el);
    return p && !el.classList.contains(p) ? `${d} (in .${p})` : d;
  };
  // the part of the x axis where el can be seen: the viewport and every clipping ancestor
  const visibleX = el => {
    let left = 0, right = document.documentElement.clientWidth, by = 'the viewport';
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'visible') continue;
      const l = a.getBoundingClientRect().left + a.clientLeft;
      left = Math.max(left, l);
      if (l + a.clientWidth < right) { right = l + a.clientWidth; by = `${describe(a)} (overflow-x: ${ox})`; }
    }
    return {left, right, by};
  };
  const clientBox = el => {
    const r = el.getBoundingClientRect();
    const left = r.left + el.clientLeft, top = r.top + el.clientTop;
    return {left, right: left + el.clientWidth, top, bottom: top + el.clientHeight};
  };
  const sideways = b => ({left: b.left, right: b.right, top: -Infinity, bottom: Infinity});
  const upright = b => ({left: -Infinity, right: Infinity, top: b.top, bottom: b.bottom});
  const beyond = (r, box) => Math.max(r.right - box.right, box.left - r.left, r.bottom - box.bottom, box.top - r.top);
  const outside = (r, box) => r.width > 0 && r.height > 0 && beyond(r, box) > TOL;
  const under = (node, el) => {   // across shadow roots
    for (; node; node = node.getRootNode().host) { if (el.contains(node)) return true; }
    return false;
  };
  // what lies outside box: the innermost elements under el that reach out of it (table cells
  // and labels whole) and the named Bokeh models (drawn in shadow roots) that do
  const lost = (el, box) => {
    const out = [];
    const walk = e => {
      const kids = [...e.children].filter(k => outside(k.getBoundingClientRect(), box));
      if (kids.length) { kids.forEach(walk); return; }
      if (e === el) return;
      const c = e.closest('td, th, li, label, button');
      const cell = c && el.contains(c) ? c : e;
      const text = short(cell.innerText || cell.textContent);
      const item = text && `${JSON.stringify(text)} (${px(beyond(cell.getBoundingClientRect(), box))} px out)`;
      if (item && !out.includes(item)) out.push(item);
    };
    walk(el);
    function* views(v) { yield v; for (const c of (v.child_views || [])) yield* views(c); }
    for (const top of ((window.Bokeh && window.Bokeh.index && window.Bokeh.index.roots) || [])) {
      for (const v of views(top)) {
        const name = v.model && v.model.name;
        if (!name || !v.el || !under(v.el, el)) continue;
        const r = v.el.getBoundingClientRect();
        if (outside(r, box)) {
          out.push(`Bokeh ${v.model.type} "${name}" (x = ${px(r.left)}..${px(r.right)}, `
            + `y = ${px(r.top)}..${px(r.bottom)}: ${px(beyond(r, box))} px out)`);
        }
      }
    }
    if (!out.length) {
      // nothing inside reaches out: the element's own text overflows (e.g. behind an ellipsis)
      const own = el.children.length ? '' : short(el.innerText);
      return own ? `; its text: ${JSON.stringify(own)}` : '';
    }
    return '; outside it: ' + out.slice(0, 6).join(', ') + (out.length > 6 ? ` and ${out.length - 6} more` : '');
  };

  if (opts.fit !== false) {
    // 1. the root fits in its visible area
    const r = root.getBoundingClientRect();
    const v = visibleX(root);
    if (r.right > v.right + TOL || r.left < v.left - TOL) {
      problems.push(`root ${opts.root} (${describe(root)}) spans x = ${px(r.left)}..${px(r.right)} px but its `
        + `visible area is x = ${px(v.left)}..${px(v.right)} px (clipped by ${v.by}; viewport `
        + `${document.documentElement.clientWidth} px): ${px(Math.max(r.right - v.right, v.left - r.left))} px `
        + 'cut off' + lost(root, sideways(v)));
    }
    // 2. nothing in scope scrolls or cuts its content sideways
    const scope = opts.scope ? root.closest(opts.scope) : root;
    if (!scope) {
      problems.push(`scope ${opts.scope} is not an ancestor of ${opts.root}`);
    } else {
      for (const el of [scope, ...scope.querySelectorAll('*')]) {
        const ox = getComputedStyle(el).overflowX;
        if (!['hidden', 'clip', 'auto', 'scroll'].includes(ox) || el.scrollWidth <= el.clientWidth + TOL) continue;
        problems.push(`${describe(el)}: content ${el.scrollWidth} px wide in a ${el.clientWidth} px box `
          + `(overflow-x: ${ox}, scrollWidth > clientWidth + ${TOL})` + lost(el, sideways(clientBox(el))));
      }
    }
  }

  // 3. readouts: never clipped, in either direction
  for (const sel of opts.readouts || []) {
    const found = document.querySelectorAll(sel);
    if (!found.length) { problems.push(`readout ${sel} not found`); continue; }
    for (const ro of found) {
      const container = ro.closest('.jupyter-widgets, .widget-html') || ro;
      for (let el = ro; el; el = el.parentElement) {
        const what = `readout ${sel}: ${describe(el)}: content`;
        if (el.scrollWidth > el.clientWidth + TOL) {
          problems.push(`${what} ${el.scrollWidth} px wide in a ${el.clientWidth} px box `
            + `(scrollWidth > clientWidth + ${TOL})` + lost(el, sideways(clientBox(el))));
        }
        if (el.scrollHeight > el.clientHeight + TOL) {
          problems.push(`${what} ${el.scrollHeight} px high in a ${el.clientHeight} px box `
            + `(scrollHeight > clientHeight + ${TOL})` + lost(el, upright(clientBox(el))));
        }
        if (el === container) break;
      }
      const r = ro.getBoundingClientRect();
      const v = visibleX(ro);
      if (r.right > v.right + TOL) {
        problems.push(`readout ${sel}: right edge at x = ${px(r.right)} px is outside its visible area `
          + `(ends at x = ${px(v.right)} px, clipped by ${v.by})` + lost(ro, sideways(v)));
      }
    }
  }
  return problems;
}"""


def clipping(page, root, scope=None, readouts=(), fit=True):
    """What ``page`` clips around ``root`` (CSS selector): a list of problems, empty when none.

    ``scope``: selector of the ancestor of ``root`` whose descendants must not scroll or cut
    sideways (default: ``root`` itself); ``readouts``: selectors of elements that must be shown
    whole; ``fit=False`` checks only the readouts. See :data:`CLIPPING_JS`.
    """
    return page.evaluate(CLIPPING_JS, {"root": root, "scope": scope, "readouts": list(readouts), "fit": fit})


def report(problems):
    """An assertion message: one problem per line."""
    return "clipped:\n  " + "\n  ".join(problems)


#: True once BokehJS has finished laying out and painting every root and ``root`` (a CSS
#: selector) kept the same box since the previous poll (Playwright polls once per animation
#: frame): the layout is settled and can be measured.
LAYOUT_SETTLED_JS = r"""sel => {
  const el = document.querySelector(sel);
  if (!el || !window.Bokeh || !window.Bokeh.documents || !window.Bokeh.documents.length) return false;
  if (!window.Bokeh.documents.every(d => d.is_idle !== false)) return false;
  for (const v of window.Bokeh.index.roots) {
    if (typeof v.has_finished === 'function' && !v.has_finished()) return false;
  }
  const r = el.getBoundingClientRect();
  const box = [r.left, r.top, r.width, r.height, document.documentElement.clientWidth].join();
  const same = window.__layoutBox === box;
  window.__layoutBox = box;
  return same && r.width > 0;
}"""


def wait_for_layout(page, root, timeout=60_000):
    """Wait until BokehJS is idle and ``root`` has stopped moving (see :data:`LAYOUT_SETTLED_JS`)."""
    page.evaluate("() => { window.__layoutBox = null; }")
    page.wait_for_function(LAYOUT_SETTLED_JS, arg=root, polling="raf", timeout=timeout)


def assert_fits_at_1280x720(page, root, show, screenshot, readouts=(), restore=(1500, 2700)):
    """At 1280 × 720, with ``show`` (a selector) scrolled into view: a screenshot to ``screenshot``,
    nothing of ``root`` cut off sideways and the ``readouts`` whole; then the viewport ``restore``."""
    page.set_viewport_size({"width": 1280, "height": 720})
    try:
        wait_for_layout(page, root)
        page.locator(show).first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot))
        problems = clipping(page, root)
        if readouts:
            problems += clipping(page, root, readouts=list(readouts), fit=False)
        assert problems == [], report(problems)
    finally:
        page.set_viewport_size({"width": restore[0], "height": restore[1]})
