"""The VAE explorer's Bokeh views (no widgets, no physics)."""
