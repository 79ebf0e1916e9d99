"""Processes and references shared by the tests and the benchmarks (not part of the product).

The benchmarks import from here, never from ``tests``: a benchmark is run on demand and must not
depend on a test module's internals, and the tests keep their fixtures to themselves.
"""
