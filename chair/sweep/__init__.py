"""`chair sweep`: one or more programs run across bodies, chairs and faults, in parallel.

grid.py parses the options into sessions, worker.py runs one session and reads its trace
(and the plant's truth) into a row, engines.py runs the sessions (this process, a local
pool, Dask), results.py writes the rows and the summary, plot.py draws them (`chair plot
RESULTS`), cli.py ties them together.
"""
