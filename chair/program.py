"""Therapeutic programs as data: load, validate and show them.

A program is a TOML file (read with `tomllib`; a program file can never run code). Every
value is checked against a schema before anything moves; an error names the file, the line,
the step and the field, and says what is allowed. docs/programs.md describes the format.

Levels in a program are gentle and absolute: roller depth is the device's depth step,
an airbag level 1..5 is that fraction (level/5) of the airbag cap in force, heat is 1..3.
The user's --intensity and cautions lower them further at run time (chair.safety); the
checks here are the program's own bounds, all at or below the controller's caps.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from chair import limits
from chair.airtime import over_filled
from chair.cautions import render_cautions
from chair.errors import ProgramError
from chair.landmarks import LANDMARKS

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

_HEADER_RE = re.compile(
    r"^\s*(\[\[?)\s*([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*\]\]?\s*(?:#.*)?$")


class _Locator:
    """Finds the line of a program field or a step's field in the TOML source (best effort:
    steps written as `[[step]]` tables, the usual way)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str, bool]] = []  # (index, dotted name, is array)
        for i, line in enumerate(self.lines):
            match = _HEADER_RE.match(line)
            if match:
                name = re.sub(r"\s+", "", match.group(2))
                self.headers.append((i, name, match.group(1) == "[["))

    def _block(self, root: str, nth: int | None) -> tuple[int, int] | None:
        """Line range of the table `root` (the nth `[[root]]` when nth is given)."""
        start = None
        count = 0
        for index, (_, name, is_array) in enumerate(self.headers):
            if name != root or is_array != (nth is not None):
                continue
            count += 1
            if nth is None or count == nth:
                start = index
                break
        if start is None:
            return None
        first = self.headers[start][0]
        for i, name, _ in self.headers[start + 1:]:
            if not name.startswith(root + "."):
                return first, i
        return first, len(self.lines)

    def line(self, step: int | None, field_path: str) -> int | None:
        """1-based line of `field_path` ("roller.depth", "program.name", "name") in step
        `step` (1-based), or in the program table, or at the top level; None if unknown."""
        parts = [p for p in field_path.split(".") if p]
        if step is not None or (parts and parts[0] == "program"):
            if step is not None:
                block = self._block("step", step)
            else:
                block, parts = self._block("program", None), parts[1:]
            if block is None:
                return None
            # the field, else the nearest enclosing key found, else the table's header
            return self._find(block, parts) or block[0] + 1
        if not parts:
            return None
        for i, name, _ in self.headers:  # a top-level table, e.g. a misspelt [progam]
            if name.split(".")[0] == parts[0]:
                return i + 1
        return self._find((0, self.headers[0][0] if self.headers else len(self.lines)), parts)

    def _find(self, block: tuple[int, int], parts: list[str]) -> int | None:
        """Line of the deepest of `parts` found in turn inside `block` (a key, a dotted key,
        an inline-table key or a `[x.key]` header); None if the first is not there."""
        found = None
        cursor, end = block
        for part in parts:
            key = re.compile(r'(?:^|[\s{,.\[])"?' + re.escape(part) + r'"?\s*(?:=|\.|\])')
            for i in range(cursor, end):
                if not self.lines[i].lstrip().startswith("#") and key.search(self.lines[i]):
                    found = cursor = i
                    break
            else:
                break
        return None if found is None else found + 1


class _Context:
    """Where an error is: the file, and how to find a line in it."""

    def __init__(self, source: str, text: str | None) -> None:
        self.source = source
        self.locator = _Locator(text) if text is not None else None

    def error(self, message: str, *, step: int | None = None, field: str = "",
              line: int | None = None) -> ProgramError:
        if line is None and self.locator is not None:
            line = self.locator.line(step, field)
        err = ProgramError(message, file=self.source, line=line, step=step, field=field)
        err.detail = message  # the message without its location, for re-wrapping
        return err


# ------------------------------------------------------------------------------ checks

