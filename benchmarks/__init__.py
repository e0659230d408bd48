"""Benchmarks: every performance target of the project measured in one run.

Run ``python -m benchmarks`` from the repository root for a table (figure, target,
measured, pass or fail), ``--json`` for the same figures as one JSON object, and
``--quick`` for tiny sizes (the smoke test; its timings mean nothing). docs/performance.md
explains each figure and holds the results.

Benchmarks measure wall time with `time.perf_counter`; the code they measure still reads
time only through its clock (`chair.clock`).
"""
