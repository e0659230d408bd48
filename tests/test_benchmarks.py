"""The benchmark entry point runs end to end at tiny sizes and reports every figure.

Nothing here times anything: `--quick` sizes are far too small for the figures to mean
what the table says, so only the shape of the report is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from benchmarks.__main__ import GROUPS, table
from benchmarks.common import Row, child_env
from benchmarks.realtime import _Echo

ROOT = Path(__file__).resolve().parent.parent

#: Every figure the issue asks for, by key.
KEYS = {
    "fastforward.process", "fastforward.process_trace", "fastforward.in_process",
    "codec.status", "codec.session",
    "memory.peak", "memory.growth",
    "reaction.estop", "reaction.deadman", "reaction.overpressure",
    "realtime.rtt_p50", "realtime.rtt_p99", "realtime.jitter_p99",
    "wire.headroom",
    "scaling.length", "scaling.parallel",
    "sweep.lumbar", "sweep.sciatica",
}


def test_quick_run_reports_every_figure() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json"], cwd=ROOT,
                          env=child_env(), capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["quick"] is True
    assert report["machine"]["cores"] >= 1 and report["machine"]["python"]
    rows = report["rows"]
    assert {row["key"] for row in rows} == KEYS
    for row in rows:
        assert row["figure"] and row["target"] and row["measured"], row
        assert row["verdict"] in ("PASS", "FAIL", "ref"), row
        assert isinstance(row["value"], int | float), row
        assert isinstance(row["load"], float), row  # the load average beside every row
    printed = table([Row(**{k: v for k, v in row.items() if k != "verdict"}) for row in rows])
    lines = printed.splitlines()
    for row in rows:
        line = next(line for line in lines if line.startswith(row["figure"]))
        assert row["measured"] in line and line.rstrip().endswith(row["verdict"]), line
        assert f" {row['load']:.2f} " in line, line
    assert "best" not in json.dumps(rows)  # medians everywhere, never best of N


def test_the_echo_baseline_is_the_kernels_own() -> None:
    """The pty floor is the tty's ECHO: no thread or process of ours answers it."""
    threads = threading.active_count()
    echo = _Echo()
    try:
        took = [echo.round_trip() for _ in range(5)]
        assert threading.active_count() == threads
    finally:
        echo.close()
    assert all(0 < t < 2.0 for t in took), took


def test_only_runs_the_groups_asked_for() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "reactions"],
                          cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "reaction: emergency-stop byte" in done.stdout
    assert "codec" not in done.stdout.split("notes:")[0]
    assert set(GROUPS) >= {"fastforward", "codec", "memory", "reactions", "realtime", "wire",
                           "scaling", "sweep"}


def test_the_fast_forward_targets_are_the_issues() -> None:
    """Issue 14: whole process at least 1,500x real time, in process at least 2,500x (a
    target row of its own, no longer a reference)."""
    from benchmarks import fastforward

    rows = {row.key: row for row in (
        fastforward._row("fastforward.process", "p", 856.0, [0.5], target=fastforward.TARGET),
        fastforward._row("fastforward.in_process", "i", 856.0, [0.5],
                         target=fastforward.IN_PROCESS_TARGET),
        fastforward._row("fastforward.process_trace", "t", 856.0, [0.5]))}
    assert fastforward.TARGET == 1500.0 and fastforward.IN_PROCESS_TARGET == 2500.0
    assert rows["fastforward.process"].target.startswith(">= 1,500x")
    assert rows["fastforward.in_process"].target.startswith(">= 2,500x")
    assert rows["fastforward.process"].ok is True  # 1,712x
    assert rows["fastforward.in_process"].ok is False  # 1,712x < 2,500x
    assert rows["fastforward.process_trace"].ok is None  # a reference
