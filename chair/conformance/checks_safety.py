"""The checks of the safety rules that actuate: caps, leases, dead-man, emergency stop,
reset. Each needs someone seated (or a weight on the seat) and leaves the device safe."""

from __future__ import annotations

from collections.abc import Callable

from chair import protocol as p
from chair.conformance.rules import (
    DEADMAN_S,
    GATE_MS,
    KEEPALIVE_S,
    LEASE_MAX_MS,
    REPLY_S,
    REPORT_MS,
    TICK_S,
    VENT_S,
    R,
)
from chair.conformance.setup import (
    Context,
    begin,
    check,
    conditions,
    estop_byte,
    expect_ok,
    flt,
    refused,
    running,
    show,
    start_probe,
    stop_all,
    stopped,
    vented,
    verb,
    watch,
)
from chair.conformance.wire import EPS, CheckFailed, CheckSkipped, is_status, ms, text


@check("range", "rule 5 caps", "a value above each device cap is refused E04 and nothing moves")
def check_range(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, seated=True)
    L = c.limits
    zones = c.banner.zones if c.banner else ()
    heaters = c.banner.heaters if c.banner else ()
    pos = round(s.pos_mm, 1)
    cases: list[tuple[str, p.Command]] = []
    missing = []

    def case(limit: str, make: Callable[[float], p.Command]) -> None:
        if limit in L:
            cases.append((f"{limit}={L[limit]:g}", make(L[limit])))
        else:
            missing.append(limit)

    for zone in zones:
        case(f"airbag_kpa_max.{zone}", lambda cap, z=zone: p.SetAir(z, cap + 1.0, GATE_MS))
    for heater in heaters:
        case("heat_target_c_max", lambda cap, h=heater: p.SetHeat(h, cap + 1.0, GATE_MS))
    if c.has("carriage"):
        case("roller_depth_max", lambda cap: p.SetRoller(pos, "knead", 1, int(cap) + 1, 1, GATE_MS))
        case("roller_width_max", lambda cap: p.SetRoller(pos, "knead", int(cap) + 1, 1, 1,
                                                             GATE_MS))
        case("roller_speed_max", lambda cap: p.SetRoller(pos, "knead", 1, 1, int(cap) + 1, GATE_MS))
    if c.has("foot"):
        case("foot_speed_max", lambda cap: p.SetFoot(int(cap) + 1, GATE_MS))
    lease = int(L.get("lease_ms_max", LEASE_MAX_MS))
    cases.append((f"lease_ms_max={lease}", c.probe(s, lease + 1)))
    cases.append((f"lease_ms_max={lease}", p.Renew(lease + 1)))
    if c.banner:
        cases.append((f"track={c.banner.track_mm:g}",
                      p.SetRoller(c.banner.track_mm + 10.0, "off", 1, 1, 1, GATE_MS)))
    accepted, wrong = [], []
    for cap, command in cases:
        reply = w.send(command)
        if isinstance(reply, p.Ok):
            accepted.append(f"{command.wire()} (cap {cap})")
            stop_all(c)
        elif reply.code is not p.ErrorCode.OUT_OF_RANGE:
            wrong.append(f"{command.wire()}: {text(reply)}")
    s = w.status()
    inflated = [f"{z}={kpa:.1f}" for z, kpa in zip(zones, s.air_kpa, strict=False) if kpa > 1.0]
    if accepted or wrong or running(s) or inflated:
        stop_all(c)
        seen = "; ".join(filter(None, [accepted and f"accepted {', '.join(accepted)}",
                                       wrong and f"answered {', '.join(wrong)}",
                                       running(s), inflated and f"air {inflated}"]))
        raise CheckFailed("E04 out-of-range for every value above a device cap, nothing "
                          "moving", seen, "check every argument against the device's own "
                          "limits table before acting: the device is the last line of "
                          "defence when the host is wrong", f"{len(accepted)} accepted")
    note = f"; not in the table: {', '.join(missing)}" if missing else ""
    return f"{len(cases)} refused", f"every cap+1 refused E04, nothing moved{note}"


@check("lease", "rule 2 leases", "a setpoint not renewed stops after its lease (+1 tick); RENEW "
       "extends it")
