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


#: ``() => {legends, overlaps}``: every visible Bokeh legend in the page with its box, and each
#: legend box that covers a drawn glyph, computed from BokehJS's own views: the legend's element
#: (Bokeh 3.9 draws legends as DOM) against the glyphs' screen coordinates (``sx``/``sy`` of
#: markers, lines and text, the segments between a line's points, ``sxs``/``sys`` of multi-lines,
#: the boxes of bars, quads, images and ellipses, the vertical extent of areas, spans across the
#: frame), each clipped to the plot's frame (what lies outside the frame is not drawn).
LEGEND_OVERLAP_JS = r"""() => {
  const out = {legends: [], overlaps: []};
  function* walk(v) {
    yield v;
    const kids = typeof v.children_views === 'function' ? v.children_views() : (v.child_views || []);
    for (const c of kids) yield* walk(c);
  }
  const seen = new Set();
  const plots = [];
  for (const root of ((window.Bokeh && window.Bokeh.index && window.Bokeh.index.roots) || [])) {
    for (const v of walk(root)) {
      if (seen.has(v)) continue;
      seen.add(v);
      if (v.frame && v.renderer_views && v.canvas_view) plots.push(v);
    }
  }
  const arr = a => (a == null ? null : Array.from(a));
  // boxes that share more than an edge (half a pixel of tolerance)
  const inter = (a, b) => Math.min(a.r, b.r) - Math.max(a.l, b.l) > 0.5
    && Math.min(a.b, b.b) - Math.max(a.t, b.t) > 0.5;
  const clip = (a, b) => ({l: Math.max(a.l, b.l), r: Math.min(a.r, b.r), t: Math.max(a.t, b.t), b: Math.min(a.b, b.b)});
  const inside = (x, y, b) => x >= b.l && x <= b.r && y >= b.t && y <= b.b;
  // does segment (x0,y0)-(x1,y1) cross box b? (sampled: 1 px steps are enough for a legend box)
  const crosses = (x0, y0, x1, y1, b) => {
    const n = Math.min(2000, Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0))));
    for (let k = 0; k <= n; k++) {
      const x = x0 + (x1 - x0) * k / n, y = y0 + (y1 - y0) * k / n;
      if (inside(x, y, b)) return true;
    }
    return false;
  };
  for (const pv of plots) {
    const canvas = pv.canvas_view.el.getBoundingClientRect();
    const fb = pv.frame.bbox;
    const frame = {l: fb.left, r: fb.right, t: fb.top, b: fb.bottom};
    const rvs = pv.renderer_views;
    const views = rvs instanceof Map ? [...rvs.values()] : [...rvs];
    const legends = views.filter(v => v.model && v.model.type === 'Legend' && v.model.visible);
    if (!legends.length) continue;
    const glyphs = views.filter(v => v.glyph && v.model.visible && v.model.type === 'GlyphRenderer');
    for (const lv of legends) {
      const items = lv.model.items.filter(it => it.visible);
      const r = lv.el.getBoundingClientRect();
      const box = {l: r.left - canvas.left, r: r.right - canvas.left, t: r.top - canvas.top, b: r.bottom - canvas.top};
      const name = pv.model.name;
      const label = it => String(it.label && (it.label.value ?? it.label.field ?? it.label));
      out.legends.push({figure: name, items: items.map(label), box, frame, inside_frame: inter(box, frame)});
      if (!items.length || r.width === 0 || r.height === 0 || !inter(box, frame)) continue;
      const b = clip(box, frame);
      for (const gv of glyphs) {
        const g = gv.glyph, gname = gv.model.name || gv.model.glyph.type;
        const hit = (() => {
          const sx = arr(g.sx), sy = arr(g.sy);
          const type = gv.model.glyph.type;
          if (type === 'HSpan') return (sy || []).some(y => y >= b.t && y <= b.b);
          if (type === 'VSpan') return (sx || []).some(x => x >= b.l && x <= b.r);
          if (g.sxs && g.sys) {
            for (let i = 0; i < g.sxs.length; i++) {
              const xs = arr(g.sxs.get(i)), ys = arr(g.sys.get(i));
              for (let k = 0; k < xs.length; k++) {
                if (inside(xs[k], ys[k], b)) return true;
                if (k && crosses(xs[k - 1], ys[k - 1], xs[k], ys[k], b)) return true;
              }
            }
            return false;
          }
          if (g.sleft && g.sright && g.stop && g.sbottom) {
            const L = arr(g.sleft), R = arr(g.sright), T = arr(g.stop), B = arr(g.sbottom);
            return L.some((_, i) => inter({l: Math.min(L[i], R[i]), r: Math.max(L[i], R[i]),
                                          t: Math.min(T[i], B[i]), b: Math.max(T[i], B[i])}, b));
          }
          if (sx && g.sdw && g.sdh) {
            const W = arr(g.sdw), H = arr(g.sdh);
            return sx.some((x, i) => inter({l: x - W[i], r: x + W[i], t: sy[i] - H[i], b: sy[i] + H[i]}, b));
          }
          if (sx && g.sy1 && g.sy2) {
            const Y1 = arr(g.sy1), Y2 = arr(g.sy2);
            return sx.some((x, i) => crosses(x, Y1[i], x, Y2[i], b)
                           || (i && crosses(sx[i - 1], Y2[i - 1], x, Y2[i], b)));
          }
          if (sx && sy && g.swidth && g.sheight) {
            const W = arr(g.swidth), H = arr(g.sheight);
            return sx.some((x, i) => inter({l: x - W[i] / 2, r: x + W[i] / 2,
                                            t: sy[i] - H[i] / 2, b: sy[i] + H[i] / 2}, b));
          }
          if (sx && sy) {
            if (sx.some((x, i) => inside(x, sy[i], b))) return true;
            if (type === 'Line') return sx.some((x, i) => i && crosses(sx[i - 1], sy[i - 1], x, sy[i], b));
          }
          return false;
        })();
        if (hit) out.overlaps.push(`legend of "${name}" (x = ${Math.round(box.l)}..${Math.round(box.r)}, y = `
          + `${Math.round(box.t)}..${Math.round(box.b)} in its canvas) covers glyph "${gname}"`);
      }
    }
  }
  return out;
}"""


