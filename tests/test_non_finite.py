"""A reading that is not a finite number is a fault, never a pass (issue 9, item 3).

A status line with ``air=nan`` or ``heat=nan`` and a valid CRC used to parse; every
comparison the supervisor made with nan was false, the run completed with exit 0, its peaks
read 0.0 and the trace held the non-standard JSON ``NaN``. Now the codec refuses the line
(tests/test_protocol.py has the grammar's properties), so a chair that only sends such lines
falls silent to the host and the link timeout ends the run; the supervisor and the trace
writer refuse a non-finite value that still reaches them.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from chair import protocol as p
from chair import runner
from chair.caps import make_caps
from chair.limits import DEVICE
from chair.program import load_program
from chair.safety import Supervisor
from chair.trace import Trace
from tests.spoilt import SpoiltStatus

BASE = p.StatusReport("Run", 1.0, 300.0, "knead", 2, 2, 3, 40.0, (0.0,) * 6, (30.0, 30.0), 0,
                      0.0, 0.0, True, False, ())


@pytest.mark.parametrize("field, index, after_s", [
    ("air", 2, 0.0), ("heat", 0, 0.0), ("heat", 1, 0.0), ("air", 2, 30.0), ("heat", 0, 30.0),
    ("t", 0, 30.0), ("pos", 0, 30.0), ("w", 0, 30.0), ("occ", 0, 30.0)])
def test_a_chair_that_reports_nan_ends_the_run_in_a_fault(tmp_path, monkeypatch, field,
                                                           index, after_s) -> None:
    """Every status line carries nan (valid CRC), from the start or from 30 s into the run:
    the run must not complete (it did: exit 0, peaks 0.0); the host reads nothing it can
    trust, so it refuses to start, or its link timeout ends the run."""
    spoilt: list[SpoiltStatus] = []
    real = runner.open_port

    def open_spoilt(url: str, **kwargs):
        spoilt.append(SpoiltStatus(real(url, **kwargs), field, index, after_s=after_s))
        return spoilt[-1]

    monkeypatch.setattr(runner, "open_port", open_spoilt)
    trace = tmp_path / "t.jsonl"
    outcome = runner.run(load_program("lumbar"),
                         runner.RunOptions(fast=True, trace=str(trace)))
    assert spoilt[0].spoilt > 0
    assert outcome.exit_code != 0, outcome
    assert outcome.reason in ("link", "fault"), outcome
    if after_s:  # mid-run: the host's link timeout (1 s without a readable report)
        assert "1.0 s" in outcome.detail, outcome
    text = trace.read_text()
    assert "NaN" not in text and "Infinity" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[-1]["type"] == "end" and records[-1]["reason"] != "completed"


@pytest.mark.parametrize("change", [
    {"air_kpa": (0.0, 0.0, math.nan, 0.0, 0.0, 0.0)}, {"heat_c": (math.nan, 30.0)},
    {"heat_c": (30.0, math.inf)}, {"pos_mm": math.nan}, {"force_n": -math.inf},
    {"t": math.nan}, {"back_pct": math.nan}, {"leg_pct": math.inf}])
def test_the_supervisor_faults_on_a_reading_that_is_not_finite(change) -> None:
    """Defence in depth: a non-finite value that reaches the supervisor is a fault."""
    supervisor = Supervisor(make_caps(DEVICE))
    supervisor.commanded(p.SetAir("lumbar", 10.0, 1500), 0.0)
    supervisor.commanded(p.SetHeat("lumbar", 38.0, 1500), 0.0)
    assert supervisor.check(BASE, 0.0) is None
    reason = supervisor.check(dataclasses.replace(BASE, **change), 0.1)
    assert reason and "not a finite number" in reason


@pytest.mark.parametrize("change", [
    {"air_kpa": ()}, {"air_kpa": (0.0,) * 5}, {"heat_c": ()}, {"heat_c": (30.0,)}])
def test_the_supervisor_faults_on_a_missing_reading(change) -> None:
    """`air=` with no values parses (a chair may have no heaters), but for this chair a
    reading is missing: zip() would check the ones there are and pass."""
    supervisor = Supervisor(make_caps(DEVICE))
    reason = supervisor.check(dataclasses.replace(BASE, **change), 0.1)
    assert reason and "the chair has 6 zones and 2 heaters" in reason


def test_the_trace_never_writes_nan(tmp_path) -> None:
    path = tmp_path / "t.jsonl"
    trace = Trace(str(path))
    trace.header(program="x")
    with pytest.raises(ValueError, match=r"record .event. .*not finite"):
        trace.event(1.0, "reading", value=math.nan)
    with pytest.raises(ValueError, match="NaN or Infinity"):
        trace.event(1.0, "reading", value=math.inf)
    trace.event(2.0, "reading", value=1.5)
    trace.close()
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert [json.loads(line)["type"] for line in text.splitlines()] == ["header", "event"]
