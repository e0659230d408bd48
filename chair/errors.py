"""One error hierarchy. Each message says what went wrong, where, and what to do.

The CLI maps each kind to its own exit code (see `EXIT_CODES` in chair.cli).
"""

from __future__ import annotations


class ChairError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1


class UsageError(ChairError):
    """Bad command-line arguments."""

    exit_code = 2


class ProgramError(ChairError):
    """A program file that cannot be loaded or breaks a cap: nothing moves."""

    exit_code = 2

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

    exit_code = 4


class LinkError(ChairError):
    """The serial link failed: port missing or busy, silence, or the device restarted."""

    exit_code = 4


class SafetyFault(ChairError):
    """A safety rule tripped; the chair has been sent to its safe state."""

    exit_code = 3


class Stalled(ChairError):
    """Internal error: a fast-forward loop stopped making progress in simulated time (a bug,
    not the chair's or the user's doing); the chair was sent a STOP."""

    exit_code = 1