def legend_overlaps(page):
    """``(legends, overlaps)``: the page's visible legends (figure, entries, box, frame) and the
    legends covering a drawn glyph (see :data:`LEGEND_OVERLAP_JS`; empty: none)."""
    res = page.evaluate(LEGEND_OVERLAP_JS)
    return res["legends"], res["overlaps"]


#: ``([figure, [[label, source, column, x_column], ...], cursor]) => {label: screen y}``: where the
#: value of each named source's ``column`` at the cursor's x (the row whose ``x_column`` is nearest
#: to the first x of source ``cursor``) is drawn in figure ``figure``, in page pixels, through
#: the figure's own y scale; ``column`` may be ``name[i]`` for row ``i`` of a ragged column
#: (multi-line: ``diff_ys[0]`` with x in ``diff_xs[0]``). A label with the value 0 instead of a
#: source names the zero line.
SCREEN_Y_AT_CURSOR_JS = r"""([figure, curves, cursor]) => {
  function* walk(v) {
    yield v;
    const kids = typeof v.children_views === 'function' ? v.children_views() : (v.child_views || []);
    for (const c of kids) yield* walk(c);
  }
  let pv = null;
  for (const root of window.Bokeh.index.roots) {
    for (const v of walk(root)) { if (v.model && v.model.name === figure && v.frame) { pv = v; break; } }
    if (pv) break;
  }
  if (!pv) return {error: `figure ${figure} not found`};
  const src = name => {
    for (const d of window.Bokeh.documents) { const s = d.get_model_by_name(name); if (s) return s; }
    return null;
  };
  const col = (s, c) => {
    const m = /^(\w+)\[(\d+)\]$/.exec(c);
    return m ? Array.from(s.data[m[1]][Number(m[2])]) : Array.from(s.data[c]);
  };
  const x0 = Array.from(src(cursor).data.x)[0];
  const top = pv.canvas_view.el.getBoundingClientRect().top;
  const out = {x: x0, frame: [pv.frame.bbox.top + top, pv.frame.bbox.bottom + top]};
  for (const [label, name, c, xc] of curves) {
    if (name === 0) { out[label] = {value: 0, y: top + pv.frame.y_scale.compute(0)}; continue; }
    const s = src(name);
    const xs = col(s, xc), ys = col(s, c);
    let best = 0;
    xs.forEach((x, i) => { if (Math.abs(x - x0) < Math.abs(xs[best] - x0)) best = i; });
    out[label] = {x: xs[best], value: ys[best], y: top + pv.frame.y_scale.compute(ys[best])};
  }
  return out;
}"""


def screen_y_at_cursor(page, figure, curves, cursor):
    """Page y (px) of each curve at the cursor: ``curves`` = [(label, source, column, x column)]
    (source 0: the zero line); see :data:`SCREEN_Y_AT_CURSOR_JS`."""
    return page.evaluate(SCREEN_Y_AT_CURSOR_JS, [figure, [list(c) for c in curves], cursor])


def too_close(positions, labels, minimum=10.0):
    """The pairs of ``labels`` whose screen y in ``positions`` are less than ``minimum`` px apart."""
    bad = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            gap = abs(positions[a]["y"] - positions[b]["y"])
            if gap < minimum:
                bad.append(f"{a} and {b}: {gap:.1f} px apart")
    return bad


