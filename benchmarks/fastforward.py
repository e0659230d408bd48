"""Fast-forward: a whole `chair run sciatica --fast`, and the same session in one process."""

from __future__ import annotations

import os
import tempfile
import time

from benchmarks.common import Row, median, python
from benchmarks.sessions import PROGRAM, run_session
from chair.trace import read_trace

TARGET = 1500.0  # whole process, times real time (issue 14)
IN_PROCESS_TARGET = 2500.0  # the same session in one process (issue 14)
AIM = 10000.0


def _cli(minutes: float | None, trace: str | None) -> list[str]:
    args = ["-m", "chair.cli", "run", PROGRAM, "--fast"]  # as the issue has it
    if minutes is not None:
        args += ["--minutes", f"{minutes:g}"]
    if trace:
        args += ["--trace", trace]
    return args


def _process(minutes: float | None, trace: str | None) -> float:
    started = time.perf_counter()
    python(*_cli(minutes, trace))
    return time.perf_counter() - started


def _row(key: str, figure: str, sim_s: float, walls: list[float], note: str = "",
         target: float | None = None) -> Row:
    """A fast-forward figure against `target` (times real time); None: a reference row,
    explaining the others, with no target of its own."""
    wall = median(walls)
    ratio = sim_s / wall
    wanted = "(reference)" if target is None else f">= {target:,.0f}x (aim {AIM:,.0f}x)"
    return Row(key, figure, wanted,
               f"{ratio:,.0f}x ({sim_s:.0f} s in {wall:.3f} s, median of {len(walls)})",
               round(ratio, 1), "x real time", None if target is None else ratio >= target,
               note or f"runs from {sim_s / max(walls):,.0f}x to {sim_s / min(walls):,.0f}x")


def run(quick: bool) -> list[Row]:
    minutes = 1.0 if quick else None
    reps = 1 if quick else 5
    python(*_cli(0.1, None))  # warm the bytecode cache and the file cache
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.jsonl")
        traced = [_process(minutes, path) for _ in range(reps)]
        records = read_trace(path)
        sim_s = float(records[-1]["t"])
        samples = sum(1 for r in records if r["type"] == "sample")
    plain = [_process(minutes, None) for _ in range(reps)]
    inproc = []
    for _ in range(reps):
        reason, sim_in, wall = run_session(minutes=minutes)
        assert reason == "completed", reason
        inproc.append(wall)
    return [
        _row("fastforward.process", "fast-forward: `chair run sciatica --fast`, whole process",
             sim_s, plain, target=TARGET),
        _row("fastforward.process_trace", "  the same with --trace FILE (JSON Lines)", sim_s,
             traced, f"{samples} samples, {samples / sim_s:.1f} per simulated second"),
        _row("fastforward.in_process", "  the same session in-process (no interpreter start)",
             sim_in, inproc, target=IN_PROCESS_TARGET),
    ]