def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # a whole number of over 4300 digits (or a list holding one)
        text = f"a {value.bit_length()}-bit number" if isinstance(value, int) else \
            f"{_kind(value)} holding a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _figure(value: int | float) -> str:
    """A number for a message, at most about 30 characters: a huge one by its start and
    length (never an OverflowError or ValueError converting it)."""
    if isinstance(value, float):
        return f"{value:g}"
    try:
        text = str(value)
    except ValueError:  # over 4300 digits
        return f"a {value.bit_length()}-bit number"
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"


def _control(text: str) -> str | None:
    """The first control character in `text`, written as an escape (\\x1b), or None."""
    found = CONTROL_CHARS.search(text)
    return None if found is None else f"\\x{ord(found.group()):02x}"


class _Checker:
    """Field checks for one table, raising ProgramError with the location filled in."""

    def __init__(self, ctx: _Context, step: int | None, prefix: str) -> None:
        self.ctx, self.step, self.prefix = ctx, step, prefix

    def where(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, message: str) -> ProgramError:
        return self.ctx.error(message, step=self.step, field=self.where(key))

    def keys(self, table: dict, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
        for key in table:
            if not isinstance(key, str):
                raise self.fail(str(key), f"key {_show(key)} is not text")
            if key not in allowed:
                raise self.fail(key, _unknown_key(key, allowed, self.prefix))
        for key in required:
            if key not in table:
                raise self.fail(key, f"missing; every {self._owner()} needs "
                                     f"{', '.join(repr(k) for k in required)}")

    def _owner(self) -> str:
        if not self.prefix:
            return "step" if self.step is not None else "file"
        return f"'{self.prefix.rstrip('.')}' table"

    def table(self, table: dict, key: str) -> dict:
        value = table[key]
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table ({key} = {{ ... }}), got {_kind(value)} "
                                 f"{_show(value)}")
        return value

    def text(self, table: dict, key: str, *, max_len: int = MAX_TEXT,
             pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        value = table[key]
        if not isinstance(value, str):
            raise self.fail(key, f"expected text in quotes, got {_kind(value)} {_show(value)}")
        if not value.strip():
            raise self.fail(key, "is empty")
        if len(value) > max_len:
            raise self.fail(key, f"is {len(value)} characters long; at most {max_len}")
        self.printable(key, value)
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, f"{_show(value)} is not allowed: {hint}")
        return value

    def printable(self, key: str, value: str) -> None:
        """Refuse text holding a control character (C0, DEL, C1: ESC, NUL, a newline ...)."""
        bad = _control(value)
        if bad:
            raise self.fail(key, f"holds the control character {bad}; text in a program is "
                                 "printed on the terminal, so it may hold none (write it "
                                 "on one line, without escapes such as \\u001b)")

    def choice(self, table: dict, key: str, allowed: tuple[str, ...], what: str) -> str:
        value = table[key]
        if not isinstance(value, str):
            raise self.fail(key, f"expected a {what} name in quotes, got {_kind(value)} "
                                 f"{_show(value)}; choose from {', '.join(allowed)}")
        if value not in allowed:
            close = difflib.get_close_matches(value, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.fail(key, f"unknown {what} {_show(value)}{hint}; choose from "
                                 f"{', '.join(allowed)}")
        return value

    def whole(self, table: dict, key: str, bounds: tuple[int, int], why: str = "") -> int:
        value = table[key]
        low, high = bounds
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected a whole number {low}..{high}, got {_kind(value)} "
                                 f"{_show(value)}")
        if not low <= value <= high:
            raise self.fail(key, f"{_figure(value)} is outside {low}..{high}{why}")
        return value

    def number(self, table: dict, key: str, bounds: tuple[float, float], unit: str = "",
               why: str = "") -> float:
        value = table[key]
        low, high = bounds
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a number {low:g}..{high:g}{unit}, got "
                                 f"{_kind(value)} {_show(value)}")
        # compared as it is: a whole number too large for a float is never converted
        if (isinstance(value, float) and not math.isfinite(value)) \
                or not low <= value <= high:
            raise self.fail(key, f"{_figure(value)} is outside {low:g}..{high:g}{unit}{why}")
        return float(value)


