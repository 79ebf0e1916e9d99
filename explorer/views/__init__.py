"""Bokeh figures and data sources built from plain arrays: no widgets, no physics."""
