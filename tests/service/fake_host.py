"""An in-memory `chair.service.api.Host` for testing a front end on its own (the JSON-RPC
layer, the page, the MQTT bridge) without a chair: the same shapes and errors as the real
host, a session that advances on a thread at `period_s`, and a record of every call.

End-to-end tests use the real `chair serve`; this one checks that a front end turns each
request into the right `Host` call and each snapshot into the right output.

Cautions follow the host's rule (chair.service.startcheck.check_acknowledged): a start
acknowledges them (`acknowledged=True`), or comes from MQTT (`by="mqtt"`) for a program in
`acknowledged`, the programs with a remembered acknowledgement young enough (a test adds to
it as a start on the page would); else NOT_ACKNOWLEDGED with the cautions in `data`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chair.service.api import ErrorCode, ServiceError, StartRequest

ZONES = ("lumbar", "seat", "calves")
CAPS = {"lumbar": 20.0, "seat": 20.0, "calves": 8.0}


class FakeHost:
    """One simulated session of `seconds` at a time, advanced every `period_s` real seconds
    by `step_s` of session time."""

    def __init__(self, *, seconds: float = 60.0, period_s: float = 0.05,
                 step_s: float = 1.0, data_dir: Path | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.acknowledged: set[str] = set()  # remembered, and young enough for MQTT
        self.acknowledged_by: dict[str, str] = {}  # program -> who acknowledged it last
        self._seconds, self._period, self._step = seconds, period_s, step_s
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []
        self._state, self._reason = "idle", ""
        self._session: dict[str, Any] | None = None
        self._faults: list[dict[str, str]] = []
        self._elapsed = 0.0
        self._count = 0
        self._data_dir = data_dir
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-host")
        self._thread.start()

    def close(self, by: str = "close") -> None:
        self._stop.set()
        self._thread.join(2.0)

    # ------------------------------------------------------------------ queries

    def server_info(self) -> dict[str, Any]:
        return {"name": "chair serve", "version": "test", "api": 1, "port": "fake://",
                "speed": 1.0, "simulated": True, "token_required": False}

    def chair_info(self) -> dict[str, Any]:
        return {"zones": list(ZONES), "heaters": ["lumbar"], "axes": ["carriage", "back"],
                "sensors": ["seat"], "track_mm": 1100.0,
                "caps": {"airbag_kpa": dict(CAPS), "heat_c": {"lumbar": 40.0}}}

    def programs(self) -> dict[str, Any]:
        return {"programs": [{"name": "lumbar", "title": "Lower back: warm and loosen",
                              "purpose": "Relaxes the lower back.", "seconds": self._seconds,
                              "zones": ["lumbar"], "cautions": ["Stop if it hurts."],
                              "acknowledged": "lumbar" in self.acknowledged,
                              "acknowledged_at": "2026-11-30T12:00:00+00:00"
                              if "lumbar" in self.acknowledged_by else None,
                              "acknowledged_by": self.acknowledged_by.get("lumbar")}],
                "red_flags": {"urgent": ["sciatica in both legs"], "doctor": ["fever"]},
                "conditions": [{"name": "herniated-disc", "text": "a herniated disc",
                                "refuse": False, "changes": "gentler"}],
                "always": ["Stop at once if the pain gets worse."], "guidance": []}

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot()

    def sessions(self) -> list[dict[str, Any]]:
        return [dict(self._session)] if self._session else []

    def trace_path(self, session_id: str) -> Path:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no session {session_id!r}")

    plot_path = trace_path

    # ------------------------------------------------------------------ commands

    def start(self, request: StartRequest) -> dict[str, Any]:
        self.calls.append(("start", request))
        with self._lock:
            if request.program != "lumbar":
                raise ServiceError(ErrorCode.NOT_FOUND, f"no program {request.program!r}")
            if not 1 <= request.intensity <= 5:
                raise ServiceError(ErrorCode.INVALID, "intensity must be 1..5")
            if self._state in ("scanning", "running", "paused", "parking"):
                raise ServiceError(ErrorCode.BUSY, "a session is running: stop it first")
            if self._faults:
                raise ServiceError(ErrorCode.LATCHED, "the chair has latched faults: reset")
            remembered = request.by == "mqtt" and request.program in self.acknowledged
            if request.acknowledged is not True and not remembered:
                raise ServiceError(ErrorCode.NOT_ACKNOWLEDGED,
                                   "acknowledge the program's cautions first",
                                   {"program": request.program,
                                    "cautions": ["Stop if it hurts."],
                                    "text": "Stop if it hurts."})
            if request.acknowledged is True:
                self.acknowledged.add(request.program)
                self.acknowledged_by[request.program] = request.by
            self._count += 1
            self._session = {"id": f"fake-{self._count}", "program": request.program,
                             "title": "Lower back: warm and loosen", "by": request.by,
                             "active": True, "outcome": None, "intensity": request.intensity}
            self._elapsed = 0.0
            self._state, self._reason = "running", ""
        self._publish()
        return {"session": dict(self._session)}

    def _command(self, name: str, allowed: tuple[str, ...], dest: str, by: str,
                 reason: str = "") -> dict[str, Any]:
        self.calls.append((name, by))
        with self._lock:
            if self._state not in allowed:
                raise ServiceError(ErrorCode.REFUSED, f"cannot {name} while {self._state}")
            self._state, self._reason = dest, reason or self._reason
            if dest in ("idle", "estop") and self._session and self._session["active"]:
                self._session.update(active=False,
                                     outcome="stopped" if dest == "idle" else "fault")
            if dest == "estop":
                self._faults = [{"code": "F01", "name": "estop", "text": "emergency stop",
                                 "what_to_do": "make sure the person is safe, then reset"}]
            state = self._state
        self._publish()
        return {"state": state}

    def pause(self, by: str = "api") -> dict[str, Any]:
        return self._command("pause", ("running",), "paused", by)

    def resume(self, by: str = "api") -> dict[str, Any]:
        return self._command("resume", ("paused",), "running", by)

    def stop(self, by: str = "api") -> dict[str, Any]:
        return self._command("stop", ("scanning", "running", "paused"), "idle", by,
                             "stopped by the user")

    def estop(self, by: str = "api") -> dict[str, Any]:
        allowed = ("idle", "scanning", "running", "paused", "parking", "fault", "estop")
        return self._command("estop", allowed, "estop", by, "emergency stop")

    def reset(self, by: str = "api") -> dict[str, Any]:
        result = self._command("reset", ("fault", "estop"), "idle", by)
        with self._lock:
            self._faults = []
        return result

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)
        callback(self.status())

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
        return unsubscribe

    # ------------------------------------------------------------------ the fake session

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            with self._lock:
                if self._state == "running":
                    self._elapsed += self._step
                    if self._elapsed >= self._seconds:
                        self._state, self._reason = "idle", "completed"
                        if self._session:
                            self._session.update(active=False, outcome="completed")
            self._publish()

    def _publish(self) -> None:
        with self._lock:
            snapshot, subscribers = self._snapshot(), list(self._subscribers)
        for callback in subscribers:
            callback(snapshot)

    def _snapshot(self) -> dict[str, Any]:
        running = self._state in ("scanning", "running", "paused", "parking")
        session = None
        if self._session:
            session = dict(self._session, elapsed_s=self._elapsed,
                           left_s=max(0.0, self._seconds - self._elapsed),
                           program_s=self._seconds,
                           step={"number": 1 + int(self._elapsed // 10), "of": 6,
                                 "name": "rolling", "zone": "lumbar"} if running else None)
        fill = min(1.0, self._elapsed / 10.0) if running else 0.0
        return {
            "t": self._elapsed, "state": self._state, "reason": self._reason,
            "occupied": True, "session": session,
            "roller": {"mm": 300.0 + 10.0 * (self._elapsed % 20), "track_mm": 1100.0,
                       "landmark": "l4", "shoulder_mm": 120.0, "moving": running},
            "airbags": [{"zone": z, "kpa": round(fill * 0.5 * CAPS[z], 2), "cap_kpa": CAPS[z]}
                        for z in ZONES],
            "heat": [{"zone": "lumbar", "c": 30.0 + 8.0 * fill, "cap_c": 40.0,
                      "on": running}],
            "faults": list(self._faults),
            "can": {"start": self._state == "idle" and not self._faults,
                    "pause": self._state == "running", "resume": self._state == "paused",
                    "stop": running, "reset": self._state in ("fault", "estop")},
            "link": {"ok": True, "port": "fake://"},
        }