def _unknown_key(key: str, allowed: tuple[str, ...], prefix: str) -> str:
    if key == "intensity" or key.startswith("intensity"):
        return ("unknown key 'intensity': a program sets absolute levels (roller.depth, "
                "airbags.<zone>, heat.<zone>); the user's --intensity caps them at run time")
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    table = f"'{prefix.rstrip('.')}'" if prefix else "this table"
    typo = f"; a typo for '{close[0]}'?" if close else ""
    return f"unknown key {_show(key)}{typo} (allowed in {table}: {', '.join(allowed)})"


# ------------------------------------------------------------------------------ building

def _build_roller(check: _Checker, table: dict, zone: str) -> Roller:
    check.keys(table, _ROLLER_KEYS, ("technique", "from", "to"))
    technique = check.choice(table, "technique", TECHNIQUES, "technique")
    places = ZONE_LANDMARKS[zone]
    ends = []
    for key in ("from", "to"):
        name = check.choice(table, key, LANDMARKS, "landmark")
        if name not in places:
            raise check.fail(key, f"landmark '{name}' is outside the {zone} zone; a {zone} "
                                  f"step's roller stays within {', '.join(places)}")
        ends.append(name)
    values = {**ROLLER_DEFAULTS, **{k: v for k, v in table.items() if k in ROLLER_DEFAULTS}}
    width = check.whole(values, "width", WIDTH_RANGE, " (1 narrow .. 3 wide)")
    depth = check.whole(values, "depth", (1, ZONE_DEPTH_MAX[zone]),
                        f" (the deepest a {zone} step may ask for)")
    speed = check.whole(values, "speed", SPEED_RANGE)
    return Roller(technique, ends[0], ends[1], width, depth, speed)


def _build_airbags(check: _Checker, table: dict) -> Airbags:
    check.keys(table, _AIRBAG_KEYS)
    levels = {zone: check.whole(table, zone, LEVEL_RANGE, " (level/5 of the zone's cap)")
              for zone in limits.ZONES if zone in table}
    if not levels:
        raise check.ctx.error(f"names no airbag zone; give at least one of "
                              f"{', '.join(limits.ZONES)} with a level 1..5, or leave the "
                              "airbags table out", step=check.step, field="airbags")
    values = {**AIRBAG_DEFAULTS, **{k: v for k, v in table.items() if k in AIRBAG_DEFAULTS}}
    inflate = check.number(values, "inflate_s", INFLATE_S, " s")
    hold = check.number(values, "hold_s", HOLD_S, " s")
    vent = check.number(values, "vent_s", VENT_S, " s")
    airbags = Airbags(levels, inflate, hold, vent)
    over = over_filled(airbags)
    if over:
        raise check.fail("hold_s", over)
    return airbags


def _build_step(ctx: _Context, raw: Any, number: int) -> Step:
    if not isinstance(raw, dict):
        raise ctx.error(f"expected a [[step]] table, got {_kind(raw)} {_show(raw)}",
                        step=number, field="step")
    check = _Checker(ctx, number, "")
    check.keys(raw, _STEP_KEYS, ("zone", "seconds"))
    zone = check.choice(raw, "zone", PROGRAM_ZONES, "zone")
    name = check.text(raw, "name", max_len=60) if "name" in raw else f"step {number}"
    seconds = check.number(raw, "seconds", STEP_SECONDS, " s")
    roller = airbags = recline = None
    if "roller" in raw:
        roller = _build_roller(_Checker(ctx, number, "roller."), check.table(raw, "roller"),
                               zone)
        if roller.start == roller.end and seconds > DWELL_S_MAX:
            raise check.fail("seconds", f"{seconds:g} s with the roller held at "
                                        f"'{roller.start}' is over the {DWELL_S_MAX:g} s it "
                                        "may work one spot; shorten the step or sweep "
                                        "between two landmarks")
    if "airbags" in raw:
        airbags = _build_airbags(_Checker(ctx, number, "airbags."), check.table(raw, "airbags"))
    heat: dict[str, int] = {}
    if "heat" in raw:
        table = check.table(raw, "heat")
        sub = _Checker(ctx, number, "heat.")
        sub.keys(table, limits.HEATERS)
        heat = {zone_: sub.whole(table, zone_, HEAT_RANGE, " (1 warm .. 3 warmest)")
                for zone_ in limits.HEATERS if zone_ in table}
    foot = check.whole(raw, "foot", FOOT_RANGE, " (0 off .. 3 fastest)") if "foot" in raw else 0
    if "recline" in raw:
        table = check.table(raw, "recline")
        sub = _Checker(ctx, number, "recline.")
        sub.keys(table, _RECLINE_KEYS, _RECLINE_KEYS)
        recline = (sub.number(table, "back_pct", PCT_RANGE, " %"),
                   sub.number(table, "leg_pct", PCT_RANGE, " %"))
    return Step(number, zone, name, seconds, roller, airbags, heat, foot, recline)


