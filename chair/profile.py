"""The user profile: the shoulder line a person gave, remembered per port.

On a chair whose roller senses no force the shoulder line comes from the person
(chair.shoulder); `chair run` remembers it here, one entry per port as given (`--port`), so
the next run on that port needs no option. One small JSON file::

    {"chair_profile": 1,
     "ports": {"/dev/ttyUSB0": {"height_cm": 175},
               "sim://?chair=compact": {"shoulder_mm": 250}}}

at `$XDG_CONFIG_HOME/chair/profile.json` (`~/.config/chair/profile.json` without it). Each
entry holds exactly one of `height_cm` (a person's height in cm) or `shoulder_mm` (the
shoulder line in mm from the top of the track).

It is written atomically (a temporary file beside it, then renamed over it), and never over
a file that is not a chair profile: a file there without the `chair_profile` marker, one
that is not JSON, or anything but a regular file is refused, as is a damaged entry when it
is read. Every refusal is a UsageError (exit 2) naming the file and, where it can, the line.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chair.errors import UsageError
from chair.landmarks import HEIGHT_CM_RANGE
from chair.trace import special_kind

MARKER = "chair_profile"
VERSION = 1
#: A profile is a few lines; a file larger than this is not one (assumed bound).
MAX_BYTES = 1 << 20
#: What to do about a profile that cannot be used, said after every refusal.
ADVICE = "fix or remove the file, or run with --no-profile"


@dataclass(frozen=True)
class Entry:
    """What one port's entry holds: exactly one of a height (cm) or a shoulder line (mm)."""

    height_cm: float | None = None
    shoulder_mm: float | None = None

    def record(self) -> dict[str, float]:
        return ({"height_cm": self.height_cm} if self.height_cm is not None
                else {"shoulder_mm": self.shoulder_mm})


def default_path() -> Path:
    """`$XDG_CONFIG_HOME/chair/profile.json`, or `~/.config/chair/profile.json` when that
    variable is unset, empty or not an absolute path (as the XDG base directory spec says)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "chair" / "profile.json"


def load(path: str | os.PathLike) -> dict[str, Entry]:
    """Every port's entry in the profile at `path`; {} when there is no file.

    Raises UsageError naming the file (and the line) when it cannot be read, is not JSON,
    is not a chair profile, or holds an entry that is not one height or one shoulder line.
    """
    text = _read(Path(path))
    return {} if text is None else _parse(text, str(path))


def remember(path: str | os.PathLike, port: str, entry: Entry) -> bool:
    """Store `entry` for `port` in the profile at `path`, keeping every other port's.

    Creates the folder (mode 0700) and the file (mode 0600) when missing; refuses
    (UsageError naming the file) a file there that is not a chair profile, and a file that
    cannot be written. Returns False when the entry was already there (nothing written).
    """
    path = Path(path)
    entries = load(path)
    if entries.get(port) == entry:
        return False
    entries[port] = entry
    document = {MARKER: VERSION,
                "ports": {name: entries[name].record() for name in sorted(entries)}}
    # a symbolic link (a profile kept with the user's dotfiles) is followed, not replaced
    target = Path(os.path.realpath(path))
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".profile-", suffix=".tmp",
                                             dir=target.parent)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the profile ({exc.strerror or exc}); "
                         "choose a writable $XDG_CONFIG_HOME, or run with --no-profile") \
            from exc
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(json.dumps(document, indent=2) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise UsageError(f"{path}: cannot write the profile ({exc.strerror or exc}); "
                         "choose a writable $XDG_CONFIG_HOME, or run with --no-profile") \
            from exc
    return True


def _read(path: Path) -> str | None:
    """The profile's text, None when there is none; UsageError for anything unreadable."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the profile ({exc.strerror or exc}); "
                         f"{ADVICE}") from exc
    kind = "a directory" if stat.S_ISDIR(info.st_mode) else special_kind(info.st_mode)
    if kind:
        raise UsageError(f"{path}: the profile is {kind}, not a file; {ADVICE}")
    if info.st_size > MAX_BYTES:
        raise UsageError(f"{path}: {info.st_size} bytes is not a chair profile (those are "
                         f"a few lines); {ADVICE}")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(MAX_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"{path}: cannot read the profile ({why or exc}); {ADVICE}") \
            from exc


def _parse(text: str, where: str) -> dict[str, Entry]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}:{exc.lineno}: the profile is damaged: not JSON ({exc.msg} "
                         f"at column {exc.colno}); {ADVICE}") from None
    except RecursionError:
        raise UsageError(f"{where}: the profile is damaged: nested too deep; {ADVICE}") \
            from None
    if not isinstance(document, dict) or document.get(MARKER) != VERSION:
        raise UsageError(f"{where}: not a chair profile (no \"{MARKER}\": {VERSION} in it); "
                         "refusing to read or replace it: remove it, or run with "
                         "--no-profile")
    ports = document.get("ports", {})
    if not isinstance(ports, dict):
        raise UsageError(f"{where}:{_line_of(text, 'ports')}: the profile is damaged: "
                         f"\"ports\" must be an object of port entries; {ADVICE}")
    return {port: _entry(port, value, text, where) for port, value in ports.items()}


def _entry(port: str, value: object, text: str, where: str) -> Entry:
    def bad(why: str) -> UsageError:
        return UsageError(f"{where}:{_line_of(text, port)}: the profile is damaged: port "
                          f"{port!r}: {why}; {ADVICE}")

    if not isinstance(value, dict) or len(value) != 1 \
            or next(iter(value)) not in ("height_cm", "shoulder_mm"):
        raise bad("an entry holds exactly one of height_cm or shoulder_mm")
    (key, number), = value.items()
    if not isinstance(number, int | float) or isinstance(number, bool) \
            or not math.isfinite(number):
        raise bad(f"{key} must be a number, not {number!r}")
    if key == "height_cm":
        low, high = HEIGHT_CM_RANGE
        if not low <= number <= high:
            raise bad(f"height_cm {number:g} is outside {low:g}..{high:g} cm")
        return Entry(height_cm=float(number))
    if number <= 0:
        raise bad(f"shoulder_mm {number:g} is not a position on a track (mm from its top)")
    return Entry(shoulder_mm=float(number))


def _line_of(text: str, key: str) -> int:
    """The line (from 1) on which the key `key` first appears in the JSON `text`, else 1."""
    for form in {json.dumps(key), json.dumps(key, ensure_ascii=False)}:
        at = text.find(form + ":")
        if at < 0:
            at = text.find(form)
        if at >= 0:
            return text.count("\n", 0, at) + 1
    return 1
