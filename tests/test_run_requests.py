"""`chair.runner.drive` on a port already open, with requests asked from outside (what
`chair serve` does): pause, resume, stop and stop-now take the paths Ctrl-C takes, and the
trace's `user` events say who asked."""

from __future__ import annotations

from chair import protocol as p
from chair.controller import Controller
from chair.interrupts import Requests
from chair.link import Link
from chair.ports import open_port
from chair.program import load_program
from chair.runner import RunOptions, caps_builder, drive
from chair.trace import Trace


class Asker:
    """A trace listener that asks `(time, action)` requests at simulated times."""

    def __init__(self, requests: Requests, *plan: tuple[float, str]) -> None:
        self.requests, self.plan = requests, list(plan)

    def __call__(self, record: dict) -> None:
        if self.plan and record["type"] == "sample" and record["t"] >= self.plan[0][0]:
            self.requests.ask(self.plan.pop(0)[1], "web")


def _session(*plan: tuple[float, str]):
    port = open_port("sim://?clock=virtual")
    clock = port.clock
    program = load_program("lumbar")
    options = RunOptions(fast=True)
    records: list[dict] = []
    trace = Trace(None, program=program.name)
    requests = Requests()
    trace.listeners.extend([records.append, Asker(requests, *plan)])
    controller = Controller(Link(port, clock), clock, trace, program,
                            caps_builder(program, options))
    outcome = drive(controller, options, requests)
    assert port.is_open  # the port is the caller's: drive leaves it open
    return outcome, records, port


def test_pause_resume_and_stop_asked_from_outside() -> None:
    outcome, records, port = _session((40.0, "pause"), (50.0, "resume"), (70.0, "stop"))
    assert outcome.reason == "stopped" and outcome.detail == "stopped by the user"
    users = [(r["action"], r["by"]) for r in records if r.get("event") == "user"]
    assert users == [("pause", "web"), ("resume", "web"), ("stop", "web")]
    dests = [r["dest"] for r in records if r.get("event") == "state"]
    assert dests.index("paused") < dests.index("parking") and dests[-1] == "idle"
    assert records[-1]["type"] == "end" and records[-1]["reason"] == "stopped by the user"
    assert port.device.state == "Idle" and not port.device.faults
    port.close()


def test_stop_now_asked_from_outside_is_the_second_ctrl_c() -> None:
    outcome, records, port = _session((40.0, "stop-now"))
    assert outcome.reason == "stopped" and outcome.state == "estop"
    assert [r["action"] for r in records if r.get("event") == "user"] == ["stop-now"]
    port.device.advance_to(port.clock.now() + 0.02)
    assert p.FaultCode.ESTOP in port.device.faults
    port.close()


def test_a_request_the_state_does_not_allow_is_refused_and_traced() -> None:
    outcome, records, port = _session((40.0, "resume"), (45.0, "stop"))
    refused = [r for r in records if r.get("event") == "refused"]
    assert refused and refused[0]["trigger"] == "resume" and refused[0]["state"] == "running"
    assert outcome.reason == "stopped"
    port.close()
