"""Fast-forwarded sessions, in this process or in a child, and what they cost.

Worker: ``python -m benchmarks.sessions --sessions N [--minutes M] [--trace] [--warm]`` runs N
sciatica sessions back to back in one process and prints one JSON line: simulated
seconds, wall seconds (in all and per session), and the resident set sampled every simulated minute.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable

from benchmarks.common import peak_rss_kb, rss_kb

PROGRAM = "sciatica"
SEED = None  # as `chair run sciatica --fast` (the simulator's own default seed)


def run_session(program: str = PROGRAM, *, seed: int | None = SEED,
                minutes: float | None = None, trace: str | None = None,
                listeners: tuple[Callable, ...] = ()) -> tuple[str, float, float]:
    """One fast-forwarded run as `chair run PROGRAM --fast` does it: (outcome, sim s, wall s)."""
    from chair.display import Summary
    from chair.program import load_program
    from chair.runner import RunOptions, run

    summary = Summary()
    options = RunOptions(fast=True, seed=seed, minutes=minutes, trace=trace,
                         listeners=[summary, *listeners])
    loaded = load_program(program)
    started = time.perf_counter()
    outcome = run(loaded, options)
    wall = time.perf_counter() - started
    return outcome.reason, float(summary.end.get("t", summary.last_t)), wall


class RssProbe:
    """A trace listener that notes the resident set every `every_s` simulated seconds."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self.offset = 0.0  # simulated seconds of the sessions before this one
        self.next_t = 0.0
        self.points: list[tuple[float, int]] = []

    def __call__(self, record: dict) -> None:
        if record["type"] == "sample":
            t = self.offset + record["t"]
            if t >= self.next_t:
                self.points.append((t, rss_kb()))
                self.next_t = t + self.every_s


def back_to_back(sessions: int, minutes: float | None, trace: bool, warm: bool = False) -> dict:
    """`sessions` runs in a row in this process: their simulated and wall time, and RSS.

    `warm`: one short untimed session first, so the timed ones do not pay for the imports.
    """
    if warm:
        run_session(minutes=0.1)
    probe = RssProbe()
    sim = wall = 0.0
    each: list[tuple[float, float]] = []  # (simulated s, wall s) of every session
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(sessions):
            path = os.path.join(tmp, f"s{n}.jsonl") if trace else None
            reason, sim_s, wall_s = run_session(minutes=minutes, trace=path,
                                                listeners=(probe,))
            if reason != "completed":
                raise RuntimeError(f"session {n} ended {reason}")
            sim += sim_s
            wall += wall_s
            each.append((sim_s, wall_s))
            probe.offset = sim
            if path:
                os.remove(path)
    return {"sessions": sessions, "sim_s": sim, "wall_s": wall, "each": each,
            "rss": probe.points,
            "peak_rss_kb": peak_rss_kb()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--warm", action="store_true")
    args = parser.parse_args()
    print(json.dumps(back_to_back(args.sessions, args.minutes, args.trace, args.warm)))


if __name__ == "__main__":
    main()
