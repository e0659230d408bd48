"""The engines that run a sweep's jobs: in this process, on a local process pool, or on a
Dask cluster (a `LocalCluster` or an existing scheduler). Each takes the jobs, returns
their rows in the jobs' order (whatever order they finished in), and calls
`progress(done, total)` after each row. The rows are the same whatever the engine.

Jobs are handed out longest first (a program's length, or its fault's time when a fault
ends it sooner), so the last jobs to finish are short ones and no worker idles at the end
waiting for one long session.

Ctrl-C (KeyboardInterrupt) during `run`: the jobs not started are cancelled, the cluster
(if started here) is closed, and KeyboardInterrupt is raised again for the caller, with
`Stopped.done` telling how many rows were finished.

Errors: UsageError (exit 2) for `--scheduler` without Dask installed, an address that
is not one, or a worker of more than one thread; LinkError (exit 4) for a scheduler that
does not answer within CONNECT_S, a cluster with no worker, or a worker whose chair is
another version.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import multiprocessing
import os
import signal
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from queue import SimpleQueue

from chair import __version__
from chair.errors import LinkError, UsageError
from chair.sweep.worker import Job, run_job

#: Seconds to reach a scheduler, and to wait for its first worker, before a LinkError.
CONNECT_S = 5.0
#: The extra that installs Dask, as the error message and the docs say it.
INSTALL = "pip install 'massage-chair[cluster]'"
#: Simulated seconds a faulted session runs past its fault before it is expected to end.
AFTER_FAULT_S = 10.0

Progress = Callable[[int, int], None]


class Stopped(KeyboardInterrupt):
    """Ctrl-C during a sweep: `done` rows of `total` were finished (and are dropped)."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"{done} of {total} sessions done")
        self.done, self.total = done, total


def run(jobs: Sequence[Job], *, workers: int, scheduler: str | None = None,
        progress: Progress | None = None) -> list[dict]:
    """Every job's row, in the jobs' order. `scheduler` None: in this process for one
    worker, else a process pool of `workers`; "local": a Dask LocalCluster of `workers`
    processes of one thread; any other: the address of a running Dask scheduler."""
    say = progress or (lambda done, total: None)
    if scheduler is None and (workers == 1 or len(jobs) < 2):
        return run_here(jobs, say)
    if scheduler is None:
        return run_pool(jobs, workers, say)
    return run_dask(jobs, scheduler, workers, say)


def longest_first(jobs: Sequence[Job]) -> list[int]:
    """The jobs' indices, the longest expected session first (ties in the jobs' order)."""
    return sorted(range(len(jobs)), key=lambda i: -expected_s(jobs[i]))


def expected_s(job: Job) -> float:
    """How long `job`'s session is expected to run, in simulated seconds: its program's
    length, or its fault's time plus AFTER_FAULT_S when that is sooner. 0 for a program
    that does not load (it fails at once)."""
    from chair.faults import parse_fault

    length = _program_s(job.session.program)
    if job.session.fault:
        length = min(length, parse_fault(job.session.fault)[1] + AFTER_FAULT_S)
    return length


@functools.cache
def _program_s(name: str) -> float:
    from chair.errors import ChairError
    from chair.program import load_program

    try:
        return load_program(name).seconds
    except ChairError:
        return 0.0


def run_here(jobs: Sequence[Job], progress: Progress) -> list[dict]:
    """The jobs one after another in this process. A Ctrl-C during a session parks that
    session (`chair run` does: its row says `stopped`), and stops the sweep."""
    rows: list[dict] = []
    try:
        for job in jobs:
            rows.append(run_job(job))
            if rows[-1]["outcome"] == "stopped":  # only the user stops a sweep's session
                raise KeyboardInterrupt
            progress(len(rows), len(jobs))
    except KeyboardInterrupt:
        raise Stopped(sum(row["outcome"] != "stopped" for row in rows), len(jobs)) from None
    return rows


