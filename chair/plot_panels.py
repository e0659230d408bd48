"""The panels of a trace's picture (chair.plot): the state and zone bands, the roller on the
body, airbag pressures, heater temperatures, depth, foot speed and recline, and the fault,
stop and injection marks through them all; with their colours. Each `draw_*` draws on one
matplotlib axes from a `chair.plot_session._Session`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from chair.landmarks import LANDMARKS
from chair.plot_session import _Session
from chair.trace import Record

STATE_COLOURS = {
    "disconnected": "#e0e0e0", "connecting": "#d0d0d0", "idle": "#f0f0f0",
    "scanning": "#9ecae1", "running": "#a1d99b", "paused": "#fdd49e",
    "parking": "#c6bedf", "fault": "#fb6a4a", "estop": "#cb181d",
}
ZONE_COLOURS = {
    "lumbar": "#fdae6b", "gluteal": "#9e9ac8", "piriformis": "#f768a1",
    "legs": "#74c476", "feet": "#6baed6",
}
TECHNIQUE_COLOURS = {
    "roll": "#2171b5", "knead": "#238b45", "press": "#d94801", "tap": "#6a51a3",
    "off": "#969696",
}
AIRBAG_COLOURS = {
    "shoulders": "#8c6d31", "arms": "#bcbd22", "lumbar": "#e6550d", "seat": "#756bb1",
    "calves": "#31a354", "feet": "#3182bd",
}
HEATER_COLOURS = {"lumbar": "#e6550d", "seat": "#756bb1"}
#: Colours for a zone or heater another chair names that the ones above do not.
SPARE_COLOURS = ("#637939", "#843c39", "#7b4173", "#3182bd", "#e7ba52", "#636363")


def _colour(colours: dict[str, str], names: list[str], name: str) -> str:
    """`name`'s colour: its own, or a spare one by its place among `names`."""
    return colours.get(name) or SPARE_COLOURS[names.index(name) % len(SPARE_COLOURS)]
FAULT_COLOUR = "#cb181d"
USER_COLOUR = "#f16913"
INJECT_COLOUR = "#7a0177"


def mmss(seconds: float, _pos: object = None) -> str:
    """Seconds as minutes:seconds (also a matplotlib tick formatter)."""
    whole = round(abs(seconds))
    return f"{'-' if seconds < 0 else ''}{whole // 60}:{whole % 60:02d}"


def _spans(changes: list[tuple[float, str]], end_t: float) -> list[tuple[float, float, str]]:
    """(start, width, label) for each run of a label that starts at a change."""
    spans = []
    for i, (t, label) in enumerate(changes):
        stop = changes[i + 1][0] if i + 1 < len(changes) else end_t
        if stop > t:
            spans.append((t, stop - t, label))
    return spans


def _label_spans(ax, spans: Iterable[tuple[float, float, str]], y: float, end_t: float,
                 colours: dict[str, str], height: float = 0.8) -> None:
    for start, width, label in spans:
        ax.broken_barh([(start, width)], (y - height / 2, height),
                       facecolors=colours.get(label, "#cccccc"), edgecolor="white",
                       linewidth=0.5)
        if width / end_t > 0.035:  # only where the label fits
            ax.text(start + width / 2, y, label, ha="center", va="center", fontsize=8.5,
                    clip_on=True)


def draw_bands(ax, session: _Session, end_t: float) -> None:
    # the last state is where the run left the chair: draw it to the figure's edge
    _label_spans(ax, _spans(session.states, end_t * 1.025), 1.0, end_t, STATE_COLOURS)
    zones: list[tuple[float, str]] = []
    for step in session.steps:
        if not zones or zones[-1][1] != step["zone"]:
            zones.append((step["t"], step["zone"]))
    park = next((e["t"] for e in session.events if e["event"] == "state"
                 and e["source"] == "running"), end_t)
    _label_spans(ax, _spans(zones, park), 0.0, end_t, ZONE_COLOURS)
    for step in session.steps:
        ax.plot([step["t"], step["t"]], [-0.4, -0.15], color="black", linewidth=0.7)
    ax.set_ylim(-0.6, 1.6)
    ax.set_yticks([1.0, 0.0], ["state", "zone"])
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", length=0)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    from matplotlib.patches import Patch

    spans = _spans(session.states, end_t)
    seen = list(dict.fromkeys(label for _, width, label in spans
                              if width > end_t * 0.004 or label == spans[-1][2]))
    ax.legend([Patch(facecolor=STATE_COLOURS.get(s, "#cccccc")) for s in seen], seen,
              loc="upper left", bbox_to_anchor=(1.075, 1.25), fontsize=8, ncols=2,
              frameon=False, title="state", title_fontsize=8.5, handlelength=1.2,
              columnspacing=0.8)


