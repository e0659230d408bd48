"""The checks of the wire itself: banner, status, limits table, CRC, sequence, bad frames."""

from __future__ import annotations

import itertools

from chair import protocol as p
from chair.conformance.rules import (
    BAD_FRAMES_MAX,
    BAD_WINDOW_S,
    GATE_MS,
    RULE_BOUNDS,
    TICK_S,
    R,
)
from chair.conformance.setup import (
    Context,
    begin,
    check,
    expect_ok,
    flt,
    refused,
    running,
    show,
    stop_all,
    verb,
    watch,
)
from chair.conformance.wire import EPS, CheckFailed, is_status, ms, text


@check("banner", "rule 12 restart", "INFO answers #CHAIR proto=1 or 2 with every field, then ok")
def check_banner(c: Context) -> tuple[str, str]:
    w = c.wire
    w.banners_asked += 1
    before, reply = w.query(p.QueryInfo())
    banners = [m for m in before if isinstance(m, p.Banner)]
    hint = ("send `#CHAIR proto=2 fw=... zones=... heaters=... track=... seat=... "
            "limits=XXXX*CRC` at every start and in answer to INFO (protocol section 6)")
    if not banners or not isinstance(reply, p.Ok):
        if not banners:
            w.banners_asked -= 1
        raise CheckFailed("a #CHAIR banner, then ok", f"{len(banners)} banners, then "
                          f"{text(reply)}", hint)
    b = banners[-1]
    problems = []
    if b.proto not in p.PROTOCOL_VERSIONS:
        problems.append(f"proto={b.proto} (this host speaks "
                        f"{' and '.join(map(str, p.PROTOCOL_VERSIONS))})")
    if not b.zones:
        problems.append("no airbag zones")
    if not b.track_mm > 0 or not 0 <= b.seat_mm <= b.track_mm:
        problems.append(f"track={b.track_mm:g} seat={b.seat_mm:g}")
    if problems:
        raise CheckFailed(f"protocol {' or '.join(map(str, p.PROTOCOL_VERSIONS))} and a "
                          "plausible chair",
                          "; ".join(problems), hint)
    return (f"proto={b.proto} fw={b.firmware}",
            f"{len(b.zones)} zones, {len(b.heaters)} heaters, track {b.track_mm:g} mm; "
            f"banner {'pushed' if c.banner_at_open else 'not seen'} when the port opened")


@check("status", "rule 1 reports",
       f"`?` gives one status line within {R.status_answer_ms:g} ms; STATUS is tagged; REPORT "
       "paces reports")
def check_status(c: Context) -> tuple[str, str]:
    w = c.wire
    begin(c, clear=False)
    answer_s, period = R.status_answer_ms / 1000, int(R.paced_report_ms)
    mark = w.mark()
    t0 = w.now()
    w.write(b"?")
    first = w.wait(is_status, answer_s, mark)
    hint = "`?` is caught as it arrives and answered with one <...> status line, no reply"
    if first is None:
        raise CheckFailed(f"a status line within {ms(answer_s)} of `?`", "none", hint)
    took = w.now() - t0
    w.sleep_until(t0 + answer_s)
    got = w.since(mark)
    statuses = [m for m in got if is_status(m)]
    replies = [text(m) for m in got if isinstance(m, p.Ok | p.Error)]
    if len(statuses) != 1 or replies:
        raise CheckFailed("exactly one status line and no reply to `?`",
                          f"{len(statuses)} status lines, replies {replies}", hint)
    before, reply = w.query(p.QueryStatus())
    tag = w.tag
    if not (isinstance(reply, p.Ok) and reply.seq == tag) or not any(map(is_status, before)):
        raise CheckFailed(f"a status line, then `ok {tag}`", f"{text(reply)} after "
                          f"{len(before)} lines", "a query's seq tags its reply")
    s = [m for m in before if is_status(m)][-1]
    if c.banner and (len(s.air_kpa), len(s.heat_c)) != (len(c.banner.zones),
                                                        len(c.banner.heaters)):
        raise CheckFailed("one air value per banner zone and one heat value per heater",
                          f"air={len(s.air_kpa)} heat={len(s.heat_c)}",
                          "list the status values in the banner's order")
    expect_ok(w.send(p.SetReport(period)), f"REPORT {period}",
              "REPORT 20..5000 sets the report period")
    reports = watch(c, s.t + 4.5 * period / 1000)
    gaps = [b.t - a.t for a, b in itertools.pairwise(reports)]
    expect_ok(w.send(p.SetReport(0)), "REPORT 0", "REPORT 0 turns reports off")
    if len(gaps) < 3 or any(abs(g - period / 1000) > TICK_S + EPS for g in gaps):
        raise CheckFailed(f"a status report every {period} ms after REPORT {period}",
                          f"{len(reports)} reports, gaps {[ms(g) for g in gaps]}",
                          "push a report from the tick when its period is due")
    mark = w.mark()
    w.sleep(2.5 * period / 1000)
    if w.since(mark, p.StatusReport):
        raise CheckFailed("no reports after REPORT 0", "reports kept coming",
                          "REPORT 0 turns reports off")
    return f"? in {ms(took)}", f"STATUS tagged ok {tag}; reports every {ms(max(gaps))}"


