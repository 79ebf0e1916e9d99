"""Serving the explorers: Voila's preheated pool (kernel side), its kernel manager and what the
server sends (server side).

Nothing here imports the app: the Voila server (:mod:`explorer.serving.voila_app`,
:mod:`explorer.serving.kernel_pacing`, :mod:`explorer.serving.static_files`) runs without numpy,
Bokeh's models or ipywidgets, and a kernel uses :mod:`explorer.serving.preheat` and
:mod:`explorer.serving.bokehjs` before the app is built.
"""
