"""`chair conformance PORT`: check a device against the safety rules, over any pyserial URL,
then drive it through a short session as `chair run` would.

What a hobbyist runs against the board they bridged before anyone sits in the chair. Each
check probes one rule of the safety guide through the wire protocol (docs/protocol.md),
starts from a known state (SYNC, and RESET if something is latched), judges the device on
its own status lines (their `t`, outputs and latched faults, so a slow link does not blur
the figures) and leaves the device safe. The last, `drive`, connects as `chair run` does
and runs a short session on the chair's own zones and heaters. A real port is read without
blocking and polled with short clock sleeps; on a ``sim://?clock=virtual`` port the
battery runs in virtual time.

The package: `wire` (the checker's end of the link, on the host codec's framing), `rules`
(every figure the checks judge by), `setup` (the shared context, known state, probes and
the registry), `checks_wire` and `checks_safety` (the rules' checks), `drive` (the drive
stage) and `report` (rows, table, JSON, exit code).
"""

from __future__ import annotations

from chair.clock import MonotonicClock
from chair.conformance import checks_safety, checks_wire, drive  # noqa: F401 (they register)
from chair.conformance.report import FAIL, Result, finish, publish, run_one
from chair.conformance.setup import CHECKS, Check, contact
from chair.conformance.wire import Wire
from chair.errors import LinkError, UsageError
from chair.ports import DEFAULT_BAUD, open_port

__all__ = ["CHECKS", "CONTACT_S", "Check", "open_port", "run_conformance"]

#: The order of the report (the registry holds one entry per name).
ORDER = ("banner", "status", "limits", "crc", "sequence", "range", "lease", "deadman",
         "estop", "reset", "bad-frames", "drive")
CHECKS.sort(key=lambda chk: ORDER.index(chk.name))
CONTACT_S = 3.0  # first contact: an Arduino resets when the port opens and boots in ~2 s


def run_conformance(url: str, *, json_out: bool = False, only: list[str] | None = None,
                    baud: int = DEFAULT_BAUD) -> int:
    """Run the battery against `url` at `baud`; print a table (or JSON); 0 pass, 3 fail,
    4 link. UsageError for an unknown check name."""
    names = [chk.name for chk in CHECKS]
    unknown = [name for name in only or () if name not in names]
    if unknown:
        raise UsageError(f"unknown check {unknown[0]!r}; the checks are {', '.join(names)}")
    selected = [chk for chk in CHECKS if not only or chk.name in only]
    wall = MonotonicClock()  # to report the run's length, not to control anything
    port = open_port(url, baudrate=baud)
    results: list[Result] = []
    lost = ""
    try:
        clock = getattr(port, "clock", None) or MonotonicClock()
        c = contact(Wire(port, clock), url, CONTACT_S)
        try:
            for chk in selected:
                results.append(run_one(c, chk))
            finish(c)
        except LinkError as exc:
            lost = str(exc)
            results.append(Result(selected[len(results)].name, selected[len(results)].rule,
                                  selected[len(results)].title, FAIL,
                                  detail=f"link lost: {exc}"))
    finally:
        port.close()
    return publish(url, c, results, len(selected), lost, wall.now(), json_out=json_out)
