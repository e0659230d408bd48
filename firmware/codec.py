"""The firmware's sans-I/O codec: host bytes -> events, device messages -> bytes.

docs/protocol.md is the contract; chair.protocol is the reference codec, and the tests keep
the two equal for every input (tests/firmware/). Nothing here reads a port or a clock, and
the decoder never raises on input: a refused line becomes a BAD event.

Events are tuples, tag first:
- ``(RT, byte)``: a real-time byte (``?``, or a stop byte in force), where it stood;
- ``(FRAME, seq, crc, verb, args)``: a valid line; `seq` int or None, `crc` True when the
  line carried a valid ``*CRC``, `verb` upper case, `args` a tuple in field order;
- ``(BAD, code, detail, seq, crc, sequenced)``: a refused line; `code` an int of codes.py,
  `seq` the number its reply is tagged with (None for ``-``), `crc` True when the line
  contained ``*`` (False for an over-long line, whose bytes are gone), `sequenced` True when
  the line has a sequence number and its verb is a control or actuate verb, or unknown.
"""

from firmware.codes import (
    E_BAD_ARGS,
    E_BAD_BYTE,
    E_BAD_CRC,
    E_LINE_TOO_LONG,
    E_UNKNOWN_COMMAND,
)
from firmware.crc import crc16, crc16_raw
from firmware.encode import banner, error, fault, info, limit, ok, status  # noqa: F401
from firmware.grammar import PARSERS, all_in

PROTOCOL_VERSION = 2
PROTOCOL_VERSIONS = (1, 2)
MAX_HOST_LINE = 96
STATUS_BYTE = 0x3F
ESTOP_BYTE = 0x9E
TYPED_ESTOP_BYTE = 0x21
SEQ_MOD = 65536
REPORT_MIN_MS = 20  # REPORT's period bounds (0 turns reports off)
REPORT_MAX_MS = 5000
REPLY_MEMORY = 32  # sequenced replies remembered for replay (docs/protocol.md §2.2)

RT, FRAME, BAD = 0, 1, 2
QUERY, MODE, CONTROL, ACTUATE = 0, 1, 2, 3

#: verb: (kind, ((name, type), ...)), exactly chair.protocol's command classes.
COMMANDS = {
    "STATUS": (QUERY, ()),
    "LIMITS": (QUERY, ()),
    "INFO": (QUERY, ()),
    "CONSOLE": (MODE, (("on", "int"),)),
    "SYNC": (CONTROL, ()),
    "RESET": (CONTROL, ()),
    "REPORT": (CONTROL, (("period_ms", "int"),)),
    "RENEW": (CONTROL, (("lease_ms", "int"),)),
    "STOP": (CONTROL, ()),
    "ROLLER": (ACTUATE, (("pos_mm", "float"), ("technique", "str"), ("width", "int"),
                         ("depth", "int"), ("speed", "int"), ("lease_ms", "int"))),
    "AIR": (ACTUATE, (("zone", "str"), ("kpa", "float"), ("lease_ms", "int"))),
    "HEAT": (ACTUATE, (("zone", "str"), ("target_c", "float"), ("lease_ms", "int"))),
    "FOOT": (ACTUATE, (("speed", "int"), ("lease_ms", "int"))),
    "RECLINE": (ACTUATE, (("back_pct", "float"), ("leg_pct", "float"), ("lease_ms", "int"))),
}
_USAGE = {verb: "expected '%s'" % " ".join([verb] + [name for name, _ in spec[1]])
          for verb, spec in COMMANDS.items()}


def seq_after(seq, n=1):
    """The sequence number `n` places after `seq`, wrapping at 65536."""
    return (seq + n) % SEQ_MOD


def seq_distance(newer, older):
    """How far `newer` is ahead of `older`, in (-32768, 32768], across the wrap."""
    d = (newer - older) % SEQ_MOD
    return d - SEQ_MOD if d > SEQ_MOD // 2 else d


# --------------------------------------------------------------------------- host -> device

try:  # CPython: two C calls; MicroPython has neither method, and loops
    b"".isascii()
    "".isprintable()
    _FAST_PRINTABLE = True
except AttributeError:
    _FAST_PRINTABLE = False


def first_bad_byte(line):
    """-1 when `line` is printable ASCII (0x20..0x7E), else the index of its first other byte."""
    if _FAST_PRINTABLE and line.isascii() and line.decode().isprintable():
        return -1
    return first_bad_byte_loop(line)