def _scale(steps: list[Step], target_s: float) -> list[Step]:
    """Scale step durations so they add up to `target_s`, in tenths of a second."""
    total = sum(step.seconds for step in steps)
    exact = [step.seconds * target_s * 10.0 / total for step in steps]
    tenths = [math.floor(x + 1e-9) for x in exact]
    short = round(target_s * 10.0) - sum(tenths)
    by_remainder = sorted(range(len(steps)), key=lambda i: (tenths[i] - exact[i], i))
    for i in by_remainder[:max(short, 0)]:
        tenths[i] += 1
    return [_replace(step, seconds=t / 10.0) for step, t in zip(steps, tenths, strict=True)]


def _replace(step: Step, **changes: Any) -> Step:
    values = {name: getattr(step, name) for name in Step.__dataclass_fields__}
    values.update(changes)
    return Step(**values)


def _unique(items: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)


def _build(data: Any, ctx: _Context, *, base: Path | None, allow_chain: bool) -> Program:
    if not isinstance(data, dict):
        raise ctx.error(f"expected a TOML document (a table), got {_kind(data)}")
    top = _Checker(ctx, None, "")
    top.keys(data, ("program", "step"), ("program",))
    head = top.table(data, "program")
    check = _Checker(ctx, None, "program.")
    check.keys(head, _PROGRAM_KEYS, ("name", "title", "purpose"))
    name = check.text(head, "name", max_len=40, pattern=_NAME_RE,
                      hint="use lower-case letters, digits, '-' and '_' (like the file name)")
    title = check.text(head, "title", max_len=80)
    purpose = check.text(head, "purpose")
    cautions: list[str] = []
    if "cautions" in head:
        raw = head["cautions"]
        if not isinstance(raw, list) or not all(isinstance(c, str) and c.strip() for c in raw):
            raise check.fail("cautions", f"expected an array of text, like cautions = "
                                         f"[\"...\", \"...\"], got {_show(raw)}")
        if len(raw) > MAX_CAUTIONS:
            raise check.fail("cautions", f"{len(raw)} cautions; at most {MAX_CAUTIONS}")
        for text in raw:
            if len(text) > MAX_TEXT:
                raise check.fail("cautions", f"a caution of {len(text)} characters; at most "
                                             f"{MAX_TEXT}")
            check.printable("cautions", text)
        cautions = list(raw)

    steps: list[Step]
    if "chain" in head:
        if not allow_chain:
            raise check.fail("chain", "a chained program may not include another chain; "
                                      "list its parts directly")
        if "step" in data:
            raise top.fail("step", "a program with a chain takes its steps from the chain; "
                                   "remove the [[step]] tables or the chain")
        steps, part_cautions = _load_chain(ctx, check, head["chain"], base)
        cautions += part_cautions
    else:
        if "step" not in data:
            raise top.fail("step", "no steps; add [[step]] tables (or a chain in [program])")
        raw_steps = data["step"]
        if isinstance(raw_steps, dict):
            raise top.fail("step", "write each step as [[step]] (two brackets), not [step]")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise top.fail("step", f"expected [[step]] tables, got {_show(raw_steps)}")
        if len(raw_steps) > MAX_STEPS:
            raise ctx.error(f"{len(raw_steps)} steps; a program has at most {MAX_STEPS}",
                            step=MAX_STEPS + 1, field="step")
        steps = [_build_step(ctx, raw, i) for i, raw in enumerate(raw_steps, start=1)]

    if "minutes" in head:
        minutes = check.number(head, "minutes", MINUTES_RANGE, " min")
        steps = _scale(steps, minutes * 60.0)
        for step in steps:
            if not STEP_SECONDS[0] <= step.seconds <= STEP_SECONDS[1]:
                raise check.fail("minutes", f"{minutes:g} min makes step {step.number} "
                                            f"({step.zone}: {step.name}) {step.seconds:g} s, "
                                            f"outside {STEP_SECONDS[0]:g}..{STEP_SECONDS[1]:g} "
                                            "s; choose other minutes")
    cause = "program.minutes" if "minutes" in head else "program.chain" if "chain" in head \
        else ""
    _check_dwell(ctx, steps, cause)
    total = sum(step.seconds for step in steps)
    if total > SESSION_S_MAX:
        raise check.fail("minutes" if "minutes" in head else "name",
                         f"the steps last {total:g} s, over the {SESSION_S_MAX:g} s session "
                         "cap; shorten the steps")
    return Program(name, title, purpose, _unique(cautions), tuple(steps), ctx.source)