def draw_roller(ax, session: _Session) -> None:
    pos = session.series("roller", "pos_mm")
    techniques = [s["roller"].get("technique", "off") for s in session.samples]
    for technique, colour in TECHNIQUE_COLOURS.items():
        if technique not in techniques:
            continue
        ys = [p if tech == technique else math.nan for p, tech in zip(pos, techniques,
                                                                        strict=True)]
        ax.plot(session.t, ys, color=colour, linewidth=0.9 if technique != "off" else 0.7,
                label="idle (off)" if technique == "off" else technique)
    marks = session.landmarks
    span = [p for p in pos if not math.isnan(p)]
    low = min([*span, *marks.values()], default=0.0)
    track_mm, seat_mm = session.track_mm, session.seat_mm
    high = max([*span, *marks.values()], default=track_mm)
    ax.set_ylim(min(track_mm, high + 40), max(0.0, low - 40))  # top of the track at the top
    if low - 40 < seat_mm < high + 40:
        ax.axhspan(seat_mm, track_mm, color="#f4f0e6", zorder=0)
        ax.text(0.002, seat_mm, " seat (under the buttocks and thighs)", fontsize=8,
                color="#8c7a55", va="top", transform=ax.get_yaxis_transform())
        ax.text(0.002, seat_mm, " back", fontsize=8, color="#8c7a55", va="bottom",
                transform=ax.get_yaxis_transform())
    names = [name for name in LANDMARKS if name in marks]
    for name in names:
        ax.axhline(marks[name], color="#bdbdbd", linewidth=0.6, linestyle=":", zorder=0)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks([marks[n] for n in names], names, fontsize=9)
    right.tick_params(axis="y", length=0)
    ax.set_ylabel("roller position\n(mm from track top)")
    if marks:  # the line from the scan, or given (--height, --shoulder-mm, the profile)
        method = (session.header.get("body_scan") or {}).get("method", "force")
        how = "scanned" if method == "force" else f"from {method}"
        right.set_ylabel(f"landmarks (shoulder line {how} at "
                         f"{next(iter(marks.values())):.0f} mm)", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.075, 1.0), fontsize=8.5,
              title="technique", title_fontsize=8.5, frameon=False)


def draw_air(ax, session: _Session) -> None:
    caps = session.header.get("limits", {}).get("airbag_kpa_max", {})
    shown = 0
    drawn = []
    zones = session.zones
    for zone in zones:
        kpa = session.series("airbags", zone)
        if max((k for k in kpa if not math.isnan(k)), default=0.0) < 0.5:
            continue
        shown += 1
        colour = _colour(AIRBAG_COLOURS, zones, zone)
        ax.plot(session.t, kpa, color=colour, linewidth=0.9, label=zone)
        if zone in caps:
            ax.axhline(caps[zone], color=colour, linestyle="--", linewidth=0.8)
            drawn.append(zone)
    by_cap: dict[float, list[str]] = {}
    for zone in drawn:
        by_cap.setdefault(caps[zone], []).append(zone)
    for cap, zones in by_cap.items():
        ax.text(0.995, cap, f"cap {', '.join(zones)} {cap:g} kPa", fontsize=8,
                color=_colour(AIRBAG_COLOURS, session.zones, zones[-1]), ha="right",
                va="bottom",
                transform=ax.get_yaxis_transform())
    if not shown:
        ax.text(0.5, 0.5, "no airbag inflated", transform=ax.transAxes, ha="center",
                va="center", color="#777777")
    top = max([*caps.values(), 1.0]) if shown else 10.0
    ax.set_ylim(0, top * 1.12)
    ax.set_ylabel("airbag pressure\n(kPa; dashed: cap)")
    if shown:
        ax.legend(loc="upper left", bbox_to_anchor=(1.075, 1.0), fontsize=8.5,
                  title="airbag zone", title_fontsize=8.5, frameon=False)


def _heat_series(session: _Session, zone: str) -> tuple[list[float], int]:
    """A heater's readings with the implausible ones (an open or shorted thermistor: named
    in the sample's `implausible`, or outside the header's thermistor range for a trace
    written before that field) left out as NaN, and how many were left out."""
    device = session.header.get("device_limits")
    try:
        low, high = float(device["thermistor_c_min"]), float(device["thermistor_c_max"])
    except (KeyError, TypeError, ValueError):
        low, high = -math.inf, math.inf
    values = session.series("heat_c", zone)
    dropped = 0
    for i, sample in enumerate(session.samples):
        flagged = sample.get("implausible")
        if (isinstance(flagged, list) and f"heat_c.{zone}" in flagged) \
                or not low <= values[i] <= high:
            dropped += not math.isnan(values[i])
            values[i] = math.nan
    return values, dropped