def _pool_worker_start() -> None:
    """Each pool process: its own process group, so that the terminal's Ctrl-C reaches the
    sweep (which cancels what is left) and not the sessions running; and the session's
    modules imported once, before the first job."""
    os.setpgrp()
    import chair.runner  # noqa: F401  (the simulator comes with the first session's URL)


def run_pool(jobs: Sequence[Job], workers: int, progress: Progress) -> list[dict]:
    """The jobs on `workers` processes: this one and a pool of `workers - 1` spawned ones,
    each reused for many jobs. All take the next job from one queue, longest first, and a
    pool process is handed its next job only when it finished the last (a thread of this
    process feeds them), so no job waits behind another while a process is free."""
    rows: list[dict | None] = [None] * len(jobs)
    queue = _Queue(longest_first(jobs))
    context = multiprocessing.get_context("spawn")  # no fork of a threaded process
    processes = max(1, min(workers - 1, len(jobs) - 1))
    pool = concurrent.futures.ProcessPoolExecutor(processes, mp_context=context,
                                                  initializer=_pool_worker_start)
    with _sigint_ignored():  # started now, each ignores a Ctrl-C until it has its own group
        for _ in range(processes):
            pool.submit(os.getpid)
    finished: SimpleQueue = SimpleQueue()  # (index, future) of the pool's jobs, as they end
    feeder = threading.Thread(target=_feed, args=(pool, processes, jobs, queue, finished),
                              name="sweep-feeder", daemon=True)
    feeder.start()
    done = 0
    fed = False  # the feeder has said that every pool job has ended

    def collect(block: bool) -> None:
        nonlocal done, fed
        while not fed and (block or not finished.empty()):
            index, future = finished.get()
            if future is None:
                fed = True
                return
            rows[index] = future.result()
            done += 1
            progress(done, len(jobs))

    try:
        while (index := queue.take()) is not None:
            rows[index] = run_job(jobs[index])
            if rows[index]["outcome"] == "stopped":  # Ctrl-C: this session parked
                raise KeyboardInterrupt
            done += 1
            progress(done, len(jobs))
            collect(block=False)
        collect(block=True)
    except KeyboardInterrupt:
        queue.clear()  # the pool's sessions running end first
        pool.shutdown(wait=True, cancel_futures=True)
        raise Stopped(done, len(jobs)) from None
    finally:
        queue.clear()
        pool.shutdown(wait=True, cancel_futures=True)
        feeder.join()
    return [row for row in rows if row is not None]


class _Queue:
    """The jobs' indices still to run, shared by this process and the feeder thread."""

    def __init__(self, order: list[int]) -> None:
        self._left = deque(order)
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            return self._left.popleft() if self._left else None

    def clear(self) -> None:
        with self._lock:
            self._left.clear()


def _feed(pool: concurrent.futures.ProcessPoolExecutor, processes: int, jobs: Sequence[Job],
          queue: _Queue, finished: SimpleQueue) -> None:
    """Keep each of the pool's `processes` on one job: hand it the next when it finished
    the last; put each ended job on `finished`, then (None, None) when none is left."""
    running: dict[concurrent.futures.Future, int] = {}
    try:
        for _ in range(processes):
            if (index := queue.take()) is not None:
                running[pool.submit(run_job, jobs[index])] = index
        while running:
            ended, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in ended:
                finished.put((running.pop(future), future))
                if (index := queue.take()) is not None:
                    running[pool.submit(run_job, jobs[index])] = index
    except RuntimeError:  # the pool was shut down (Ctrl-C, or an error in this process)
        pass
    finally:
        finished.put((None, None))


