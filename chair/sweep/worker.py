"""One session of a sweep, run in a worker process: a fast-forwarded `chair run` through
the full stack (controller, codec bytes, firmware, plant) on a `sim://` URL, its trace read
back into one row.

A row (a dict, the same whatever the worker): the session's parameters, `outcome` and
`exit_code` (chair.runner.EXIT), `kpa.ZONE` the worst airbag pressure sampled (kPa) with
`cap.ZONE` the session's cap, `heat_c` the worst heater temperature with `heat_cap`,
`safe_s` the seconds from the first fault event to the safe event (None without a fault),
the plant's truth (`sim.truth.Peaks`, asked for with the sim:// option `truth=PATH`):
`true_kpa.ZONE` the worst true bag pressure (kPa), `true_heat_c` the worst true heater
surface (°C), `force_n.LANDMARK` the worst true roller force (N) on the body by landmark,
`violations` (a list of strings; empty when the session is safe) and `trace` (the path
kept, or "").
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

from chair.errors import ChairError, UsageError
from chair.limits import DEVICE
from chair.safety import AIR_MARGIN_KPA
from chair.sweep.grid import Session

#: The violation of a session that ended without its safe state confirmed.
NOT_SAFE = "ended without its safe state confirmed"


@dataclass(frozen=True)
class Job:
    """A session and where its trace goes: `trace` is written; `keep` says whether it
    stays when the session does not violate."""

    session: Session
    trace: str
    keep: bool
    sim_options: str = ""  # extra sim:// query options, such as defect=NAME (for tests)


def session_url(session: Session, sim_options: str = "", truth: str = "") -> str:
    """The sim:// URL of `session` (its body and chair, and `truth=PATH` when `truth` is
    given; the run adds its seed, clock and fault)."""
    query = [("height", f"{session.height:g}"), ("stiffness", f"{session.stiffness:g}"),
             ("chair", session.model)]
    if truth:
        query.append(("truth", truth))
    query += urllib.parse.parse_qsl(sim_options, keep_blank_values=True)
    return "sim://?" + urllib.parse.urlencode(query, safe="@")


def run_job(job: Job) -> dict:
    """Run `job`'s session to its end and return its row (never raises for the session's
    own failure: an error becomes the row's outcome and a violation)."""
    from chair.program import load_program
    from chair.runner import RunOptions, run
    from chair.shoulder import ShoulderChoice

    s = job.session
    faults = (s.fault,) if s.fault else ()
    truth = job.trace + ".truth.json"
    Path(truth).unlink(missing_ok=True)  # never another run's: written when the port closes
    url = session_url(s, job.sim_options, truth)
    try:
        program = load_program(s.program)
        try:
            outcome = run(program, RunOptions(port=url, fast=True, seed=s.seed, faults=faults,
                                              trace=job.trace,
                                              shoulder=ShoulderChoice(profile=False)))
        except UsageError as exc:
            if "shoulder" not in str(exc):
                raise
            # a chair whose roller senses no force: the body's height places the line
            outcome = run(program, RunOptions(
                port=url, fast=True, seed=s.seed, faults=faults, trace=job.trace,
                shoulder=ShoulderChoice(height_cm=s.height, profile=False)))
        reason, code, detail = outcome.reason, int(outcome.exit_code), outcome.detail
    except UsageError as exc:  # the chair or the run refused this body or program
        reason, code, detail = "refused", int(exc.exit_code), str(exc)
    except ChairError as exc:
        reason, code, detail = "error", int(exc.exit_code), str(exc)
    row = {**{k: v for k, v in asdict(s).items()}, "session": s.name, "outcome": reason,
           "exit_code": code, "detail": detail}
    row.update(read_trace(job.trace))
    row.update(read_truth(truth, row))
    judge_outcome(row, injected=bool(s.fault))
    if row["violations"] or job.keep:
        row["trace"] = job.trace if os.path.exists(job.trace) else ""
    else:
        row["trace"] = ""
        Path(job.trace).unlink(missing_ok=True)
    return row


def judge_outcome(row: dict, *, injected: bool) -> None:
    """Violations from how the session ended (appended to `row["violations"]`): an error; a
    fault when none was injected (the program cannot finish on this body and chair); a
    refusal after anything moved. A refusal before anything moved (on the plant's truth:
    every bag under airbag_vented_kpa, no roller force) is no violation, not even for its
    missing safe state: the row says `refused` and why."""
    reason, detail, violations = row["outcome"], row["detail"], row["violations"]
    if reason == "error":
        violations.append(f"error: {detail}")
    elif reason == "fault" and not injected:
        violations.append(f"a fault with none injected: {detail}")
    elif reason == "refused":
        vented = DEVICE["airbag_vented_kpa"]
        moved = any(v is not None and v >= vented for k, v in row.items()
                    if k.startswith("true_kpa.")) or any(k.startswith("force_n.") for k in row)
        violations[:] = ([*violations, f"refused after the chair moved: {detail}"] if moved
                         else [v for v in violations if v != NOT_SAFE])


