"""Loading BokehJS into a notebook page: inline (offline) and only the bundles the views use."""


def load_bokehjs():
    """Put BokehJS into the page so that jupyter_bokeh's BokehModel can render (Voila needs it).

    Inline resources keep the app offline (the default loads BokehJS from a CDN). Only the
    core and widget bundles are sent: the views use no tables, WebGL or MathJax models, and
    leaving those out cuts each page from about 8 MB to 3.4 MB, which matters when a class
    opens the app at once.
    """
    from bokeh.io import output_notebook
    from bokeh.resources import Resources

    output_notebook(resources=Resources(mode="inline", components=["bokeh", "bokeh-widgets"]),
                    hide_banner=True)
