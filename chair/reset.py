"""`chair reset`: clear a chair's latched faults, deliberately, and never start anything.

After a killed controller (the device's dead-man latched F02), a noisy line (F03), an
emergency stop (F01) or any other latched fault, every `chair run` refuses to start until
the device is reset. This connects (the same handshake as a run: banner, protocol version,
limits table, SYNC, which leaves every output at rest), reads one status to show what is
latched, sends RESET only when something is, and reads a fresh status to confirm the chair
is idle with nothing latched. The device accepts RESET only when every latched fault's
condition has cleared (docs/safety.md rule 12); otherwise it answers
``E11 reset-refused <what> still present``, and that is reported. Nothing here sends a
setpoint: a reset never starts motion.

Exit codes (chair.errors.Exit): 0 the chair is idle with nothing latched, 3 the device
refused (or latched again at once), 4 the port failed or the device did not answer, 2 a
wrong URL.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field

from chair import protocol as p
from chair.clock import Clock, MonotonicClock
from chair.errors import Exit, LinkError
from chair.link import Link, Refused
from chair.ports import DEFAULT_BAUD, PORT_ERRORS, open_port

#: How long to wait for a status report, and for the device's answer to RESET (seconds).
STATUS_S = 1.0
ANSWER_S = 2.0
POLL_S = 0.01


@dataclass
class Seen:
    """The device's state and latched faults in one status report."""

    state: str
    faults: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, status: p.StatusReport) -> Seen:
        return cls(status.state, [code.wire for code in status.faults])

    def text(self) -> str:
        return f"{self.state}, " + (f"latched: {', '.join(self.faults)}" if self.faults
                                    else "nothing latched")


@dataclass
class ResetReport:
    """What `chair reset` found, did and left (also its `--json` output)."""

    port: str
    before: Seen | None = None
    reset: str = ""  # "not needed", "accepted", "refused"
    detail: str = ""  # the device's refusal, or why the outcome is not clear
    after: Seen | None = None
    exit: int = Exit.OK


def fresh_status(link: Link, clock: Clock, timeout_s: float = STATUS_S) -> p.StatusReport:
    """A fresh status report (asked for with `?`); LinkError when none comes."""
    link.request_status()
    deadline = clock.now() + timeout_s
    while clock.now() < deadline:
        for message in link.poll():
            if isinstance(message, p.StatusReport):
                return message
        clock.sleep_until(clock.now() + POLL_S)
    raise LinkError(f"no status report from {link.port.port} within {timeout_s:g} s: the "
                    "device fell silent")


def send_reset(link: Link, clock: Clock) -> p.Error | None:
    """RESET, and the device's answer: None when it accepted, its error when it refused."""
    link.send(p.Reset())
    deadline = clock.now() + ANSWER_S
    while clock.now() < deadline:
        for message in link.poll():
            if isinstance(message, Refused) and isinstance(message.command, p.Reset):
                return message.error
        if link.idle:
            return None
        clock.sleep_until(clock.now() + POLL_S)
    raise LinkError(f"no answer to RESET from {link.port.port} within {ANSWER_S:g} s")


def reset(url: str, baud: int = DEFAULT_BAUD) -> ResetReport:
    """Connect to `url`, reset its latched faults if any, and report (see the module doc).

    Raises UsageError for a wrong URL; a port that fails is reported (exit 4), not raised.
    """
    report = ResetReport(url)
    port = open_port(url, baudrate=baud)  # UsageError, LinkError: before anything else
    try:
        clock = getattr(port, "clock", None) or MonotonicClock()
        link = Link(port, clock)
        link.connect()
        report.before = Seen.of(fresh_status(link, clock))
        if report.before.faults or report.before.state != "Idle":
            refusal = send_reset(link, clock)
            report.reset = "accepted" if refusal is None else "refused"
            if refusal is not None:
                report.detail = f"{refusal.code.wire}: {refusal.detail}"
        else:
            report.reset = "not needed"
        report.after = Seen.of(fresh_status(link, clock))
    except (LinkError, *PORT_ERRORS) as exc:
        report.detail = str(exc)
        report.exit = Exit.LINK
        return report
    finally:
        port.close()
    if report.after.faults or report.after.state != "Idle":
        report.exit = Exit.FAULT
        if report.reset == "accepted":
            report.detail = "the device accepted RESET but is not idle and clear: " \
                            f"{report.after.text()}"
    return report


def render(report: ResetReport) -> str:
    """The report as a few lines for a person."""
    lines = [f"chair reset {report.port}"]
    if report.before is not None:
        lines.append(f"before    {report.before.text()}")
    if report.reset == "not needed":
        lines.append("reset     not needed: nothing is latched")
    elif report.reset == "accepted":
        lines.append("reset     accepted")
    elif report.reset == "refused":
        lines.append(f"reset     refused by the device: {report.detail}; clear that "
                     "condition (the device says what is still present), then reset again")
    if report.after is not None:
        lines.append(f"after     {report.after.text()}")
    if report.exit == Exit.LINK:
        lines.append(f"link      {report.detail}")
    elif report.exit == Exit.FAULT and report.reset == "accepted":
        lines.append(f"note      {report.detail}")
    verdict = {Exit.OK: "the chair is idle with nothing latched; it does not move until a "
                        "program is started",
               Exit.FAULT: "the chair is still latched: `chair run` will refuse to start",
               Exit.LINK: "the chair could not be reached"}[report.exit]
    lines.append(f"result    {verdict}")
    return "\n".join(lines)


def main(url: str, *, json_out: bool = False, baud: int = DEFAULT_BAUD) -> int:
    """`chair reset`: print the report and return its exit code."""
    report = reset(url, baud)
    if json_out:
        print(json.dumps({**asdict(report), "exit": int(report.exit)}, indent=2))
    else:
        print(render(report))
    if report.exit == Exit.LINK:
        print(f"chair: {report.detail}", file=sys.stderr)
    return report.exit
