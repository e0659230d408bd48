"""One error hierarchy and one exit-code table. Each message says what went wrong, where,
and what to do.

`Exit` is the only place exit codes are numbered: every command returns one of its members
(`chair run` maps its outcome, `chair conformance` its verdict, the rest their errors'
`exit_code`), and the README's table of exit codes is kept equal to `EXIT_MEANINGS` by
tests/test_docs.py.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """The exit codes of every `chair` command."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    FAULT = 3
    LINK = 4
    STOPPED = 130


#: What each exit code means, as the README's table says it (one line each).
EXIT_MEANINGS: dict[Exit, str] = {
    Exit.OK: "done: the program completed (or its session timer ended it) and the chair "
             "parked; the check passed; the device reset",
    Exit.UNEXPECTED: "an unexpected error, or a fast-forward run that stopped advancing (a bug: "
                     "please report it with its message or traceback)",
    Exit.USAGE: "bad program, arguments, port URL, output file or user profile, or no "
                "shoulder line for a chair without force sensing: nothing moved",
    Exit.FAULT: "a safety fault stopped the session, the chair refused to start or to reset, "
                "its limits table lacks a cap the host needs (refused at connect: nothing "
                "moved), or a conformance check failed (the trace or report says which)",
    Exit.LINK: "link error: the port could not be opened, went silent or vanished",
    Exit.STOPPED: "stopped by the user (Ctrl-C or SIGTERM parks the chair, in `chair run` "
                  "and `chair serve`; a second one stops it at once), or the cautions were "
                  "not acknowledged before a real-time run: nothing moved",
}


class ChairError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = Exit.UNEXPECTED


class UsageError(ChairError):
    """Bad command-line arguments, port URL options or output files."""

    exit_code = Exit.USAGE


class ProgramError(ChairError):
    """A program file that cannot be loaded or breaks a cap: nothing moves."""

    exit_code = Exit.USAGE

    def __init__(self, message: str, *, file: str = "", line: int | None = None,
                 step: int | None = None, field: str = "") -> None:
        self.file, self.line, self.step, self.field = file, line, step, field
        where = file
        if line is not None:
            where += f":{line}"
        if step is not None:
            where += f" step {step}"
        if field:
            where += f" field '{field}'"
        super().__init__(f"{where.strip()}: {message}" if where.strip() else message)


class ProtocolError(ChairError):
    """The peer sent something the protocol does not allow."""

    exit_code = Exit.LINK


class LinkError(ChairError):
    """The serial link failed: port missing or busy, silence, or the device restarted."""

    exit_code = Exit.LINK


class SafetyFault(ChairError):
    """A safety rule tripped; the chair has been sent to its safe state."""

    exit_code = Exit.FAULT


class ChairRefused(SafetyFault):
    """The device describes a chair the host cannot drive safely (its limits table lacks a
    cap for one of its zones or heaters): refused at connect, before the session starts;
    nothing moved."""


class Stalled(ChairError):
    """Internal error: a fast-forward loop stopped making progress in simulated time (a bug,
    not the chair's or the user's doing); the chair was sent a STOP."""

    exit_code = Exit.UNEXPECTED
