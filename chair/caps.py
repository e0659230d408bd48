"""The caps in force for one run: the device's table, the controller's own, the user's
intensity and the cautions (docs/safety.md, docs/programs.md), and the program check that
refuses what a run could never do within them, before anything moves.

`chair.safety` then watches the device against these caps, report by report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chair import airtime
from chair.errors import ProgramError, UsageError
from chair.limits import DEVICE, HOST, cap, over_cap
from chair.regions import region_caps

if TYPE_CHECKING:
    from chair.program import Program

PROGRAM_ZONES = ("lumbar", "gluteal", "piriformis", "legs", "feet")
HEAT_LEVEL_C = {1: 36.0, 2: 38.0, 3: 40.0}


@dataclass(frozen=True)
class Caution:
    """A user's condition and how it lowers the caps (grounded in docs/safety.md), or,
    with `refuse`, a condition that means "do not use": the run refuses it (exit 2)."""

    text: str
    refuse: bool = False
    airbag_scale: dict[str, float] = field(default_factory=dict)
    depth_max: dict[str, int] = field(default_factory=dict)
    banned_techniques: frozenset[str] = frozenset()
    no_heat: bool = False
    back_pct_min: float = 0.0  # backrest reclined at least this far (% of travel) all run
    leg_pct_max: float = 100.0  # leg rest raised at most this far (% of travel)

    def changes(self) -> list[str]:
        """What this caution changes in a run, in words (shown before the run starts)."""
        said: list[str] = []
        for zone, scale in self.airbag_scale.items():
            said.append(f"no {zone} airbags" if scale <= 0 else
                        f"{zone} airbags at {scale:.0%} of their cap")
        depths: dict[int, list[str]] = {}
        for zone, depth in self.depth_max.items():
            depths.setdefault(depth, []).append(zone)
        for depth, zones in sorted(depths.items()):
            where = "everywhere" if set(zones) >= set(PROGRAM_ZONES) else \
                f"in the {', '.join(zones)} zones and regions"
            said.append(f"roller depth at most {depth} {where} (by where the roller is)")
        for technique in sorted(self.banned_techniques):
            said.append(f"no {_TECHNIQUE_WORDS.get(technique, technique)}: kneading instead")
        if self.no_heat:
            said.append("heat off")
        if self.back_pct_min > 0:
            said.append(f"backrest reclined at least {self.back_pct_min:g} % for the whole run")
        if self.leg_pct_max < 100:
            said.append(f"leg rest raised at most {self.leg_pct_max:g} %")
        return said


_TECHNIQUE_WORDS = {"tap": "tapping", "press": "static pressing"}


CAUTIONS: dict[str, Caution] = {
    "herniated-disc": Caution(
        "herniated or slipped disc, or sciatica whose cause you do not know: massage may "
        "make a disc herniation worse, so the whole session is made gentle and reclined "
        "(what it changes is listed below). Ask your doctor or physiotherapist first; with "
        "nerve-root signs use --caution radicular instead.",
        # numbers: docs/programs.md, "The herniated-disc caution" (Wilke 1999 for the recline)
        airbag_scale={"lumbar": 0.0, "seat": 0.5},
        depth_max={"lumbar": 1, "gluteal": 1, "piriformis": 1, "legs": 1, "feet": 1},
        banned_techniques=frozenset({"tap", "press"}),
        back_pct_min=50.0,
        leg_pct_max=20.0,
    ),
    "osteoporosis": Caution(
        "osteoporosis: deep or tapping pressure could break a weakened bone, so the roller "
        "stays shallow and gentle. Ask your doctor first; with a fracture of the spine, do "
        "not use (--caution spinal-fracture).",
        depth_max=dict.fromkeys(PROGRAM_ZONES, 1),
        banned_techniques=frozenset({"tap"}),
    ),
    "neuropathy": Caution(
        "loss of temperature sense or diabetic neuropathy: you may not feel a burn or a "
        "squeeze in time. Ask your doctor first.",
        airbag_scale={"calves": 0.6, "feet": 0.6},
        no_heat=True,
    ),
    # Conditions that mean "do not use": `--caution NAME` refuses the run, nothing moves
    # (sources: docs/programs.md, "Cautions shown before every run").
    "radicular": Caution(
        "nerve-root (radicular) sciatica or an acute disc herniation, as a doctor or "
        "physiotherapist found it (leg pain worse than the back pain, often with numbness, "
        "pins and needles or weakness): the Dutch physiotherapy guideline advises no massage "
        "for it (KNGF 2021); ask them what helps instead.", refuse=True),
    "thrombosis": Caution(
        "a blood clot in a vein (deep vein thrombosis), now or suspected: a calf or leg "
        "swollen, warm, red or painful on one side. Squeezing the legs can dislodge a clot: "
        "leg massage over an undiagnosed clot has caused fatal pulmonary embolism (case "
        "reports, Behera 2018, Sutham 2020). See a doctor the same day.", refuse=True),
    "aneurysm": Caution("an aneurysm (a bulging artery), listed by chair makers.",
                        refuse=True),
    "spinal-fracture": Caution(
        "a fracture of the spine, now or suspected (after a fall, or with osteoporosis).",
        refuse=True),
    "acute-injury": Caution(
        "a fresh sprain, strain or other injury where the chair works: wait until it has "
        "healed.", refuse=True),
    "pacemaker": Caution("a pacemaker or another implanted electronic device, listed by "
                         "chair makers.", refuse=True),
    "pregnancy": Caution(
        "pregnancy, listed by chair makers; it also raises the risk of a clot in the legs "
        "(Sutham 2020).", refuse=True),
    "circulation": Caution(
        "severe circulation problems in the legs, pelvis, buttocks or thighs, listed by "
        "chair makers.", refuse=True),
}


def check_cautions(cautions: tuple[str, ...]) -> None:
    """Every `--caution` is known and none means "do not use"; UsageError (exit 2) before
    anything opens or moves, naming the condition and what to do."""
    unknown = [name for name in cautions if name not in CAUTIONS]
    if unknown:
        raise UsageError(f"--caution {unknown[0]}: unknown; choose from {', '.join(CAUTIONS)}")
    for name in cautions:
        if CAUTIONS[name].refuse:
            raise UsageError(f"--caution {name}: do not use the chair with {CAUTIONS[name].text} "
                             "Nothing moved; see a doctor or physiotherapist.")


@dataclass(frozen=True)
class Caps:
    """Every cap in force for one run: device table, host table, user and cautions."""

    airbag_kpa: dict[str, float]
    depth_max: dict[str, int]
    level_max: int
    heat_target_c: float
    heat_c_max: float
    session_s: float
    hold_s_max: float
    dwell_s_max: float
    banned_techniques: frozenset[str]
    cautions: tuple[str, ...]
    back_pct_min: float = 0.0
    leg_pct_max: float = 100.0

    def header(self) -> dict:
        """The caps as the trace header's `limits` object."""
        return {
            "airbag_kpa_max": dict(self.airbag_kpa),
            "heat_c_max": self.heat_c_max,
            "heat_target_c_max": self.heat_target_c,
            "session_s_max": self.session_s,
            "roller_depth_max": dict(self.depth_max),
            "intensity_max": self.level_max,
            "airbag_hold_s_max": self.hold_s_max,
            "roller_dwell_s_max": self.dwell_s_max,
            "roller_region_depth_max": region_caps(self.depth_max),
            "back_pct_min": self.back_pct_min,
            "leg_pct_max": self.leg_pct_max,
        }