def first_bad_byte_loop(line):
    """`first_bad_byte` one byte at a time (MicroPython's way)."""
    for i, b in enumerate(line):
        if b < 0x20 or b > 0x7E:
            return i
    return -1


_HEX = b"0123456789ABCDEF"
_TOO_LONG = (BAD, E_LINE_TOO_LONG, "line longer than %d bytes" % MAX_HOST_LINE, None, False,
             False)
_RT_EVENTS = {b: (RT, b) for b in (STATUS_BYTE, ESTOP_BYTE, TYPED_ESTOP_BYTE)}
#: The real-time bytes by (protocol, host session live).
_REALTIME = {
    (1, False): (STATUS_BYTE, TYPED_ESTOP_BYTE),
    (1, True): (STATUS_BYTE, TYPED_ESTOP_BYTE),
    (2, False): (STATUS_BYTE, ESTOP_BYTE, TYPED_ESTOP_BYTE),
    (2, True): (STATUS_BYTE, ESTOP_BYTE),
}
_PARSED_MAX = 64


def _sequenced(line):
    """sim.device's rule: the word after the sequence number is a control or actuate verb,
    or unknown (`line` printable)."""
    tokens = line.split(b"*")[0].split()
    verb = tokens[1].decode().upper() if len(tokens) > 1 else ""
    spec = COMMANDS.get(verb)
    return spec is None or spec[0] > MODE


def _bad(code, detail, seq, line):
    return (BAD, code, detail, seq, b"*" in line, seq is not None and _sequenced(line))