def check_lease(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, report_ms=REPORT_MS, seated=True)
    lease, renew = R.lease_probe_ms / 1000, R.renew_probe_ms / 1000
    start_probe(c, s, int(lease * 1000), air=False)
    ref = w.status()
    limit = lease + TICK_S
    statuses = watch(c, ref.t + limit + 0.15, keepalive_s=KEEPALIVE_S)
    hint = ("time every setpoint from the line that set it; at the end of its lease put that "
            "actuator to its safe value (a host that stops renewing must not leave it on)")
    outputs = "foot rollers and roller heads" if c.has("foot") else "roller heads"
    safe = stopped(c, statuses, ref.t, limit, f"{outputs} off at the end of a {ms(lease)} "
                   "lease", hint)
    expired = safe.t - ref.t
    if safe.faults:
        raise CheckFailed("a lease ending latches nothing (and a CRC'd STATUS every "
                          f"{ms(KEEPALIVE_S)} keeps the dead-man quiet)", show(c, safe),
                          "any line with a valid CRC restarts the dead-man timer")
    # RENEW: extend a running lease past its end
    probe = c.probe(safe, int(lease * 1000))
    expect_ok(w.send(probe), verb(probe), f"{verb(probe)} with a lease is accepted")
    ref = w.status()
    watch(c, ref.t + 0.15, keepalive_s=KEEPALIVE_S)
    expect_ok(w.send(p.Renew(int(renew * 1000))), f"RENEW {int(renew * 1000)}",
        "RENEW 1..lease_ms_max extends every active lease")
    renewed = w.status()
    statuses = watch(c, renewed.t + renew + TICK_S + 0.1, keepalive_s=KEEPALIVE_S)
    between = [x for x in statuses
               if ref.t + lease + TICK_S + EPS < x.t < renewed.t + renew - TICK_S - EPS]
    dropped = next((x for x in between if not running(x)), None)
    if not between or dropped is not None:
        raise CheckFailed(f"{c.probe_name} still on between the first lease's end "
                          f"({ms(lease)}) and the renewed one's "
                          f"({ms(renewed.t - ref.t + renew)})",
                          show(c, dropped) if dropped else "no status line in between",
                          "RENEW moves the end of every active lease to now + lease_ms")
    safe = stopped(c, statuses, renewed.t, renew + TICK_S, f"{c.probe_name} off at the end "
                   f"of the renewed {ms(renew)} lease", hint)
    return (f"lease {ms(expired)}", f"{ms(lease)} lease: off after {ms(expired)}; "
            f"RENEW {ms(renew)}: off after {ms(safe.t - renewed.t)}")


@check("deadman", "rule 1 dead-man",
       f"host silent: safe state within {R.deadman_ms:g} ms + 1 tick of the last valid frame, "
       "F02 latched")
def check_deadman(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, report_ms=REPORT_MS, seated=True)
    start_probe(c, s, LEASE_MAX_MS)
    mark = w.mark()
    ref = w.status()  # the last valid frame; from here on the host is silent
    if not running(ref):
        raise CheckFailed("the probe outputs on", show(c, ref), "an accepted setpoint acts")
    limit = DEADMAN_S + TICK_S
    statuses = watch(c, ref.t + limit + REPORT_MS / 1000 + VENT_S + 0.05)
    hint = (f"check the time since the last valid frame in every tick; at {ms(DEADMAN_S)} go "
            "to the safe state and latch F02")
    safe = stopped(c, statuses, ref.t, limit, "the safe state after the host fell silent",
                    hint)
    took = safe.t - ref.t
    figure = f"dead-man {ms(took)}"
    if took > limit + REPORT_MS / 1000 + EPS:
        raise CheckFailed(f"a status line showing the stop within {ms(limit)} (reports "
                          f"every {REPORT_MS} ms)", f"first at {ms(took)}", hint, figure)
    pushed = [m for m in w.since(mark, p.FaultReport) if m.code is p.FaultCode.DEADMAN]
    if p.FaultCode.DEADMAN not in safe.faults or safe.state != "Fault" or not pushed:
        raise CheckFailed("F02 deadman latched (pushed `!F02`, state Fault) when the "
                          "outputs stop", f"{show(c, safe)}; !F02 "
                          f"{'pushed' if pushed else 'not pushed'}", "the outputs stopped "
                          "for another reason (a lease?): the dead-man must latch F02",
                          figure)
    vent = vented(c, statuses, safe)
    after = w.status()
    probe = c.probe(after, GATE_MS)
    gate = w.send(probe)
    if p.FaultCode.DEADMAN not in after.faults or not refused(gate, p.ErrorCode.FAULTED):
        stop_all(c)
        raise CheckFailed("F02 still latched after new frames, actuation refused E07",
                          f"{show(c, after)}; {verb(probe)} answered {text(gate)}",
                          "faults latch until a RESET that succeeds", figure)
    expect_ok(w.send(p.Reset()), "RESET", "F02 has no lasting condition: RESET clears it")
    early = f" (early: the rule allows {ms(DEADMAN_S)})" if took < DEADMAN_S - 0.1 else ""
    return figure, (f"safe {ms(took)} after the last valid frame{early}, reports every "
                    f"{REPORT_MS} ms; F02 latched; {vent}")


