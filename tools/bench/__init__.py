"""Benchmarks of the offline plan (what and why: ADR 0008): `python -m tools.bench` writes BENCHMARKS.md.

`graph` holds the pure dependency-graph analysis; `__main__` does the timing and reporting.
"""