REQUIRED_LIMITS = ("deadman_ms", "tick_ms", "lease_ms_max", "bad_frames_max",
                   "bad_frames_window_ms")
#: The entries a device needs for each drive its banner names.
AXIS_LIMITS = {"carriage": ("roller_depth_max", "roller_width_max", "roller_speed_max"),
               "foot": ("foot_speed_max",)}


@check("limits", "rule 14 limits",
       "LIMITS lines' CRC equals the ok line's and the banner's; every entry within the rules")
def check_limits(c: Context) -> tuple[str, str]:
    w = c.wire
    begin(c, clear=False)
    before, reply = w.query(p.QueryLimits(), timeout_s=2.0)
    lines = [m for m in before if isinstance(m, p.LimitLine)]
    crc = p.table_crc((m.name, m.value) for m in lines)
    claimed = dict(pair.split("=", 1) for pair in getattr(reply, "data", "").split()
                   if "=" in pair)
    names = {m.name for m in lines}
    table = {m.name: m.value for m in lines}
    problems = []
    if not isinstance(reply, p.Ok):
        problems.append(f"reply {text(reply)}")
    if claimed.get("n") != str(len(lines)):
        problems.append(f"{len(lines)} $ lines but n={claimed.get('n')}")
    if claimed.get("crc") != f"{crc:04X}":
        problems.append(f"the lines' CRC is {crc:04X} but crc={claimed.get('crc')}")
    corrupt = c.banner is not None and c.banner.limits_crc != crc
    if corrupt:
        problems.append(f"the lines' CRC {crc:04X} differs from the banner's "
                        f"limits={c.banner.limits_crc:04X}: the table is not the one the "
                        "firmware was built with")
    zones = c.banner.zones if c.banner else ()
    heaters = c.banner.heaters if c.banner else ()
    required = (*REQUIRED_LIMITS,
                *(n for axis, names in AXIS_LIMITS.items() if c.has(axis) for n in names),
                *(f"airbag_kpa_max.{z}" for z in zones),
                *(("airbag_held_s_max", "airbag_duty_max", "airbag_duty_window_s")
                  if zones else ()),
                *(("heat_target_c_max", "heat_c_max", "heat_follow_s", "heat_follow_c")
                  if heaters else ()))
    missing = [n for n in required if n not in names]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    per_zone = {name: RULE_BOUNDS[name.partition(".")[0]] for name in table
                if name.startswith("airbag_kpa_max.")}
    for name, (sign, bound) in (RULE_BOUNDS | per_zone).items():
        value = table.get(name)
        if value is not None and (value > bound if sign == "max" else value < bound):
            problems.append(f"{name}={value:g} breaks the rule ({sign} {bound:g})")
    if corrupt or claimed.get("crc") != f"{crc:04X}":
        s = w.status()
        gate = w.send(c.probe(s, GATE_MS, 0))
        if p.FaultCode.LIMITS_CRC in s.faults and refused(gate, p.ErrorCode.LIMITS_INVALID):
            problems.append("(the device did latch F14 and refuses actuation with E14)")
        else:
            problems.append(f"the device does not refuse actuation (flt={flt(s)}, "
                            f"{verb(c.probe(s, GATE_MS, 0))} answered {text(gate)})")
    if problems:
        raise CheckFailed("every $ line, with n= and crc= in the ok line and the banner's "
                          "limits= all agreeing, and every safety number within its rule",
                          "; ".join(problems), "a corrupt or hand-edited table: reflash the "
                          "firmware; keep the table as $name=value strings in flash and check "
                          "their CRC at start (protocol section 7)", f"crc={crc:04X}")
    return f"crc={crc:04X} n={len(lines)}", (f"matches the banner and the ok line; deadman_ms="
                                             f"{table['deadman_ms']:g} lease_ms_max="
                                             f"{table['lease_ms_max']:g}")


