"""The limits table: the firmware's hard caps, checked at start against the CRC it was built
with (docs/protocol.md §7), and the argument checks that use them."""

from firmware import codec, codes
from firmware.crc import crc16


class Refuse(Exception):
    """A command refused: its error code (codes.E_*) and the detail of the reply."""

    def __init__(self, code, detail):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _fmt(value):
    return "%.1f" % value if isinstance(value, float) else str(value)


class Limits:
    """The table (`entries`: [name, value, ...] in wire order) and the checks against it.

    `values` maps name -> value; `built_crc` is the CRC the firmware was built with and
    `crc` the CRC of the table as loaded: they differ when the table is corrupt (F14).
    `lines` is the `LIMITS` answer, every `$name=value` line framed.
    """

    def __init__(self, entries, built_crc):
        self.entries = [(e[0], float(e[1])) for e in entries]
        self.values = {}
        for name, value in self.entries:
            self.values[name] = value
        self.built_crc = built_crc
        self.crc = crc16("".join("$%s=%g\n" % e for e in self.entries).encode())
        self.lines = b"".join(codec.limit(name, value) for name, value in self.entries)

    @property
    def valid(self):
        return self.crc == self.built_crc

    def __getitem__(self, name):
        return self.values[name]

    def check_range(self, verb, name, value, low, high, what=""):
        """Refuse (E04) a value outside [low, high] of the protocol's own ranges."""
        suffix = " (" + what + ")" if what else ""
        if value > high:
            raise Refuse(codes.E_OUT_OF_RANGE,
                         "%s %s %s above cap %g%s" % (verb, name, _fmt(value), high, suffix))
        if value < low:
            raise Refuse(codes.E_OUT_OF_RANGE,
                         "%s %s %s below minimum %g%s" % (verb, name, _fmt(value), low, suffix))

    def check_cap(self, verb, name, value, low, high, what=""):
        """Refuse (E04) a value outside a range from the limits table."""
        self.check_range(verb, name, value, low, high, what)

    def check_lease(self, verb, lease_ms):
        self.check_cap(verb, "lease_ms", lease_ms, 1, self.values["lease_ms_max"])
