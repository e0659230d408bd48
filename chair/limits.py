"""The limits table: every safety number in one place.

`DEVICE` holds the hard caps the device firmware enforces whatever the host sends; the
device publishes them over the wire (`LIMITS`) with a CRC. `HOST` holds the controller's
own caps, which are never above the device's (a test checks). Sources are in
docs/safety.md; "assumed" marks a value chosen here for want of a published figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chair import protocol

ZONES = ("shoulders", "arms", "lumbar", "seat", "calves", "feet")
HEATERS = ("lumbar", "seat")
#: The reference chair's drives and optional sensors: what a banner that does not list
#: them (protocol 1) means (chair.chairinfo).
AXES = ("carriage", "back", "leg", "foot")
SENSORS = ("force", "pinch", "seat")
TECHNIQUES = ("off", "knead", "tap", "press", "roll")

#: Chair geometry the controller needs to place landmarks (published in the banner).
TRACK_MM = 1250.0
SEAT_BEND_MM = 850.0


@dataclass(frozen=True)
class Limit:
    """One safety number, its unit and where it comes from."""

    name: str
    value: float
    unit: str
    source: str
    meaning: str

    def wire(self) -> str:
        """The `LIMITS` data line for this entry, without its CRC (chair.protocol's)."""
        return protocol.LimitLine(self.name, self.value).payload()


def _zone_caps(prefix: str, values: dict[str, float], unit: str, source: str,
               meaning: str) -> list[Limit]:
    return [Limit(f"{prefix}.{zone}", values[zone], unit, source, f"{meaning} ({zone})")
            for zone in ZONES]


#: Sources of figures read from real chairs (docs/safety.md gives each in full).
_FUJI = ("Fuji Iryoki Premium 4S manual, error chart 7-1, "
         "https://manuals.online/fujiiryoki/massager/premium-4s/user-manual/1tnc0")
_RT6037S = ("RT6037S massage-chair main-board firmware source, "
            "https://github.com/wangqian2528/RT6037S")
_CATALOGUES = "massage-chair specification catalogues (which one is not recorded)"
_RISE = ("assumed (a healthy fill rises 2 kPa or more in 0.5 s; a stuck sensor, valve or pump "
         "none)")

DEVICE_TABLE: tuple[Limit, ...] = (
    *_zone_caps("airbag_kpa_max",
                {"shoulders": 30, "arms": 30, "lumbar": 35, "seat": 35, "calves": 40,
                 "feet": 40},
                "kPa", "assumed (no published kPa figure; below a cuff's 40 kPa)",
                "airbag pressure above which the zone vents"),
    Limit("airbag_inflate_s_max", 10, "s", f"{_CATALOGUES} (10 s cap per valve)",
          "longest single inflation before the zone vents"),
    Limit("airbag_rise_kpa", 0.5, "kPa", _RISE,
          "least rise of a filling bag's reading within airbag_rise_s, else the zone vents"),
    Limit("airbag_rise_s", 0.5, "s", _RISE,
          "longest an inflation may go without its reading rising airbag_rise_kpa"),
    Limit("airbag_react_s", 0.2, "s", "safety.md rule 7", "over-pressure to venting"),
    Limit("airbag_held_kpa", 5, "kPa", "assumed (about an IPC cuff's 40 mmHg)",
          "pressure above which a bag counts as held inflated"),
    Limit("airbag_held_s_max", 30, "s",
          "assumed (twice the longest shipped program's 15 s; IPC inflates 10-12 s)",
          "longest time a bag may stay held inflated before the zone vents"),
    Limit("airbag_duty_max", 0.75, "share",
          "assumed (shipped programs reach 0.52; IPC cycles ~0.2)",
          "largest share of the duty window a bag may spend held inflated"),
    Limit("airbag_duty_window_s", 300, "s", "assumed", "window for that share"),
    Limit("airbag_vent_s", 1, "s", "safety.md rule 7 (either relief path halves in < 0.6 s)",
          "a bag told to vent must lose half its pressure within this"),
    Limit("airbag_vented_kpa", 1, "kPa", "safety.md rule 7", "a bag under this is vented"),
    Limit("heat_target_c_max", 42, "°C", "assumed (3 °C under the cut-off)",
          "highest heater set point accepted"),
    Limit("heat_c_max", 45, "°C", "safety.md rule 8", "surface temperature cut-off"),
    Limit("thermistor_c_min", -10, "°C", "assumed", "plausible thermistor range, low end"),
    Limit("thermistor_c_max", 90, "°C", "assumed", "plausible thermistor range, high end"),
    Limit("heat_rise_c", 2, "°C", "safety.md rule 8 (Marlin)", "rise required while heating"),
    Limit("heat_rise_s", 20, "s", "safety.md rule 8 (Marlin)", "window for that rise"),
    Limit("heat_band_c", 4, "°C", "safety.md rule 8 (Marlin)", "largest lag below target"),
    Limit("heat_band_s", 40, "s", "safety.md rule 8", "how long that lag may last"),
    Limit("heat_follow_s", 8, "s", "safety.md rule 8 (Marlin's runaway check, in every mode)",
          "heater on-time within which its reading must rise"),
    Limit("heat_follow_c", 0.2, "°C", "safety.md rule 8 (Marlin's runaway check, in every mode)",
          "rise required in that on-time"),
    Limit("heat_jump_c", 3, "°C", "assumed (a pad moves < 0.1 °C in 0.1 s)",
          "a heater's reading moving more than this between two 0.1 s looks: loose"),
    Limit("lease_ms_max", 2000, "ms", "safety.md rule 2", "longest lease on a setpoint"),
    Limit("deadman_ms", 500, "ms", "safety.md rule 1", "host silence before the safe state"),
    Limit("tick_ms", 10, "ms", "safety.md rule 1", "device control period"),
    Limit("session_s_max", 1800, "s", f"safety.md rule 6; {_CATALOGUES} (heat off by 30 min)",
          "continuous actuation before the device stops"),
    Limit("bad_frames_max", 3, "frames", "safety.md rule 4", "bad frames that latch a fault"),
    Limit("bad_frames_window_ms", 1000, "ms", "safety.md rule 4", "window for those frames"),
    Limit("roller_depth_max", 5, "step", f"{_RT6037S} (5 depth positions)", "deepest head step"),
    Limit("roller_width_max", 3, "step", f"{_CATALOGUES} (narrow, medium, wide)",
          "widest setting"),
    Limit("roller_speed_max", 6, "step", f"{_CATALOGUES} (speeds 1-6)",
          "fastest head speed"),
    Limit("stall_s", 1.0, "s", f"safety.md rule 9; {_FUJI} (pulse timeouts 1-3 s)",
          "no encoder motion"),
    Limit("track_timeout_s", 42, "s", f"{_FUJI} (42 s)", "track end not reached"),
    Limit("overcurrent_s", 0.3, "s", f"{_FUJI} (0.3 s, ottoman motor)",
          "over-current duration"),
    Limit("recline_timeout_s", 30, "s", f"{_FUJI} (30 s)",
          "recline end not reached"),
    Limit("pinch_react_s", 0.1, "s", "safety.md rule 10", "pinch to stop"),
    Limit("pinch_reverse_pct", 5, "%", "assumed", "how far a pinch reverses the motion"),
    Limit("foot_speed_max", 3, "step", f"{_CATALOGUES} (three speeds)",
          "fastest foot roller"),
)

#: docs/safety.md rule 7: no zone's cap above a cuff's 40 kPa, on any chair (the firmware
#: refuses a table above it, conformance checks it, the host's settle time is sized for it).
AIRBAG_KPA_RULE_MAX = 40.0

#: CRC-16 of the device table as the firmware was built with it. The device compares it
#: with the table at start and refuses to actuate on a mismatch (safety.md rule 14).
DEVICE_TABLE_CRC = 0xA515


def table_crc(table: tuple[Limit, ...] | list[Limit]) -> int:
    """The table's CRC (docs/protocol.md §7), as `chair.protocol.table_crc` computes it."""
    return protocol.table_crc((limit.name, limit.value) for limit in table)


DEVICE: dict[str, float] = {limit.name: limit.value for limit in DEVICE_TABLE}


def airbag_caps(table: dict[str, float]) -> dict[str, float]:
    """Per-zone airbag caps from a flat table."""
    return {zone: table[f"airbag_kpa_max.{zone}"] for zone in ZONES}


#: The controller's airbag cap of a zone as a share of the device's cap of that zone.
HOST_AIRBAG_SHARE = 0.8


def host_airbag_kpa(device_kpa: float) -> float:
    """The controller's airbag cap (kPa) for a zone whose device cap is `device_kpa`: how
    `HOST` derives its own, and the cap of a zone `HOST` does not name (another chair's)."""
    return round(device_kpa * HOST_AIRBAG_SHARE, 1)


_ASSUMED = "assumed (docs/safety.md, \"The controller's caps\")"


def _host_zone_caps() -> list[Limit]:
    return [Limit(f"airbag_kpa_max.{zone}", host_airbag_kpa(DEVICE[f"airbag_kpa_max.{zone}"]),
                  "kPa", "assumed: 80 % of the device's cap",
                  f"kPa target pressure the controller allows ({zone})") for zone in ZONES]


#: The controller's own caps (all at or below the device's), one table: name, value, unit,
#: source and the rule's meaning, phrased to finish "VALUE UNIT is over the CAP UNIT ..."
#: (`over_cap` gives that text). Intensity 5 reaches them. A chair's zone not named here
#: gets `host_airbag_kpa` of its device cap (`cap`). docs/safety.md gives each in full.
HOST_TABLE: tuple[Limit, ...] = (
    *_host_zone_caps(),
    # Calf and foot airbags by default: a gentle cap, about medical calf compression
    # (~45 mmHg, 6 kPa); the user's --firm-legs lifts it to airbag_kpa_max (docs/safety.md).
    Limit("airbag_kpa_default.calves", 8.0, "kPa", _ASSUMED,
          "kPa calf airbag pressure allowed without --firm-legs"),
    Limit("airbag_kpa_default.feet", 8.0, "kPa", _ASSUMED,
          "kPa foot airbag pressure allowed without --firm-legs"),
    Limit("airbag_hold_s_max", 8.0, "s", _ASSUMED, "an airbag may stay filled in one cycle"),
    Limit("airbag_held_s_max", 20.0, "s", _ASSUMED,
          "an airbag may stay inflated on end (cycles joining across steps)"),
    Limit("airbag_duty_max", 0.65, "share", _ASSUMED,
          "share of the duty window an airbag may spend inflated"),
    Limit("heat_target_c_max", 40.0, "°C", _ASSUMED, "highest heater set point"),
    Limit("heat_c_max", 43.0, "°C", _ASSUMED, "surface temperature cut-off"),
    Limit("roller_depth_max", 4, "step", _ASSUMED, "steps deep the controller allows"),
    Limit("roller_dwell_s_max", 90.0, "s", _ASSUMED, "the roller may work one spot"),
    # The most force a status report may plausibly show (N): what the deepest head presses
    # on the stiffest person the simulated plant models, 150 N, with a third more room.
    Limit("roller_force_n_max", 200.0, "N", _ASSUMED, "of roller force a report may show"),
    # Held on one spot (a step's `from` equal to its `to`): the press technique, and deep
    # work at the sciatic nerve's exit below the piriformis (docs/programs.md).
    Limit("roller_press_s_max", 15.0, "s", _ASSUMED, "a press may be held on one spot"),
    Limit("nerve_exit_deep_s_max", 10.0, "s", _ASSUMED,
          "deep work may be held at the sciatic nerve's exit"),
    Limit("session_s_default", 900.0, "s", "docs/safety.md rule 6",
          "session when the user sets none"),
    Limit("session_s_max", 1800.0, "s", "docs/safety.md rule 6", "session cap"),
    Limit("lease_ms", 1500.0, "ms", "docs/protocol.md §11.2", "lease on every setpoint"),
    Limit("link_timeout_s", 1.0, "s", "docs/safety.md rule 1",
          "without a valid device report before a link fault"),
)

HOST: dict[str, float] = {limit.name: limit.value for limit in HOST_TABLE}
HOST_LIMIT: dict[str, Limit] = {limit.name: limit for limit in HOST_TABLE}

#: The device's cap each of these host caps is never above: the cap in force is the lower
#: of the two (`cap`). The other host caps are the controller's alone.
DEVICE_COUNTERPART: dict[str, str] = {
    "roller_depth_max": "roller_depth_max",
    "airbag_hold_s_max": "airbag_inflate_s_max",
    "session_s_max": "session_s_max",
    "heat_target_c_max": "heat_target_c_max",
    "heat_c_max": "heat_c_max",
}


def cap(name: str, device: Mapping[str, float] = DEVICE, absent: float | None = None) -> float:
    """The host cap `name` in force against the device table `device`: `HOST`'s value, never
    above the device's counterpart (`DEVICE_COUNTERPART`; `airbag_kpa_max.<zone>` is its own
    counterpart, and a zone `HOST` does not name gets `host_airbag_kpa` of the device's).
    A counterpart the device table lacks counts as `absent`; with `absent` None that is a
    KeyError, as is a name that is no host cap."""
    if name.startswith("airbag_kpa_max."):
        theirs = device[name]
        return min(HOST.get(name, host_airbag_kpa(theirs)), theirs)
    ours = HOST[name]
    key = DEVICE_COUNTERPART.get(name)
    if key is None:
        return ours
    theirs = device[key] if absent is None or key in device else absent
    return min(ours, theirs)


def over_cap(name: str, value: float, limit: float | None = None) -> str:
    """'' when `value` is within the host cap `name` (at most it), else the error text,
    e.g. "10 s is over the 8 s an airbag may stay filled in one cycle". `limit` is the cap
    in force (default `cap(name)` against `DEVICE`); units and wording from `HOST_TABLE`.
    KeyError for a name that is no host cap."""
    zone_cap = name.startswith("airbag_kpa_max.")  # a zone HOST does not name: kPa too
    entry = HOST_LIMIT.get(name) or HOST_LIMIT[f"airbag_kpa_max.{ZONES[0]}" if zone_cap else name]
    limit = cap(name) if limit is None else limit
    if value <= limit:
        return ""
    unit = "" if entry.unit in ("step", "share") else f" {entry.unit}"
    return f"{value:g}{unit} is over the {limit:g}{unit} {entry.meaning}"
