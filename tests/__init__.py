"""The test suite is a package: shared harness code is imported by its full name from the repository root
(``harness.voila``, ``harness.brute_force``), by the tests under pytest (whose default
``prepend`` import mode puts the root, the first folder above without ``__init__.py``, on ``sys.path``)
and by the benchmarks (run as ``python -m benchmarks.NAME`` from the root)."""
