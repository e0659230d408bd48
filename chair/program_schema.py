"""The program format's schema: its zones, techniques, ranges, caps and keys, and the
model a program is loaded into (`Roller`, `Airbags`, `Step`, `Program`); chair.program
loads programs into it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chair import limits

# ------------------------------------------------------------------------------ schema

#: The program zones a step belongs to; the run's depth caps (chair.safety) are per zone.
PROGRAM_ZONES = ("lumbar", "gluteal", "piriformis", "legs", "feet")

#: Roller techniques a step may ask for ("off" is the absence of a roller table).
TECHNIQUES = tuple(t for t in limits.TECHNIQUES if t != "off")

#: The landmarks a roller may sweep between in each zone. Keeping the roller inside its
#: zone is what makes a zone's caution caps (e.g. herniated disc: lumbar depth 1) hold: a
#: step labelled "legs" cannot work the lumbar spine.
ZONE_LANDMARKS: dict[str, tuple[str, ...]] = {
    "lumbar": ("t12", "l3", "l5", "sacrum"),
    "gluteal": ("sacrum", "piriformis", "gluteal", "thigh"),
    "piriformis": ("sacrum", "piriformis", "gluteal"),
    "legs": ("gluteal", "thigh"),
    "feet": ("gluteal", "thigh"),
}

_DEPTH_CAP = int(limits.cap("roller_depth_max"))

#: Deepest roller step a program may ask for, per zone. No deep lumbar pressure (a slipped
#: disc may be made worse); deeper but bounded work on the buttocks and the piriformis.
ZONE_DEPTH_MAX: dict[str, int] = {
    "lumbar": min(3, _DEPTH_CAP),
    "gluteal": min(4, _DEPTH_CAP),
    "piriformis": min(4, _DEPTH_CAP),
    "legs": min(3, _DEPTH_CAP),
    "feet": min(3, _DEPTH_CAP),
}

WIDTH_RANGE = (1, int(limits.DEVICE["roller_width_max"]))
SPEED_RANGE = (1, int(limits.DEVICE["roller_speed_max"]))
LEVEL_RANGE = (1, 5)
HEAT_RANGE = (1, 3)
FOOT_RANGE = (0, int(limits.DEVICE["foot_speed_max"]))
PCT_RANGE = (0, 100)
STEP_SECONDS = (5.0, 600.0)
#: Inflate plus hold: the longest an airbag is commanded full in one cycle. The device
#: vents one inflation after `airbag_inflate_s_max`; the controller's own cap is lower.
AIR_ON_S_MAX = float(limits.cap("airbag_hold_s_max"))
INFLATE_S = (1.0, AIR_ON_S_MAX)
HOLD_S = (0.0, AIR_ON_S_MAX)
VENT_S = (1.0, 30.0)
DWELL_S_MAX = float(limits.cap("roller_dwell_s_max"))
#: The press technique held on one spot: at most this long (consecutive steps joined).
PRESS_S_MAX = float(limits.cap("roller_press_s_max"))
#: Where the sciatic nerve leaves the pelvis, just below the piriformis in about 90 % of
#: people: the roller may be held there deeper than NERVE_EXIT_DEPTH (37.5 N on the
#: simulated plant) for at most NERVE_EXIT_S_MAX (docs/programs.md, "Pressure on the nerve").
NERVE_EXIT = "piriformis"
NERVE_EXIT_DEPTH = 2
NERVE_EXIT_S_MAX = float(limits.cap("nerve_exit_deep_s_max"))
SESSION_S_MAX = float(limits.cap("session_s_max"))
MINUTES_RANGE = (1.0, SESSION_S_MAX / 60.0)

MAX_BYTES = 256 * 1024
MAX_STEPS = 100
MAX_CHAIN = 12
MAX_CAUTIONS = 20
MAX_TEXT = 1000
#: Deepest nesting of arrays and inline tables (a program uses two: [[step]], cautions = [...]).
MAX_NESTING = 32
#: Longest number a program may write, in characters, in any TOML form (decimal, 0x hex,
#: 0o octal, 0b binary, underscores, a float's exponent): Python converts at most 4300
#: digits to an int, and 100 characters keep every whole number under 16**98, which
#: converts to a float (no OverflowError).
MAX_NUMBER_CHARS = 100
_DIGITS = frozenset("0123456789")
#: A bare word outside strings and comments (a number, a date, a key, true, inf ...).
_WORD = re.compile(r"""[^\s=,\[\]{}#"']+""")
#: C0 controls, DEL and C1 controls: refused in a program's text (ESC would reach the
#: terminal of `chair show` and `chair run -v`: clear the screen, hide the cautions), and
#: escaped in a trace before `chair plot` draws it (chair/trace_check.py).
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")
BOM = "\ufeff"

ROLLER_DEFAULTS = {"width": 2, "depth": 1, "speed": 2}
AIRBAG_DEFAULTS = {"inflate_s": 4.0, "hold_s": 2.0, "vent_s": 2.0}

_PROGRAM_KEYS = ("name", "title", "purpose", "cautions", "chain", "minutes")
_STEP_KEYS = ("zone", "name", "seconds", "roller", "airbags", "heat", "foot", "recline")
_ROLLER_KEYS = ("technique", "from", "to", "width", "depth", "speed")
_AIRBAG_KEYS = (*limits.ZONES, "inflate_s", "hold_s", "vent_s")
_RECLINE_KEYS = ("back_pct", "leg_pct")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


# ------------------------------------------------------------------------------ model

@dataclass(frozen=True)
class Roller:
    """The roller carriage sweeps between two landmarks with one technique."""

    technique: str
    start: str
    end: str
    width: int
    depth: int
    speed: int


@dataclass(frozen=True)
class Airbags:
    """Airbag zones (limits.ZONES) at levels 1..5; one cycle: inflate, hold, vent."""

    levels: dict[str, int]
    inflate_s: float
    hold_s: float
    vent_s: float


@dataclass(frozen=True)
class Step:
    """One step of a program: what every actuator does for `seconds`."""

    number: int
    zone: str
    name: str
    seconds: float
    roller: Roller | None
    airbags: Airbags | None
    heat: dict[str, int]
    foot: int
    recline: tuple[float, float] | None


@dataclass(frozen=True)
class Program:
    """A validated program: steps in order, and the cautions to show before it runs."""

    name: str
    title: str
    purpose: str
    cautions: tuple[str, ...]
    steps: tuple[Step, ...]
    source: str

    @property
    def seconds(self) -> float:
        """Total duration of the steps, in seconds."""
        return round(sum(step.seconds for step in self.steps), 3)


# ------------------------------------------------------------------------------ locating
