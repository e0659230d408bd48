"""The status snapshot (chair.service.api's docstring has its shape), built on the chair
thread from what the chair said last and, during a session, from its trace records.

`SessionWatch` is a trace listener: it keeps where the session stands (chair.session_view)
and where the landmarks are (the `scan` event), and tells the host when the controller's
state changed. `build` puts one snapshot together; it reads nothing but its arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chair import protocol as p
from chair.caps import Caps
from chair.chairinfo import Chair
from chair.fault_help import help_for
from chair.landmarks import nearest_landmark
from chair.session_view import SessionView
from chair.trace import Record

MOTION = ("scanning", "running", "paused", "parking")


class SessionWatch:
    """One session as its trace tells it: feed it every record (a `Trace` listener)."""

    def __init__(self, session_id: str, program: str, title: str, by: str, intensity: int,
                 on_state: Callable[[], None]) -> None:
        self.id, self.program, self.title, self.by = session_id, program, title, by
        self.intensity = intensity
        self.view = SessionView()
        self.active = True
        self.outcome: str | None = None
        self.landmarks: dict[str, float] = {}
        self.shoulder_mm: float | None = None
        self.t = 0.0  # the trace time of the newest record
        self.reached: str = ""  # the furthest state reached: "" , scanning or running
        #: The reason the newest state record gave ("" when none): the snapshot's reason
        #: while the controller has not entered that state (nor taken its reason) yet.
        self.state_reason = ""
        self._on_state = on_state

    def __call__(self, record: Record) -> None:
        self.view(record)
        if "t" in record and isinstance(record["t"], int | float):
            self.t = float(record["t"])
        if record["type"] == "event" and record["event"] == "scan":
            self.landmarks = dict(record.get("landmarks") or {})
            self.shoulder_mm = record.get("shoulder_mm")
        if record["type"] == "event" and record["event"] == "state":
            self.state_reason = str(record.get("reason") or "")
            if record["dest"] in ("scanning", "running"):
                self.reached = record["dest"]
            self._on_state()

    def describe(self, t: float) -> dict[str, Any]:
        """The snapshot's `session` object at trace time `t`."""
        view = self.view
        step = view.step_record
        steps = view.header.get("program_steps")
        program_s = float(view.header.get("program_seconds") or 0.0)
        left = view.progress(t)[1] if program_s else None
        return {"id": self.id, "program": self.program, "title": self.title, "by": self.by,
                "active": self.active, "outcome": self.outcome,
                "step": None if step is None or not self.active else {
                    "number": step["number"], "of": steps, "name": step["name"],
                    "zone": step["zone"]},
                "elapsed_s": round(view.program_s(t), 2),
                "left_s": None if left is None else round(left, 2),
                "program_s": program_s, "intensity": self.intensity}


def faults(status: p.StatusReport | None) -> list[dict[str, str]]:
    """The device's latched faults, each with what it means and what to do."""
    if status is None:
        return []
    out = []
    for code in status.faults:
        help_ = help_for(code)
        out.append({"code": f"F{code.value:02d}", "name": code.wire.partition(" ")[2],
                    "text": help_.text, "what_to_do": help_.what_to_do})
    return out


def build(*, t: float, state: str, reason: str, status: p.StatusReport | None, chair: Chair,
          caps: Caps | None, session: SessionWatch | None, in_force: tuple[p.Command, ...],
          link_ok: bool, port: str, busy: bool) -> dict[str, Any]:
    """One snapshot. `t` is the chair clock's time; `busy`: a session is being started or
    runs (no start now); `in_force`: the setpoints the controller holds (heat `on`)."""
    latched = faults(status)
    roller = None
    if status is not None:
        shoulder = session.shoulder_mm if session is not None else None
        landmarks = session.landmarks if session is not None else {}
        roller = {"mm": round(status.pos_mm, 1), "track_mm": chair.track_mm,
                  "landmark": nearest_landmark(status.pos_mm, landmarks) if landmarks
                  else None,
                  "shoulder_mm": shoulder, "moving": status.technique != "off"}
    air = chair.air(status) if status is not None else {}
    heat = chair.heat(status) if status is not None else {}
    heating = {c.zone for c in in_force if isinstance(c, p.SetHeat) and c.target_c > 0}
    cap_c = (caps.heat_target_c or caps.heat_c_max) if caps is not None else None
    motion = state in MOTION
    return {
        "t": round(t, 3), "state": state, "reason": reason,
        "occupied": bool(status.occupied) if status is not None else False,
        "session": session.describe(session.t) if session is not None else None,
        "roller": roller,
        "airbags": [{"zone": zone, "kpa": round(air[zone], 2) if zone in air else None,
                     "cap_kpa": caps.airbag_kpa.get(zone) if caps is not None else None}
                    for zone in chair.zones],
        "heat": [{"zone": zone, "c": round(heat[zone], 1) if zone in heat else None,
                  "cap_c": cap_c, "on": zone in heating} for zone in chair.heaters],
        "faults": latched,
        "can": {"start": state == "idle" and not busy and not latched and link_ok
                and status is not None and status.occupied,
                "pause": state == "running", "resume": state == "paused",
                "stop": state in ("scanning", "running", "paused"),
                "reset": not motion and not busy and link_ok
                and (bool(latched) or state in ("fault", "estop"))},
        "link": {"ok": link_ok, "port": port},
    }