def _held(step: Step) -> Roller | None:
    """The step's roller when it is held on one spot (`from` equal to `to`), else None."""
    roller = step.roller
    return roller if roller is not None and roller.start == roller.end else None


#: Holds on one spot the validator bounds: (what the roller does there, its limit in s,
#: whether a held roller does it). Consecutive steps doing it at one landmark join.
_HOLDS = (
    ("work", DWELL_S_MAX, lambda r: True),
    ("press", PRESS_S_MAX, lambda r: r.technique == "press"),
    (f"work deeper than depth {NERVE_EXIT_DEPTH} at the sciatic nerve's exit",
     NERVE_EXIT_S_MAX, lambda r: r.start == NERVE_EXIT and r.depth > NERVE_EXIT_DEPTH),
)


def _check_dwell(ctx: _Context, steps: list[Step], cause: str) -> None:
    """Consecutive steps holding the roller at one landmark must stay within the dwell cap
    the supervisor enforces (it would stop the run), a press within `PRESS_S_MAX` and deep
    work at the nerve's exit within `NERVE_EXIT_S_MAX` (issue 10: no sustained static
    pressure where the sciatic nerve leaves the pelvis). Raises ProgramError naming the
    step (or `cause`, the chain's `minutes` or `chain`, when scaling or chaining did it)."""
    for what, limit, does in _HOLDS:
        run = 0.0
        count = 0
        spot = None
        for step in steps:
            roller = _held(step)
            here = roller.start if roller is not None and does(roller) else None
            if here is not None and here == spot:
                run, count = run + step.seconds, count + 1
            else:
                run, count = step.seconds, 1
            spot = here
            if here is None or run <= limit:
                continue
            over = " over consecutive steps" if count > 1 else ""
            if what == "work":
                message = (f"the roller stays at '{here}' for {run:g} s{over}, over the "
                           f"{limit:g} s it may work one spot")
            else:
                message = (f"the roller is held at '{here}' to {what} for {run:g} s{over}, "
                           f"over the {limit:g} s it may; sweep between two landmarks "
                           "(moving work) or shorten the step")
            if cause:
                raise ctx.error(f"{message} (step {step.number}, {step.zone}: {step.name}); "
                                "change the minutes or the parts", field=cause)
            raise ctx.error(message, step=step.number, field="roller")