def draw_heat(ax, session: _Session) -> None:
    limits = session.header.get("limits", {})
    heaters = session.heaters
    series = {zone: _heat_series(session, zone) for zone in heaters}
    for zone in heaters:
        ax.plot(session.t, series[zone][0], color=_colour(HEATER_COLOURS, heaters, zone),
                linewidth=1.0, label=f"{zone} heater")
    if not heaters:
        ax.text(0.5, 0.5, "this chair has no heaters", transform=ax.transAxes, ha="center",
                va="center", color="#777777")
    if any(dropped for _, dropped in series.values()):
        ax.text(0.005, 0.97, "implausible readings (open or shorted thermistor) not drawn",
                transform=ax.transAxes, fontsize=8, color=FAULT_COLOUR, va="top")
    if "heat_c_max" in limits:
        ax.axhline(limits["heat_c_max"], color=FAULT_COLOUR, linestyle="--", linewidth=0.9,
                   label=f"cut-off {limits['heat_c_max']:g} °C")
    if limits.get("heat_target_c_max"):
        ax.axhline(limits["heat_target_c_max"], color="#777777", linestyle=":",
                   linewidth=0.9, label=f"highest set point {limits['heat_target_c_max']:g} °C")
    temps = [t for values, _ in series.values() for t in values if not math.isnan(t)]
    low = min([*temps, 20.0])
    high = max([*temps, limits.get("heat_c_max", 45.0)])
    ax.set_ylim(math.floor(low - 2), math.ceil(high + 2))
    ax.set_ylabel("surface temperature\n(°C)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.075, 1.0), fontsize=8.5, frameon=False)


def draw_levels(ax, session: _Session) -> None:
    ax.step(session.t, session.series("roller", "depth"), where="post", color="#238b45",
            linewidth=1.0, label="roller depth (1..5)")
    axes = session.chair.get("axes", ())
    if "foot" in axes:  # a chair without foot rollers draws no line for them
        ax.step(session.t, session.series("foot"), where="post", color="#3182bd",
                linewidth=1.0, label="foot rollers (0..3)")
    ax.set_ylim(-0.3, 5.6)
    ax.set_yticks(range(6))
    ax.set_ylabel("depth / speed\n(step)")
    right = ax.twinx()
    if "back" in axes:
        right.plot(session.t, session.series("recline", "back_pct"), color="#969696",
                   linewidth=0.9, linestyle="--", label="backrest recline (%)")
    if "leg" in axes:
        right.plot(session.t, session.series("recline", "leg_pct"), color="#636363",
                   linewidth=0.9, linestyle=":", label="leg rest (%)")
    right.set_ylim(-5, 105)
    right.set_ylabel("recline (%)", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    more, more_labels = right.get_legend_handles_labels()
    ax.legend(handles + more, labels + more_labels, loc="upper left",
              bbox_to_anchor=(1.075, 1.0), fontsize=8.5, frameon=False)


def _mark_label(event: Record) -> str:
    name = event["event"]
    if name == "user":
        return f"user: {event.get('action', 'stop')}"
    if name == "device-restart":
        return "device restarted"
    if name == "device-fault":
        return f"device fault {event.get('code', '')}: {event.get('detail', '')}".strip(": ")
    source, detail = event.get("source", "fault"), event.get("detail", "")
    return detail if detail.startswith(source) else f"{source} fault: {detail}"


def draw_marks(axes, session: _Session) -> None:
    """A vertical line through every panel at each fault, restart and user stop."""
    bands = axes[0]
    for at, name in session.injected:
        if at > session.end_t:
            continue
        for ax in axes[1:]:
            ax.axvline(at, color=INJECT_COLOUR, linewidth=1.2, linestyle="--", zorder=5)
        axes[1].annotate(f"injected: {name}", xy=(at, 0.0), xycoords=("data", "axes fraction"),
                         xytext=(3, 4), textcoords="offset points", fontsize=9,
                         color=INJECT_COLOUR, fontweight="bold", rotation=90, va="bottom")
    labelled: list[float] = []
    device_faults: list[float] = []
    for event in session.marks:
        colour = USER_COLOUR if event["event"] == "user" else FAULT_COLOUR
        for ax in axes:
            ax.axvline(event["t"], color=colour, linewidth=1.4, alpha=0.9, zorder=5)
        if event["event"] == "device-fault":
            device_faults.append(event["t"])
        elif event["event"] == "fault" and event.get("source") == "device" and any(
                abs(event["t"] - t) < 1.0 for t in device_faults):
            continue  # the controller's echo of a device fault already labelled
        near = [t for t in labelled if abs(t - event["t"]) < session.end_t * 0.02]
        text = _mark_label(event)
        if len(text) > 70:
            text = text[:67] + "..."
        right_side = event["t"] > session.end_t * 0.6
        bands.annotate(
            text, xy=(event["t"], 1.45), xycoords="data",
            xytext=(-4 if right_side else 4, 10 + 12 * len(near)), textcoords="offset points",
            ha="right" if right_side else "left", va="bottom", fontsize=9, color=colour,
            fontweight="bold", annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 0.8})
        labelled.append(event["t"])

