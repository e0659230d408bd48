"""TEMPORARY (lead): an adapter over chair.protocol, replaced by the codec helper's codec.py."""
from dataclasses import fields

from chair import protocol as p

PROTOCOL_VERSION = p.PROTOCOL_VERSION
STATUS_BYTE = p.STATUS_BYTE
RT, FRAME, BAD = 0, 1, 2
QUERY, MODE, CONTROL, ACTUATE = 0, 1, 2, 3
_KINDS = {p.Kind.QUERY: QUERY, p.Kind.MODE: MODE, p.Kind.CONTROL: CONTROL, p.Kind.ACTUATE: ACTUATE}
COMMANDS = {verb: (_KINDS[cls.KIND], ()) for verb, cls in p.COMMANDS.items()}
seq_after = p.seq_after
seq_distance = p.seq_distance


class HostDecoder(p.HostDecoder):
    def crc_ok(self, given, actual):
        return given == actual

    def parse(self, line):
        event = p.parse_host_line(line)
        if type(event) is p.Frame:
            c = event.command
            return (FRAME, event.seq, event.crc, c.VERB, tuple(getattr(c, f.name) for f in fields(c)))
        if event.code is p.ErrorCode.BAD_CRC and self.crc_ok(0, 1):
            again = p.parse_host_line(line.rpartition(b"*")[0])
            if type(again) is p.Frame:
                c = again.command
                return (FRAME, again.seq, True, c.VERB, tuple(getattr(c, f.name) for f in fields(c)))
        tokens = line.split(b"*")[0].split()
        verb = tokens[1].decode('latin-1').upper() if len(tokens) > 1 else ""
        cls = p.COMMANDS.get(verb)
        sequenced = cls is None or cls.KIND not in (p.Kind.QUERY, p.Kind.MODE)
        return (BAD, int(event.code), event.detail, event.seq, b"*" in line, sequenced)

    def feed(self, data):
        out = []
        for e in super().feed(data):
            if type(e) is p.RealTime:
                out.append((RT, e.byte))
            elif type(e) is p.BadLine:
                out.append((BAD, int(e.code), e.detail, e.seq, False, True))
            else:
                out.append(e)
        return out


def ok(seq, data=""):
    return p.encode_device(p.Ok(seq, data))


def error(seq, code, detail):
    return p.encode_device(p.Error(seq, p.ErrorCode(code), detail))


def fault(code, detail):
    return p.encode_device(p.FaultReport(p.FaultCode(code), detail))


def info(text):
    return p.encode_device(p.Info(text))


def limit(name, value):
    return p.encode_device(p.LimitLine(name, value))


def banner(proto, fw, zones, heaters, track_mm, seat_mm, crc, extra=""):
    kv = dict(pair.split("=") for pair in extra.split())
    return p.encode_device(p.Banner(proto, fw, tuple(zones), tuple(heaters), track_mm, seat_mm, crc,
                                    tuple(kv["axes"].split(",")), tuple(kv["sensors"].split(","))))


def status(state, t, pos_mm, technique, width, depth, speed, force_n, air, heat, foot,
           back_pct, leg_pct, occupied, pinch, faults):
    return p.encode_device(p.StatusReport(state, t, pos_mm, technique, width, depth, speed,
                                          force_n, tuple(air), tuple(heat), foot, back_pct,
                                          leg_pct, occupied, pinch,
                                          tuple(p.FaultCode(f) for f in faults)))