def run_dask(jobs: Sequence[Job], address: str, workers: int,
             progress: Progress) -> list[dict]:
    """The jobs on Dask: a LocalCluster of `workers` processes for "local", else the
    scheduler at `address`. Each job runs in a scratch directory on its worker; a trace
    that is kept comes back with its row and is written here where the job said."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError(f"--scheduler {address}: Dask is not installed; {INSTALL}") from None
    import logging

    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its INFO lines, and its races at close, not ours
    cluster = client = None
    rows: list[dict | None] = [None] * len(jobs)
    futures: dict = {}
    done = 0
    try:
        if address == "local":
            with _sigint_ignored():  # inherited by its processes: a terminal's Ctrl-C
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                       processes=True,
                                       host="127.0.0.1",
                                       scheduler_kwargs={"dashboard": False},
                                       dashboard_address="127.0.0.1:0",
                                       silence_logs=logging.CRITICAL)
            client = Client(cluster)
        else:
            client = connect(address)
        check_workers(client, address)
        order = longest_first(jobs)
        futures = {client.submit(_remote, jobs[i], pure=False,
                                 priority=len(order) - rank): i
                   for rank, i in enumerate(order)}
        for future in as_completed(list(futures)):
            row, trace = future.result()
            index = futures[future]
            if trace is not None:
                Path(jobs[index].trace).write_bytes(trace)
                row["trace"] = jobs[index].trace
            rows[index] = row
            done += 1
            progress(done, len(jobs))
    except KeyboardInterrupt:
        if client is not None and futures:
            client.cancel(list(futures), force=True)
        raise Stopped(done, len(jobs)) from None
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        quiet.setLevel(level)
    return [row for row in rows if row is not None]


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this process meanwhile (in the main thread; elsewhere nothing):
    the processes started meanwhile keep ignoring it, so that a terminal's Ctrl-C reaches
    the sweep, which stops them, and not them (a Ctrl-C meanwhile is lost)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def connect(address: str):
    """A dask Client on the scheduler at `address`; UsageError for an address Dask does
    not take, LinkError when nothing answers within CONNECT_S."""
    from dask.distributed import Client

    try:
        return Client(address, timeout=CONNECT_S)
    except ValueError as exc:
        raise UsageError(f"--scheduler {address}: not a Dask scheduler address ({exc}); "
                         "give local or tcp://HOST:PORT") from None
    except (OSError, TimeoutError) as exc:
        raise LinkError(f"--scheduler {address}: no Dask scheduler answered within "
                        f"{CONNECT_S:g} s ({exc}); start one with `dask scheduler`, or give "
                        "--scheduler local") from None


def check_workers(client, address: str) -> None:
    """LinkError unless the cluster has a worker within CONNECT_S, and every worker runs
    this version of chair (it must be installed on every machine of the cluster);
    UsageError for a worker of more than one thread (sessions in threads of one process
    would share its interpreter: no faster, and not what a session is tested as)."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_S)
    except (OSError, TimeoutError):
        raise LinkError(f"--scheduler {address}: the scheduler has no worker (none came "
                        f"within {CONNECT_S:g} s); start some with `dask worker "
                        f"{address}`") from None
    threads = {w: info.get("nthreads") for w, info in
               client.scheduler_info()["workers"].items()}
    busy = {w: n for w, n in threads.items() if n != 1}
    if busy:
        worker, n = next(iter(busy.items()))
        raise UsageError(f"--scheduler {address}: worker {worker} has {n} threads; a "
                         "sweep's sessions each need a process of their own: start the "
                         "workers with `dask worker ADDRESS --nthreads 1 --nworkers N`")
    versions = client.run(_chair_version, on_error="return")
    wrong = {w: v for w, v in versions.items() if v != __version__}
    if wrong:
        worker, version = next(iter(wrong.items()))
        said = (f"runs chair {version}" if isinstance(version, str)
                else f"cannot run chair ({version!r})")
        raise LinkError(f"--scheduler {address}: worker {worker} {said}, this is chair "
                        f"{__version__}; install this version on every worker's machine "
                        f"({INSTALL})")


def _chair_version() -> str:
    import chair

    return chair.__version__


def _remote(job: Job) -> tuple[dict, bytes | None]:
    """Run `job` on a Dask worker, its trace in a scratch directory there; the row, and
    the trace's bytes when the row keeps it (else None)."""
    with tempfile.TemporaryDirectory(prefix="chair-sweep-") as scratch:
        here = replace(job, trace=os.path.join(scratch, Path(job.trace).name))
        row = run_job(here)
        trace = Path(here.trace).read_bytes() if row["trace"] else None
    row["trace"] = ""
    return row, trace
