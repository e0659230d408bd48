"""A program fitted to one chair: the parts of its steps the chair cannot do, left out.

A step part needs a part of the chair: an airbag level its zone, heat its heater, the
roller the carriage, the foot rollers the `foot` drive, a recline the `back` and `leg`
drives. `fit` drops each part the chair lacks and each step left with nothing to do, and
says which (`Skip`); a program of which nothing is left is refused (ProgramError, exit 2).
A step with nothing to do in the program itself (a rest) stays. Step numbers are kept.

`chair_on` asks the device on a port which chair it is, for `chair show PROGRAM --port`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chair.chairinfo import Chair
from chair.clock import MonotonicClock
from chair.errors import ChairRefused, ProgramError
from chair.link import Link
from chair.ports import DEFAULT_BAUD, open_port
from chair.program import Program, Step


@dataclass(frozen=True)
class Skip:
    """A step, or part of one (`part`: ``airbags.feet``, ``heat.seat``, ``roller``,
    ``foot``, ``recline``; ``step`` for the whole step), the chair cannot do, and why."""

    step: int
    part: str
    why: str

    def record(self) -> dict:
        """As the trace header's `skipped` entries (docs/trace.md)."""
        return {"step": self.step, "part": self.part, "why": self.why}

    def text(self) -> str:
        what = "the whole step" if self.part == "step" else self.part
        return f"step {self.step} {what}: {self.why}"


@dataclass(frozen=True)
class Fitted:
    """`program` as this chair runs it, and what was left out of the original."""

    program: Program
    skipped: tuple[Skip, ...]


def _active(step: Step) -> bool:
    return bool(step.roller or step.airbags or step.heat or step.foot or step.recline)


def _fit_step(step: Step, chair: Chair, skipped: list[Skip]) -> Step:
    changes: dict = {}
    n = step.number
    if step.roller is not None and "carriage" not in chair.axes:
        skipped.append(Skip(n, "roller", "the chair has no roller carriage"))
        changes["roller"] = None
    if step.airbags is not None:
        levels = {z: lvl for z, lvl in step.airbags.levels.items() if z in chair.zones}
        skipped.extend(Skip(n, f"airbags.{z}", f"the chair has no {z} airbag zone")
                       for z in step.airbags.levels if z not in chair.zones)
        if len(levels) != len(step.airbags.levels):
            changes["airbags"] = replace(step.airbags, levels=levels) if levels else None
    if step.heat:
        heat = {h: lvl for h, lvl in step.heat.items() if h in chair.heaters}
        skipped.extend(Skip(n, f"heat.{h}", f"the chair has no {h} heater")
                       for h in step.heat if h not in chair.heaters)
        if len(heat) != len(step.heat):
            changes["heat"] = heat
    if step.foot and "foot" not in chair.axes:
        skipped.append(Skip(n, "foot", "the chair has no foot rollers"))
        changes["foot"] = 0
    lacking = [axis for axis in ("back", "leg") if axis not in chair.axes]
    if step.recline is not None and lacking:
        skipped.append(Skip(n, "recline", f"the chair has no {' or '.join(lacking)} drive"))
        changes["recline"] = None
    return replace(step, **changes) if changes else step


def fit(program: Program, chair: Chair) -> Fitted:
    """`program` without what `chair` lacks; ProgramError (exit 2) when nothing is left."""
    skipped: list[Skip] = []
    steps: list[Step] = []
    for step in program.steps:
        before = len(skipped)
        fitted = _fit_step(step, chair, skipped)
        if _active(step) and not _active(fitted):
            del skipped[before:]
            parts = _parts(step)
            skipped.append(Skip(step.number, "step",
                                f"the chair has none of its parts ({', '.join(parts)})"))
            continue
        steps.append(fitted)
    if program.steps and not any(_active(s) for s in steps):
        raise ProgramError(
            f"none of the program's steps can run on this chair (zones "
            f"{', '.join(chair.zones) or 'none'}; heaters {', '.join(chair.heaters) or 'none'}"
            f"; drives {', '.join(chair.axes) or 'none'}): nothing moved; choose a program "
            "for this chair (`chair show PROGRAM --port URL` shows what it would do)",
            file=program.source)
    if not skipped:
        return Fitted(program, ())
    return Fitted(replace(program, steps=tuple(steps)), tuple(skipped))


def _parts(step: Step) -> list[str]:
    parts = ["roller"] if step.roller else []
    parts += [f"airbags.{z}" for z in (step.airbags.levels if step.airbags else ())]
    parts += [f"heat.{h}" for h in step.heat]
    parts += ["foot"] * bool(step.foot) + ["recline"] * (step.recline is not None)
    return parts


def chair_on(url: str, timeout_s: float = 3.0, baud: int = DEFAULT_BAUD) -> Chair:
    """The chair the device at `url` describes: its banner and limits table only (INFO,
    LIMITS; no session is started, nothing moves). Raises UsageError for a bad URL,
    LinkError when the device does not answer, ChairRefused when its table lacks a cap
    the host needs (as `chair run` refuses it)."""
    port = open_port(url, baudrate=baud)
    try:
        clock = getattr(port, "clock", None) or MonotonicClock()
        chair = Link(port, clock).identify(timeout_s).chair
    finally:
        port.close()
    why = chair.refusal()
    if why:
        raise ChairRefused(why)
    return chair


def render_fit(chair: Chair, fitted: Fitted, url: str) -> str:
    """The chair at `url` and what of the program it skips, for `chair show --port`."""
    lines = [f"on the chair at {url}: airbag zones {', '.join(chair.zones) or 'none'}; "
             f"heaters {', '.join(chair.heaters) or 'none'}; drives "
             f"{', '.join(chair.axes) or 'none'}; sensors {', '.join(chair.sensors) or 'none'}"
             f"; track {chair.track_mm:g} mm, seat bend at {chair.seat_mm:g} mm"]
    if fitted.skipped:
        lines.append("this chair cannot do, so `chair run` skips:")
        lines.extend(f"  - {skip.text()}" for skip in fitted.skipped)
    else:
        lines.append("this chair can do every step")
    return "\n".join(lines) + "\n"