def flip_bit(line: bytes, index: int, bit: int) -> bytes:
    data = bytearray(line)
    data[index] ^= 1 << bit
    return bytes(data)


@check("crc", "rule 4 integrity", "a bad CRC is refused E01 and a missing one E06, with no change")
def check_crc(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, seated=True)
    seq = p.seq_after(w.seq)
    probe = c.probe(s, GATE_MS)
    good = p.encode_command(probe, seq)
    star = good.rindex(b"*")
    digit = good.index(b" ", good.index(probe.VERB.encode())) + 1  # its first argument
    cases = (("a flipped CRC bit", flip_bit(good, star + 4, 0), p.ErrorCode.BAD_CRC),
             ("a flipped payload bit", flip_bit(good, digit, 1), p.ErrorCode.BAD_CRC),
             ("no CRC", good[:star] + b"\n", p.ErrorCode.NEED_CRC))
    for what, line, code in cases:
        reply = w.line(line, seq)
        if code is p.ErrorCode.BAD_CRC:
            w.last_bad_sent = w.now()
        s = w.status()
        if not refused(reply, code) or running(s):
            stop_all(c)
            raise CheckFailed(f"{code.wire} and nothing changed for {line.strip()!r} "
                              f"({what})", f"{text(reply) if reply else 'no reply'}; "
                              f"{show(c, s)}", "check the CRC of every line before "
                              "anything else, and require one on every control and "
                              "actuate line outside console mode")
        if code is p.ErrorCode.BAD_CRC and reply.seq is not None:
            raise CheckFailed(f"`error - {code.wire}` (a damaged line's seq cannot be "
                              "trusted)", text(reply), "answer bad lines with `-`")
    w.seq = seq
    reply = w.line(good, seq)
    s = w.status()
    if not isinstance(reply, p.Ok) or not c.probe_on(s):
        raise CheckFailed(f"the intact line {good.strip()!r} accepted (the damaged ones did "
                          "not use up its seq)", f"{text(reply) if reply else 'no reply'}; "
                          f"{show(c, s)}", "a damaged or refused-for-CRC line changes "
                          "nothing, its seq included")
    off = c.probe(s, GATE_MS, 0)
    expect_ok(w.send(off), verb(off), f"{verb(off)} turns the {c.probe_name} off")
    return "E01 E01 E06", "flipped CRC bit, flipped payload bit, no CRC: each refused, no change"


@check("sequence", "rule 4 integrity",
       "a gap is refused E05 expect=N; a duplicate is never run twice, across the wrap")
