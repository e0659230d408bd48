"""The trace records every state change and marks implausible readings (issue 9, item 10).

A transition whose on_enter callback raises (a write failing inside `on_enter_fault`, a
connect failing inside `on_enter_connecting`) is still in the trace; a heater reading
outside the thermistor's plausible range (limits table: `thermistor_c_min`/`_max`) is marked
`implausible` in its sample and never reported as the session's peak heat.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from chair import protocol as p
from chair.cli import main
from chair.clock import VirtualClock
from chair.display import Summary
from chair.errors import LinkError
from chair.limits import DEVICE, HEATERS, ZONES
from chair.link import Link
from chair.plot_panels import _heat_series
from chair.plot_session import _Session
from chair.program import load_program
from chair.runner import RunOptions, run
from chair.trace import Trace, read_trace, sample_record
from tests.test_controller_machine import FakeLink, make_controller


def check_state_chain(records: list[dict]) -> None:
    """Every state event starts where the one before ended, and the end line's state is
    the last one entered: no transition is missing."""
    states = [r for r in records if r.get("event") == "state"]
    assert states and states[0]["source"] == "disconnected"
    for before, after in itertools.pairwise(states):
        assert after["source"] == (before["dest"] or before["source"]), (before, after)
    last = states[-1]
    assert records[-1]["state"] == (last["dest"] or last["source"]), (last, records[-1])


# --------------------------------------------------------------------------- transitions


class _Listener(list):
    def __call__(self, record: dict) -> None:
        self.append(record)


def _states(seen: list[dict]) -> list[tuple[str, str]]:
    return [(r["source"], r["dest"]) for r in seen if r.get("event") == "state"]


def test_a_fault_whose_stop_cannot_be_written_is_still_traced() -> None:
    controller, link = make_controller("running")
    seen = _Listener()
    controller.trace.listeners.append(seen)
    controller.trace.header()

    def broken(command: p.Command) -> None:
        raise LinkError("write failed: the port went away")

    link.send = broken  # type: ignore[method-assign]
    with pytest.raises(LinkError):
        controller.fire("fault", reason="pinch sensor", source="supervisor")
    assert controller.state == "fault"
    assert ("running", "fault") in _states(seen)


def test_a_connect_that_fails_inside_on_enter_connecting_is_still_traced() -> None:
    clock = VirtualClock()

    class Mute(FakeLink):
        def connect(self, accept=None):
            raise LinkError("no banner")

    controller = make_controller()[0]
    controller.link = Mute(clock)
    seen = _Listener()
    controller.trace = Trace(None)
    controller.trace.listeners.append(seen)
    controller.trace.header()
    with pytest.raises(LinkError):
        controller.fire("connect")
    assert _states(seen) == [("disconnected", "connecting")]


def test_a_whole_run_whose_fault_stop_fails_traces_every_state(tmp_path: Path,
                                                              monkeypatch) -> None:
    """`--fault occupant-leaves@20`: the controller faults, and writing its STOP fails."""
    real = Link.send

    def send(self, command: p.Command):
        if isinstance(command, p.Stop):
            raise LinkError("write failed: the port went away")
        return real(self, command)

    monkeypatch.setattr(Link, "send", send)
    trace = tmp_path / "t.jsonl"
    code = main(["run", "lumbar", "--fast", "--fault", "occupant-leaves@20",
                 "--trace", str(trace)])
    records = read_trace(str(trace))
    assert code == 4
    assert ("running", "fault") in [(r["source"], r["dest"]) for r in records
                                    if r.get("event") == "state"]
    check_state_chain(records)


@pytest.mark.parametrize("program", ["lumbar", "feet"])
def test_clean_runs_trace_an_unbroken_chain_of_states(tmp_path: Path, program: str) -> None:
    trace = tmp_path / "t.jsonl"
    assert main(["run", program, "--fast", "--trace", str(trace)]) == 0
    check_state_chain(read_trace(str(trace)))


# --------------------------------------------------------------------------- readings


def _status(heat: tuple[float, float]) -> p.StatusReport:
    return p.StatusReport("Run", 1.0, 100.0, "off", 1, 0, 1, 0.0, (0.0,) * len(ZONES), heat,
                          0, 0.0, 0.0, True, False, ())


@pytest.mark.parametrize("reading", [DEVICE["thermistor_c_min"] - 0.1, -40.0,
                                     DEVICE["thermistor_c_max"] + 0.1, 150.0, float("nan")])
def test_a_reading_outside_the_thermistor_range_is_marked(reading: float) -> None:
    sample = sample_record(1.0, "running", _status((reading, 30.0)), 1)
    assert sample["implausible"] == [f"heat_c.{HEATERS[0]}"]


def test_plausible_readings_carry_no_mark() -> None:
    edges = (DEVICE["thermistor_c_min"], DEVICE["thermistor_c_max"])
    assert "implausible" not in sample_record(1.0, "running", _status(edges), 1)


def test_the_devices_own_range_decides() -> None:
    assert "implausible" in sample_record(1.0, "running", _status((30.0, 30.0)), 1, (0.0, 25.0))


@pytest.mark.parametrize(("fault", "reading"), [("thermistor-short", 150.0),
                                                ("thermistor-open", -40.0)])
def test_an_implausible_reading_is_never_the_peak(tmp_path: Path, fault: str,
                                                  reading: float) -> None:
    summary = Summary()
    trace = tmp_path / "t.jsonl"
    outcome = run(load_program("lumbar"), RunOptions(fast=True, faults=(f"{fault}@30",),
                                                     trace=str(trace), listeners=[summary]))
    assert outcome.exit_code == 3
    records = read_trace(str(trace))
    marked = [s for s in records if s["type"] == "sample" and "implausible" in s]
    assert marked and all(s["heat_c"]["lumbar"] == reading for s in marked)
    assert all(DEVICE["thermistor_c_min"] <= c <= DEVICE["thermistor_c_max"]
               for c in summary.peak_c.values()), summary.peak_c
    assert summary.peak_c["lumbar"] < 45.0
    text = summary.render()
    assert f"{reading:.1f}" in text and "implausible" in text
    heat_line = next(line for line in text.splitlines() if line.startswith("heat "))
    assert f"{reading:.1f}" not in heat_line
    # the plot leaves them out of the heater curves (and so out of its axis range)
    values, dropped = _heat_series(_Session(records), "lumbar")
    assert dropped >= len(marked) and reading not in values
