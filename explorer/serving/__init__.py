"""Serving the explorers: Voila's preheated pool (kernel side) and its kernel manager (server side).

Nothing here imports the app: the Voila server loads :mod:`explorer.serving.kernel_pacing`
without numpy, Bokeh or ipywidgets, and a pooled kernel uses :mod:`explorer.serving.preheat`
before the app is built.
"""
