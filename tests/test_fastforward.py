"""Fast-forward from event to event: the controller sleeps until its next deadline or the
device's next line (docs/performance.md), and loses nothing by it."""

from __future__ import annotations

import itertools

from chair import protocol as p
from chair.caps import make_caps
from chair.clock import VirtualClock
from chair.controller import RENEW_S, TICK_S, Controller
from chair.executor import Executor
from chair.limits import DEVICE
from chair.link import Link
from chair.ports import open_port
from chair.program import load_program
from chair.runner import RunOptions, run
from chair.safety import Supervisor
from chair.trace import Trace, read_trace


def _ticks_and_wire(program: str, **options) -> tuple[list[float], list[tuple[float, bytes]],
                                                       list[dict]]:
    """Run `program` fast; the controller's tick times, the host's frames, the records."""
    import chair.runner as runner

    ticks: list[float] = []
    sent: list[tuple[float, bytes]] = []
    records: list[dict] = []

    class Watched(Link):
        def _write(self, data: bytes) -> None:
            sent.append((self.clock.now(), data))
            super()._write(data)

    class Counted(Controller):
        def tick(self) -> None:
            ticks.append(self.clock.now())
            super().tick()

    runner.Link, runner.Controller = Watched, Counted
    try:
        outcome = run(load_program(program),
                      RunOptions(fast=True, seed=3, listeners=[records.append], **options))
    finally:
        runner.Link, runner.Controller = Link, Controller
    assert outcome.reason == "completed", outcome
    return ticks, sent, records


def test_every_report_is_handled_when_it_is_sent_and_no_tick_is_empty() -> None:
    ticks, _, records = _ticks_and_wire("lumbar", minutes=1.0)
    samples = [r for r in records if r["type"] == "sample"]
    times = [r["t"] for r in samples]
    gaps = {round(b - a, 3) for a, b in itertools.pairwise(times)}
    assert gaps == {0.1}, gaps  # one sample per report, at the report's own time
    span = times[-1] - times[0]
    # a fixed 50 ms tick would be 20 a second; from event to event it is about one a report
    assert len(ticks) < 1.3 * len(samples) < 0.7 * span / TICK_S


def test_leases_are_renewed_at_least_every_renew_period() -> None:
    _, sent, records = _ticks_and_wire("lumbar", minutes=1.0)
    decoder = p.HostDecoder()
    renewals = [t for t, data in sent for frame in decoder.feed(data)
                if isinstance(frame, p.Frame) and isinstance(frame.command, p.Renew)]
    running = [r["t"] for r in records if r.get("event") == "step"]
    active = [t for t in renewals if running[0] + 1.0 <= t <= renewals[-1]]
    assert len(active) > 100
    gaps = [b - a for a, b in itertools.pairwise(active)]
    assert max(gaps) <= RENEW_S + 1e-9


def _sim() -> tuple[Link, VirtualClock]:
    port = open_port("sim://?clock=virtual")
    clock = port.clock
    return Link(port, clock), clock


def test_wait_ends_at_the_devices_next_line_and_settles_replies_on_the_way() -> None:
    link, clock = _sim()
    assert link.can_wait
    link.connect()
    link.wait(clock.now() + 1.0)  # SYNC and REPORT are answered: the replies do not wake us
    assert link.idle
    woke = clock.now()
    status = link.poll()
    assert [type(m) for m in status] == [p.StatusReport]
    assert woke < 0.2  # the first report, 100 ms after REPORT, not the 1 s deadline
    link.wait(woke + 1.0)
    assert abs(clock.now() - woke - 0.1) < 1e-9  # the next one
    assert [type(m) for m in link.poll()] == [p.StatusReport]


def test_wait_sleeps_to_the_deadline_when_nothing_comes() -> None:
    link, clock = _sim()
    link.connect()
    link.send(p.SetReport(0))
    link.wait(clock.now() + 0.05)
    link.poll()
    start = clock.now()
    link.wait(start + 2.5)
    assert clock.now() == start + 2.5 and link.poll() == []


def test_a_port_on_another_clock_is_waited_for_with_the_clock() -> None:
    port = open_port("sim://?clock=virtual")
    clock = VirtualClock()
    link = Link(port, clock)
    assert not link.can_wait
    link.wait(3.0)
    assert clock.now() == 3.0


def _executor(program: str = "legs") -> Executor:
    loaded = load_program(program)
    landmarks = {"shoulder": 310.0, "t12": 520.0, "l3": 580.0, "l5": 650.0, "sacrum": 745.0,
                 "piriformis": 894.0, "gluteal": 955.0, "thigh": 1130.0}
    supervisor = Supervisor(make_caps(DEVICE))
    return Executor(loaded, landmarks, supervisor, 1500)


def test_next_change_is_where_the_setpoints_change() -> None:
    executor = _executor()
    elapsed, checked = 0.0, 0
    while elapsed < executor.seconds:
        change = executor.next_change(elapsed)
        assert change > elapsed
        before = executor.setpoints(elapsed, None)
        if change < executor.seconds:
            just = min(change, elapsed + (change - elapsed) / 2)
            assert executor.setpoints(just, None) == before  # nothing changes before it
            assert executor.setpoints(change + 1e-6, None) != before  # and it does at it
            checked += 1
        elapsed = change + 1e-6
    assert checked > 3
    assert executor.next_change(executor.seconds) == float("inf")


def test_setpoints_come_back_as_the_same_dict_until_something_changes() -> None:
    executor = _executor()
    first = executor.setpoints(1.0, None)
    assert executor.setpoints(1.2, None) is first
    change = executor.next_change(1.0)
    assert executor.setpoints(change + 1e-6, None) is not first


def test_the_real_time_loop_keeps_its_fixed_tick() -> None:
    port = open_port("sim://")  # the real clock: the port's clock is not the controller's
    try:
        clock = VirtualClock()
        controller = Controller(Link(port, clock), clock, Trace(None), load_program("lumbar"),
                                lambda table: make_caps(table))
        assert controller.wait(0.05) == 0.05 and clock.now() == 0.05
    finally:
        port.close()


def test_fast_traces_are_byte_identical(tmp_path) -> None:
    lines = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.jsonl"
        run(load_program("feet"), RunOptions(fast=True, seed=5, trace=str(path)))
        lines.append(path.read_text().splitlines()[1:])
        assert read_trace(str(path))[-1]["reason"] == "completed"
    assert lines[0] == lines[1]
