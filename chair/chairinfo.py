"""The host's picture of one chair, learned from the device at connect.

A `Chair` holds what the device's banner and limits table say: its airbag zones and
heaters (in the order of the status line's `air` and `heat`), its drives (`axes`), its
optional sensors, its track and seat geometry, and its limits table (the device's caps).
Everything the host keys per zone (caps, supervisor, executor, trace, display, plot) takes
its names from here, never from a fixed list. A banner that does not name its drives and
sensors (protocol 1) means the reference chair's (chair.limits AXES, SENSORS).

`Chair.from_device` never fails; `refusal` says what the host cannot run the chair without
(a cap for one of its zones, say), so the connect can refuse it before anything moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chair import limits as reference
from chair import protocol as p

#: Caps the host reads from every device table (chair.caps.make_caps), and those it reads
#: only when the chair has airbags (per zone: `airbag_kpa_max.<zone>`) or heaters.
NEEDED = ("session_s_max", "roller_depth_max")
NEEDED_AIR = ("airbag_inflate_s_max",)
NEEDED_HEAT = ("heat_target_c_max", "heat_c_max")


@dataclass(frozen=True)
class Chair:
    """One chair as its device describes it (names in wire order; mm; the device's caps)."""

    zones: tuple[str, ...]
    heaters: tuple[str, ...]
    axes: tuple[str, ...]
    sensors: tuple[str, ...]
    track_mm: float
    seat_mm: float
    limits: dict[str, float] = field(default_factory=dict, compare=False)

    @classmethod
    def from_device(cls, banner: p.Banner, limits: dict[str, float]) -> Chair:
        """The chair a banner and its verified limits table describe."""
        return cls(zones=tuple(banner.zones), heaters=tuple(banner.heaters),
                   axes=reference.AXES if banner.axes is None else tuple(banner.axes),
                   sensors=reference.SENSORS if banner.sensors is None
                   else tuple(banner.sensors),
                   track_mm=banner.track_mm, seat_mm=banner.seat_mm, limits=dict(limits))

    def refusal(self) -> str:
        """Why the host cannot drive this chair ('' when it can): a cap its limits table
        lacks for a zone or heater the banner names, or one every run needs."""
        needed = [*NEEDED, *(f"airbag_kpa_max.{zone}" for zone in self.zones)]
        if self.zones:
            needed.extend(NEEDED_AIR)
        if self.heaters:
            needed.extend(NEEDED_HEAT)
        missing = [name for name in needed if name not in self.limits]
        if not missing:
            return ""
        return (f"the device's limits table lacks {', '.join(missing)}, which the host "
                f"needs for a chair with zones {', '.join(self.zones) or 'none'} and "
                f"heaters {', '.join(self.heaters) or 'none'}: nothing moved. Add "
                f"{'that cap' if len(missing) == 1 else 'those caps'} to the firmware's "
                "limits table (docs/protocol.md section 7)")

    def air(self, status: p.StatusReport) -> dict[str, float]:
        """The report's airbag pressures by zone name (kPa).

        The one place the wire's order (the banner's zone order) becomes names; a report
        with fewer values than zones names only those it has (the supervisor refuses it)."""
        return _named(self.zones, status.air_kpa)

    def heat(self, status: p.StatusReport) -> dict[str, float]:
        """The report's heater temperatures by heater name (°C), as `air`."""
        return _named(self.heaters, status.heat_c)

    def header(self) -> dict:
        """The chair as the trace header's `chair` object (docs/trace.md)."""
        return {"zones": list(self.zones), "heaters": list(self.heaters),
                "axes": list(self.axes), "sensors": list(self.sensors),
                "track_mm": self.track_mm, "seat_mm": self.seat_mm}


def _named(names: tuple[str, ...], values: tuple[float, ...]) -> dict[str, float]:
    if len(values) >= len(names):  # (every report of a well-formed device: ten a second)
        return dict(zip(names, values, strict=False))
    return {name: values[i] for i, name in enumerate(names) if i < len(values)}


#: The reference chair (chair.limits): what a host assumes before a device has described
#: itself, and what a trace without a `chair` header was recorded on.
REFERENCE = Chair(zones=reference.ZONES, heaters=reference.HEATERS, axes=reference.AXES,
                  sensors=reference.SENSORS, track_mm=reference.TRACK_MM,
                  seat_mm=reference.SEAT_BEND_MM, limits=dict(reference.DEVICE))
