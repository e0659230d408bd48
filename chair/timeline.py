"""Showing a program: its timeline grouped by zone (`chair show`)."""

from __future__ import annotations

from chair.cautions import render_cautions
from chair.program_schema import Airbags, Program, Roller, Step

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
