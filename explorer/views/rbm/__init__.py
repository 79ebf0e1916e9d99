"""The RBM explorer's Bokeh views (no widgets, no physics)."""
