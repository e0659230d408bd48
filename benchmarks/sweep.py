"""Sweeps: sessions per second of a whole `chair sweep` process on 1 worker (`--jobs 1`,
in that process) and on 2 (`--jobs 2`, the local pool), the same sweep, runs interleaved
(1, 2, 1, 2, ...) so that other work on the machine weighs on both alike.

The note adds the CPU seconds of each (the process and its workers): their ratio bounds
the speed-up two free cores could give (2 x CPU of 1 / CPU of 2), whatever the load, and
their difference is what the pool costs (starting and importing its process)."""

from __future__ import annotations

import csv
import os
import resource
import tempfile
import time

from benchmarks.common import Row, median, python

TARGET = 1.7  # sessions per second on 2 local workers against 1 (issue 14)

#: The sweeps: the issue's lumbar sweep (6 heights, no fault and each of the 12 faults at
#: 20 s: 78 sessions, most cut short by their fault), and the same with the 14-minute
#: sciatica program.
SWEEPS = {
    "lumbar": ["lumbar", "--heights", "150:200:10", "--faults", "none,all"],
    "sciatica": ["sciatica", "--heights", "150:200:10", "--faults", "none,all"],
}
QUICK = ["--heights", "170", "--faults", "none,pinch@5"]


def _cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _sweep(args: list[str], jobs: int) -> tuple[int, float, float]:
    """(sessions, wall seconds, CPU seconds of it and its workers) of one whole
    `chair sweep ... --jobs N` process."""
    with tempfile.TemporaryDirectory(prefix="chair-bench-sweep-") as where:
        out = os.path.join(where, "r.csv")
        cpu, started = _cpu_s(), time.perf_counter()
        python("-m", "chair.cli", "sweep", *args, "--jobs", str(jobs), "-o", out)
        wall, cpu = time.perf_counter() - started, _cpu_s() - cpu
        with open(out, newline="", encoding="utf-8") as handle:
            return sum(1 for _ in csv.DictReader(handle)), wall, cpu


def run(quick: bool) -> list[Row]:
    pairs = 1 if quick else 5
    rows = []
    for name, args in SWEEPS.items():
        args = [args[0], *QUICK] if quick else args
        walls: dict[int, list[float]] = {1: [], 2: []}
        cpus: dict[int, list[float]] = {1: [], 2: []}
        sessions = 0
        for _ in range(pairs):
            for jobs in (1, 2):
                sessions, wall, cpu = _sweep(args, jobs)
                walls[jobs].append(wall)
                cpus[jobs].append(cpu)
        one, two = sessions / median(walls[1]), sessions / median(walls[2])
        speedup = two / one
        cpu1, cpu2 = median(cpus[1]), median(cpus[2])
        rows.append(Row(
            f"sweep.{name}", f"sweep: {name}, sessions/s on 2 local workers against 1",
            f">= {TARGET:g}x", f"{speedup:.2f}x ({one:.1f} -> {two:.1f} sessions/s)",
            round(speedup, 3), "x", speedup >= TARGET,
            f"`chair sweep {' '.join(args)}`: {sessions} sessions, whole processes (start, "
            f"pool, CSV), median of {pairs} interleaved pairs; --jobs 1: "
            f"{median(walls[1]):.2f} s, --jobs 2: {median(walls[2]):.2f} s; CPU s (which load "
            f"moves less) {cpu1:.2f} and {cpu2:.2f}, so at most {2 * cpu1 / cpu2:.2f}x on two "
            "free cores"))
    return rows