def check_sequence(c: Context) -> tuple[str, str]:
    w = c.wire
    s = begin(c, seated=True)
    expect_ok(w.send(p.Sync(), seq=65533), "SYNC", "SYNC is accepted with any seq")
    w.seq = 65533
    hint_gap = "refuse a seq ahead of the expected one with E05 expect=N and run nothing"
    reply = w.send(c.probe(s, GATE_MS), seq=1)  # 3 ahead of 65534, across the wrap
    s = w.status()
    if not refused(reply, p.ErrorCode.SEQ_GAP) or reply.detail != "expect=65534" \
            or running(s):
        stop_all(c)
        raise CheckFailed("`error 1 E05 seq-gap expect=65534` and nothing run for seq 1 "
                          "when 65534 is expected", f"{text(reply)}; {show(c, s)}", hint_gap)
    first = p.encode_command(c.probe(s, 2000), 65534)
    reply = w.line(first, 65534)
    w.seq = 65534
    s = w.status()
    if not isinstance(reply, p.Ok) or not c.probe_on(s):
        raise CheckFailed(f"ok 65534 and {'foot=1' if c.has('foot') else 'tech=knead'}",
                          f"{text(reply)}; {show(c, s)}", "the expected seq is executed")
    off = c.probe(s, 2000, 0)
    expect_ok(w.send(off), f"65535 {verb(off)}", "the next seq is executed")
    expect_ok(w.send(p.Renew(500)), "0 RENEW", "the seq wraps from 65535 to 0")
    again = w.line(first, 65534)  # a duplicate from before the wrap
    s = w.status()
    if running(s):
        stop_all(c)
        raise CheckFailed("the duplicate 65534 answered from memory and not run again",
                          f"{text(again)}; {show(c, s)}", "remember the replies of the "
                          f"last {R.reply_memory:g} seqs; a seq behind the expected one is a "
                          "duplicate (distance modulo 65536): replay its reply, run nothing")
    if not (isinstance(again, p.Ok) and again.seq == 65534):
        raise CheckFailed("`ok 65534` replayed for the duplicate", text(again),
                          "replay the remembered reply of a duplicate")
    expect_ok(w.send(p.Stop()), "1 STOP", "the sequence goes on after a duplicate")
    return "E05, replayed", "gap refused expect=65534; duplicate 65534 replayed after the wrap"




@check("bad-frames", "rule 4 integrity",
       f"{BAD_FRAMES_MAX} bad lines within {BAD_WINDOW_S:g} s latch F03; RESET clears it")
def check_bad_frames(c: Context) -> tuple[str, str]:
    w = c.wire
    begin(c)
    window = c.limits.get("bad_frames_window_ms", BAD_WINDOW_S * 1000) / 1000
    w.sleep_until(w.last_bad_sent + max(window, BAD_WINDOW_S) + 0.05)  # an empty window
    bad = ((b"STATUS*0000\n", p.ErrorCode.BAD_CRC), (b"STAT\x08US\n", p.ErrorCode.BAD_BYTE),
           (b"X" * 100 + b"\n", p.ErrorCode.LINE_TOO_LONG))
    mark = w.mark()
    t0 = w.now()
    for line, code in bad:
        reply = w.line(line, None)
        w.last_bad_sent = w.now()
        if not refused(reply, code):
            raise CheckFailed(f"`error - {code.wire}` for {line[:12]!r}...",
                              text(reply) if reply else "no reply",
                              "refuse bad lines with E01 (CRC), E13 (bytes), E09 (length)")
    took = w.now() - t0
    pushed = w.wait(lambda m: isinstance(m, p.FaultReport)
                    and m.code is p.FaultCode.BAD_FRAMES, 0.1, mark)
    s = w.status()
    if pushed is None or p.FaultCode.BAD_FRAMES not in s.faults:
        raise CheckFailed(f"F03 latched (pushed `!F03`) after {BAD_FRAMES_MAX} bad lines "
                          f"within {ms(BAD_WINDOW_S)}", f"{BAD_FRAMES_MAX} bad lines in "
                          f"{ms(took)}; {show(c, s)}", "count bad lines (E01, E09, E13) in a "
                          "sliding 1 s window and latch F03 at the third: a noisy cable must "
                          "stop the chair")
    gate = w.send(c.probe(s, GATE_MS))
    if not refused(gate, p.ErrorCode.FAULTED):
        stop_all(c)
        raise CheckFailed("actuation refused with E07 while F03 is latched", text(gate),
                          "refuse every actuate line while a fault is latched")
    expect_ok(w.send(p.Reset()), "RESET", "F03 has no lasting condition: RESET clears it")
    return f"F03 after {BAD_FRAMES_MAX} in {ms(took)}", "latched, actuation refused E07, " \
        "RESET cleared it"


