"""Memory over two simulated hours, wall time against session length, parallel processes.

Each figure runs in fresh child processes (`benchmarks.sessions`), so one measurement's
heap or caches never reach the next. A session is at most 30 minutes long (the device's
session cap), so longer simulated spans are sessions run back to back in one process.
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.common import ROOT, Row, child_env, median, python, python_json

PEAK_MB = 150.0
GROWTH_MB_H = 1.0
LINEAR_TOLERANCE = 0.15  # cost per simulated second may vary this much across lengths
PARALLEL_TARGET = 1.6  # throughput of 2 processes against 1, on 2 cores


def _slope_per_hour(points: list[tuple[float, int]]) -> float:
    """Least-squares growth of RSS in MB per simulated hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    num = sum((t - mean_t) * (r - mean_r) for t, r in points)
    den = sum((t - mean_t) ** 2 for t, _ in points)
    return (num / den) * 3600.0 / 1024.0 if den else 0.0


def memory(quick: bool) -> list[Row]:
    # two simulated hours or more: full sciatica sessions with a trace file, back to back
    sessions, minutes = (2, 1.0) if quick else (9, None)
    args = ["-m", "benchmarks.sessions", "--sessions", str(sessions), "--trace"]
    if minutes is not None:
        args += ["--minutes", f"{minutes:g}"]
    result = python_json(*args)
    hours = result["sim_s"] / 3600.0
    peak = result["peak_rss_kb"] / 1024.0
    points = result["rss"]
    # growth over the last simulated hour (the first minutes warm up caches and imports)
    tail = [(t, r) for t, r in points if t >= result["sim_s"] - 3600.0]
    growth = _slope_per_hour(tail)
    first, last = points[0][1] / 1024.0, points[-1][1] / 1024.0
    return [
        Row("memory.peak", "memory: peak RSS over a long simulated run", f"<= {PEAK_MB:g} MB",
            f"{peak:.1f} MB ({hours:.2f} h simulated)", round(peak, 1), "MB", peak <= PEAK_MB,
            f"{sessions} sciatica sessions back to back, each with its trace file"),
        Row("memory.growth", "memory: RSS growth per simulated hour (last hour)",
            f"< {GROWTH_MB_H:g} MB/h", f"{growth:+.2f} MB/h", round(growth, 3), "MB/h",
            growth < GROWTH_MB_H, f"RSS {first:.1f} MB at the first minute, {last:.1f} MB "
            f"at the end; {len(tail)} samples, one a simulated minute"),
    ]


#: The session timers of the scaling row: sciatica (a 14-minute program) cut at 1x, 2x
#: and 4x of the shortest, one session each, so the length itself varies.
LENGTHS_MIN = (3.5, 7.0, 14.0)


def linearity(quick: bool) -> list[Row]:
    lengths = (0.25, 0.5, 1.0) if quick else LENGTHS_MIN
    reps = 1 if quick else 3
    points = []  # (simulated s, median wall s)
    for minutes in lengths:
        result = python_json("-m", "benchmarks.sessions", "--sessions", str(reps),
                             "--minutes", f"{minutes:g}", "--warm")
        sims = [sim for sim, _ in result["each"]]
        points.append((median(sims), median([wall for _, wall in result["each"]])))
    costs = [wall / sim for sim, wall in points]  # wall seconds per simulated second
    spread = max(costs) / min(costs) - 1.0
    parts = "; ".join(f"{sim:.0f} s: {wall:.3f} s" for sim, wall in points)
    return [Row("scaling.length", "scaling: one session at 1x, 2x, 4x its length",
                f"flat (cost per simulated s within {LINEAR_TOLERANCE:.0%})",
                f"{min(costs) * 1e6:,.0f}-{max(costs) * 1e6:,.0f} us per simulated s "
                f"(spread {spread:.0%})", round(spread, 3), "spread", spread <= LINEAR_TOLERANCE,
                f"simulated s: wall s, {parts} (sciatica with --minutes "
                f"{', '.join(f'{m:g}' for m in lengths)}, scan and park included; median of "
                f"{reps} sessions each, one process per length, imports done before the clock "
                "starts)")]


def _cli_args(quick: bool) -> list[str]:
    args = [sys.executable, "-m", "chair.cli", "run", "sciatica", "--fast"]
    return args + (["--minutes", "1"] if quick else [])


def _together(n: int, quick: bool) -> float:
    """Wall time for `n` whole `chair run sciatica --fast` processes started together."""
    started = time.perf_counter()
    procs = [subprocess.Popen(_cli_args(quick), cwd=ROOT, env=child_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(n)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"chair run exited {proc.returncode}: {err[-2000:]!r}")
    return time.perf_counter() - started


def parallel(quick: bool) -> list[Row]:
    python("-c", "import chair.cli, sim.device")  # warm the file cache
    reps = 1 if quick else 3
    one = median([_together(1, quick) for _ in range(reps)])
    two = median([_together(2, quick) for _ in range(reps)])
    speedup = 2 * one / two
    return [Row("scaling.parallel", "scaling: 2 sessions in 2 processes against 1",
                f">= {PARALLEL_TARGET:g}x throughput (2 cores)",
                f"{speedup:.2f}x (1: {one:.2f} s, 2 together: {two:.2f} s)",
                round(speedup, 3), "x", speedup >= PARALLEL_TARGET,
                f"whole `chair run sciatica --fast` processes, median of {reps}")]
