"""The sessions of a sweep: every combination of programs, heights, stiffnesses, chair
models, faults and seeds, each with its own seed derived from its parameters.

Ranges are `A:B:STEP` (B included) or comma lists; a bad one is a UsageError naming the
option (exit 2). A fault's time is in simulated seconds after the port opens: `NAME@S`,
or `NAME@mid` (from `all@mid`), half the program's length; a time past the program's length
is a UsageError naming the fault and the program.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

from chair.errors import UsageError
from chair.faults import FAULTS, parse_fault
from chair.landmarks import HEIGHT_CM_RANGE

#: The heights a body may have (chair.landmarks, which the simulated person uses too).
HEIGHT_CM = HEIGHT_CM_RANGE
#: The simulated body's stiffness scales (the sim:// handler checks the same, sim/body.py).
STIFFNESS = (0.5, 2.0)
#: When `--faults all` injects each fault, in simulated seconds after the port opens.
ALL_FAULTS_AT_S = 20.0
#: The time of `all@mid`: each program's own, half its length.
MID = "mid"
#: Most values one range may give (a typo such as 150:200:0.001 is refused, not run).
MOST_VALUES = 1000
#: Most sessions one sweep may hold: every row is kept until the end to be written in the
#: grid's order (~3.4 KB each: 680 MB at this bound); split a larger sweep (by program, or
#: by --seed with --seeds) and join the results.
MOST_SESSIONS = 200_000


@dataclass(frozen=True)
class Session:
    """One session of a sweep; `seed` is derived from the others (`derive_seed`)."""

    program: str
    height: float
    stiffness: float
    model: str
    fault: str  # "" for none, else NAME@S
    replica: int
    seed: int

    @property
    def name(self) -> str:
        """A short unique name, used in the table, the report and trace file names."""
        parts = [self.program.rsplit("/", 1)[-1].removesuffix(".toml"), f"h{self.height:g}",
                 f"k{self.stiffness:g}", self.model]
        if self.fault:
            parts.append(self.fault)
        if self.replica:
            parts.append(f"r{self.replica}")
        return "-".join(parts)


def derive_seed(sweep_seed: int, program: str, height: float, stiffness: float, model: str,
                fault: str, replica: int) -> int:
    """A 31-bit seed from the sweep's seed and the session's parameters only (never its
    order in the sweep or the worker that runs it)."""
    key = f"{sweep_seed}|{program}|{height:g}|{stiffness:g}|{model}|{fault}|{replica}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") >> 1


def parse_numbers(option: str, text: str, bounds: tuple[float, float]) -> list[float]:
    """`A:B:STEP` (B included when the steps reach it) or `A,B,...`: the values, each within
    `bounds`. UsageError naming `option` otherwise."""
    low, high = bounds
    usage = (f"{option} {text!r}: give START:STOP:STEP (such as 150:200:5) or a list "
             f"(such as 160,175), each from {low:g} to {high:g}")
    try:
        if ":" in text:
            parts = [float(part) for part in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0 or stop < start:
                raise ValueError
            count = int((stop - start) / step + 1e-9) + 1
            if count > MOST_VALUES:
                raise UsageError(f"{usage}; this gives {count} values, at most "
                                 f"{MOST_VALUES}")
            values = [round(start + i * step, 6) for i in range(count)]
        else:
            values = [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(usage) from None
    if not values or any(not low <= v <= high for v in values):  # also catches NaN
        raise UsageError(usage)
    return list(dict.fromkeys(values))


def parse_faults(text: str) -> list[str]:
    """`none`, `all` (every fault at ALL_FAULTS_AT_S; `all@S` at S; `all@mid` at half each
    program's length, left as `NAME@mid` for `sessions` to place) or `NAME@S,...`; each
    entry is one session's fault ("" for none). UsageError naming --faults otherwise."""
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if part == "none":
            out.append("")
        elif part == "all" or part.startswith("all@"):
            at = part.partition("@")[2] or f"{ALL_FAULTS_AT_S:g}"
            out.extend(f"{name}@{at}" for name in FAULTS)
        else:
            out.append(part)
    for spec in out:
        if spec:
            try:
                parse_fault(spec.replace(f"@{MID}", "@0"))
            except ValueError as exc:
                raise UsageError(f"--faults {spec}: {exc}; or give none or all") from None
    return list(dict.fromkeys(out))


def parse_models(text: str, known: list[str]) -> list[str]:
    """Chair description names, each one of `known`; UsageError naming --models otherwise."""
    models = [m.strip() for m in text.split(",")]
    bad = [m for m in models if m not in known]
    if bad:
        raise UsageError(f"--models {bad[0]!r} is not a simulated chair; known: "
                         f"{', '.join(known)}")
    return list(dict.fromkeys(models))


def place_faults(program: str, faults: list[str]) -> list[str]:
    """`faults` (of parse_faults) for `program`: `NAME@mid` at half its length; UsageError
    (--faults, naming the fault and the program) for a time past its length. Loads the
    program (ProgramError, exit 2, when it cannot)."""
    from chair.program import load_program

    length = load_program(program).seconds
    placed = []
    for spec in faults:
        name, _, at = spec.partition("@")
        if at == MID:
            spec = f"{name}@{round(length / 2, 3):g}"
        elif spec and float(at) > length:
            raise UsageError(f"--faults {spec}: {float(at):g} s is past the end of {program}, "
                             f"a program of {length:g} s; give a time within it (or all@mid)")
        placed.append(spec)
    return list(dict.fromkeys(placed))


def sessions(programs: list[str], heights: list[float], stiffnesses: list[float],
             models: list[str], faults: list[str], replicas: int,
             sweep_seed: int) -> list[Session]:
    """Every combination, in a fixed order (programs, heights, stiffnesses, models, faults,
    replicas); each program's faults placed by `place_faults`."""
    if replicas < 1:
        raise UsageError(f"--seeds {replicas}: give 1 or more sessions per combination")
    placed = {prog: place_faults(prog, faults) for prog in dict.fromkeys(programs)}
    count = (sum(len(placed[prog]) for prog in programs) * len(heights) * len(stiffnesses)
             * len(models) * replicas)
    if count > MOST_SESSIONS:
        raise UsageError(f"{count:,} sessions (programs x --heights x --stiffness x --models "
                         f"x --faults x --seeds): at most {MOST_SESSIONS:,} in one sweep; "
                         "split it, by program or by --seed, and join the results")
    grid = [Session(prog, h, k, m, f, r, derive_seed(sweep_seed, prog, h, k, m, f, r))
            for prog in programs
            for h, k, m, f, r in itertools.product(
                heights, stiffnesses, models, placed[prog], range(replicas))]
    _check_names(grid)
    return grid


def _check_names(grid: list[Session]) -> None:
    """UsageError when two sessions would share a name (and so a trace file and a row's
    name): a program given twice, two programs of one file name, or values that print
    alike (`{:g}`, six significant digits)."""
    seen: dict[str, Session] = {}
    for session in grid:
        other = seen.setdefault(session.name, session)
        if other is not session:
            if other.program != session.program:
                why = f"programs {other.program} and {session.program} share a name"
            elif other == session or (other.height, other.stiffness) == (
                    session.height, session.stiffness):
                why = f"{session.program} is given twice"
            else:
                why = (f"heights {other.height!r} and {session.height!r} or stiffnesses "
                       f"{other.stiffness!r} and {session.stiffness!r} print alike")
            raise UsageError(f"two sessions named {session.name}: {why}; every session "
                             "needs its own name (its trace file and its row)")
