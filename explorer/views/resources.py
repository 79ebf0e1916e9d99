"""Loading BokehJS into a notebook page: inline (offline), only the bundles the views use, once."""

import contextlib

#: The one MIME type BokehJS is published under (see ``load_bokehjs``).
BOKEHJS_MIME = "application/javascript"


def load_bokehjs():
    """Put BokehJS into the page so that jupyter_bokeh's BokehModel can render (Voila needs it).

    Inline resources keep the app offline (the default loads BokehJS from a CDN). Only the
    core and widget bundles are sent: the views use no tables, WebGL or MathJax models, and
    leaving those out cuts each page from about 8 MB to 3.4 MB.

    ``output_notebook`` publishes the 1.7 MB bundle twice, under two MIME types of which a
    front end renders one; only ``application/javascript`` is kept, which Voila, JupyterLab
    and the classic notebook all execute. The page halves to 1.8 MB, which matters when a
    class opens the app at once (the server moves, and every browser parses, every byte).
    """
    from bokeh.io import notebook, output_notebook
    from bokeh.resources import Resources

    with _publishing_only(notebook, BOKEHJS_MIME):
        output_notebook(resources=Resources(mode="inline", components=["bokeh", "bokeh-widgets"]),
                        hide_banner=True)


@contextlib.contextmanager
def _publishing_only(module, mime):
    """While active, display data that ``module`` publishes under ``mime`` keeps only that type.

    ``module.publish_display_data`` is looked up at call time by Bokeh, so replacing it for
    the duration of one call is enough; bundles without ``mime`` pass unchanged.
    """
    publish = module.publish_display_data

    def filtered(data, *args, **kwargs):
        if mime in data:
            data = {mime: data[mime]}
        return publish(data, *args, **kwargs)

    module.publish_display_data = filtered
    try:
        yield
    finally:
        module.publish_display_data = publish
