"""The device's lines: each encoder returns one framed line, ``payload*XXXX`` and LF, as bytes.

Byte-identical to chair.protocol.encode_device of the same message under CPython (the tests
keep them so). Free text is cleaned to printable ASCII without ``*``, at most 120 characters.
A number that would fall outside the grammar once formatted (nan, inf, too large) raises
ValueError; the firmware decides what to do with it.
"""

from firmware.codes import error_wire, fault_wire
from firmware.crc import crc16
from firmware.grammar import is_decimal_text, is_int_text

# MicroPython rounds an exact tie ("%.1f" % 2.25) away from zero, CPython to even: the
# formats below correct it there, so both interpreters write the same bytes.
_TIES_AWAY = "%.1f" % 2.25 != "2.2"


try:
    _BYTES_FORMAT = (b"%04X" % 1) == b"0001"
except TypeError:
    _BYTES_FORMAT = False


def _framed(payload):
    """``payload*CRC`` and LF, as bytes."""
    data = payload.encode()
    if _BYTES_FORMAT:
        return b"%s*%04X\n" % (data, crc16(data))
    return data + ("*%04X\n" % crc16(data)).encode()


def _clean(text):
    """Free text made safe for one line: printable ASCII without ``*``."""
    out = []
    for c in text:
        out.append(c if " " <= c <= "~" and c != "*" else "_")
    return "".join(out)[:120]


def _checked(text, good, value):
    if not good(text):
        raise ValueError("%r cannot go on the wire: not a number of the protocol's grammar "
                         "(finite, at most 9 digits before the point)" % (value,))
    return text


_FORMATS = {}


def _fixed(value, places):
    """``"%.{places}f" % value``, an exact tie rounded to even on every interpreter."""
    form = _FORMATS.get(places)
    if form is None:
        form = _FORMATS[places] = "%." + str(places) + "f"
    text = form % value
    if _TIES_AWAY and -1e15 < value < 1e15:  # finite; larger doubles are whole numbers
        scaled = value * (2 << places)  # exact: a power of two
        if scaled == int(scaled) and int(scaled) % 2:  # an odd multiple: a decimal tie
            m = abs(int(scaled)) * 5 ** places // 2  # value * 10**places, rounded down
            if m % 2:
                m += 1
            digits = str(m)
            digits = "0" * (places + 1 - len(digits)) + digits
            sign = "-" if value < 0 else ""
            if not places:
                return sign + digits
            text = sign + digits[:-places] + "." + digits[-places:]
    return text


def _gtext(value):
    """``"%g" % value``, an exact tie rounded to even on every interpreter."""
    text = "%g" % value
    if _TIES_AWAY and 1 <= abs(value) < 1e6:
        before = len(str(int(abs(value))))  # digits before the point; %g keeps 6 in all
        scaled = value * (2 << (6 - before))
        if scaled == int(scaled) and int(scaled) % 2:  # a tie at the 6th digit
            fixed = _fixed(value, 6 - before)
            if len(fixed.lstrip("-").split(".")[0]) == before:  # else a carry: "1e+06"
                text = fixed.rstrip("0").rstrip(".") if "." in fixed else fixed
    return text


def _g(value):
    """`value` as C's %g writes it, checked against the number grammar (ValueError)."""
    return _checked(_gtext(value), is_decimal_text, value)


def ok(seq, data=""):
    """``ok <seq|->[ data]``: the line `seq` was accepted; `data` a query's ``key=value``s."""
    seq_text = "-" if seq is None else str(seq)
    return _framed("ok " + seq_text + " " + data if data else "ok " + seq_text)


def error(seq, code, detail):
    """``error <seq|-> Enn name[ detail]``: the line `seq` was refused (KeyError: no code)."""
    detail = _clean(detail)
    head = "error %s %s" % ("-" if seq is None else seq, error_wire(code))
    return _framed(head + " " + detail if detail else head)


def fault(code, detail):
    """``!Fnn name[ detail]``, pushed when a fault latches."""
    detail = _clean(detail)
    head = "!" + fault_wire(code)
    return _framed(head + " " + detail if detail else head)