class HostDecoder:
    """The device's decoder: host bytes in, RT, FRAME and BAD events out (chair.protocol's
    HostDecoder, event for event).

    `proto` is the version the device speaks (ValueError for another). Protocol 1: ``?`` and
    ``!`` are real-time bytes. Protocol 2: ``?`` and 0x9E always are; ``!`` too, except while
    `session` is True (set by the firmware before each feed), when it is line data. CR, LF
    or CRLF end a line; at most MAX_HOST_LINE bytes are held, a longer line is dropped up to
    its end and reported once.
    """

    def __init__(self, proto=PROTOCOL_VERSION):
        if proto not in PROTOCOL_VERSIONS:
            raise ValueError("protocol %s: this codec speaks %s" % (proto, PROTOCOL_VERSIONS))
        self.proto = proto
        self.session = False
        self._buf = b""
        self._overflow = False
        self._parsed = {}
        self._realtime(False)

    def _realtime(self, live):
        self._live = live
        rt = _REALTIME[self.proto, live]
        self._rt = rt
        odd = [b"\r"] + [bytes((b,)) for b in rt]
        while len(odd) < 4:
            odd.append(odd[-1])
        self._odd = tuple(odd)  # every byte but LF that the fast path must not see
        self._specials = (b"\n",) + self._odd[:1 + len(rt)]
        self._bang = b"!" if TYPED_ESTOP_BYTE in rt else b"?"  # '!' when it is real-time

    def crc_matches(self, payload, tail):
        """True when `tail` (the bytes after the line's last ``*``) is the CRC of `payload`
        (the bytes before it) as four upper-case hex digits.

        The one CRC check: a test double may override it (the ``ignore-crc`` defect: a line
        whose CRC is wrong or malformed then gives the FRAME its payload would give, `crc`
        True)."""
        return (len(tail) == 4 and all_in(tail, _HEX)
                and crc16_raw(payload, 0xFFFF) == int(tail, 16))

    def feed(self, data):
        """The events of `data` (bytes-like), in order. Never raises."""
        if type(data) is not bytes:
            data = bytes(data)
        if self.session != self._live:
            self._realtime(self.session)
        if len(data) == 1:
            return self._byte(data[0], data)
        if data[-1:] == b"\n" and not self._buf and not self._overflow:
            end = len(data) - 1
            if _FAST_PRINTABLE and 0 < end <= MAX_HOST_LINE and data.find(b"\n") == end:
                line = data[:end]  # the usual chunk, one line: is it printable, no '?' or '!'
                if (line.isascii() and line.decode().isprintable() and b"?" not in line
                        and self._bang not in line):
                    return [self._parse_printable(line)]
            a, b, c, d = self._odd
            if a not in data and b not in data and c not in data and d not in data:
                # nothing odd: whole LF-ended lines, nothing held
                if data.find(b"\n") < end:
                    return self._lines(data)
                if 0 < end <= MAX_HOST_LINE:  # one line: the usual chunk
                    return [self.parse(data[:end])]
                return [_TOO_LONG] if end else []
        events = []
        specials = self._specials
        n = len(data)
        nxt = [data.find(s) for s in specials]
        pos = 0
        while True:
            start = n
            for p in nxt:
                if 0 <= p < start:
                    start = p
            if start == n:
                break
            byte = data[start]
            if byte == 0x0A or byte == 0x0D:
                if self._buf or self._overflow:
                    self._take(data[pos:start])
                    event = self._end_line()
                elif start == pos:
                    event = None  # an empty line (or the LF of a CRLF)
                elif start - pos > MAX_HOST_LINE:
                    event = _TOO_LONG
                else:  # a whole line inside this chunk: parse it without buffering
                    event = self.parse(data[pos:start])
                if event is not None:
                    events.append(event)
            else:
                self._take(data[pos:start])
                events.append(_RT_EVENTS[byte])
            pos = start + 1
            for j in range(len(nxt)):
                if 0 <= nxt[j] < pos:
                    nxt[j] = data.find(specials[j], pos)
        if pos < n:
            self._take(data[pos:])
        return events

    def _byte(self, byte, data):
        """`feed` for a single byte (a person typing, a slow link)."""
        if byte == 0x0A or byte == 0x0D:
            event = self._end_line()
            return [] if event is None else [event]
        if byte in self._rt:
            return [_RT_EVENTS[byte]]
        self._take(data)
        return []

    def _lines(self, data):
        """`feed` for whole LF-ended lines, nothing held, nothing odd."""
        events = []
        parse = self.parse
        for line in data.split(b"\n")[:-1]:
            if line:
                events.append(parse(line) if len(line) <= MAX_HOST_LINE else _TOO_LONG)
        return events

    def _take(self, chunk):
        if self._overflow or not chunk:
            return
        if len(self._buf) + len(chunk) > MAX_HOST_LINE:
            self._overflow = True
            self._buf = b""
        else:
            self._buf += chunk

    def _end_line(self):
        if self._overflow:
            self._overflow = False
            return _TOO_LONG
        line = self._buf
        if not line:
            return None
        self._buf = b""
        return self.parse(line)

    def parse(self, line):
        """The event of one host line (bytes, without its terminator). Never raises."""
        if not (_FAST_PRINTABLE and line.isascii() and line.decode().isprintable()):
            where = first_bad_byte_loop(line)  # (first_bad_byte, inlined)
            if where >= 0:
                return _bad(E_BAD_BYTE, "byte 0x%02X at column %d" % (line[where], where + 1),
                            None, line)
        return self._parse_printable(line)

    def _parse_printable(self, line):
        """`parse` for a line known to be printable ASCII."""
        payload, star, tail = line.rpartition(b"*")
        if star:
            if not self.crc_matches(payload, tail):
                if len(tail) != 4 or not all_in(tail, _HEX):
                    return _bad(E_BAD_CRC, "malformed crc %r" % tail.decode()[:8], None, line)
                return _bad(E_BAD_CRC, "crc %s does not match %04X"
                            % (tail.decode(), crc16(payload)), None, line)
            tokens = payload.decode().split()
        else:
            payload = line
            tokens = line.decode().split()
        has_crc = bool(star)
        seq = None
        if tokens and tokens[0].isdigit():
            first = tokens[0]
            if len(first) > 5 or int(first) >= SEQ_MOD:
                return _bad(E_BAD_ARGS, "sequence number %s above 65535" % first[:8], None,
                            line)
            seq = int(first)
            tokens = tokens[1:]
        if not tokens:
            return _bad(E_UNKNOWN_COMMAND, "no command", seq, line)
        words = tuple(tokens)
        hit = self._parsed.get(words)  # the same few commands come again and again
        if hit is not None:
            return (FRAME, seq, has_crc, hit[0], hit[1])
        verb = tokens[0].upper()
        spec = COMMANDS.get(verb)
        if spec is None:
            return _bad(E_UNKNOWN_COMMAND, "unknown command %r" % tokens[0][:16], seq, line)
        fields = spec[1]
        if len(tokens) - 1 != len(fields):
            return _bad(E_BAD_ARGS, _USAGE[verb], seq, line)
        values = []
        for i in range(len(fields)):
            name, kind = fields[i]
            text = tokens[i + 1]
            value = PARSERS[kind](text)
            if value is None:
                return _bad(E_BAD_ARGS, "%s %s=%r" % (verb, name, text[:16]), seq, line)
            values.append(value)
        args = tuple(values)
        if len(self._parsed) >= _PARSED_MAX:
            self._parsed = {}
        self._parsed[words] = (verb, args)
        return (FRAME, seq, has_crc, verb, args)
