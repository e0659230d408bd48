"""After a session: keep reading and supervising the chair until it is confirmed in its safe
state, or fault (exit 3) when it is not confirmed in time. `chair run` and `chair serve`
both end every session here (chair.runner)."""

from __future__ import annotations

from collections.abc import Callable

from chair.controller import PARK_MM, TICK_S, Controller

#: After the run: keep reading and supervising the chair until it is confirmed in its safe
#: state (the trace then ends on the safe state reached, not only commanded), for at most
#: this long; a chair not confirmed safe by then is a fault (exit 3). Enough for the dump
#: path alone to vent a bag from its cap (about 3 s; sim/physics.py DUMP_TAU_S).
SETTLE_S = 5.0


def settle(controller: Controller, give_up: Callable[[], bool] = lambda: False) -> None:
    """Keep reading and supervising the chair after the run until it is confirmed in its
    safe state (`Supervisor.unsafe`: device not running, bags vented, heaters off and
    cooling, roller at rest, and home after parking), at most `SETTLE_S`. A check that
    fails meanwhile is a fault; so is a chair not confirmed safe in time (the reason says
    what was not safe). Asks for a status (`?`) when none came for 150 ms (a restarted
    device sends no reports). Stops at once, unconfirmed, when `give_up()` says so (another
    Ctrl-C)."""
    if controller.reason.startswith("link lost") or not controller.unconfirmed:
        return
    clock = controller.clock
    deadline = clock.now() + SETTLE_S
    next_tick = clock.now()
    seen, quiet = controller.status, 0
    while controller.state in ("idle", "fault", "estop") and not give_up():
        why = _not_yet_safe(controller)
        if why is None or clock.now() >= deadline:
            _confirm(controller, why)
            return
        controller.tick()
        if controller.status is seen:
            quiet += 1
            if quiet >= 3:
                quiet = 0
                controller.link.request_status()
        else:
            seen, quiet = controller.status, 0
        next_tick += TICK_S
        clock.sleep_until(next_tick)


def _not_yet_safe(controller: Controller) -> str | None:
    """What keeps the chair from its confirmed safe state, judged on a report that came
    after the last STOP (None: it is there)."""
    if not controller.reported_since_stop:
        return "no status report since the stop"
    home = PARK_MM if controller.state == "idle" else None  # no motion after a fault
    return controller.supervisor.unsafe(controller.status, home, controller.clock.now())


def _confirm(controller: Controller, why: str | None) -> None:
    """Record the safe state confirmed, or fault (exit 3) on a chair not confirmed safe.

    A zone whose pressure reading is not trusted (an air fault: `Supervisor.distrusted`) is
    never confirmed vented: `unsafe` holds the settling until its worst-case vent time has
    passed since the STOP, and the `safe` event then says `confirmed` false, `vented_by`
    "time", with the zones and why (a bound inferred, not a reading seen)."""
    controller.unconfirmed = False
    by_time = controller.supervisor.vented_by_time() if why is None else {}
    if why is None and not by_time:
        controller.trace.event(controller.t, "safe", confirmed=True)
        return
    fields: dict[str, object] = {}
    if by_time:
        why = (f"airbag {', '.join(sorted(by_time))}: the reading is not trusted "
               f"({'; '.join(sorted(set(by_time.values())))}); vented by time only")
        fields = {"vented_by": "time", "zones": sorted(by_time)}
    detail = f"the safe state was not confirmed within {SETTLE_S:g} s: {why}"
    controller.trace.event(controller.t, "safe", confirmed=False, why=why, **fields)
    if controller.state == "idle":
        controller.fire("fault", reason=detail, source="supervisor")
    else:  # already stopped by a fault: say that it is not confirmed safe either
        controller.reason = f"{controller.reason}; {detail}"
