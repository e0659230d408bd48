"""Device to host: the messages, their encoding and their generic parsing (see
chair/protocol.py; `parse_device_line`, with its fast paths, is in chair/protocol_parse.py)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from chair.protocol_wire import (
    _FLOAT,
    _INT,
    SEQ_MOD,
    ErrorCode,
    FaultCode,
    _checked,
    _framed,
    crc16,
)


@dataclass(frozen=True)
class Ok:
    """The line `seq` was accepted. `data` carries a query's answer as ``key=value`` pairs."""

    seq: int | None
    data: str = ""

    @property
    def fields(self) -> dict[str, str]:
        """`data` as its ``key=value`` pairs, in order (a token without ``=`` is left out)."""
        return dict(pair.split("=", 1) for pair in self.data.split() if "=" in pair)

    @property
    def table(self) -> tuple[int, int] | None:
        """A `LIMITS` answer's ``(n, crc)``: the number of ``$`` lines and the table CRC;
        None for any other `ok` (no ``n=`` and ``crc=``, or not numbers as §2.1 writes them)."""
        fields = self.fields
        n, crc = fields.get("n", ""), fields.get("crc", "")
        if not (n.isascii() and n.isdigit() and _HEX4.fullmatch(crc)):
            return None
        return int(n), int(crc, 16)

    def payload(self) -> str:
        if not self.data:  # the common reply, no answer data
            return "ok -" if self.seq is None else f"ok {self.seq}"
        return " ".join(filter(None, ["ok", _seq_text(self.seq), self.data]))


@dataclass(frozen=True)
class Error:
    """The line `seq` was refused and had no effect."""

    seq: int | None
    code: ErrorCode
    detail: str = ""

    @property
    def expect(self) -> int | None:
        """An `E05`'s next expected sequence number, from its detail ``expect=N`` (the one
        detail a host reads, §5.1); None for other codes or a detail not of that form."""
        if self.code is not ErrorCode.SEQ_GAP or not self.detail.startswith("expect="):
            return None
        digits = self.detail[7:]
        if not (0 < len(digits) <= 5 and digits.isascii() and digits.isdigit()):
            return None
        n = int(digits)
        return n if n < SEQ_MOD else None

    def payload(self) -> str:
        return " ".join(filter(None, ["error", _seq_text(self.seq), self.code.wire,
                                      _clean(self.detail)]))


@dataclass(frozen=True)
class FaultReport:
    """Pushed when a fault latches."""

    code: FaultCode
    detail: str = ""

    def payload(self) -> str:
        return " ".join(filter(None, ["!" + self.code.wire, _clean(self.detail)]))


@dataclass(frozen=True)
class Banner:
    """Pushed at every start of the device and sent in answer to ``INFO``."""

    proto: int
    firmware: str
    zones: tuple[str, ...]
    heaters: tuple[str, ...]
    track_mm: float
    seat_mm: float
    limits_crc: int
    #: The drives present (carriage, back, leg, foot) and the optional sensors present
    #: (force, pinch, seat); None when the banner does not say (a protocol 1 device).
    axes: tuple[str, ...] | None = None
    sensors: tuple[str, ...] | None = None

    def payload(self) -> str:
        extra = "".join(f" {key}={','.join(value)}" for key, value in
                        (("axes", self.axes), ("sensors", self.sensors)) if value is not None)
        return (f"#CHAIR proto={_checked(str(self.proto), _INT, self.proto)} "
                f"fw={self.firmware} zones={','.join(self.zones)} "
                f"heaters={','.join(self.heaters)} track={_g(self.track_mm)} "
                f"seat={_g(self.seat_mm)} limits={self.limits_crc:04X}{extra}")


@dataclass(frozen=True)
class LimitLine:
    """One entry of the device's limits table, sent in answer to ``LIMITS``."""

    name: str
    value: float

    def payload(self) -> str:
        return f"${self.name}={_g(self.value)}"


def table_crc(entries: Iterable[tuple[str, float]]) -> int:
    """The limits-table CRC (§7): CRC-16 over the ``$name=value`` lines (`LimitLine`'s
    payload, as `%g` writes the value) of `entries`, each followed by LF, in table order.
    Raises ValueError for a value outside the number grammar."""
    return crc16("".join(LimitLine(name, value).payload() + "\n"
                         for name, value in entries).encode("ascii"))


def _g(value: float) -> str:
    """`value` as C's %g writes it, checked against the number grammar (ValueError)."""
    return _checked(f"{value:g}", _FLOAT, value)


@dataclass(frozen=True)
class Info:
    """Free text for a person at a terminal."""

    text: str

    def payload(self) -> str:
        return f"[{_clean(self.text)}]"


STATES = ("Idle", "Run", "Fault", "Estop")