#: ``() => [problem, ...]``: every piece of text and every Bokeh toolbar, plot and Div on the page
#: (shadow roots included: BokehJS draws there) that is cut off sideways: a text node's line boxes
#: (``Range.getClientRects``) or a Bokeh view's element reaching out of the part of the x axis
#: where it can be seen (the viewport, ``documentElement.clientWidth``, intersected with the
#: padding box of every ancestor in the composed tree whose ``overflow-x`` is not ``visible``),
#: 1.5 px tolerance. Hidden things (a closed tab, ``display: none``, ``visibility: hidden``) have
#: no boxes and are skipped. Each problem names the text or view, what clips it and by how much.
CLIPPED_TEXT_JS = r"""() => {
  const TOL = 1.5;
  const px = Math.round;
  const vw = document.documentElement.clientWidth;
  const problems = [];
  const up = n => n.parentElement || (n.parentNode && n.parentNode.host) || null;   // composed tree
  const short = s => {
    s = (s || '').replace(/\s+/g, ' ').trim();
    return s.length > 50 ? s.slice(0, 47) + '...' : s;
  };
  const describe = el => {
    const cls = [...(el.classList || [])].filter(c => !/^(lm-|p-)Widget$/.test(c)).slice(0, 3)
      .map(c => '.' + c).join('');
    let part = '';
    for (let a = el; a; a = up(a)) {
      const c = [...(a.classList || [])].find(c => /^(rbm-|vae-|explorer-|lesson-)/.test(c));
      if (c) { part = c === [...(el.classList || [])].find(x => x === c) ? '' : ` (in .${c})`; break; }
    }
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + cls + part;
  };
  const cache = new Map();
  const visible = el => {           // {left, right, by}: where el's content can be seen
    if (!el) return {left: 0, right: vw, by: 'the viewport'};
    if (cache.has(el)) return cache.get(el);
    const base = visible(up(el));
    let res = base;
    if (el !== document.documentElement && el !== document.body) {
      const cs = getComputedStyle(el);
      // overflow does not apply to inline boxes (a plain <label> of ipywidgets' ToggleButtons)
      if (cs.overflowX !== 'visible' && !['contents', 'none', 'inline'].includes(cs.display)) {
        // clientWidth is in the element's own CSS pixels: scaled by a CSS zoom (the projector's controls)
        const b = el.getBoundingClientRect(), z = el.offsetWidth > 0 ? b.width / el.offsetWidth : 1;
        const l = b.left + el.clientLeft * z, r = l + el.clientWidth * z;
        const what = `${describe(el)} (overflow-x: ${cs.overflowX}, ${px(el.clientWidth * z)} px wide)`;
        res = {left: Math.max(base.left, l), right: Math.min(base.right, r), by: r < base.right - 0.5 ? what : base.by};
      }
    }
    cache.set(el, res);
    return res;
  };
  const check = (what, rect, el) => {
    if (rect.width <= 0 || rect.height <= 0) return false;
    const v = visible(el);
    const out = Math.max(rect.right - v.right, v.left - rect.left);
    if (out > TOL) {
      problems.push(`${what} at x = ${px(rect.left)}..${px(rect.right)} px is cut off by ${v.by} `
        + `(visible x = ${px(v.left)}..${px(v.right)}): ${px(out)} px out`);
      return true;
    }
    return false;
  };
  const SKIP = new Set(['SCRIPT', 'STYLE', 'TITLE', 'NOSCRIPT', 'TEMPLATE', 'OPTION', 'HEAD']);
  const range = document.createRange();
  const walk = node => {
    for (const n of node.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) {
        if (!n.data.trim()) continue;
        range.selectNodeContents(n);
        for (const r of range.getClientRects()) {
          if (check(`text ${JSON.stringify(short(n.data))} in ${describe(n.parentElement || n.parentNode.host)}`, r,
                    n.parentElement || n.parentNode.host)) break;
        }
      } else if (n.nodeType === Node.ELEMENT_NODE && !SKIP.has(n.tagName)) {
        if (n.shadowRoot) walk(n.shadowRoot);
        walk(n);
      }
    }
  };
  walk(document.body);
  function* views(v) {
    yield v;
    const kids = typeof v.children_views === 'function' ? v.children_views() : (v.child_views || []);
    for (const c of kids) yield* views(c);
  }
  const seen = new Set();
  for (const top of ((window.Bokeh && window.Bokeh.index && window.Bokeh.index.roots) || [])) {
    for (const v of views(top)) {
      if (seen.has(v) || !v.el || !v.model) continue;
      seen.add(v);
      const type = v.model.type;
      if (!['Toolbar', 'Figure', 'Plot', 'Div', 'Paragraph'].includes(type)) continue;
      const name = v.model.name ? ` "${v.model.name}"` : '';
      check(`Bokeh ${type}${name}`, v.el.getBoundingClientRect(), up(v.el));
    }
  }
  return problems;
}"""


def clipped_text(page):
    """Text, Bokeh toolbars, plots and Divs cut off sideways anywhere on ``page`` (see
    :data:`CLIPPED_TEXT_JS`): a list of problems, empty when none."""
    return page.evaluate(CLIPPED_TEXT_JS)