def read_truth(path: str, row: dict) -> dict:
    """The plant's truth from the `truth=PATH` file at `path` (deleted once read), judged
    against the caps `row` holds (`cap.ZONE`, `heat_cap`); appends to `row["violations"]`.

    Violations: a true bag over its cap by more than chair.safety.AIR_MARGIN_KPA (the
    regulation overshoot the controller tolerates before it latches a fault), a true heater
    surface over its cap. No file (the port never opened): no truth columns."""
    try:
        with open(path, encoding="utf-8") as handle:
            peaks = json.load(handle)
    except OSError:
        return {}
    finally:
        Path(path).unlink(missing_ok=True)
    bags, surfaces = peaks["bag_kpa"], peaks["surface_c"]
    out: dict = {f"true_kpa.{z}": round(v, 2) for z, v in sorted(bags.items())}
    out["true_heat_c"] = round(max(surfaces.values()), 2) if surfaces else None
    out.update({f"force_n.{m}": round(v, 1) for m, v in sorted(peaks["force_n"].items())})
    for zone, worst in sorted(bags.items()):
        cap = row.get(f"cap.{zone}")
        if cap is not None and worst > cap + AIR_MARGIN_KPA:
            row["violations"].append(f"true airbag {zone} {worst:.2f} kPa over its cap {cap:g}"
                                     f" + {AIR_MARGIN_KPA:g}")
    heat_cap = row.get("heat_cap")
    if out["true_heat_c"] is not None and heat_cap is not None and \
            out["true_heat_c"] > heat_cap:
        row["violations"].append(f"true heat {out['true_heat_c']:g} °C over its cap "
                                 f"{heat_cap:g}")
    return out


def read_trace(path: str) -> dict:
    """Worst values, time to safe and violations from the trace at `path`.

    A heat reading outside the thermistor's plausible range (chair.limits thermistor_c_min,
    thermistor_c_max) is a failed sensor, which the device latches (F08), not a temperature:
    it is left out of the worst heat.

    Violations: a sampled airbag pressure over its cap, a heater over its cap, and a session
    that ended without its safe state (no `safe` event, or one neither confirmed nor vented
    by time)."""
    kpa: dict[str, float] = {}
    caps: dict[str, float] = {}
    heat, heat_cap = None, None
    fault_t = safe_t = None
    safe_ok = False
    violations: list[str] = []
    low, high = DEVICE["thermistor_c_min"], DEVICE["thermistor_c_max"]
    try:
        with open(path, encoding="utf-8") as trace:
            records = [json.loads(line) for line in trace if line.strip()]
    except OSError:
        records = []
    for rec in records:
        kind = rec.get("type")
        if kind == "header" and "limits" in rec:
            caps = dict(rec["limits"].get("airbag_kpa_max", {}))
            heat_cap = rec["limits"].get("heat_c_max")
        elif kind == "sample":
            for zone, value in (rec.get("airbags") or {}).items():
                if value is not None:
                    kpa[zone] = max(kpa.get(zone, 0.0), value)
            for value in (rec.get("heat_c") or {}).values():
                if value is not None and low <= value <= high:
                    heat = value if heat is None else max(heat, value)
        elif kind == "event" and rec.get("event") == "fault" and fault_t is None:
            fault_t = rec["t"]
        elif kind == "event" and rec.get("event") == "safe":
            safe_t = rec["t"]
            safe_ok = rec.get("confirmed") is True or rec.get("vented_by") == "time"
    for zone, worst in sorted(kpa.items()):
        if zone in caps and worst > caps[zone]:
            violations.append(f"airbag {zone} {worst:g} kPa over its cap {caps[zone]:g}")
    if heat is not None and heat_cap is not None and heat > heat_cap:
        violations.append(f"heat {heat:g} °C over its cap {heat_cap:g}")
    if not safe_ok:
        violations.append(NOT_SAFE)
    row: dict = {f"kpa.{z}": round(v, 2) for z, v in sorted(kpa.items())}
    row.update({f"cap.{z}": v for z, v in sorted(caps.items())})
    row["heat_c"] = None if heat is None else round(heat, 2)
    row["heat_cap"] = heat_cap
    row["safe_s"] = (round(safe_t - fault_t, 3)
                     if fault_t is not None and safe_t is not None else None)
    row["violations"] = violations
    return row