def _load_chain(ctx: _Context, check: _Checker, chain: Any,
                base: Path | None) -> tuple[list[Step], list[str]]:
    if not isinstance(chain, list) or not chain:
        raise check.fail("chain", f"expected an array of program names, like chain = "
                                  f"[\"lumbar\", \"legs\"], got {_show(chain)}")
    if len(chain) > MAX_CHAIN:
        raise check.fail("chain", f"{len(chain)} parts; a chain has at most {MAX_CHAIN}")
    steps: list[Step] = []
    cautions: list[str] = []
    for part in chain:
        if not isinstance(part, str) or not _NAME_RE.match(part):
            raise check.fail("chain", f"{_show(part)} is not a program name (lower-case "
                                      "letters, digits, '-' and '_')")
        path = _find(part, ([base] if base is not None else []) + search_path())
        if path is None:
            raise check.fail("chain", f"no program named '{part}'{_suggest(part)}")
        try:
            program = _load_path(path, allow_chain=False)
        except ProgramError as err:
            detail = getattr(err, "detail", str(err))
            line = ctx.locator.line(None, "program.chain") if ctx.locator else None
            wrapped = ProgramError(f"{detail} (in '{part}', part of the chain at "
                                   f"{ctx.source}{f':{line}' if line else ''})",
                                   file=err.file, line=err.line, step=err.step,
                                   field=err.field)
            wrapped.detail = detail
            raise wrapped from err
        for step in program.steps:
            steps.append(_replace(step, number=len(steps) + 1))
        cautions += program.cautions
        if len(steps) > MAX_STEPS:
            raise check.fail("chain", f"the chain has over {MAX_STEPS} steps")
    return steps, cautions


# ------------------------------------------------------------------------------ files

def shipped_dir() -> Path:
    """The directory of the programs shipped with the package (`chair/programs/*.toml`,
    package data: in a clone, an editable install, a wheel or pipx alike)."""
    return Path(str(resources.files("chair") / "programs"))


