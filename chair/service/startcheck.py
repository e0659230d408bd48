"""A `StartRequest` checked as `chair run` checks its options, before anything is sent: the
program by name, intensity, minutes, cautions (a refusing one too), --firm-legs with
neuropathy, the shoulder line for a chair without force sensing; and the acknowledgement of
the program's cautions (`check_acknowledged`). Each refusal is a `ServiceError` carrying
chair.errors' own message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chair.caps import Caps
from chair.cautions import render_cautions
from chair.errors import ProgramError, UsageError
from chair.link import DeviceInfo
from chair.program import Program, list_programs, load_program
from chair.runner import RunOptions, caps_builder
from chair.service.api import ErrorCode, ServiceError, StartRequest
from chair.shoulder import ShoulderChoice, choose

#: How long a remembered acknowledgement of a program's cautions lets MQTT start it (Home
#: Assistant cannot show the cautions; the page and the API acknowledge at every start).
#: A month: the person in the chair, or their conditions, change; the cautions must be read
#: again on the page at least that often, never accepted once for ever.
ACK_MAX_AGE = timedelta(days=30)
#: Who may start on a remembered acknowledgement instead of acknowledging now.
REMEMBERED_BY = ("mqtt",)

#: A program's name as programs.list gives it (never a path).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
WHO_RE = re.compile(r"^[A-Za-z0-9_.:@ -]{1,40}$")
#: `chair run`'s flags in its messages -> session.start's params (docs/api.md).
FLAG_PARAMS = {"--intensity": "intensity", "--minutes": "minutes", "--caution": "cautions",
               "--shoulder-mm": "shoulder_mm", "--firm-legs": "firm_legs",
               "--height": "height"}
_FLAG_RE = re.compile("|".join(rf"{re.escape(flag)}(?![\w-])" for flag in FLAG_PARAMS))


def api_words(message: str) -> str:
    """`message` (chair run's, naming its flags) with session.start's param names instead:
    "--intensity 0: choose 1 (gentlest) to 5" -> "intensity 0: choose 1 (gentlest) to 5"."""
    return _FLAG_RE.sub(lambda match: FLAG_PARAMS[match.group(0)], message)


def invalid(message: str) -> ServiceError:
    return ServiceError(ErrorCode.INVALID, api_words(message))


def _no_program(name: object) -> ServiceError:
    names = ", ".join(program.name for program in list_programs())
    return ServiceError(ErrorCode.NOT_FOUND, f"no program {name!r}; the programs are "
                        f"{names} (programs.list)")


def find_program(name: object) -> Program:
    """The program called `name` (a name only, looked up as `chair run` looks a name up:
    programs/ in the server's working directory, then the programs shipped): NOT_FOUND,
    naming the programs there are, when there is none; INVALID when it is broken."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _no_program(name)
    try:
        return load_program(name)
    except ProgramError as exc:
        if str(exc).startswith(f"no program named '{name}'"):
            raise _no_program(name) from None
        raise invalid(str(exc)) from None


def _number(value: object, what: str, *, whole: bool = False) -> None:
    ok = isinstance(value, int) if whole else isinstance(value, int | float)
    if not ok or isinstance(value, bool) or (not whole and not math.isfinite(value)):
        raise invalid(f"{what} {value!r}: {'a whole number' if whole else 'a number'}")


def prepare(request: StartRequest, info: DeviceInfo, port: str
            ) -> tuple[Program, RunOptions, Callable[[dict[str, float]], Caps]]:
    """The program, `chair run`'s options and its caps builder for `request` on the chair
    `info` describes (at `port`, the URL the user gave: the profile's key). Raises
    ServiceError NOT_FOUND or INVALID, naming what to change."""
    program = find_program(request.program)
    _number(request.intensity, "intensity", whole=True)
    if request.minutes is not None:
        _number(request.minutes, "minutes")
    for value, what in ((request.height_cm, "height"), (request.shoulder_mm, "shoulder_mm")):
        if value is not None:
            _number(value, what)
    cautions = request.cautions
    if isinstance(cautions, str) or not all(isinstance(c, str) for c in cautions):
        raise invalid(f"cautions {cautions!r}: a list of names (chair.caps.CAUTIONS)")
    if not isinstance(request.firm_legs, bool):
        raise invalid(f"firm_legs {request.firm_legs!r}: true or false")
    if not isinstance(request.by, str) or not WHO_RE.match(request.by):
        raise invalid(f"by {request.by!r}: who asks (web, api, mqtt)")
    options = RunOptions(port=port, intensity=request.intensity, firm_legs=request.firm_legs,
                         minutes=request.minutes, cautions=tuple(cautions),
                         shoulder=ShoulderChoice(request.height_cm, request.shoulder_mm))
    try:
        caps_for = caps_builder(program, options)
        options.shoulder.check()
        # as the session will choose, before it starts: an option given is checked
        # without touching the profile (the session remembers it), none reads it
        given = options.shoulder.given
        choose(replace(options.shoulder, profile=False) if given else options.shoulder,
               info.banner, port)
    except (UsageError, ProgramError) as exc:
        raise invalid(str(exc)) from None
    return program, options, caps_for


def check_acknowledged(request: StartRequest, program: Program, text: str,
                       record: dict[str, Any] | None, now: datetime) -> None:
    """NOT_ACKNOWLEDGED (its data: the program, its cautions and the `text` to read) unless
    `request` acknowledges now, or comes from MQTT with `record` (the Store's remembered
    acknowledgement of this very text) younger than ACK_MAX_AGE."""
    if request.acknowledged is True:
        return
    data = {"program": program.name, "cautions": list(program.cautions), "text": text}
    if request.by not in REMEMBERED_BY:
        raise ServiceError(ErrorCode.NOT_ACKNOWLEDGED,
                           f"acknowledge the cautions of {program.name} at every start (read "
                           "them, then start with acknowledged: true)", data)
    if record is None:
        raise ServiceError(ErrorCode.NOT_ACKNOWLEDGED,
                           f"the cautions of {program.name} were never acknowledged (or have "
                           "changed since): acknowledge them on the page", data)
    if not ack_fresh(record, now):
        raise ServiceError(ErrorCode.NOT_ACKNOWLEDGED,
                           f"the cautions of {program.name} were last acknowledged on "
                           f"{record.get('at')} (by {record.get('by')}), more than "
                           f"{ACK_MAX_AGE.days} days ago: acknowledge them again on the page",
                           data)


def ack_fresh(record: dict[str, Any] | None, now: datetime) -> bool:
    """True when `record` (Store.acknowledged) is younger than ACK_MAX_AGE at `now` (an
    aware datetime); an unreadable time counts as too old."""
    try:
        at = datetime.fromisoformat(str((record or {}).get("at")))
        return timedelta(0) <= now - at < ACK_MAX_AGE
    except (TypeError, ValueError):
        return False


def cautions_text(program: Program) -> str:
    """What the person reads and acknowledges before `program` first runs: the red flags,
    the conditions, the general advice and the program's own cautions (chair.cautions)."""
    return render_cautions(program)
