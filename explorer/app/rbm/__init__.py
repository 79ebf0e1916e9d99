"""The RBM explorer's controllers: state, compute, the explorer and its tabs."""
