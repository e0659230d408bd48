"""Where a run's shoulder line comes from: the roller's force scan, or the person.

Every landmark a program names is placed from the shoulder line (chair.landmarks). A chair
whose roller senses force finds it itself: the body scan rolls down the back until the
roller touches the body (chair.controller). A chair whose banner says its roller senses no
force (`sensors=` without `force`) cannot; there the person gives it, before anything
moves:

* `--height CM`: placed on the chair's own seat bend by the anthropometry of
  chair.landmarks (`shoulder_from_height`, 3.45 mm of track per cm of stature, assumed);
* `--shoulder-mm N`: the shoulder line itself, in mm from the top of the track;
* or neither, when the user profile (chair.profile) holds an entry for the port, which a
  run given either option writes (unless `--no-profile`, which neither reads nor writes).

With none of them the run is refused before anything moves (UsageError, exit 2: what is
missing is an argument, the chair and the person are fine). A banner that does not say
which sensors it has (`sensors` None, a protocol 1 device) keeps the force scan.

On a chair that senses force, `--height` and `--shoulder-mm` are refused (exit 2): the scan
measures whoever is seated now, and a figure typed by hand, or a profile entry written for
somebody else, must never move the roller to places measured on another body.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from chair import profile
from chair.errors import UsageError
from chair.landmarks import (
    HEIGHT_CM_RANGE,
    SHOULDER_MM_PER_CM,
    SHOULDER_MM_RANGE,
    landmark_positions,
    shoulder_from_height,
)
from chair.protocol import Banner

#: The options that give the shoulder line, named in every refusal.
OPTIONS = "--height CM or --shoulder-mm N"


@dataclass(frozen=True)
class ShoulderChoice:
    """What the user asked for: a height (cm), a shoulder line (mm), or neither; and
    whether the profile may be read and written (`profile_path`: None for the default)."""

    height_cm: float | None = None
    shoulder_mm: float | None = None
    profile: bool = True
    profile_path: str | None = None

    def check(self) -> None:
        """UsageError for a value that fits no chair (before the port opens)."""
        if self.height_cm is not None and self.shoulder_mm is not None:
            raise UsageError("--height and --shoulder-mm both place the shoulder line: "
                             "give one of them")
        if self.height_cm is not None:
            try:
                shoulder_from_height(self.height_cm)
            except ValueError as exc:
                raise UsageError(f"--height: {exc}") from None
        if self.shoulder_mm is not None and not (
                isinstance(self.shoulder_mm, int | float) and math.isfinite(self.shoulder_mm)
                and self.shoulder_mm > 0):
            raise UsageError(f"--shoulder-mm {self.shoulder_mm!r}: the shoulder line is a "
                             "position on the track in mm from its top, above 0")

    @property
    def given(self) -> str | None:
        """The option given, as the user typed it (None: neither)."""
        if self.height_cm is not None:
            return f"--height {self.height_cm:g}"
        if self.shoulder_mm is not None:
            return f"--shoulder-mm {self.shoulder_mm:g}"
        return None

    def path(self) -> Path:
        return Path(self.profile_path) if self.profile_path else profile.default_path()


@dataclass(frozen=True)
class BodyScan:
    """How this run places the shoulder line.

    `method`: "force" (the roller's scan finds it), "height" or "shoulder-mm" (given);
    `origin`: "scan", "option" or "profile"; `shoulder_mm`: the given line (None for the
    scan); `height_cm`: the height it came from; `profile`: the profile file read or
    written (None: not used); `remembered`: this run stored the option in it.
    """

    method: str = "force"
    origin: str = "scan"
    shoulder_mm: float | None = None
    height_cm: float | None = None
    profile: str | None = None
    remembered: bool = False

    def header(self) -> dict[str, object]:
        """The trace header's `body_scan` (docs/trace.md)."""
        fields: dict[str, object] = {"method": self.method, "from": self.origin}
        if self.shoulder_mm is not None:
            fields["shoulder_mm"] = round(self.shoulder_mm, 3)
        if self.height_cm is not None:
            fields["height_cm"] = self.height_cm
        if self.profile is not None:
            fields["profile"] = self.profile
            fields["remembered"] = self.remembered
        return fields

    def describe(self) -> str:
        return describe(self.header())


def describe(fields: dict) -> str:
    """One line for people from a trace header's `body_scan` (what the run used)."""
    method = fields.get("method", "force")
    if method == "force":
        return "the roller's force sensor finds the shoulder line (body scan)"
    height, shoulder = fields.get("height_cm", 0), fields.get("shoulder_mm", 0)
    line = f"shoulder line at {shoulder:g} mm"
    where = fields.get("profile")
    if fields.get("from") == "profile":
        given = f"height {height:g} cm" if method == "height" else "shoulder line"
        return f"{line}, from the {given} remembered in {where} (the roller senses no force)"
    option = f"--height {height:g}" if method == "height" else f"--shoulder-mm {shoulder:g}"
    note = f"remembered for this port in {where}" if where else "not remembered: --no-profile"
    return f"{line}, from {option} (the roller senses no force; {note})"


def senses_force(banner: Banner) -> bool:
    """Whether the roller reports force: the banner says so, or does not say (None)."""
    return banner.sensors is None or "force" in banner.sensors


def choose(choice: ShoulderChoice, banner: Banner, port: str) -> BodyScan:
    """How this run on `port` (as the user gave it) places the shoulder line.

    Reads the profile only when it is needed (no force sensing and no option), writes it
    only when an option was given there; never with `choice.profile` False. Raises
    UsageError, before anything moves, for an option on a chair that scans, for no
    shoulder line at all on one that cannot, and for a line that does not fit this chair.
    """
    if senses_force(banner):
        if choice.given:
            said = ("its banner says sensors=" + ",".join(banner.sensors)
                    if banner.sensors is not None else "its banner does not list its "
                    "sensors, so it is taken to have a force-sensing roller")
            raise UsageError(f"{choice.given}: this chair's roller senses force ({said}); "
                             "its body scan measures the shoulder line of whoever is seated, "
                             "and a figure given by hand is refused rather than trusted "
                             f"over it: drop {choice.given.split()[0]}")
        return BodyScan()
    path = choice.path()
    if choice.given:
        entry = profile.Entry(choice.height_cm, choice.shoulder_mm)
        scan = _placed(entry, banner, "option", f"{choice.given}:")
        if not choice.profile:
            return scan
        return replace(scan, profile=str(path),
                       remembered=profile.remember(path, port, entry))
    entry = profile.load(path).get(port) if choice.profile else None
    if entry is None:
        sensors = ",".join(banner.sensors or ()) or "none"
        where = (f"the profile {path} holds no entry for {port}" if choice.profile
                 else "--no-profile: the profile was not read")
        raise UsageError(
            f"this chair's roller senses no force (its banner says sensors={sensors}), so "
            f"the body scan cannot find the shoulder line, and {where}: give {OPTIONS} "
            f"(your height, {HEIGHT_CM_RANGE[0]:g}..{HEIGHT_CM_RANGE[1]:g} cm, or the "
            f"shoulder line in mm from the top of this chair's {banner.track_mm:g} mm "
            f"track, above its seat bend at {banner.seat_mm:g} mm); it is remembered for "
            "this port unless --no-profile. Nothing moved")
    return replace(_placed(entry, banner, "profile", f"the profile {path}, port {port}:"),
                   profile=str(path))


def _placed(entry: profile.Entry, banner: Banner, origin: str, said: str) -> BodyScan:
    """The shoulder line of `entry` on this chair, checked against its track; UsageError
    beginning with `said` (the option or the profile entry) when it does not fit."""
    seat, track = banner.seat_mm, banner.track_mm
    low, high = SHOULDER_MM_RANGE
    if entry.height_cm is not None:
        shoulder = shoulder_from_height(entry.height_cm, seat)
        shortest = max(HEIGHT_CM_RANGE[0], (seat - high) / SHOULDER_MM_PER_CM)
        tallest = min(HEIGHT_CM_RANGE[1], (seat - low) / SHOULDER_MM_PER_CM)
        how = (f"height {entry.height_cm:g} cm places the shoulder line at {shoulder:.0f} mm "
               f"from the top ({SHOULDER_MM_PER_CM:g} mm per cm above this chair's seat "
               f"bend at {seat:g} mm)")
        fits = (f"heights from {math.ceil(shortest):.0f} to {math.floor(tallest):.0f} cm fit "
                "this chair; or give --shoulder-mm N" if shortest <= tallest
                else "no height fits this chair: give --shoulder-mm N")
    else:
        shoulder = entry.shoulder_mm
        how = f"a shoulder line at {shoulder:g} mm from the top"
        fits = f"give one {low:g}..{min(high, seat - 1):g} mm from the top"
    if not (0.0 < shoulder < seat <= track and low <= shoulder <= high):
        raise UsageError(f"{said} {how}, which does not fit this chair: the shoulder line "
                         f"must lie above the seat bend ({seat:g} mm on its {track:g} mm "
                         f"track) and within {low:g}..{high:g} mm of the top, where a "
                         f"seated person's can be; {fits}")
    try:
        landmark_positions(shoulder, seat, track)
    except ValueError as exc:
        raise UsageError(f"{said} {how}: {exc}") from None
    method = "height" if entry.height_cm is not None else "shoulder-mm"
    return BodyScan(method, origin, shoulder, entry.height_cm)
