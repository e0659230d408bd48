"""What a person reads before anything moves: red flags, the conditions the chair refuses,
the cautions that lower the caps, guideline context, and the program's own cautions.

`render_cautions` is the one text both `chair show` and `chair run` print; `acknowledger`
asks for the answer before a real-time run opens the port. The texts are data here (and
in each program's `cautions`, and `chair.caps.CAUTIONS`); docs/programs.md gives the
source of every clinical claim ("Cautions shown before every run").
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from chair.caps import CAUTIONS, Caution
from chair.errors import UsageError

if TYPE_CHECKING:
    from chair.program import Program

#: Signs of cauda equina syndrome or a worsening nerve: do not use, get help at once (NHS,
#: "Sciatica" and the NHS trusts' cauda equina warning cards; docs/programs.md).
RED_FLAGS_URGENT: tuple[str, ...] = (
    "numbness or altered feeling around the genitals or the back passage (bottom), for "
    "example when wiping",
    "new difficulty peeing, or not being able to control your bladder or bowels",
    "new problems with sex: erection, ejaculation or feeling",
    "sciatica in both legs",
    "weakness or numbness in the legs that is severe or getting worse",
)

#: Signs of a serious cause of back pain (infection, cancer, fracture): do not use, see a
#: doctor first (Verhagen 2016; surgery: assumed, docs/programs.md).
RED_FLAGS_DOCTOR: tuple[str, ...] = (
    "fever, or you feel unwell or have an infection",
    "weight loss you cannot explain",
    "cancer, now or in the past",
    "a recent fall, accident or other injury to the back or hips",
    "steroid tablets taken for a long time, or medicines that weaken the immune system",
    "recent spinal or hip surgery (ask your surgeon first)",
)

RED_FLAGS: tuple[str, ...] = RED_FLAGS_URGENT + RED_FLAGS_DOCTOR

#: Said before every run, whatever the program.
GENERAL: tuple[str, ...] = (
    "This software does not diagnose or cure: massage may ease the muscles around an "
    "irritated sciatic nerve for a while. See a doctor or physiotherapist about the cause.",
    "Stop at once (Ctrl-C parks the chair) if the pain gets worse or spreads further down "
    "the leg, or with new numbness, tingling or weakness.",
    "See a doctor first with heart disease or if you take blood thinners (anticoagulants).",
)

#: What the guidelines and the one trial of a massage chair say (docs/programs.md).
GUIDANCE: tuple[str, ...] = (
    "Massage is not advised for nerve-root (radicular) sciatica, nor as the only treatment "
    "for low back pain (Dutch physiotherapy guideline, KNGF 2021).",
    "It helps best alongside exercise: NICE advises massage for low back pain and sciatica "
    "only as part of a package that includes exercise (NICE NG59). Keep active.",
    "In the one randomised trial of a massage chair for low back pain (56 people, 3 weeks; "
    "Kim 2020) the chair eased pain, physiotherapy more: the chair does not replace it.",
)

WIDTH = 88


def refused(name: str) -> bool:
    """True for a `--caution` whose condition means: do not use (the run refuses it)."""
    return CAUTIONS[name].refuse


def changes(caution: Caution) -> str:
    """What a lowering caution changes, in one line (`Caution.changes`, said from its
    fields, so the words cannot drift from the caps)."""
    return "; ".join(caution.changes()) or "nothing"


def _bullets(items: tuple[str, ...] | list[str]) -> list[str]:
    return [textwrap.fill(item, WIDTH, initial_indent="  - ", subsequent_indent="    ")
            for item in items]


def _para(text: str) -> str:
    return textwrap.fill(text, WIDTH)


def render_cautions(program: Program, cautions: tuple[str, ...] = ()) -> str:
    """Everything to read before `program` runs with the user's `cautions` (names in
    `chair.caps.CAUTIONS`): the same text for `chair show` and before `chair run`."""
    zones = list(dict.fromkeys(step.zone for step in program.steps))
    out = [f"Before {program.name} runs ({', '.join(zones)}), read this.", ""]
    out.append(_para("DO NOT USE; go to A&E or call 999 (or your emergency number) now if "
                     "you have any of these since your back or leg pain began (signs of "
                     "cauda equina syndrome or a nerve being damaged; NHS):"))
    out += _bullets(RED_FLAGS_URGENT)
    out.append("")
    out.append(_para("DO NOT USE; see a doctor first if you have any of these (signs of an "
                     "infection, cancer or a fracture; Verhagen 2016):"))
    out += _bullets(RED_FLAGS_DOCTOR)
    out.append("")
    out.append(_para("DO NOT USE with any of these (the run refuses --caution NAME):"))
    out += _bullets([f"{c.text} (--caution {name})" for name, c in CAUTIONS.items()
                     if c.refuse])
    out.append("")
    out.append(_para("WITH ONE OF THESE, run with --caution NAME, which lowers the caps:"))
    out += _bullets([f"{c.text} (--caution {name} changes: {changes(c)}.)"
                     for name, c in CAUTIONS.items() if not c.refuse])
    out += ["", "ALWAYS:"]
    out += _bullets(GENERAL)
    out += ["", "WHAT THE GUIDELINES SAY:"]
    out += _bullets(GUIDANCE)
    if program.cautions:
        out.append("")
        out.append(f"THIS PROGRAM ({program.name}) says:")
        out += _bullets(list(program.cautions))
    out.append("")
    if cautions:
        out.append("YOUR CAUTIONS:")
        out += _bullets([f"--caution {name}: {changes(CAUTIONS[name])}"
                         for name in cautions if name in CAUTIONS])
    else:
        out.append("YOUR CAUTIONS: none given (--caution NAME; see above).")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------ on the page

#: The command line's words in the texts above and in the programs' cautions, and what a
#: person using the page (or any front end of `chair serve`) reads instead: no Ctrl-C on a
#: phone, a condition ticked instead of `--caution NAME`, the intensity chosen on the page.
_PAGE_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\(Ctrl-C parks the chair\)"), "(Stop parks the chair; EMERGENCY STOP "
     "stops everything at once)"),
    (re.compile(r"Ctrl-C parks the chair at any time"), "Stop parks the chair at any time"),
    (re.compile(r"run with --caution ([a-z-]+)"), r"tick the condition \1"),
    (re.compile(r"--caution ([a-z-]+)"), r"the condition \1"),
    (re.compile(r"at --intensity (\d)"), r"at intensity \1"),
)


def on_page(text: str) -> str:
    """`text` (a caution, a condition, a program's caution) as a front end of `chair serve`
    shows it: the command line's words (Ctrl-C, --caution NAME, --intensity N) replaced by
    the page's. Raises nothing; text without them comes back unchanged."""
    for pattern, words in _PAGE_WORDS:
        text = pattern.sub(words, text)
    return text


# ------------------------------------------------------------------------------ the answer

PROMPT = ("Have you read the cautions above, and does none of the DO NOT USE signs apply to "
          "you? Type yes to start: ")


@dataclass(frozen=True)
class Answer:
    """How the cautions were acknowledged: the trace's `cautions` event (docs/trace.md).

    `by`: "prompt" (yes typed at the terminal), "--yes", "fast-forward" (the simulator on
    its virtual clock: nothing real moves), "caller" (the Python API); when not
    acknowledged, what was answered ("no", "end of input", "Ctrl-C").
    """

    acknowledged: bool
    by: str


def acknowledger(program: Program, cautions: tuple[str, ...], *, fast: bool, yes: bool,
                 out: TextIO | None = None, stdin: TextIO | None = None
                 ) -> Callable[[], Answer]:
    """The `RunOptions.acknowledge` of `chair run`: prints the cautions to `out`, then in
    real time asks on `stdin` unless `yes`. Raises UsageError (exit 2) when it must ask
    and `stdin` is not a terminal: a script says --yes."""

    def ask() -> Answer:
        write = out if out is not None else sys.stdout
        read = stdin if stdin is not None else sys.stdin
        print(render_cautions(program, cautions), file=write, flush=True)
        if fast:
            print("(fast-forward on the simulated chair: nothing real moves, no answer "
                  "needed)", file=write, flush=True)
            return Answer(True, "fast-forward")
        if yes:
            print("(--yes: the cautions are acknowledged)", file=write, flush=True)
            return Answer(True, "--yes")
        try:
            tty = read.isatty()
        except (AttributeError, ValueError):
            tty = False
        if not tty:
            raise UsageError("a real-time run asks you to acknowledge the cautions above, "
                             "and standard input is not a terminal: a script must pass "
                             "--yes (nothing moved)")
        print(PROMPT, end="", file=write, flush=True)
        try:
            line = read.readline()
        except KeyboardInterrupt:
            print(file=write)
            return Answer(False, "Ctrl-C")
        if not line:
            print(file=write)
            return Answer(False, "end of input")
        word = line.strip().lower()
        return Answer(word == "yes", "prompt" if word == "yes" else (word or "empty")[:40])
    return ask
