"""When a program keeps each airbag inflated: the timeline the executor will command.

The device enforces a hold limit and a duty share per zone whatever the host sends
(`airbag_held_s_max`, `airbag_duty_max` of `airbag_duty_window_s`; safety.md rule 7), so a
program that would reach them must be refused before anything moves (rule 15), not stopped
half way by the device. This module computes, from a program alone, the spans in which the
executor commands each zone to fill or hold (chair/executor.py: each step's cycles start at
the step's start; a step's last cycle is cut at its end), the longest stretch those spans
join into across steps, and the largest share of any window they cover.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chair import limits

if TYPE_CHECKING:
    from chair.program import Airbags, Program

#: One commanded inflation: (start s, end s, the step's number), seconds into the program.
Span = tuple[float, float, int]


def filled_s(bags: Airbags) -> float:
    """Seconds an airbag cycle of `bags` keeps its bags filled, inflate_s + hold_s: what
    `airbag_hold_s_max` caps, and when the cycle's venting starts (chair.executor)."""
    return bags.inflate_s + bags.hold_s


def over_filled(bags: Airbags) -> str:
    """'' when a cycle of `bags` keeps them filled within `airbag_hold_s_max`, else why not:
    the one check of that cap before a run (the parser and chair.caps.check_program)."""
    over = limits.over_cap("airbag_hold_s_max", filled_s(bags))
    return over and f"inflate_s {bags.inflate_s:g} + hold_s {bags.hold_s:g} = {over}"


def inflated_spans(program: Program) -> dict[str, list[Span]]:
    """Per zone, the spans the program commands it inflated (fill or hold), in order and
    joined where they touch (one step's last cycle running into the next step's first)."""
    spans: dict[str, list[Span]] = {}
    start = 0.0
    for step in program.steps:
        bags = step.airbags
        if bags is not None:
            on = filled_s(bags)
            period = on + bags.vent_s
            for zone, level in bags.levels.items():
                if level <= 0:
                    continue
                zone_spans = spans.setdefault(zone, [])
                cycle = 0.0
                while cycle < step.seconds:
                    begin, end = start + cycle, start + min(cycle + on, step.seconds)
                    if zone_spans and zone_spans[-1][1] >= begin - 1e-9:
                        end = max(end, zone_spans[-1][1])
                        zone_spans[-1] = (zone_spans[-1][0], end, step.number)
                    else:
                        zone_spans.append((begin, end, step.number))
                    cycle += period
        start += step.seconds
    return spans


def longest(spans: list[Span]) -> Span | None:
    """The longest span (joined spans count as one), or None."""
    return max(spans, key=lambda s: s[1] - s[0], default=None)


def busiest(spans: list[Span], window_s: float) -> tuple[float, int]:
    """The largest time inflated within any `window_s` window, and the step in which that
    window ends (the share grows only while inflated, so windows ending at span ends
    suffice)."""
    best, where = 0.0, 0
    for _, end, number in spans:
        begin = end - window_s
        total = sum(min(e, end) - max(b, begin) for b, e, _ in spans if e > begin and b < end)
        if total > best:
            best, where = total, number
    return best, where
