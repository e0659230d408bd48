"""One run of one program on one port: open, connect, scan, run, park, report.

This is the loop around the controller. `run` (`chair run`) owns the port, the clock and
the trace; `drive` runs one session on a port already open (`chair serve` calls it for
every session on the port it holds), acting between ticks on the user's requests
(`chair.interrupts.Requests`): Ctrl-C parks the chair and a second one stops it at once,
and `chair serve`'s stop, emergency stop, pause and resume take the same paths.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from chair import __version__
from chair import protocol as p
from chair.caps import CAUTIONS, check_program, make_caps
from chair.cautions import RED_FLAGS, Answer
from chair.clock import Clock, MonotonicClock
from chair.controller import TICK_S, Controller
from chair.errors import ChairRefused, Exit, LinkError, ProgramError, Stalled, UsageError
from chair.interrupts import Request, Requests
from chair.limits import DEVICE
from chair.link import Link
from chair.ports import DEFAULT_BAUD, PORT_ERRORS, SIM_SCHEME, open_port
from chair.program import Program
from chair.runurls import FAULTY_SCHEME as FAULTY_SCHEME
from chair.runurls import check_faults as check_faults
from chair.runurls import link_fault_url as link_fault_url
from chair.runurls import sim_url as sim_url
from chair.settle import SETTLE_S as SETTLE_S  # importable from here, as before
from chair.settle import settle
from chair.shoulder import ShoulderChoice, choose
from chair.trace import Listener, Trace, check_trace_path

#: The exit code of each outcome of `chair run` (the codes: chair.errors.Exit).
EXIT = {"completed": Exit.OK, "fault": Exit.FAULT, "link": Exit.LINK, "usage": Exit.USAGE,
        "stopped": Exit.STOPPED, "declined": Exit.STOPPED}
#: The end reason of a run whose cautions were not acknowledged (the port never opened).
DECLINED = "the cautions were not acknowledged: nothing moved"
#: The reasons of a stop (park) and of a stop at once asked by a user (Ctrl-C, the page, the
#: API), and by `chair serve` itself when it was stopped by a signal (Request.by "signal").
STOPPED = "stopped by the user"
STOPPED_AT_ONCE = "stopped at once by the user"
STOPPED_BY_SIGNAL = "chair serve is stopping (signal): parking the chair"
STOPPED_AT_ONCE_BY_SIGNAL = "stopped at once: chair serve was stopped again (signal)"


@dataclass
class RunOptions:
    port: str = SIM_SCHEME
    fast: bool = False
    intensity: int = 5
    firm_legs: bool = False
    minutes: float | None = None
    cautions: tuple[str, ...] = ()
    trace: str | None = None
    seed: int | None = None
    faults: tuple[str, ...] = ()
    link_faults: tuple[str, ...] = ()
    #: Where the shoulder line comes from on a chair whose roller senses no force
    #: (--height, --shoulder-mm, --no-profile; chair.shoulder).
    shoulder: ShoulderChoice = field(default_factory=ShoulderChoice)
    baud: int = DEFAULT_BAUD  # the line rate of `port` (`--baud`)
    listeners: list[Listener] = field(default_factory=list)
    #: Shows the cautions and returns the answer, after every option is checked and before
    #: the port opens (`chair.cautions.acknowledger`); None: the caller has shown them
    #: (recorded as `by` "fast-forward" with `fast`, else "caller").
    acknowledge: Callable[[], Answer] | None = None


@dataclass(frozen=True)
class Outcome:
    reason: str
    state: str
    detail: str

    @property
    def exit_code(self) -> int:
        return EXIT[self.reason]


def run(program: Program, options: RunOptions) -> Outcome:
    """Run `program` to its end, a fault, or the user's stop; the trace is always ended.

    The session's objects are freed before this returns: a simulated chair's firmware and
    its parts (each part keeps its firmware) are a reference cycle holding the plant, as
    the controller and its state machine are another; the cyclic collector would keep them
    until its next full pass, rare in allocation-light sessions (+0.4 MB a sciatica session
    in a process that runs many: `chair sweep`'s workers, the benchmarks)."""
    try:
        return _session(program, options)
    finally:
        gc.collect()


def _session(program: Program, options: RunOptions) -> Outcome:
    caps_for = caps_builder(program, options)
    options.shoulder.check()  # a height or shoulder line that fits no chair: before the port
    url = link_fault_url(options.port, options.link_faults)
    url = sim_url(url, fast=options.fast, seed=options.seed, faults=options.faults)
    if options.trace:
        check_trace_path(options.trace)  # before the question: a bad path fails first
    answer = options.acknowledge() if options.acknowledge else \
        Answer(True, "fast-forward" if options.fast else "caller")
    trace = Trace(options.trace, program=program.name, title=program.title,
                  source=program.source, seed=options.seed, port=url, fast=options.fast)
    trace.listeners.extend(options.listeners)
    # held until the header (after connecting), so it comes before any state change
    trace.event(0.0, "cautions", acknowledged=answer.acknowledged, by=answer.by,
                red_flags=list(RED_FLAGS))
    if not answer.acknowledged:
        _quietly(trace.end, 0.0, "disconnected", DECLINED)
        _quietly(trace.close)
        return Outcome("declined", "disconnected", DECLINED)
    try:
        port = open_port(url, baudrate=options.baud)
    except LinkError as exc:
        _quietly(trace.end, 0.0, "disconnected", str(exc))
        _quietly(trace.close)
        raise
    clock: Clock = port.clock if options.fast else MonotonicClock()
    controller = Controller(Link(port, clock), clock, trace, program, caps_for)
    try:
        with Requests() as requests:
            return drive(controller, options, requests)
    finally:
        port.close()


def drive(controller: Controller, options: RunOptions, requests: Requests) -> Outcome:
    """Run `controller`'s session on its link, whose port is open (and stays open: the
    caller's): connect, place the shoulder line, write the header, scan, run, act on the
    user's `requests` between ticks, settle; the trace is always ended and closed, and the
    controller let go of. `chair run` and `chair serve` both run every session here."""
    trace = controller.trace
    try:
        return _run(controller, options, requests)
    except Stalled as exc:  # a fast-forward loop stuck in simulated time: stop, then say so
        controller.reason = str(exc)
        _stop_untraced(controller)
        raise
    except OSError as exc:
        if isinstance(exc, serial.SerialException):
            raise
        # the trace (or the terminal) cannot be written: disk full, a closed pipe ...
        _stop_untraced(controller)
        what = f"the trace {options.trace}" if options.trace else "the display"
        raise UsageError(f"cannot write {what} ({exc.strerror or exc}): the chair was "
                         "stopped; choose a writable path with space left") from exc
    finally:
        _quietly(_finish, controller, trace)
        _quietly(trace.close)
        controller.close()  # the chair and its simulator go now, not at the next full GC


def _quietly(action, *args) -> None:
    """`action(*args)`, when the trace it writes may be the thing that fails."""
    with contextlib.suppress(OSError):
        action(*args)


def _stop_untraced(controller: Controller) -> None:
    """Stop the chair without the trace: STOP and wait for its ok, else the estop byte."""
    link, clock = controller.link, controller.clock
    try:
        link.send(p.Stop())
        deadline = clock.now() + 1.0
        while not link.idle and clock.now() < deadline:
            link.poll()  # replies only: the controller (which traces) is not asked
            clock.sleep_until(clock.now() + 0.01)
        if not link.idle:
            link.estop()
    except LinkError:
        pass


def caps_builder(program: Program, options: RunOptions):
    """The session's caps from the device's limits table (`caps_for(limits)`), after
    checking the user's choices and the program against the host's caps: UsageError or
    ProgramError (exit 2) before the port opens."""
    make_caps(DEVICE, intensity=options.intensity, cautions=options.cautions,
              minutes=options.minutes,
              firm_legs=options.firm_legs)  # bad choices fail before the port opens
    check_program(program)

    def caps_for(device_limits: dict[str, float]):
        return make_caps(device_limits, intensity=options.intensity,
                         cautions=options.cautions, minutes=options.minutes,
                         firm_legs=options.firm_legs)
    return caps_for


def _header(controller: Controller, options: RunOptions) -> None:
    info, caps = controller.info, controller.caps
    assert info is not None and caps is not None
    controller.trace.header(
        versions={"chair": __version__, "protocol": info.banner.proto,
                  "firmware": info.banner.firmware},
        limits=caps.header(), device_limits=info.limits, intensity=options.intensity,
        firm_legs=options.firm_legs,
        cautions=[{"name": name, "text": CAUTIONS[name].text,
                   "changes": CAUTIONS[name].changes()} for name in caps.cautions],
        program_cautions=list(controller.program.cautions),
        program_seconds=sum(step.seconds for step in controller.program.steps),
        program_steps=len(controller.program.steps) + _whole_steps_skipped(controller),
        body_scan=controller.body_scan.header() if controller.body_scan else None,
        chair=controller.chair.header(),
        skipped=[skip.record() for skip in controller.skipped])


def _whole_steps_skipped(controller: Controller) -> int:
    return sum(skip.part == "step" for skip in controller.skipped)


def _place_shoulder(controller: Controller, options: RunOptions) -> None:
    """Choose how the shoulder line is placed, now the banner says whether the roller senses
    force (chair.shoulder.choose); a UsageError (exit 2) leaves the chair connected and idle,
    nothing moved, and the trace (its header's `body_scan` null) ends with the reason."""
    assert controller.info is not None
    try:
        controller.body_scan = choose(options.shoulder, controller.info.banner, options.port)
    except UsageError as exc:
        controller.reason = f"refused before anything moved: {exc}"
        _header(controller, options)
        raise


def _run(controller: Controller, options: RunOptions, requests: Requests) -> Outcome:
    try:
        return _drive(controller, options, requests)
    except LinkError as exc:
        return _link_lost(controller, str(exc))
    except (ChairRefused, ProgramError, UsageError) as exc:
        if controller.state != "connecting":
            raise
        return _refused(controller, exc)
    except PORT_ERRORS as exc:
        if not isinstance(exc, serial.SerialException) and isinstance(exc, OSError):
            raise  # a plain OSError here is the trace's or the terminal's: see `run`
        return _link_lost(controller, f"{controller.link.port.port}: {exc}")


def _refused(controller: Controller, exc: ChairRefused | ProgramError | UsageError) -> Outcome:
    """The chair its device described was refused at connect, before the session started
    (nothing moved): a cap its table lacks (exit 3), a program it can do none of, or a
    caution it cannot honour (exit 2). The header says which chair."""
    controller.reason = str(exc)
    controller.trace.header(chair=controller.chair.header(), incomplete=True)
    controller.trace.event(controller.t, "refused", trigger="connect",
                           state=controller.state, why=controller.reason)
    controller.fire("disconnect")
    kind = "fault" if isinstance(exc, ChairRefused) else "usage"
    return Outcome(kind, controller.state, controller.reason)


def _link_lost(controller: Controller, why: str) -> Outcome:
    """The port failed mid-run (it vanished, or writing failed): record it, touch no port."""
    controller.reason = f"link lost: {why}"
    controller.trace.event(controller.t, "fault", source="link", detail=controller.reason)
    if controller.state != "disconnected":
        controller.fire("disconnect")  # no I/O: the machine only records where it ended
    return Outcome("link", controller.state, controller.reason)


def _drive(controller: Controller, options: RunOptions, requests: Requests) -> Outcome:
    clock = controller.clock
    handled = 0  # Ctrl-Cs acted on (counted by `requests`, or raised by a listener)
    while True:
        try:
            if controller.state == "disconnected":
                controller.fire("connect")
                _place_shoulder(controller, options)
                _header(controller, options)
                if not controller.fire("start"):
                    return Outcome("fault", controller.state, controller.reason)
            next_tick = clock.now()
            while controller.state in ("scanning", "running", "paused", "parking"):
                if requests.count > handled:
                    raise KeyboardInterrupt  # here, between ticks: never mid-write
                request = requests.take()
                if request is not None and request.action == "stop-now":
                    return _stop_now(controller, request, lambda n=handled: requests.count > n)
                if request is not None:
                    _act(controller, request)
                    continue
                controller.tick()
                next_tick = controller.wait(next_tick + TICK_S)  # fast-forward: next event
            break
        except KeyboardInterrupt:
            handled = max(requests.count, handled + 1)
            if handled == 1 and controller.state in ("scanning", "running", "paused"):
                _act(controller, Request("stop"))
                continue
            return _stop_now(controller, Request("stop-now"),
                             lambda n=handled: requests.count > n)
    with contextlib.suppress(KeyboardInterrupt):
        settle(controller, lambda: requests.count > handled)
    if controller.state == "idle" and controller.reason in (STOPPED, STOPPED_BY_SIGNAL):
        return Outcome("stopped", controller.state, controller.reason)
    if controller.state == "idle" and controller.completed:
        return Outcome("completed", controller.state, controller.reason)
    kind = "link" if controller.reason.startswith("link lost") else "fault"
    return Outcome(kind, controller.state, controller.reason)


def _user(controller: Controller, request: Request) -> None:
    """The trace's `user` event: what was asked, and by whom when somebody asked."""
    by = {"by": request.by} if request.by else {}
    controller.trace.event(controller.t, "user", action=request.action, **by)


def _act(controller: Controller, request: Request) -> None:
    """Stop (park), pause or resume, as the machine allows (a refusal is traced)."""
    if request.action == "stop" and controller.state not in ("scanning", "running",
                                                             "paused"):
        return  # parking already, or past it: nothing to stop
    _user(controller, request)
    if request.action == "stop":
        controller.fire("stop", reason=STOPPED_BY_SIGNAL if request.by == "signal"
                        else STOPPED)
    else:
        controller.fire(request.action)


def _stop_now(controller: Controller, request: Request, give_up: Callable[[], bool]
              ) -> Outcome:
    """Stop at once: the emergency stop, then read the chair until it is confirmed at rest
    (or not, or until `give_up`: another Ctrl-C)."""
    _user(controller, request)
    reason = STOPPED_AT_ONCE_BY_SIGNAL if request.by == "signal" else STOPPED_AT_ONCE
    if not controller.fire("estop", reason=reason):
        controller.link.estop()  # whatever the machine says: the byte goes out
    with contextlib.suppress(KeyboardInterrupt):  # a third Ctrl-C: leave at once
        # read the chair until it is confirmed at rest (or not)
        settle(controller, give_up)
    return Outcome("stopped", controller.state, reason)


def _finish(controller: Controller, trace: Trace) -> None:
    """End the trace, whatever happened, and say why."""
    state = controller.state
    reason = controller.reason or ("completed" if controller.completed else state)
    trace.end(controller.t, state, reason)

