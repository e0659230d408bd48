"""Checking a program's fields: locating a field's line in the file, the messages that
say what is allowed, and the shape checks run before tomllib reads the text
(chair.program loads programs with these)."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

from chair.errors import ProgramError
from chair.program_schema import (
    _DIGITS,
    _WORD,
    CONTROL_CHARS,
    MAX_NESTING,
    MAX_NUMBER_CHARS,
    MAX_TEXT,
)

_HEADER_RE = re.compile(
    r"^\s*(\[\[?)\s*([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*\]\]?\s*(?:#.*)?$")


class _Locator:
    """Finds the line of a program field or a step's field in the TOML source (best effort:
    steps written as `[[step]]` tables, the usual way)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str, bool]] = []  # (index, dotted name, is array)
        for i, line in enumerate(self.lines):
            match = _HEADER_RE.match(line)
            if match:
                name = re.sub(r"\s+", "", match.group(2))
                self.headers.append((i, name, match.group(1) == "[["))

    def _block(self, root: str, nth: int | None) -> tuple[int, int] | None:
        """Line range of the table `root` (the nth `[[root]]` when nth is given)."""
        start = None
        count = 0
        for index, (_, name, is_array) in enumerate(self.headers):
            if name != root or is_array != (nth is not None):
                continue
            count += 1
            if nth is None or count == nth:
                start = index
                break
        if start is None:
            return None
        first = self.headers[start][0]
        for i, name, _ in self.headers[start + 1:]:
            if not name.startswith(root + "."):
                return first, i
        return first, len(self.lines)

    def line(self, step: int | None, field_path: str) -> int | None:
        """1-based line of `field_path` ("roller.depth", "program.name", "name") in step
        `step` (1-based), or in the program table, or at the top level; None if unknown."""
        parts = [p for p in field_path.split(".") if p]
        if step is not None or (parts and parts[0] == "program"):
            if step is not None:
                block = self._block("step", step)
            else:
                block, parts = self._block("program", None), parts[1:]
            if block is None:
                return None
            # the field, else the nearest enclosing key found, else the table's header
            return self._find(block, parts) or block[0] + 1
        if not parts:
            return None
        for i, name, _ in self.headers:  # a top-level table, e.g. a misspelt [progam]
            if name.split(".")[0] == parts[0]:
                return i + 1
        return self._find((0, self.headers[0][0] if self.headers else len(self.lines)), parts)

    def _find(self, block: tuple[int, int], parts: list[str]) -> int | None:
        """Line of the deepest of `parts` found in turn inside `block` (a key, a dotted key,
        an inline-table key or a `[x.key]` header); None if the first is not there."""
        found = None
        cursor, end = block
        for part in parts:
            key = re.compile(r'(?:^|[\s{,.\[])"?' + re.escape(part) + r'"?\s*(?:=|\.|\])')
            for i in range(cursor, end):
                if not self.lines[i].lstrip().startswith("#") and key.search(self.lines[i]):
                    found = cursor = i
                    break
            else:
                break
        return None if found is None else found + 1


class _Context:
    """Where an error is: the file, and how to find a line in it."""

    def __init__(self, source: str, text: str | None) -> None:
        self.source = source
        self.locator = _Locator(text) if text is not None else None

    def error(self, message: str, *, step: int | None = None, field: str = "",
              line: int | None = None) -> ProgramError:
        if line is None and self.locator is not None:
            line = self.locator.line(step, field)
        err = ProgramError(message, file=self.source, line=line, step=step, field=field)
        err.detail = message  # the message without its location, for re-wrapping
        return err


# ------------------------------------------------------------------------------ checks

def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # a whole number of over 4300 digits (or a list holding one)
        text = f"a {value.bit_length()}-bit number" if isinstance(value, int) else \
            f"{_kind(value)} holding a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _figure(value: int | float) -> str:
    """A number for a message, at most about 30 characters: a huge one by its start and
    length (never an OverflowError or ValueError converting it)."""
    if isinstance(value, float):
        return f"{value:g}"
    try:
        text = str(value)
    except ValueError:  # over 4300 digits
        return f"a {value.bit_length()}-bit number"
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"


def _control(text: str) -> str | None:
    """The first control character in `text`, written as an escape (\\x1b), or None."""
    found = CONTROL_CHARS.search(text)
    return None if found is None else f"\\x{ord(found.group()):02x}"