def make_caps(device: dict[str, float], *, intensity: int = 5, cautions: tuple[str, ...] = (),
              minutes: float | None = None, firm_legs: bool = False,
              zones: tuple[str, ...] | None = None) -> Caps:
    """The caps for one run; never above the device's. Raises UsageError on bad choices.

    Airbag caps are per zone of the chair: `zones` (the banner's), or else every zone the
    device table caps (`airbag_kpa_max.<zone>`). A zone the host's table (`HOST`) does not
    name gets `host_airbag_kpa` of the device's cap, as `HOST` derives its own; a missing
    device cap is a KeyError (chair.chairinfo refuses such a table at connect).

    Calf and foot airbags are capped at their gentle default (`airbag_kpa_default.<zone>`,
    8 kPa) unless the user chooses `firm_legs`, which lifts them to the controller's
    `airbag_kpa_max.<zone>`; never with the neuropathy caution (a squeeze not felt).
    """
    if firm_legs and "neuropathy" in cautions:
        raise UsageError("--firm-legs with --caution neuropathy: calf and foot airbags stay "
                         "gentle for a person who may not feel the squeeze; leave out "
                         "--firm-legs")
    if not 1 <= intensity <= 5:
        raise UsageError(f"--intensity {intensity}: choose 1 (gentlest) to 5")
    session_s = HOST["session_s_default"] if minutes is None else minutes * 60.0
    if not 0 < session_s <= cap("session_s_max", device):
        raise UsageError(f"--minutes {minutes:g}: choose more than 0 and at most "
                         f"{cap('session_s_max') / 60:g}")
    check_cautions(cautions)
    chosen = [CAUTIONS[name] for name in cautions]
    if zones is None:
        zones = tuple(key.partition(".")[2] for key in device
                      if key.startswith("airbag_kpa_max."))
    airbag = {}
    for zone in zones:
        kpa = cap(f"airbag_kpa_max.{zone}", device)
        if not firm_legs:
            kpa = min(kpa, HOST.get(f"airbag_kpa_default.{zone}", kpa))
        for caution in chosen:
            kpa *= caution.airbag_scale.get(zone, 1.0)
        airbag[zone] = round(kpa, 1)
    depth_cap = int(min(cap("roller_depth_max", device), intensity))
    depth = {zone: min([depth_cap, *(c.depth_max.get(zone, 5) for c in chosen)])
             for zone in PROGRAM_ZONES}
    no_heat = any(c.no_heat for c in chosen)
    return Caps(
        airbag_kpa=airbag,
        depth_max=depth,
        level_max=intensity,
        # a chair without heaters (or airbags) need not publish their caps: none is sent
        heat_target_c=0.0 if no_heat else cap("heat_target_c_max", device, absent=0.0),
        heat_c_max=cap("heat_c_max", device, absent=math.inf),
        session_s=session_s,
        hold_s_max=cap("airbag_hold_s_max", device, absent=0.0),
        dwell_s_max=cap("roller_dwell_s_max", device),
        banned_techniques=frozenset().union(*(c.banned_techniques for c in chosen)),
        cautions=tuple(cautions),
        back_pct_min=max([0.0, *(c.back_pct_min for c in chosen)]),
        leg_pct_max=min([100.0, *(c.leg_pct_max for c in chosen)]),
    )


def check_program(program: Program) -> None:
    """Reject a program that asks for more than a host cap, before anything moves."""
    for step in program.steps:
        over = "" if step.roller is None else over_cap("roller_depth_max", step.roller.depth)
        if over:
            raise ProgramError(f"roller depth {over}", file=program.source,
                               step=step.number, field="roller.depth")
        over = "" if step.airbags is None else airtime.over_filled(step.airbags)
        if over:
            raise ProgramError(over, file=program.source, step=step.number,
                               field="airbags.hold_s")
    window = DEVICE["airbag_duty_window_s"]
    for zone, spans in airtime.inflated_spans(program).items():
        begin, end, number = airtime.longest(spans)
        over = over_cap("airbag_held_s_max", end - begin)
        if over:
            raise ProgramError(f"the {zone} airbag: {over}", file=program.source,
                               step=number, field="airbags")
        held, number = airtime.busiest(spans, window)
        if held > cap("airbag_duty_max") * window:
            raise ProgramError(f"the {zone} airbag is inflated {held:g} s of {window:g} s "
                               f"({held / window:.0%}); the cap is "
                               f"{cap('airbag_duty_max'):.0%}", file=program.source,
                               step=number, field="airbags.vent_s")
