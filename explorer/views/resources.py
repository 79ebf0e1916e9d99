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

#: The MIME type of the link to BokehJS: ``{"scripts": [URL relative to the base URL, ...]}``.
#: The explorer's Voila template turns it into ``<script src>`` tags (and drops the output).
BOKEHJS_LINK_MIME = "application/vnd.free-energy-explorer.bokehjs+json"


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
        replace = lambda data: {BOKEHJS_MIME: data[BOKEHJS_MIME]} if BOKEHJS_MIME in data else data  # noqa: E731
    with _publishing(notebook, replace):
        output_notebook(resources=resources, hide_banner=True)


def _linked_bundle(scripts):
    """The link for the explorer's template, and a small loader for any other Voila template
    (scripts added in order under the page's base URL; nothing happens when BokehJS is there)."""
    loader = ("(function () {\n"
              "  if (window.Bokeh) { return; }\n"
              "  var c = document.getElementById('jupyter-config-data');\n"
              "  var base = (c && JSON.parse(c.textContent).baseUrl) || '/';\n"
              f"  {json.dumps(scripts)}.forEach(function (src) {{\n"
              "    var s = document.createElement('script');\n"
              "    s.src = base + src; s.async = false; document.head.appendChild(s);\n"
              "  });\n"
              "})();\n")
    return {BOKEHJS_LINK_MIME: {"scripts": list(scripts)}, BOKEHJS_MIME: loader}


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
