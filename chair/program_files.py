"""Finding and reading program files: the shipped programs, the search path, and a
file read with the limits a program file has (chair.program loads programs from these)."""

from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path

from chair.errors import ProgramError
from chair.program_schema import (
    MAX_BYTES,
)

# ------------------------------------------------------------------------------ files

def shipped_dir() -> Path:
    """The directory of the programs shipped with the package (`chair/programs/*.toml`,
    package data: in a clone, an editable install, a wheel or pipx alike)."""
    return Path(str(resources.files("chair") / "programs"))


def search_path() -> list[Path]:
    """Where program names are looked up, in order: every directory in $CHAIR_PROGRAMS
    (separated by os.pathsep), ./programs, and the programs shipped with the package."""
    dirs: list[Path] = []
    env = os.environ.get("CHAIR_PROGRAMS", "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d]
    dirs.append(Path.cwd() / "programs")
    dirs.append(shipped_dir())
    unique: list[Path] = []
    seen: set[str] = set()
    for d in dirs:
        key = os.path.normcase(os.path.abspath(d))
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return unique


def _find(name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        candidate = d / f"{name}.toml"
        if candidate.is_file():
            return candidate
    return None


def _available() -> list[str]:
    names: dict[str, None] = {}
    for d in search_path():
        if d.is_dir():
            for path in sorted(d.glob("*.toml")):
                names.setdefault(path.stem, None)
    return list(names)


def _suggest(name: str) -> str:
    names = _available()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    listed = ", ".join(names) if names else "none found"
    return f"{hint}; available: {listed}; searched {', '.join(str(d) for d in search_path())}"


def _read(path: Path) -> str:
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ProgramError(f"the file is {size} bytes, over the {MAX_BYTES // 1024} KiB "
                               "a program may be; is it the right file?", file=source)
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise ProgramError(f"cannot read the file: {err.strerror or err}", file=source) from err
    if len(data) > MAX_BYTES:
        raise ProgramError(f"the file is over the {MAX_BYTES // 1024} KiB a program may be",
                           file=source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ProgramError("the file is not UTF-8 text (byte "
                           f"0x{data[err.start]:02X}); save it as UTF-8", file=source,
                           line=line) from err