def info(text):
    """``[text]``: free text for a person at a terminal."""
    return _framed("[" + _clean(text) + "]")


def limit(name, value):
    """``$name=value``: one entry of the limits table."""
    return _framed("$%s=%s" % (name, _g(value)))


def banner(proto, fw, zones, heaters, track_mm, seat_mm, crc, extra=""):
    """``#CHAIR proto=.. fw=.. zones=.. heaters=.. track=.. seat=.. limits=XXXX`` and `extra`
    (further `` key=value`` fields, may be empty)."""
    return _framed("#CHAIR proto=%s fw=%s zones=%s heaters=%s track=%s seat=%s limits=%04X%s" % (
        _checked(str(proto), is_int_text, proto), fw, ",".join(zones), ",".join(heaters),
        _g(track_mm), _g(seat_mm), crc, extra))


_STATUS_FORMATS = {}


def _status_format(n_air, n_heat, f):
    key = (n_air, n_heat, f)
    form = _STATUS_FORMATS.get(key)
    if form is None:
        form = _STATUS_FORMATS[key] = (
            "<%s t=" + ("%s" if f == "s" else "%.3f") + " pos=%" + f + " tech=%s w=%s d=%s "
            "spd=%s force=%" + f + " air=" + ",".join(["%" + f] * n_air) + " heat="
            + ",".join(["%" + f] * n_heat) + " foot=%s back=%" + f + " leg=%" + f
            + " occ=%d pinch=%d flt=%s>")
    return form


def status(state, t, pos_mm, technique, width, depth, speed, force_n, air, heat, foot,
           back_pct, leg_pct, occupied, pinch, faults):
    """``<State t=.. pos=.. ... flt=..>``: one status line. `air`, `heat` lists of floats
    (kPa, degrees C), `faults` fault-code ints in the order to write."""
    total = (abs(t) + abs(pos_mm) + abs(force_n) + abs(back_pct) + abs(leg_pct) + abs(width)
             + abs(depth) + abs(speed) + abs(foot) + sum(map(abs, air)) + sum(map(abs, heat)))
    if not total < 1e8:  # nan, inf or a large value: raise unless each still fits
        _check_numbers(t, (pos_mm, force_n, back_pct, leg_pct) + tuple(air) + tuple(heat),
                       (width, depth, speed, foot))
    flt = ",".join(["F%02d" % f for f in faults]) if faults else "-"
    if _TIES_AWAY:
        f1 = _fixed
        values = ((state, _fixed(t, 3), f1(pos_mm, 1), technique, width, depth, speed,
                   f1(force_n, 1)) + tuple([f1(x, 1) for x in air])
                  + tuple([f1(x, 1) for x in heat])
                  + (foot, f1(back_pct, 1), f1(leg_pct, 1), int(occupied), int(pinch), flt))
        line = _status_format(len(air), len(heat), "s") % values
    else:
        values = ((state, t, pos_mm, technique, width, depth, speed, force_n) + tuple(air)
                  + tuple(heat)
                  + (foot, back_pct, leg_pct, int(occupied), int(pinch), flt))
        line = _status_format(len(air), len(heat), ".1f") % values
    # sensor noise just under zero rounds to "-0.0": write it as the zero it is
    return _framed(_no_negative_zero(line) if "-0.0" in line else line)


def _check_numbers(t, decimals, ints):
    """ValueError unless every number fits the grammar once formatted."""
    _checked("%.3f" % t, is_decimal_text, t)
    for x in decimals:
        _checked("%.1f" % x, is_decimal_text, x)
    for x in ints:
        _checked(str(x), is_int_text, x)


def _no_negative_zero(line):
    """Each ``-0.0`` after ``=`` or ``,`` and before `` ``, ``,`` or ``>`` made ``0.0``."""
    out = []
    pos = 0
    i = line.find("-0.0")
    while i >= 0:
        if i > 0 and line[i - 1] in "=," and line[i + 4:i + 5] in (" ", ",", ">"):
            out.append(line[pos:i])
            out.append("0.0")
            pos = i + 4
            i = line.find("-0.0", pos)
        else:
            i = line.find("-0.0", i + 1)
    out.append(line[pos:])
    return "".join(out)