def search_path() -> list[Path]:
    """Where program names are looked up, in order: every directory in $CHAIR_PROGRAMS
    (separated by os.pathsep), ./programs, and the programs shipped with the package."""
    dirs: list[Path] = []
    env = os.environ.get("CHAIR_PROGRAMS", "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d]
    dirs.append(Path.cwd() / "programs")
    dirs.append(shipped_dir())
    unique: list[Path] = []
    seen: set[str] = set()
    for d in dirs:
        key = os.path.normcase(os.path.abspath(d))
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return unique


def _find(name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        candidate = d / f"{name}.toml"
        if candidate.is_file():
            return candidate
    return None


def _available() -> list[str]:
    names: dict[str, None] = {}
    for d in search_path():
        if d.is_dir():
            for path in sorted(d.glob("*.toml")):
                names.setdefault(path.stem, None)
    return list(names)


def _suggest(name: str) -> str:
    names = _available()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    listed = ", ".join(names) if names else "none found"
    return f"{hint}; available: {listed}; searched {', '.join(str(d) for d in search_path())}"


def _read(path: Path) -> str:
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ProgramError(f"the file is {size} bytes, over the {MAX_BYTES // 1024} KiB "
                               "a program may be; is it the right file?", file=source)
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise ProgramError(f"cannot read the file: {err.strerror or err}", file=source) from err
    if len(data) > MAX_BYTES:
        raise ProgramError(f"the file is over the {MAX_BYTES // 1024} KiB a program may be",
                           file=source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ProgramError("the file is not UTF-8 text (byte "
                           f"0x{data[err.start]:02X}); save it as UTF-8", file=source,
                           line=line) from err


def _load_path(path: Path, *, allow_chain: bool) -> Program:
    return _parse(_read(path), str(path), base=path.parent, allow_chain=allow_chain)


def _parse(text: str, source: str, *, base: Path | None, allow_chain: bool) -> Program:
    ctx = _Context(source, text)
    if not isinstance(text, str):
        raise ctx.error(f"expected program text, got {type(text).__name__}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise ctx.error(f"the program is {size} bytes, over the {MAX_BYTES // 1024} KiB "
                        "a program may be")
    text = text.removeprefix(BOM)  # as Notepad saves "UTF-8 with BOM": read past it
    _check_shape(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        line = int(match.group(1)) if match else getattr(err, "lineno", None)
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(err))
        col = f", column {match.group(2)}" if match else ""
        raise ProgramError(f"TOML syntax error{col}: {reason}", file=source,
                           line=line) from err
    except (ValueError, RecursionError) as err:  # what _check_shape missed: still no traceback
        raise ProgramError(f"cannot read the file as TOML ({type(err).__name__}: {err})",
                           file=source) from err
    return _build(data, ctx, base=base, allow_chain=allow_chain)


def _check_shape(text: str, source: str) -> None:
    """Refuse what tomllib cannot read without a traceback, before it reads it: a number
    longer than `MAX_NUMBER_CHARS` (Python converts at most 4300 digits to an int:
    ValueError) and arrays or inline tables nested deeper than `MAX_NESTING` (tomllib
    recurses: RecursionError near 500 levels). Strings and comments are skipped, so digits
    and brackets in a title are fine. Raises ProgramError naming the file and the line."""
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        ch = text[i]
        word = _WORD.match(text, i)
        if word is not None:
            _check_word(word.group(), source, line)
            i = word.end()
            continue
        if ch == "\n":
            line += 1
        elif ch == "#":
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        elif ch in "\"'":
            quote = text[i:i + 3] if text.startswith(ch * 3, i) else ch
            end = i + len(quote)
            while True:  # the closing quote (basic strings escape with a backslash)
                end = text.find(quote, end)
                if end < 0 or ch == "'" or _escaped(text, end) is False:
                    break
                end += 1
            end = n if end < 0 else end + len(quote)
            line += text.count("\n", i, end)
            i = end
            continue
        elif ch in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise ProgramError(f"arrays or inline tables nested over {MAX_NESTING} deep; "
                                   "a program needs two levels at most", file=source,
                                   line=line)
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1


def _check_word(word: str, source: str, line: int) -> None:
    """Refuse a bare word holding a digit (every TOML number form: 0x ff, 0o, 0b, 1_000,
    1.5e300, a date) longer than MAX_NUMBER_CHARS, by its start and its length."""
    if len(word) > MAX_NUMBER_CHARS and not _DIGITS.isdisjoint(word):
        raise ProgramError(f"a number {len(word)} characters long ({word[:20]}...); a "
                           "program's numbers have a few digits", file=source, line=line)


def _escaped(text: str, at: int) -> bool:
    """True when the quote at `at` is escaped by an odd run of backslashes before it."""
    run = 0
    while at - run - 1 >= 0 and text[at - run - 1] == "\\":
        run += 1
    return run % 2 == 1


# ------------------------------------------------------------------------------ public API

def parse_program(text: str, source: str = "<program>") -> Program:
    """Validate program text. `source` names it in errors; a chain's parts are looked up
    next to `source` first, then on the search path."""
    base = None
    if source and not source.startswith("<"):
        base = Path(source).parent
    return _parse(text, source, base=base, allow_chain=True)


def program_from_dict(data: Any, source: str = "<dict>") -> Program:
    """Validate an already-parsed TOML document (a dict), as parse_program does."""
    return _build(data, _Context(source, None), base=None, allow_chain=True)


def load_program(name_or_path: str) -> Program:
    """Load and validate a program by name (looked up on `search_path()`) or by path (any
    argument ending in .toml or holding a path separator)."""
    if not isinstance(name_or_path, str | os.PathLike) or not str(name_or_path).strip():
        raise ProgramError("no program given; name one (e.g. 'sciatica') or give a path")
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise ProgramError("no such program file", file=text)
        return _load_path(path, allow_chain=True)
    if not _NAME_RE.match(text):
        raise ProgramError(f"'{text}' is not a program name (lower-case letters, digits, "
                           "'-' and '_') or a path ending in .toml")
    path = _find(text, search_path())
    if path is None:
        raise ProgramError(f"no program named '{text}'{_suggest(text)}")
    return _load_path(path, allow_chain=True)


def list_programs(*, errors: list[ProgramError] | None = None) -> list[Program]:
    """Every program on the search path (first of each name wins), sorted by name.

    A broken file raises its ProgramError, unless `errors` is a list: then the error is
    appended there and the file skipped.
    """
    found: dict[str, Path] = {}
    for d in search_path():
        if d.is_dir():
            for path in sorted(d.glob("*.toml")):
                found.setdefault(path.stem, path)
    programs = []
    for _, path in sorted(found.items()):
        try:
            programs.append(_load_path(path, allow_chain=True))
        except ProgramError as err:
            if errors is None:
                raise
            errors.append(err)
    return programs


# ------------------------------------------------------------------------------ display

def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60.0)
    text = f"{int(minutes)}:{secs:04.1f}"
    return text[:-2] if text.endswith(".0") else text


def _roller_text(roller: Roller | None) -> str:
    if roller is None:
        return "-"
    span = roller.start if roller.start == roller.end else f"{roller.start}→{roller.end}"
    return (f"{roller.technique} {span} w{roller.width}/d{roller.depth}/s{roller.speed}")


def _airbags_text(bags: Airbags | None) -> str:
    if bags is None:
        return "-"
    levels = " ".join(f"{zone} {level}" for zone, level in bags.levels.items())
    return f"{levels} ({bags.inflate_s:g}+{bags.hold_s:g}+{bags.vent_s:g} s)"


def render_timeline(program: Program, cautions: tuple[str, ...] = ()) -> str:
    """The program as a timeline grouped by zone, then what to read before it runs with
    the user's `cautions` (`chair.cautions.render_cautions`, the text `chair run` prints
    first): `chair show`."""
    out = [f"{program.name}: {program.title}",
           f"{len(program.steps)} steps, {_clock(program.seconds)} ({program.seconds:g} s)"
           f"  from {program.source}",
           f"purpose: {program.purpose}", ""]
    headings = ("#", "time", "zone", "step", "roller (tech from→to w/d/s)",
                "airbags (in+hold+vent)", "heat", "foot", "recline")
    rows: list[tuple[str, ...]] = []
    zone_of_row: list[str] = []
    t = 0.0
    for step in program.steps:
        heat = " ".join(f"{zone} {level}" for zone, level in step.heat.items()) or "-"
        recline = "-" if step.recline is None else \
            f"back {step.recline[0]:g}% leg {step.recline[1]:g}%"
        rows.append((str(step.number), f"{_clock(t)}-{_clock(t + step.seconds)}", step.zone,
                     step.name, _roller_text(step.roller), _airbags_text(step.airbags), heat,
                     str(step.foot) if step.foot else "-", recline))
        zone_of_row.append(step.zone)
        t += step.seconds
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headings)]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out.append(fmt(headings))
    previous = None
    for index, (row, zone) in enumerate(zip(rows, zone_of_row, strict=True)):
        if zone != previous:  # (by place: a program fitted to a chair may lack a number)
            span = sum(s.seconds for s in _zone_run(program.steps, index))
            out.append(f"-- {zone} ({_clock(span)}) --")
            previous = zone
        out.append(fmt(row))
    out.append("")
    return "\n".join(out) + "\n" + render_cautions(program, cautions)


def _zone_run(steps: tuple[Step, ...], first: int) -> list[Step]:
    zone = steps[first].zone
    run = []
    for step in steps[first:]:
        if step.zone != zone:
            break
        run.append(step)
    return run


__all__ = [
    "AIRBAG_DEFAULTS", "MAX_BYTES", "MAX_STEPS", "PROGRAM_ZONES", "ROLLER_DEFAULTS",
    "TECHNIQUES", "ZONE_DEPTH_MAX", "ZONE_LANDMARKS", "Airbags", "Program", "Roller", "Step",
    "list_programs", "load_program", "parse_program", "program_from_dict",
    "render_timeline", "search_path", "shipped_dir",
]