class _Checker:
    """Field checks for one table, raising ProgramError with the location filled in."""

    def __init__(self, ctx: _Context, step: int | None, prefix: str) -> None:
        self.ctx, self.step, self.prefix = ctx, step, prefix

    def where(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, message: str) -> ProgramError:
        return self.ctx.error(message, step=self.step, field=self.where(key))

    def keys(self, table: dict, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
        for key in table:
            if not isinstance(key, str):
                raise self.fail(str(key), f"key {_show(key)} is not text")
            if key not in allowed:
                raise self.fail(key, _unknown_key(key, allowed, self.prefix))
        for key in required:
            if key not in table:
                raise self.fail(key, f"missing; every {self._owner()} needs "
                                     f"{', '.join(repr(k) for k in required)}")

    def _owner(self) -> str:
        if not self.prefix:
            return "step" if self.step is not None else "file"
        return f"'{self.prefix.rstrip('.')}' table"

    def table(self, table: dict, key: str) -> dict:
        value = table[key]
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table ({key} = {{ ... }}), got {_kind(value)} "
                                 f"{_show(value)}")
        return value

    def text(self, table: dict, key: str, *, max_len: int = MAX_TEXT,
             pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        value = table[key]
        if not isinstance(value, str):
            raise self.fail(key, f"expected text in quotes, got {_kind(value)} {_show(value)}")
        if not value.strip():
            raise self.fail(key, "is empty")
        if len(value) > max_len:
            raise self.fail(key, f"is {len(value)} characters long; at most {max_len}")
        self.printable(key, value)
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, f"{_show(value)} is not allowed: {hint}")
        return value

    def printable(self, key: str, value: str) -> None:
        """Refuse text holding a control character (C0, DEL, C1: ESC, NUL, a newline ...)."""
        bad = _control(value)
        if bad:
            raise self.fail(key, f"holds the control character {bad}; text in a program is "
                                 "printed on the terminal, so it may hold none (write it "
                                 "on one line, without escapes such as \\u001b)")

    def choice(self, table: dict, key: str, allowed: tuple[str, ...], what: str) -> str:
        value = table[key]
        if not isinstance(value, str):
            raise self.fail(key, f"expected a {what} name in quotes, got {_kind(value)} "
                                 f"{_show(value)}; choose from {', '.join(allowed)}")
        if value not in allowed:
            close = difflib.get_close_matches(value, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.fail(key, f"unknown {what} {_show(value)}{hint}; choose from "
                                 f"{', '.join(allowed)}")
        return value

    def whole(self, table: dict, key: str, bounds: tuple[int, int], why: str = "") -> int:
        value = table[key]
        low, high = bounds
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected a whole number {low}..{high}, got {_kind(value)} "
                                 f"{_show(value)}")
        if not low <= value <= high:
            raise self.fail(key, f"{_figure(value)} is outside {low}..{high}{why}")
        return value

    def number(self, table: dict, key: str, bounds: tuple[float, float], unit: str = "",
               why: str = "") -> float:
        value = table[key]
        low, high = bounds
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a number {low:g}..{high:g}{unit}, got "
                                 f"{_kind(value)} {_show(value)}")
        # compared as it is: a whole number too large for a float is never converted
        if (isinstance(value, float) and not math.isfinite(value)) \
                or not low <= value <= high:
            raise self.fail(key, f"{_figure(value)} is outside {low:g}..{high:g}{unit}{why}")
        return float(value)


def _unknown_key(key: str, allowed: tuple[str, ...], prefix: str) -> str:
    if key == "intensity" or key.startswith("intensity"):
        return ("unknown key 'intensity': a program sets absolute levels (roller.depth, "
                "airbags.<zone>, heat.<zone>); the user's --intensity caps them at run time")
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    table = f"'{prefix.rstrip('.')}'" if prefix else "this table"
    typo = f"; a typo for '{close[0]}'?" if close else ""
    return f"unknown key {_show(key)}{typo} (allowed in {table}: {', '.join(allowed)})"


# ------------------------------------------------------------------------------ building


def _check_shape(text: str, source: str) -> None:
    """Refuse what tomllib cannot read without a traceback, before it reads it: a number
    longer than `MAX_NUMBER_CHARS` (Python converts at most 4300 digits to an int:
    ValueError) and arrays or inline tables nested deeper than `MAX_NESTING` (tomllib
    recurses: RecursionError near 500 levels). Strings and comments are skipped, so digits
    and brackets in a title are fine. Raises ProgramError naming the file and the line."""
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        ch = text[i]
        word = _WORD.match(text, i)
        if word is not None:
            _check_word(word.group(), source, line)
            i = word.end()
            continue
        if ch == "\n":
            line += 1
        elif ch == "#":
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        elif ch in "\"'":
            quote = text[i:i + 3] if text.startswith(ch * 3, i) else ch
            end = i + len(quote)
            while True:  # the closing quote (basic strings escape with a backslash)
                end = text.find(quote, end)
                if end < 0 or ch == "'" or _escaped(text, end) is False:
                    break
                end += 1
            end = n if end < 0 else end + len(quote)
            line += text.count("\n", i, end)
            i = end
            continue
        elif ch in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise ProgramError(f"arrays or inline tables nested over {MAX_NESTING} deep; "
                                   "a program needs two levels at most", file=source,
                                   line=line)
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1


def _check_word(word: str, source: str, line: int) -> None:
    """Refuse a bare word holding a digit (every TOML number form: 0x ff, 0o, 0b, 1_000,
    1.5e300, a date) longer than MAX_NUMBER_CHARS, by its start and its length."""
    if len(word) > MAX_NUMBER_CHARS and not _DIGITS.isdisjoint(word):
        raise ProgramError(f"a number {len(word)} characters long ({word[:20]}...); a "
                           "program's numbers have a few digits", file=source, line=line)


def _escaped(text: str, at: int) -> bool:
    """True when the quote at `at` is escaped by an odd run of backslashes before it."""
    run = 0
    while at - run - 1 >= 0 and text[at - run - 1] == "\\":
        run += 1
    return run % 2 == 1


# ------------------------------------------------------------------------------ public API
