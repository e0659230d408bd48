"""`chair sweep`: one or more programs run across bodies, chairs and faults, in parallel.

grid.py parses the options into sessions, worker.py runs one session and reads its trace
into a row, results.py writes the rows and the summary, cli.py ties them together.
"""