@check("estop", "rule 3 e-stop", "the stop byte (0x9E; `!` in protocol 1) mid-line beats "
       "queued lines: safe within one tick, F01 latched, actuation refused E08 until RESET")
def check_estop(c: Context) -> tuple[str, str]:
    w = c.wire
    stop = estop_byte(c)
    s = begin(c, report_ms=REPORT_MS, seated=True)
    start_probe(c, s, LEASE_MAX_MS)
    ref = w.status()
    watch(c, ref.t + R.probe_fill_ms / 1000, keepalive_s=KEEPALIVE_S)  # the airbag fills a little
    s1, s2, s3 = w.next_seq(), w.next_seq(), w.next_seq()
    queued = p.encode_command(c.probe(ref, LEASE_MAX_MS, 2), s1)
    middle = p.encode_command(c.probe(ref, LEASE_MAX_MS, 3), s2)
    half = len(middle) // 2
    after = p.encode_command(p.SetAir(c.zone, 10.0, LEASE_MAX_MS), s3)
    mark = w.mark()
    w.write(b"?" + queued + middle[:half] + stop + middle[half:] + after + b"?")

    def reply_to(seq: int) -> p.Ok | p.Error | None:
        return w.wait(lambda m: isinstance(m, p.Ok | p.Error) and m.seq == seq, REPLY_S, mark)

    replies = {seq: reply_to(seq) for seq in (s1, s2, s3)}
    first = w.wait(is_status, REPLY_S, mark)
    if first is None:
        raise CheckFailed("a status line for `?`", "none", "answer `?` at once")
    watch(c, first.t + TICK_S + VENT_S + 0.05)
    statuses = w.since(mark, p.StatusReport)
    hint = (f"catch the stop byte 0x{stop[0]:02X} in the receive interrupt, before any line "
            "is finished or queued; go to the safe state at once and latch F01")
    bad = [f"{seq}: {text(r) if r else 'no reply'}" for seq, r in replies.items()
           if seq != s1 and not refused(r, p.ErrorCode.ESTOPPED)]
    if bad:
        stop_all(c)
        then = f"; then {show(c, statuses[-1])}" if statuses else ""
        raise CheckFailed(f"E08 for the line with the stop inside it ({s2}) and the line after it "
                          f"({s3})", "; ".join(bad) + then, hint)
    safe = stopped(c, statuses, first.t, TICK_S, "the safe state after the stop byte", hint)
    took = safe.t - first.t
    figure = f"stop {ms(took)}"
    pushed = [m for m in w.since(mark, p.FaultReport) if m.code is p.FaultCode.ESTOP]
    if safe.state != "Estop" or p.FaultCode.ESTOP not in safe.faults or not pushed:
        raise CheckFailed("state Estop with F01 latched (pushed `!F01`)", f"{show(c, safe)}; "
                          f"!F01 {'pushed' if pushed else 'not pushed'}", hint, figure)
    vent = vented(c, statuses, safe)
    # the latch survives a new session and time, and refuses actuation
    expect_ok(w.send(p.Sync()), "SYNC", "SYNC is accepted in every state")
    probe = c.probe(safe, GATE_MS)
    gate = w.send(probe)
    w.sleep(R.latch_watch_ms / 1000)
    later = w.status()
    if not refused(gate, p.ErrorCode.ESTOPPED) or later.state != "Estop" or running(later):
        stop_all(c)
        raise CheckFailed(f"F01 still latched after SYNC and {R.latch_watch_ms:g} ms, "
                          f"{verb(probe)} refused "
                          f"E08", f"{verb(probe)} answered {text(gate)}; {show(c, later)}",
                          "only a RESET that succeeds clears the emergency stop", figure)
    expect_ok(w.send(p.Reset()), "RESET", "RESET clears F01")
    cleared = w.status()
    if cleared.faults or cleared.state != "Idle":
        raise CheckFailed("Idle with nothing latched after RESET", show(c, cleared),
                          "RESET clears every latch whose condition is gone", figure)
    queued_note = "ran before the stop" if isinstance(replies[s1], p.Ok) else "refused E08"
    return figure, (f"safe {ms(took)} after `!` (budget one tick, {ms(TICK_S)}); lines "
                    f"with and after it refused E08 (the one before it {queued_note}); F01 "
                    f"survived SYNC; {vent}")



