"""Where a run stands, from its trace records: program time, the step, and whether the chair
is at rest. The live display (chair/display.py) draws from this.

Program time runs only while the controller is `running` (the controller's executor counts
the same way): a pause, a stop, parking or a fault freeze the session bar and the step's
time left instead of letting them count down.
"""

from __future__ import annotations

from chair.safety import VENTED_KPA
from chair.trace import Record

#: What the session bar says instead of a countdown, per controller state.
NOT_COUNTING = {"paused": "paused", "parking": "stopped, parking", "scanning": "body scan",
                "idle": "ended", "fault": "stopped: fault", "estop": "stopped: emergency stop",
                "connecting": "connecting", "disconnected": "disconnected"}


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


class SessionView:
    """A trace listener that keeps the run's position (feed it every record)."""

    def __init__(self) -> None:
        self.header: Record = {}
        self.state = ""
        self.step = ""  # "3 of 7 lumbar: gentle kneading"
        self.latest: Record | None = None  # the newest sample
        self._ran_s = 0.0
        self._running_since: float | None = None
        self._step: Record | None = None
        self._step_at = 0.0  # program time at which the step began
        self._stop_now_t: float | None = None  # a second Ctrl-C sent the estop byte then
        self._safe: Record | None = None  # the runner's verdict (`safe` event), if it gave one
        self._reached = False  # the controller got past connecting: the run could move things

    def __call__(self, record: Record) -> None:
        kind = record["type"]
        if kind == "header":
            self.header = record
        elif kind == "sample":
            self.latest = record
        elif kind == "event":
            name, t = record["event"], record["t"]
            if name == "state":
                if record["dest"] == "running" and self._running_since is None:
                    self._running_since = t
                elif record["source"] == "running" and self._running_since is not None:
                    self._ran_s += t - self._running_since
                    self._running_since = None
                self.state = record["dest"]
                self._reached = self._reached or self.state not in ("connecting",
                                                                    "disconnected")
            elif name == "step":
                self._step, self._step_at = record, self.program_s(t)
                steps = self.header.get("program_steps")
                self.step = (f"{record['number']}{f' of {steps}' if steps else ''} "
                             f"{record['zone']}: {record['name']}")
            elif name == "user" and record.get("action") == "stop-now":
                self._stop_now_t = t
            elif name == "safe":
                self._safe = record

    @property
    def step_record(self) -> Record | None:
        """The `step` event of the step now on (None before the first step)."""
        return self._step

    @property
    def counting(self) -> bool:
        """True while program time runs (before the first state too: nothing to freeze)."""
        return self.state in ("running", "")

    def program_s(self, t: float) -> float:
        """Seconds of program run by time `t`."""
        since = self._running_since
        return self._ran_s + (t - since if since is not None else 0.0)

    def progress(self, t: float) -> tuple[float, float]:
        """(fraction done, seconds left) of the program, within the session timer."""
        total = self.header.get("program_seconds", 0) or 1
        session = self.header.get("limits", {}).get("session_s_max", total)
        length = min(total, session)
        ran = self.program_s(t)
        return min(1.0, max(0.0, ran / length)), max(0.0, length - ran)

    def left_text(self, t: float) -> str:
        """`m:ss left`, or why the program does not count down now."""
        if self.counting:
            return f"{_mmss(self.progress(t)[1])} left"
        return NOT_COUNTING.get(self.state, self.state)

    def step_left(self, t: float) -> float | None:
        """Seconds left in the step now on (None before the first step)."""
        if self._step is None:
            return None
        return max(0.0, self._step["seconds"] - (self.program_s(t) - self._step_at))

    def step_text(self, t: float) -> str:
        """`3 of 7 lumbar: gentle kneading  (0:42 left in step)`, frozen when not running."""
        left = self.step_left(t)
        if left is None:
            return "-"
        when = (f"{_mmss(left)} left in step" if self.counting
                else f"{'paused' if self.state == 'paused' else 'stopped'}, {_mmss(left)} left")
        return f"{self.step}  ({when})"

    def safety(self) -> tuple[str, bool]:
        """Whether the chair is at rest by the newest report: (what to say, safe).

        At rest: the device not running, every airbag below `VENTED_KPA`, the roller off
        and the foot rollers stopped. After a second Ctrl-C only a report that came after
        the emergency stop counts.
        """
        sample, stop_now, verdict = self.latest, self._stop_now_t, self._safe
        if verdict is not None and (stop_now is None or verdict["t"] >= stop_now):
            if not verdict["confirmed"]:  # the controller's own judgement (Supervisor.unsafe)
                return (f"NOT confirmed safe ({verdict.get('why', 'no reason given')}); "
                        "check the chair", False)
            if sample is not None:
                latched = ", ".join(sample.get("faults") or [])
                return (f"safe (confirmed): device {sample['device_state']}, airbags vented, "
                        "roller off" + (f"; latched: {latched} (clear with `chair reset`)"
                                        if latched else ""), True)
        if sample is None and not self._reached:
            return "this run moved nothing: it never got past connecting to the chair", True
        if sample is None or (stop_now is not None and sample["t"] < stop_now):
            what = "emergency stop sent" if stop_now is not None else "no report"
            return (f"{what}, and no report from the chair since: it is NOT confirmed "
                    "safe; check it (`chair reset` shows what is latched)", False)
        problems = []
        if sample["device_state"] == "Run":
            problems.append("the device still runs")
        full = [f"{zone} {kpa:.1f} kPa" for zone, kpa in sample["airbags"].items()
                if kpa >= VENTED_KPA]
        if full:
            problems.append("airbags not vented: " + ", ".join(full))
        if sample["roller"]["technique"] != "off":
            problems.append(f"roller {sample['roller']['technique']}")
        if sample.get("foot"):
            problems.append(f"foot rollers {sample['foot']}")
        if problems:
            return (f"NOT confirmed safe at the last report ({'; '.join(problems)}); check "
                    "the chair", False)
        latched = ", ".join(sample.get("faults") or [])
        return (f"safe: device {sample['device_state']}, airbags vented, roller off"
                + (f"; latched: {latched} (clear with `chair reset`)" if latched else ""),
                True)