@dataclass(frozen=True, init=False)
class StatusReport:
    """One status line: pushed at the report rate, and the answer to ``?`` and ``STATUS``."""

    state: str
    t: float
    pos_mm: float
    technique: str
    width: int
    depth: int
    speed: int
    force_n: float
    air_kpa: tuple[float, ...]
    heat_c: tuple[float, ...]
    foot: int
    back_pct: float
    leg_pct: float
    occupied: bool
    pinch: bool
    faults: tuple[FaultCode, ...]

    def __init__(self, state: str, t: float, pos_mm: float, technique: str, width: int,
                 depth: int, speed: int, force_n: float, air_kpa: tuple[float, ...],
                 heat_c: tuple[float, ...], foot: int, back_pct: float, leg_pct: float,
                 occupied: bool, pinch: bool, faults: tuple[FaultCode, ...]) -> None:
        # The dataclass __init__ of a frozen class sets 16 fields one object.__setattr__ at
        # a time; ten reports a second make that the codec's largest cost. Same fields,
        # set once; the instance stays frozen.
        self.__dict__.update(
            state=state, t=t, pos_mm=pos_mm, technique=technique, width=width, depth=depth,
            speed=speed, force_n=force_n, air_kpa=air_kpa, heat_c=heat_c, foot=foot,
            back_pct=back_pct, leg_pct=leg_pct, occupied=occupied, pinch=pinch,
            faults=faults)

    def payload(self) -> str:
        # one %-format for the whole line (the hot path: ten of these a second)
        air, heat, faults = self.air_kpa, self.heat_c, self.faults
        if not _hypot(self.t, self.pos_mm, self.force_n, self.back_pct, self.leg_pct,
                      self.width, self.depth, self.speed, self.foot, *air, *heat) < _SMALL:
            _check_numbers(self)  # nan, inf or a huge value: raise unless it still fits
        form = _STATUS_FORMATS.get((len(air), len(heat)))
        if form is None:
            form = _status_format(len(air), len(heat))
        line = form % (
            self.state, self.t, self.pos_mm, self.technique, self.width, self.depth,
            self.speed, self.force_n, *air, *heat, self.foot, self.back_pct, self.leg_pct,
            int(self.occupied), int(self.pinch),
            ",".join([f"F{f.value:02d}" for f in faults]) if faults else "-")
        # sensor noise just under zero rounds to "-0.0": print it as the zero it is
        return _NEGATIVE_ZERO.sub("0.0", line) if "-0.0" in line else line


_STATUS_FORMATS: dict[tuple[int, int], str] = {}
_hypot = math.hypot  # nan or inf anywhere makes it nan or inf; each |value| <= hypot
_SMALL = 1e8  # values this small always fit the number grammar, once formatted


def _check_numbers(status: StatusReport) -> None:
    """ValueError unless every number of `status` fits the grammar once formatted."""
    for name in ("t", "pos_mm", "force_n", "back_pct", "leg_pct", "air_kpa", "heat_c"):
        value = getattr(status, name)
        for x in value if isinstance(value, tuple) else (value,):
            _checked(f"{x:.3f}" if name == "t" else f"{x:.1f}", _FLOAT, x)
    for name in ("width", "depth", "speed", "foot"):
        _checked(str(getattr(status, name)), _INT, getattr(status, name))
_NEGATIVE_ZERO = re.compile(r"(?<=[=,])-0\.0(?=[ ,>])")


def _status_format(n_air: int, n_heat: int) -> str:
    """The %-format of a status line with `n_air` pressures and `n_heat` temperatures."""
    form = _STATUS_FORMATS[n_air, n_heat] = (
        "<%s t=%.3f pos=%.1f tech=%s w=%s d=%s spd=%s force=%.1f "
        f"air={','.join(['%.1f'] * n_air)} heat={','.join(['%.1f'] * n_heat)} "
        "foot=%s back=%.1f leg=%.1f occ=%d pinch=%d flt=%s>")
    return form


DeviceMessage = Ok | Error | FaultReport | Banner | LimitLine | Info | StatusReport


def _seq_text(seq: int | None) -> str:
    return "-" if seq is None else str(seq)


def _clean(text: str) -> str:
    """Free text made safe for one line: printable ASCII without ``*``."""
    return "".join(c if " " <= c <= "~" and c != "*" else "_" for c in text)[:120]


def encode_device(message: DeviceMessage) -> bytes:
    """One device line: payload, ``*CRC`` and LF."""
    return _framed(message.payload())


def _pairs(text: str) -> dict[str, str]:
    pairs = {}
    for token in text.split():
        key, eq, value = token.partition("=")
        if not eq:
            raise ValueError(f"expected key=value, got {token!r}")
        pairs[key] = value
    return pairs


def _parse_seq(token: str) -> int | None:
    if token == "-":
        return None
    if _SEQ.fullmatch(token) is None or int(token) >= SEQ_MOD:
        raise ValueError(f"bad sequence number {token[:16]!r}")
    return int(token)


_SEQ = re.compile(r"[0-9]{1,5}")


def _dec(text: str, what: str) -> float:
    """A decimal of the number grammar; ValueError naming `what` for anything else."""
    if _FLOAT.fullmatch(text) is None:
        raise ValueError(f"{what}={text[:16]!r} is not a number")
    return float(text)