@check("reset", "rule 12 reset", "RESET is refused while a fault condition is present, returns to "
       "Idle and never starts motion")
def check_reset(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, report_ms=REPORT_MS, clear=False)
    present = conditions(c, s)
    if s.faults:
        reply = w.send(p.Reset())
        after = w.status()
        if present and (isinstance(reply, p.Ok) or not set(s.faults) <= set(after.faults)):
            raise CheckFailed(f"RESET refused (E11) while {'; '.join(present)}",
                              f"{text(reply)}; {show(c, after)}", "before clearing a latch, "
                              "check that its condition has gone; otherwise answer E11 and "
                              "change nothing")
        if present:
            if not refused(reply, p.ErrorCode.RESET_REFUSED):
                raise CheckFailed("E11 reset-refused", text(reply), "refuse with E11")
            return "refused E11", (f"RESET refused while {'; '.join(present)} "
                                   f"({flt(s)} kept); motion after RESET not tested")
        if not isinstance(reply, p.Ok):
            raise CheckSkipped(f"a fault is latched that RESET does not clear ({flt(s)}: "
                               f"{text(reply)}); fix its cause first")
        s = after
    if not s.occupied:
        raise CheckSkipped("the device reports nobody seated (occ=0): cannot test that "
                           "RESET never starts motion")
    hint = ("RESET clears the latches and every setpoint: nothing moves until the host "
            "sends a new setpoint (a chair that resumed after a pinch caught a dog, Korea "
            "2024)")
    # RESET with nothing latched still clears every setpoint
    probe = c.probe(s, LEASE_MAX_MS)
    expect_ok(w.send(probe), verb(probe), f"{verb(probe)} is accepted")
    expect_ok(w.send(p.Reset()), "RESET", "a RESET with nothing latched succeeds")
    s = w.status()
    if running(s) or s.state != "Idle":
        stop_all(c)
        raise CheckFailed("Idle with every setpoint cleared after RESET", show(c, s), hint)
    # after a latched fault, RESET must not restart what the fault stopped
    start_probe(c, s, LEASE_MAX_MS)
    mark = w.mark()
    w.write(estop_byte(c))
    if w.wait(lambda m: isinstance(m, p.FaultReport), REPLY_S, mark) is None:
        raise CheckFailed("`!F01` pushed after the stop byte (a latched fault to test RESET "
                          "with)", "nothing", "latch F01 on the stop byte")
    reset = w.send(p.Reset())
    expect_ok(reset, "RESET", "F01 has no lasting condition: RESET clears it")
    ref = w.status()
    quiet_s = R.reset_watch_ms / 1000
    statuses = watch(c, ref.t + quiet_s, keepalive_s=KEEPALIVE_S)
    z = c.zone_index
    moved = next((x for x in [ref, *statuses] if running(x) or x.state != "Idle"
                  or x.air_kpa[z] > ref.air_kpa[z] + 0.2), None)
    if moved is not None:
        stop_all(c)
        raise CheckFailed(f"nothing on and Idle for {ms(quiet_s)} after RESET",
                          f"{show(c, moved)} {ms(moved.t - ref.t)} after RESET", hint)
    note = ("refusal not tested (no fault condition present; try "
            "sim://?fault=thermistor-open@0)")
    return "no motion", f"Idle after RESET with and without a latch, nothing restarted; {note}"


