"""Speed targets, run on demand from the repository root: ``python -m benchmarks.NAME`` (see the Makefile)."""