def _int(text: str, what: str) -> int:
    """An integer of the number grammar; ValueError naming `what` for anything else."""
    if _INT.fullmatch(text) is None:
        raise ValueError(f"{what}={text[:16]!r} is not an integer")
    return int(text)


def _flag(text: str, what: str) -> bool:
    """``0`` or ``1``; ValueError for anything else."""
    if text != "0" and text != "1":
        raise ValueError(f"{what}={text[:16]!r} is not 0 or 1")
    return text == "1"


def _floats(text: str, what: str) -> tuple[float, ...]:
    return tuple(_dec(x, what) for x in text.split(",")) if text else ()


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


#: A status line exactly as `StatusReport.payload` writes it (the fast path; any other
#: spelling the generic parser accepts still parses, the slow way, to the same message).
_STATUS_LINE = re.compile(
    r"<(Idle|Run|Fault|Estop) t=(\S*) pos=(\S*) tech=(\S*) w=(\S*) d=(\S*) spd=(\S*) "
    r"force=(\S*) air=(\S*) heat=(\S*) foot=(\S*) back=(\S*) leg=(\S*) occ=(\S*) "
    r"pinch=(\S*) flt=(\S*)>")


def _parse_status_line(text: str) -> StatusReport:
    """``<...>``: the fast path when the line is spelled as the codec writes it."""
    match = _STATUS_LINE.fullmatch(text)
    if match is None:
        return _parse_status(text[1:-1])
    (state, t, pos, tech, w, d, spd, force, air, heat, foot, back, leg, occ, pinch,
     flt) = match.groups()
    # converted in the generic parser's order, so a bad value fails the same way
    return StatusReport(
        state=state, t=_dec(t, "t"), pos_mm=_dec(pos, "pos"), technique=tech,
        width=_int(w, "w"), depth=_int(d, "d"), speed=_int(spd, "spd"),
        force_n=_dec(force, "force"), air_kpa=_floats(air, "air"),
        heat_c=_floats(heat, "heat"), foot=_int(foot, "foot"), back_pct=_dec(back, "back"),
        leg_pct=_dec(leg, "leg"), occupied=_flag(occ, "occ"), pinch=_flag(pinch, "pinch"),
        faults=() if flt == "-" else tuple(FaultCode.parse(f) for f in flt.split(",")))


def _parse_status(body: str) -> StatusReport:
    state, _, rest = body.partition(" ")
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    kv = _pairs(rest)
    flt = kv["flt"]
    return StatusReport(
        state=state, t=_dec(kv["t"], "t"), pos_mm=_dec(kv["pos"], "pos"),
        technique=kv["tech"], width=_int(kv["w"], "w"), depth=_int(kv["d"], "d"),
        speed=_int(kv["spd"], "spd"), force_n=_dec(kv["force"], "force"),
        air_kpa=_floats(kv["air"], "air"), heat_c=_floats(kv["heat"], "heat"),
        foot=_int(kv["foot"], "foot"), back_pct=_dec(kv["back"], "back"),
        leg_pct=_dec(kv["leg"], "leg"), occupied=_flag(kv["occ"], "occ"),
        pinch=_flag(kv["pinch"], "pinch"),
        faults=() if flt == "-" else tuple(FaultCode.parse(f) for f in flt.split(",")))


def _parse_device_payload(text: str) -> DeviceMessage:
    head = text[:1]
    if head == "<" and text.endswith(">"):
        return _parse_status_line(text)
    if text.startswith("ok "):
        _, _, rest = text.partition(" ")
        seq_token, _, data = rest.partition(" ")
        return Ok(_parse_seq(seq_token), data)
    if text.startswith("error "):
        parts = text.split(" ", 4)
        code = ErrorCode(int(parts[2][1:])) if re.fullmatch(r"E\d\d", parts[2]) else None
        if code is None:
            raise ValueError(f"bad error code {parts[2]!r}")
        return Error(_parse_seq(parts[1]), code, parts[4] if len(parts) > 4 else "")
    if head == "!":
        parts = text[1:].split(" ", 2)
        return FaultReport(FaultCode.parse(parts[0]), parts[2] if len(parts) > 2 else "")
    if text.startswith("#CHAIR "):
        kv = _pairs(text[7:])
        if _HEX4.fullmatch(kv["limits"]) is None:
            raise ValueError(f"limits={kv['limits'][:16]!r} is not four upper-case hex digits")
        return Banner(_int(kv["proto"], "proto"), kv["fw"], _names(kv["zones"]),
                      _names(kv["heaters"]), _dec(kv["track"], "track"),
                      _dec(kv["seat"], "seat"), int(kv["limits"], 16),
                      _names(kv["axes"]) if "axes" in kv else None,
                      _names(kv["sensors"]) if "sensors" in kv else None)
    if head == "$":
        name, _, value = text[1:].partition("=")
        return LimitLine(name, _dec(value, name))
    if head == "[" and text.endswith("]"):
        return Info(text[1:-1])
    raise ValueError(f"unknown message {text[:16]!r}")


_HEX4 = re.compile(r"[0-9A-F]{4}")
