"""Benchmarks of the offline plan (DESIGN.md §6): `python -m tools.bench` writes BENCHMARKS.md.

`graph` holds the pure dependency-graph analysis; `__main__` does the timing and reporting.
"""
