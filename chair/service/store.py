"""The data directory of `chair serve`: one trace per session (`<id>.jsonl`), its plot drawn
once beside it (`<id>.png`), and the cautions each program's person acknowledged.

The directory is `ServeOptions.data_dir`, by default `$XDG_DATA_HOME/chair/sessions`
(`~/.local/share/chair/sessions`). A session's id is the wall-clock time it started and
its program: ``20261130-214503-lumbar`` (a second session in the same second gets
``-2``). Nothing outside the directory is ever read or served: an id is checked against
`ID_RE` before it names a file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from chair.clock import wall_now
from chair.errors import UsageError
from chair.service.api import ErrorCode, ServiceError

#: A session id: date, time, program name, and a count when the second is taken.
ID_RE = re.compile(r"^\d{8}-\d{6}-[a-z0-9][a-z0-9_-]{0,63}$")
ACKS = "acknowledged.json"
#: How much of a trace's end is read for its end record (the last line, bytes).
TAIL_BYTES = 1 << 14
#: A start refused before anything moved (listed with outcome "refused", not as a session
#: that ran): a ``refused`` event with one of these triggers among the last records...
STARTING = ("start", "connect")
REFUSED_WITHIN = 8
#: ...or an end whose reason says so (chair.runner: a shoulder line refused at connect).
REFUSED_BEFORE = "refused before anything moved"


#: The longest a plot may take to draw, seconds.
PLOT_TIMEOUT_S = 120.0


def default_dir() -> Path:
    """`$XDG_DATA_HOME/chair/sessions`, or `~/.local/share/chair/sessions` when that variable
    is unset, empty or not an absolute path (the XDG base directory spec)."""
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "chair" / "sessions"


def outcome_of(end: dict[str, Any]) -> str:
    """How a session ended, from its trace's end record, as `chair run` says it (runner
    `Outcome.reason`): completed, stopped, link or fault."""
    reason, state = str(end.get("reason", "")), end.get("state")
    if reason.startswith("stopped"):
        return "stopped"
    if reason.startswith("link lost"):
        return "link"
    if state == "idle" and reason in ("completed", "session timer"):
        return "completed"
    return "fault"


class Store:
    """The data directory (made on first use). Thread-safe."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = Path(directory) if directory is not None else default_dir()
        self._lock = threading.Lock()
        self._plot_locks: dict[str, threading.Lock] = {}  # one per session id

    def ensure(self) -> None:
        """Make the directory; UsageError-free: OSError says why it cannot be made."""
        self.dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ sessions

    def new_id(self, program: str) -> str:
        """A fresh session id for `program`, its trace file not yet taken."""
        stem = f"{wall_now():%Y%m%d-%H%M%S}-{program}"
        with self._lock:
            candidate, n = stem, 1
            while (self.dir / f"{candidate}.jsonl").exists():
                n += 1
                candidate = f"{stem}-{n}"
            (self.dir / f"{candidate}.jsonl").touch()
        return candidate

    def trace_file(self, session_id: str) -> Path:
        """Where the trace of `session_id` is written (no check that it exists)."""
        return self.dir / f"{session_id}.jsonl"

    def trace_path(self, session_id: str) -> Path:
        """The trace of an existing session; ServiceError NOT_FOUND otherwise (also for
        anything that is not an id, so no path outside the directory is ever named)."""
        if not isinstance(session_id, str) or not ID_RE.match(session_id):
            raise ServiceError(ErrorCode.NOT_FOUND, f"no session {session_id!r}: a session "
                               "id looks like 20261130-214503-lumbar (sessions.list)")
        path = self.trace_file(session_id)
        if not path.is_file() or path.resolve().parent != self.dir.resolve():
            raise ServiceError(ErrorCode.NOT_FOUND, f"no session {session_id!r} in "
                               f"{self.dir} (sessions.list names them)")
        return path

    def plot_path(self, session_id: str) -> Path:
        """The session's plot (PNG), drawn with chair.plot the first time and kept beside
        its trace (drawn again only when the trace has grown since). NOT_FOUND for an
        unknown id; UsageError when matplotlib is missing or the trace cannot be drawn.

        Drawn by `draw_plot` in a process of its own; requests for the same plot arriving
        together wait for one drawing (a lock per id), others wait for nothing."""
        trace = self.trace_path(session_id)
        png = trace.with_suffix(".png")
        with self._lock:
            lock = self._plot_locks.setdefault(session_id, threading.Lock())
        with lock:
            if not png.is_file() or png.stat().st_mtime_ns < trace.stat().st_mtime_ns:
                draw_plot(trace, png)
        return png

    def sessions(self, active: str | None = None) -> list[dict[str, Any]]:
        """Every session, newest first: id, program, title, started, by, outcome, reason,
        seconds, active. `active` is the id of the session running now (outcome None);
        a trace that cannot be read, or has no end record, is listed as "damaged"; a start
        refused before anything moved as "refused" (its reason; seconds None)."""
        try:
            names = sorted((p.stem for p in self.dir.glob("*.jsonl") if ID_RE.match(p.stem)),
                           reverse=True)
        except OSError:
            return []
        return [self.summary(name, active=name == active) for name in names]

    def summary(self, session_id: str, *, active: bool = False) -> dict[str, Any]:
        """One session's line in `sessions` (never raises for a damaged trace)."""
        entry: dict[str, Any] = {"id": session_id, "program": None, "title": None,
                                 "started": None, "by": None, "active": active,
                                 "outcome": None, "reason": "", "seconds": None}
        head, end, refused = _head_and_end(self.trace_file(session_id))
        if head is not None:
            entry.update(program=head.get("program"), title=head.get("title"),
                         started=head.get("started"), by=head.get("by"))
        if active:
            return entry
        if head is None or end is None:
            entry.update(outcome="damaged", reason="the trace has no header" if head is None
                         else "the trace has no end record: the host stopped mid-session")
            return entry
        seconds = end.get("t")
        reason = str(end.get("reason", ""))
        if refused is not None or reason.startswith(REFUSED_BEFORE):  # nothing moved
            entry.update(outcome="refused", reason=refused or reason, seconds=None)
            return entry
        entry.update(outcome=outcome_of(end), reason=reason,
                     seconds=seconds if isinstance(seconds, int | float) else None)
        return entry

    # ------------------------------------------------------------------ cautions

    def acknowledged(self, program: str, text: str) -> dict[str, Any] | None:
        """The record of `program`'s cautions acknowledged with exactly this `text`, or None
        (never acknowledged, or the text has changed since)."""
        record = self._acks().get(program)
        if isinstance(record, dict) and record.get("text") == text:
            return record
        return None

    def acknowledge(self, program: str, text: str, by: str) -> dict[str, Any]:
        """Record that `by` acknowledged `program`'s cautions reading `text`, now."""
        record = {"text": text, "by": by, "at": wall_now().isoformat(timespec="seconds")}
        with self._lock:
            acks = self._acks()
            acks[program] = record
            self.ensure()
            tmp = self.dir / f".{ACKS}.tmp"
            tmp.write_text(json.dumps(acks, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.dir / ACKS)
        return record

    def _acks(self) -> dict[str, Any]:
        try:
            data = json.loads((self.dir / ACKS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def draw_plot(trace: Path, png: Path) -> None:
    """Draw `trace` into `png` with `chair plot` in a child process (matplotlib's CPU work
    never holds this process's GIL), written beside it first and then moved into place.
    UsageError with chair plot's own message when it fails or takes over PLOT_TIMEOUT_S."""
    drawing = png.with_name(f".{png.stem}.drawing.png")
    argv = [sys.executable, "-m", "chair.cli", "plot", str(trace), "-o", str(drawing)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PLOT_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["it failed"]
            raise UsageError(lines[-1].removeprefix("chair plot: ").removeprefix("chair: "))
        os.replace(drawing, png)
    except subprocess.TimeoutExpired as exc:
        raise UsageError(f"drawing it took over {PLOT_TIMEOUT_S:g} s") from exc
    finally:
        drawing.unlink(missing_ok=True)


def _head_and_end(path: Path) -> tuple[dict | None, dict | None, str | None]:
    """The trace's header and end records (None for one missing or unreadable), and why
    the session was refused before anything moved (None: it was not): the `why` of a
    ``refused`` event of the start or the connect (chair.controller, chair.runner), which
    come just before the end."""
    try:
        with open(path, "rb") as file:
            first = file.readline(TAIL_BYTES)
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - TAIL_BYTES))
            tail = file.read().splitlines()
    except OSError:
        return None, None, None
    head = _record(first, "header")
    end = _record(tail[-1], "end") if tail else None
    refused = None
    for line in tail[-REFUSED_WITHIN:]:
        event = _record(line, "event")
        if event and event.get("event") == "refused" and event.get("trigger") in STARTING:
            refused = str(event.get("why", "")) or "refused"
    return head, end, refused


def _record(line: bytes, kind: str) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and record.get("type") == kind else None
