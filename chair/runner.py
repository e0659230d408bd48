"""One run of one program on one port: open, connect, scan, run, park, report.

This is the loop around the controller: it owns the port, the clock, the trace and the
user's interruptions (Ctrl-C parks the chair; a second Ctrl-C stops it at once).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from chair import __version__
from chair import protocol as p
from chair.clock import Clock, MonotonicClock
from chair.controller import TICK_S, Controller
from chair.errors import LinkError, UsageError
from chair.limits import DEVICE
from chair.link import Link
from chair.ports import SIM_SCHEME, open_port
from chair.program import Program
from chair.safety import CAUTIONS, check_program, make_caps
from chair.trace import Listener, Trace

#: Exit codes of `chair run` (documented in the README).
EXIT = {"completed": 0, "fault": 3, "link": 4, "usage": 2, "stopped": 130}


def sim_url(url: str, *, fast: bool, seed: int | None, faults: tuple[str, ...]) -> str:
    """`url` with the run's options added to its query (only for `sim://`)."""
    if not url.startswith(SIM_SCHEME):
        if fast:
            raise UsageError(f"--fast runs on the virtual clock of a simulated chair; {url} is "
                             "a real port: drop --fast or use sim://")
        if faults:
            raise UsageError("--fault injects faults into the simulated chair only (sim://)")
        return url
    base, _, old = url.partition("?")
    query = urllib.parse.parse_qsl(old)
    if fast:
        query.append(("clock", "virtual"))
    if seed is not None:
        query.append(("seed", str(seed)))
    query.extend(("fault", spec) for spec in faults)
    return f"{base}?{urllib.parse.urlencode(query, safe='@')}" if query else base


@dataclass
class RunOptions:
    port: str = SIM_SCHEME
    fast: bool = False
    intensity: int = 5
    minutes: float | None = None
    cautions: tuple[str, ...] = ()
    trace: str | None = None
    seed: int | None = None
    faults: tuple[str, ...] = ()
    listeners: list[Listener] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    reason: str
    state: str
    detail: str

    @property
    def exit_code(self) -> int:
        return EXIT[self.reason]


def run(program: Program, options: RunOptions) -> Outcome:
    """Run `program` to its end, a fault, or the user's stop; the trace is always ended."""
    caps_for = _caps_builder(program, options)
    url = sim_url(options.port, fast=options.fast, seed=options.seed, faults=options.faults)
    trace = Trace(options.trace, program=program.name, title=program.title,
                  source=program.source, seed=options.seed, port=url, fast=options.fast)
    trace.listeners.extend(options.listeners)
    try:
        port = open_port(url)
    except LinkError as exc:
        trace.end(0.0, "disconnected", str(exc))
        trace.close()
        raise
    clock: Clock = port.clock if options.fast else MonotonicClock()
    controller = Controller(Link(port, clock), clock, trace, program, caps_for)
    try:
        return _run(controller, options)
    finally:
        _finish(controller, trace)
        port.close()
        trace.close()


def _caps_builder(program: Program, options: RunOptions):
    make_caps(DEVICE, intensity=options.intensity, cautions=options.cautions,
              minutes=options.minutes)  # bad choices fail before the port opens
    check_program(program)

    def caps_for(device_limits: dict[str, float]):
        return make_caps(device_limits, intensity=options.intensity,
                         cautions=options.cautions, minutes=options.minutes)
    return caps_for


def _header(controller: Controller, options: RunOptions) -> None:
    info, caps = controller.info, controller.caps
    assert info is not None and caps is not None
    controller.trace.header(
        versions={"chair": __version__, "protocol": p.PROTOCOL_VERSION,
                  "firmware": info.banner.firmware},
        limits=caps.header(), device_limits=info.limits, intensity=options.intensity,
        cautions=[{"name": name, "text": CAUTIONS[name].text} for name in caps.cautions],
        program_cautions=list(controller.program.cautions),
        program_seconds=sum(step.seconds for step in controller.program.steps))


def _run(controller: Controller, options: RunOptions) -> Outcome:
    clock = controller.clock
    interrupts = 0
    while True:
        try:
            if controller.state == "disconnected":
                controller.fire("connect")
                _header(controller, options)
                if not controller.fire("start"):
                    return Outcome("fault", controller.state, controller.reason)
            next_tick = clock.now()
            while controller.state in ("scanning", "running", "paused", "parking"):
                controller.tick()
                next_tick += TICK_S
                clock.sleep_until(next_tick)
            break
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts == 1 and controller.state in ("scanning", "running", "paused"):
                controller.trace.event(controller.t, "user", action="stop")
                controller.fire("stop", reason="stopped by the user")
                continue
            controller.trace.event(controller.t, "user", action="stop-now")
            controller.link.estop()
            return Outcome("stopped", controller.state, "stopped at once by the user")
    if controller.state == "idle" and controller.reason == "stopped by the user":
        return Outcome("stopped", controller.state, controller.reason)
    if controller.state == "idle" and controller.completed:
        return Outcome("completed", controller.state, controller.reason)
    kind = "link" if controller.reason.startswith("link lost") else "fault"
    return Outcome(kind, controller.state, controller.reason)


def _finish(controller: Controller, trace: Trace) -> None:
    """End the trace, whatever happened, and say why."""
    state = controller.state
    reason = controller.reason or ("completed" if controller.completed else state)
    trace.end(controller.t, state, reason)

