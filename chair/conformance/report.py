"""The report: one row per check (`Result`), running a check into its row, the table and the
JSON, and the verdict's exit code (0 every check passed, 3 one failed or the run was
incomplete, 4 the link was lost)."""

from __future__ import annotations

import contextlib
import json
import textwrap
from dataclasses import asdict, dataclass

from chair import protocol as p
from chair.conformance.setup import Check, Context, end
from chair.conformance.wire import CheckFailed, CheckSkipped
from chair.errors import Exit, LinkError

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
EXIT_OK, EXIT_FAILED, EXIT_LINK = Exit.OK, Exit.FAULT, Exit.LINK


@dataclass
class Result:
    """One row of the report."""

    check: str
    rule: str
    title: str
    result: str
    figure: str = ""
    detail: str = ""
    expected: str = ""
    seen: str = ""
    hint: str = ""



def run_one(c: Context, chk: Check) -> Result:
    w = c.wire
    restarts = w.banners - w.banners_asked
    result = Result(chk.name, chk.rule, chk.title, PASS)
    try:
        result.figure, result.detail = chk.run(c)
    except CheckFailed as failed:
        result.result, result.figure = FAIL, failed.figure
        result.expected, result.seen, result.hint = failed.expected, failed.seen, failed.hint
        result.detail = f"expected {failed.expected}; saw {failed.seen}. Fix: {failed.hint}"
    except CheckSkipped as skipped:
        result.result, result.detail = SKIP, str(skipped)
    except LinkError:
        raise
    except Exception as exc:  # a device answer the checker did not foresee
        result.result = FAIL
        result.detail = f"the checker could not go on: {type(exc).__name__}: {exc}"
    finally:
        end(c)
    if w.banners - w.banners_asked > restarts:
        note = ("the device restarted during the check (a #CHAIR banner came unasked): a "
                "brown-out or a watchdog reset? check the power supply")
        if result.result == PASS:
            result.result, result.expected = FAIL, "no restart"
            result.seen, result.hint = "a banner", note
            result.detail = f"expected no restart; saw a banner. Fix: {note}"
        else:
            result.detail = f"{result.detail} [{note}]"
    return result


def finish(c: Context) -> None:
    """Leave the chair idle: a new session, nothing latched that can be cleared."""
    with contextlib.suppress(CheckFailed):
        c.wire.send(p.Sync())
        c.wire.send(p.Reset())
        c.wire.send(p.SetReport(0))


def table(results: list[Result], width: int = 110) -> str:
    heads = ("check", "rule", "result", "figure")
    widths = [max(len(h), *(len(str(getattr(r, h))) for r in results)) for h in heads]
    indent = sum(widths) + 2 * len(widths)
    wrap = max(30, width - indent)
    rows = ["  ".join(h.ljust(n) for h, n in zip(heads, widths, strict=True)) + "  detail"]
    for r in results:
        cells = [r.check, r.rule, r.result, r.figure]
        lines = textwrap.wrap(r.detail, wrap) or [""]
        rows.append("  ".join(x.ljust(n) for x, n in zip(cells, widths, strict=True))
                    + "  " + lines[0])
        rows.extend(" " * indent + line for line in lines[1:])
    return "\n".join(rows)



def publish(url: str, c: Context, results: list[Result], selected: int, lost: str,
            seconds: float, *, json_out: bool) -> int:
    """Print the table (or the JSON) for `results` of `selected` checks; the exit code."""
    counts = {k: sum(r.result == k for r in results) for k in (PASS, FAIL, SKIP)}
    complete = len(results) == selected and not counts[SKIP]
    #: checks that passed with a part they could not try on this device (said in the row)
    untested = [r.check for r in results if r.result == PASS and "not tested" in r.detail]
    code = EXIT_LINK if lost else EXIT_OK if complete and not counts[FAIL] else EXIT_FAILED
    b = c.banner
    summary = {"port": url, "firmware": b.firmware if b else None,
               "proto": b.proto if b else None, "occupied": c.occupied,
               "passed": counts[PASS], "failed": counts[FAIL], "skipped": counts[SKIP],
               "complete": complete, "untested": untested, "ok": code == EXIT_OK,
               "exit": code,
               "seconds": round(seconds, 3)}
    if json_out:
        print(json.dumps({"checks": [asdict(r) for r in results], "summary": summary},
                         indent=2))
        return code
    device = f"fw={b.firmware} proto={b.proto}, {len(b.zones)} zones, " \
        f"{len(b.heaters)} heaters" if b else "no banner"
    print(f"chair conformance {url}: {device}")
    if not c.occupied:
        print("note: the device reports nobody seated (occ=0): actuation checks are skipped "
              "and the run is incomplete")
    print(table(results))
    verdict = "PASS" if code == EXIT_OK else "LINK LOST" if lost else \
        "FAIL" if counts[FAIL] else "INCOMPLETE"
    print(f"{len(results)} checks: {counts[PASS]} passed, {counts[FAIL]} failed, "
          f"{counts[SKIP]} skipped in {summary['seconds']:.1f} s: {verdict}")
    if untested:
        print(f"not tested on this device, so not shown safe: part of {', '.join(untested)} "
              "(their rows say what and how to test it)")
    return code
