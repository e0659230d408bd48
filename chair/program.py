"""Therapeutic programs as data: load, validate and show them.

A program is a TOML file (read with `tomllib`; a program file can never run code). Every
value is checked against a schema before anything moves; an error names the file, the line,
the step and the field, and says what is allowed. docs/programs.md describes the format.

Levels in a program are gentle and absolute: roller depth is the device's depth step,
an airbag level 1..5 is that fraction (level/5) of the airbag cap in force, heat is 1..3.
The user's --intensity and cautions lower them further at run time (chair.safety); the
checks here are the program's own bounds, all at or below the controller's caps.

The work is split by job: chair.program_schema (the bounds and the model),
chair.program_check (fields, lines, messages), chair.program_files (finding files),
chair.program_load (building a program) and chair.timeline (showing one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from chair.errors import ProgramError

# Every public name (and those the tests use) stays importable from here.
from chair.program_check import (  # noqa: F401
    _check_shape,
    _Context,
)
from chair.program_files import (
    _find,
    _suggest,
    search_path,
    shipped_dir,
)
from chair.program_load import (
    _build,
    _load_path,
    _parse,
)
from chair.program_schema import (  # noqa: F401
    _NAME_RE,
    AIRBAG_DEFAULTS,
    CONTROL_CHARS,
    MAX_BYTES,
    MAX_STEPS,
    NERVE_EXIT_S_MAX,
    PRESS_S_MAX,
    PROGRAM_ZONES,
    ROLLER_DEFAULTS,
    TECHNIQUES,
    ZONE_DEPTH_MAX,
    ZONE_LANDMARKS,
    Airbags,
    Program,
    Roller,
    Step,
)
from chair.timeline import (
    render_timeline,
)


def parse_program(text: str, source: str = "<program>") -> Program:
    """Validate program text. `source` names it in errors; a chain's parts are looked up
    next to `source` first, then on the search path."""
    base = None
    if source and not source.startswith("<"):
        base = Path(source).parent
    return _parse(text, source, base=base, allow_chain=True)


def program_from_dict(data: Any, source: str = "<dict>") -> Program:
    """Validate an already-parsed TOML document (a dict), as parse_program does."""
    return _build(data, _Context(source, None), base=None, allow_chain=True)


def load_program(name_or_path: str) -> Program:
    """Load and validate a program by name (looked up on `search_path()`) or by path (any
    argument ending in .toml or holding a path separator)."""
    if not isinstance(name_or_path, str | os.PathLike) or not str(name_or_path).strip():
        raise ProgramError("no program given; name one (e.g. 'sciatica') or give a path")
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise ProgramError("no such program file", file=text)
        return _load_path(path, allow_chain=True)
    if not _NAME_RE.match(text):
        raise ProgramError(f"'{text}' is not a program name (lower-case letters, digits, "
                           "'-' and '_') or a path ending in .toml")
    path = _find(text, search_path())
    if path is None:
        raise ProgramError(f"no program named '{text}'{_suggest(text)}")
    return _load_path(path, allow_chain=True)


def list_programs(*, errors: list[ProgramError] | None = None) -> list[Program]:
    """Every program on the search path (first of each name wins), sorted by name.

    A broken file raises its ProgramError, unless `errors` is a list: then the error is
    appended there and the file skipped.
    """
    found: dict[str, Path] = {}
    for d in search_path():
        if d.is_dir():
            for path in sorted(d.glob("*.toml")):
                found.setdefault(path.stem, path)
    programs = []
    for _, path in sorted(found.items()):
        try:
            programs.append(_load_path(path, allow_chain=True))
        except ProgramError as err:
            if errors is None:
                raise
            errors.append(err)
    return programs


__all__ = [
    "AIRBAG_DEFAULTS", "MAX_BYTES", "MAX_STEPS", "PROGRAM_ZONES", "ROLLER_DEFAULTS",
    "TECHNIQUES", "ZONE_DEPTH_MAX", "ZONE_LANDMARKS", "Airbags", "Program", "Roller", "Step",
    "list_programs", "load_program", "parse_program", "program_from_dict",
    "render_timeline", "search_path", "shipped_dir",
]
