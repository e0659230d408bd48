"""Building a program from parsed TOML: its steps, scaling to minutes, the dwell checks,
chains of programs, and finding and reading program files (chair.program's public
functions call these)."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from chair import limits
from chair.airtime import over_filled
from chair.errors import ProgramError
from chair.landmarks import LANDMARKS
from chair.program_check import (
    _check_shape,
    _Checker,
    _Context,
    _kind,
    _show,
)
from chair.program_files import (
    _find,
    _read,
    _suggest,
    search_path,
)
from chair.program_schema import (
    _AIRBAG_KEYS,
    _NAME_RE,
    _PROGRAM_KEYS,
    _RECLINE_KEYS,
    _ROLLER_KEYS,
    _STEP_KEYS,
    AIRBAG_DEFAULTS,
    BOM,
    DWELL_S_MAX,
    FOOT_RANGE,
    HEAT_RANGE,
    HOLD_S,
    INFLATE_S,
    LEVEL_RANGE,
    MAX_BYTES,
    MAX_CAUTIONS,
    MAX_CHAIN,
    MAX_STEPS,
    MAX_TEXT,
    MINUTES_RANGE,
    NERVE_EXIT,
    NERVE_EXIT_DEPTH,
    NERVE_EXIT_S_MAX,
    PCT_RANGE,
    PRESS_S_MAX,
    PROGRAM_ZONES,
    ROLLER_DEFAULTS,
    SESSION_S_MAX,
    SPEED_RANGE,
    STEP_SECONDS,
    TECHNIQUES,
    VENT_S,
    WIDTH_RANGE,
    ZONE_DEPTH_MAX,
    ZONE_LANDMARKS,
    Airbags,
    Program,
    Roller,
    Step,
)


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
