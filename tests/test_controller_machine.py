"""Every (state, event) pair: a listed transition, or refused with the chair left safe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chair import protocol as p
from chair.caps import make_caps
from chair.clock import VirtualClock
from chair.controller import EVENTS, STATES, TRANSITIONS, Controller, diagram
from chair.limits import DEVICE, DEVICE_TABLE_CRC, HEATERS, SEAT_BEND_MM, TRACK_MM, ZONES
from chair.link import DeviceInfo
from chair.program import Program
from chair.trace import Trace

ROOT = Path(__file__).resolve().parents[1]


class FakeLink:
    """Records what the controller sends; answers the handshake like a healthy device."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.sent: list[p.Command] = []
        self.estops = 0
        self.last_rx = 0.0
        self.idle = True
        self._first_report = False

    def connect(self, accept=None) -> DeviceInfo:
        banner = p.Banner(1, "fake", ZONES, HEATERS, TRACK_MM, SEAT_BEND_MM, DEVICE_TABLE_CRC)
        info = DeviceInfo(banner, dict(DEVICE))
        if accept is not None:  # the controller learns the chair before the session starts
            accept(info)
        self._first_report = True  # a healthy device reports once connected (a silent one
        return info  # is a link error: tests/test_exit_codes.py)

    def send(self, command: p.Command) -> None:
        self.sent.append(command)

    def estop(self) -> None:
        self.estops += 1

    def poll(self) -> list:
        if self._first_report:
            self._first_report = False
            return [_status()]
        return []


def _status(occupied: bool = True) -> p.StatusReport:
    return p.StatusReport("Idle", 0.0, 0.0, "off", 1, 0, 1, 0.0, (0.0,) * 6, (24.0,) * 2, 0,
                          0.0, 0.0, occupied, False, ())


def make_controller(state: str = "disconnected") -> tuple[Controller, FakeLink]:
    clock = VirtualClock()
    link = FakeLink(clock)
    program = Program("empty", "Empty", "test", (), (), "<test>")
    controller = Controller(link, clock, Trace(None), program, lambda limits: make_caps(limits))
    if state != "disconnected":
        controller.fire("connect")  # fills in device info, caps and supervisor
    controller.status = _status()
    controller.machine.set_state(state)
    link.sent.clear()
    return controller, link


def _allowed(state: str, event: str) -> dict | None:
    for transition in TRANSITIONS:
        sources = transition["source"]
        sources = [sources] if isinstance(sources, str) else sources
        if transition["trigger"] == event and state in sources:
            return transition
    return None


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_state_and_event(state: str, event: str) -> None:
    controller, link = make_controller(state)
    transition = _allowed(state, event)
    accepted = controller.fire(event)
    if transition is None:
        assert not accepted
        assert controller.state == state
        assert link.sent == [] and link.estops == 0, "a refused event must not actuate"
    else:
        expected = transition["dest"] or state
        if event == "connect":
            expected = "idle"  # connecting hands straight on once the handshake succeeds
        assert controller.state == expected
    if controller.state in ("fault", "estop", "idle", "disconnected"):
        assert not any(c.KIND is p.Kind.ACTUATE for c in link.sent)
    if controller.state == "fault" and state != "fault":
        assert isinstance(link.sent[-1], p.Stop)
    if controller.state == "estop" and state != "estop":
        assert link.estops == 1


def test_start_refused_without_a_seated_person() -> None:
    controller, link = make_controller("idle")
    controller.status = _status(occupied=False)
    assert not controller.fire("start")
    assert controller.state == "idle"
    assert "nobody is seated" in controller.reason
    assert link.sent == []


def test_reset_refused_while_the_device_refuses() -> None:
    controller, link = make_controller("fault")
    refusal = p.Error(1, p.ErrorCode.RESET_REFUSED, "F13 pinch still present")
    from chair.link import Refused

    link.idle = False
    link.poll = lambda: [Refused(p.Reset(), refusal)]
    assert not controller.fire("reset")
    assert controller.state == "fault"
    assert not any(c.KIND is p.Kind.ACTUATE for c in link.sent)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(EVENTS), max_size=25))
def test_random_event_sequences_never_actuate_outside_motion(events: list[str]) -> None:
    controller, link = make_controller()
    for event in events:
        before = len(link.sent)
        controller.fire(event)
        assert controller.state in STATES
        if controller.state in ("fault", "estop", "idle", "disconnected"):
            assert not any(c.KIND is p.Kind.ACTUATE for c in link.sent[before:])


def test_readme_embeds_the_generated_diagram() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```mermaid\n(.*?)```", readme, re.S)
    assert found, "README.md has no mermaid block"
    assert found.group(1).strip() == diagram().strip(), "run `chair diagram` and paste it"
