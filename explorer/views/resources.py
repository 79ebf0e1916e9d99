"""Loading BokehJS into a notebook page: offline, only the bundles the views use, once.

Under this project's servers (``make app``, ``make classroom``, the hub) a Voila page links to
BokehJS as a static, versioned file of the same server (:mod:`explorer.serving.bokehjs`): the
browser keeps it for a year and a reload does not fetch it again. Everywhere else (JupyterLab,
another Voila) the page gets it inline, as before.
"""

import contextlib
import json

#: The one MIME type inline BokehJS is published under (see ``load_bokehjs``).
BOKEHJS_MIME = "application/javascript"

#: The MIME type of the link to BokehJS: ``{"scripts": [URL relative to the base URL, ...],
#: "after": SYNC_GUARD_JS}``. The explorer's Voila template turns it into ``<script src>`` tags and
#: one inline script (and drops the output).
BOKEHJS_LINK_MIME = "application/vnd.free-energy-explorer.bokehjs+json"

#: Run once BokehJS is in the page, before any plot is shown: a change BokehJS applied from the
#: kernel is not sent back to the kernel.
#:
#: BokehJS (since 3.4) tells its document's listeners about every change, also those applied from
#: the peer (the kernel's patches), marked ``sync = false``; Bokeh's own server client skips
#: those, jupyter_bokeh 4.1's view does not: it sent every patch back to the kernel as if the user
#: had made it. The cost was every plot's data travelling twice (and being parsed and set again in
#: the kernel); the harm was a source with a Python callback (the VAE Hold q's mean, the RBM Hold
#: q's handles) being set back to an older value that arrived late: during a Fit q replay the held
#: q jumped between old means for ever, and the readout with it (issue 25). Wrapping the listeners
#: of every BokehJS document keeps only the changes made in the page (``sync`` true or absent).
SYNC_GUARD_JS = """(function () {
  var B = window.Bokeh;
  if (!B || !B.require) { return; }
  var D = B.require("document").Document;
  if (!D || D.prototype.__explorerSyncGuard) { return; }
  var onChange = D.prototype.on_change, removeOnChange = D.prototype.remove_on_change;
  var wrapped = new WeakMap();
  function local(event) { return event.sync !== false; }
  D.prototype.on_change = function (callback, allowBatches) {
    var guarded = wrapped.get(callback);
    if (!guarded) {
      guarded = function (event) {
        if (event.events !== undefined) {
          if (!local(event)) { return; }
          var kept = event.events.filter(local);
          if (kept.length === 0) { return; }
          if (kept.length !== event.events.length) { kept.forEach(function (e) { callback(e); }); return; }
        } else if (!local(event)) { return; }
        return callback(event);
      };
      wrapped.set(callback, guarded);
    }
    return onChange.call(this, guarded, allowBatches);
  };
  D.prototype.remove_on_change = function (callback) {
    return removeOnChange.call(this, wrapped.get(callback) || callback);
  };
  D.prototype.__explorerSyncGuard = true;
})();
"""


def load_bokehjs():
    """Put BokehJS into the page so that jupyter_bokeh's BokehModel can render (Voila needs it).

    Only the core and widget bundles are sent: the views use no tables, WebGL or MathJax
    models (Bokeh's ``INLINE`` would send about 8 MB).

    Linked (a Voila page of this project's servers): the explorer's template writes a plain
    ``<script src>`` where the output stands, which the browser runs before Voila's front end
    renders any widget (jupyter_bokeh's views need ``window.Bokeh`` when they are created).

    Inline (elsewhere): ``output_notebook`` publishes the 1.7 MB bundle twice, under two MIME
    types of which a front end renders one; only ``application/javascript`` is kept, which
    Voila, JupyterLab and the classic notebook all execute.
    """
    from bokeh.io import notebook, output_notebook
    from bokeh.resources import Resources

    from ..serving import bokehjs

    components = list(bokehjs.COMPONENTS)
    if bokehjs.served_here():
        linked = _linked_bundle(bokehjs.script_paths())
        # Bokeh's own state (notebook output on) as with inline resources; the page gets the link
        resources = Resources(mode="server", root_url="/", components=components)
        replace = lambda data: linked if BOKEHJS_MIME in data else data  # noqa: E731
    else:
        resources = Resources(mode="inline", components=components)
        replace = lambda data: ({BOKEHJS_MIME: data[BOKEHJS_MIME] + "\n" + SYNC_GUARD_JS}  # noqa: E731
                                if BOKEHJS_MIME in data else data)
    with _publishing(notebook, replace):
        output_notebook(resources=resources, hide_banner=True)


def _linked_bundle(scripts):
    """The link for the explorer's template, and a small loader for any other Voila template
    (scripts added in order under the page's base URL; nothing happens when BokehJS is there);
    both run :data:`SYNC_GUARD_JS` once BokehJS is loaded."""
    loader = ("(function () {\n"
              f"  var guard = function () {{\n{SYNC_GUARD_JS}}};\n"
              "  if (window.Bokeh) { guard(); return; }\n"
              "  var c = document.getElementById('jupyter-config-data');\n"
              "  var base = (c && JSON.parse(c.textContent).baseUrl) || '/';\n"
              f"  var scripts = {json.dumps(scripts)};\n"
              "  scripts.forEach(function (src, i) {\n"
              "    var s = document.createElement('script');\n"
              "    if (i === scripts.length - 1) { s.onload = guard; }\n"
              "    s.src = base + src; s.async = false; document.head.appendChild(s);\n"
              "  });\n"
              "})();\n")
    return {BOKEHJS_LINK_MIME: {"scripts": list(scripts), "after": SYNC_GUARD_JS}, BOKEHJS_MIME: loader}


@contextlib.contextmanager
def _publishing(module, replace):
    """While active, display data that ``module`` publishes goes out as ``replace(data)``.

    ``module.publish_display_data`` is looked up at call time by Bokeh, so replacing it for
    the duration of one call is enough.
    """
    publish = module.publish_display_data

    def replaced(data, *args, **kwargs):
        return publish(replace(data), *args, **kwargs)

    module.publish_display_data = replaced
    try:
        yield
    finally:
        module.publish_display_data = publish
