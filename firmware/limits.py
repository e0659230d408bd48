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


#: The entries every part reads (each zone's `airbag_kpa_max.<zone>` besides).
REQUIRED = ("airbag_inflate_s_max", "airbag_rise_kpa", "airbag_rise_s", "airbag_react_s",
            "airbag_held_kpa", "airbag_held_s_max", "airbag_duty_max", "airbag_duty_window_s",
            "airbag_vent_s", "airbag_vented_kpa",
            "heat_target_c_max", "heat_c_max", "thermistor_c_min", "thermistor_c_max",
            "heat_rise_c", "heat_rise_s", "heat_band_c", "heat_band_s", "heat_follow_s",
            "heat_follow_c", "heat_jump_c", "lease_ms_max", "deadman_ms", "tick_ms",
            "session_s_max", "bad_frames_max", "bad_frames_window_ms", "roller_depth_max",
            "roller_width_max", "roller_speed_max", "stall_s", "track_timeout_s",
            "overcurrent_s", "recline_timeout_s", "pinch_reverse_pct")
#: The bounds of docs/safety.md's rules (name: (lowest, highest)): a table that breaks one
#: is refused as a corrupt one is (F14, E14), so that no chair description can make the
#: firmware looser than the rules, whatever its CRC.
RULES = {"tick_ms": (1, 10), "deadman_ms": (10, 500), "lease_ms_max": (10, 2000),
         "session_s_max": (1, 1800), "bad_frames_max": (1, 3),
         "bad_frames_window_ms": (1000, 3600000), "airbag_inflate_s_max": (0.1, 10),
         "airbag_react_s": (0.01, 0.2), "heat_c_max": (20, 45)}
AIRBAG_KPA_RULE = (1, 40)  # each zone's cap: below a cuff's 40 kPa (safety.md rule 7)


class Limits:
    """The table (`entries`: [name, value, ...] in wire order) and the checks against it.

    `values` maps name -> value, each parsed from the `%g` text the CRC covers (what is
    checked is what is used, docs/protocol.md §7); `built_crc` is the CRC the firmware was
    built with and `crc` the CRC of the table as loaded. `problem` says why the table may
    not be used ('' when it may): a CRC mismatch (corrupt), a missing entry, or a value
    that breaks a rule's bound; then the firmware latches F14 and refuses to actuate.
    `lines` is the `LIMITS` answer, every `$name=value` line framed.
    """

    def __init__(self, entries, built_crc, zones=()):
        texts = [(e[0], "%g" % e[1]) for e in entries]
        self.entries = [(name, float(text)) for name, text in texts]
        self.values = {}
        for name, value in self.entries:
            self.values[name] = value
        self.built_crc = built_crc
        self.crc = crc16("".join("$%s=%s\n" % e for e in texts).encode())
        self.lines = b"".join(codec.limit(name, value) for name, value in self.entries)
        self.problem = self._judge(zones)

    def _judge(self, zones):
        if self.crc != self.built_crc:
            return "table=%04X built=%04X" % (self.crc, self.built_crc)
        values = self.values
        bounds = [(name, RULES[name]) for name in RULES]
        bounds += [("airbag_kpa_max." + zone, AIRBAG_KPA_RULE) for zone in zones]
        missing = [name for name in list(REQUIRED) + ["airbag_kpa_max." + z for z in zones]
                   if name not in values]
        for name in missing:  # a stand-in, so that the parts build: nothing actuates
            values[name] = RULES[name][1] if name in RULES else AIRBAG_KPA_RULE[1]
        if missing:
            return "no entry " + ", ".join(missing)
        for name, (low, high) in bounds:
            if not low <= values[name] <= high:
                return "%s=%g outside the rule's %g..%g" % (name, values[name], low, high)
        if values["heat_target_c_max"] > values["heat_c_max"]:
            return "heat_target_c_max above heat_c_max"
        return ""

    @property
    def valid(self):
        return not self.problem

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
