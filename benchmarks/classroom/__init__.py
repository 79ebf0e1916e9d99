"""The pieces of ``benchmarks/classroom_load.py``: browser mode, HTTP mode, the report."""
