"""A run's trace as one picture (`chair plot TRACE [-o session.png]`).

Time runs along x (minutes:seconds since the controller started). From top to bottom:

* bands: the controller's state (scanning, running, parking, fault ...) and the program
  zone of each step (lumbar, gluteal ...), with a tick at every step boundary;
* the roller carriage's position on the body, the track's top at the top, with the
  scanned landmarks (t12, l5, sacrum, piriformis ...) labelled on the right and the line
  coloured by technique;
* airbag pressure per zone that inflated, with each zone's cap in force dashed;
* heater temperatures, with the controller's cut-off and the highest set point;
* roller depth, foot-roller speed and the recline.

Faults (`fault`, `device-fault`) are red lines through every panel, labelled at the top;
a user's stop is an orange line; a fault the simulator was told to inject (`--fault`) is a
purple dashed line. matplotlib is an optional extra (`pip install 'massage-chair[plot]'`);
the figure is drawn with the Agg backend and never touches pyplot's global state.
"""

from __future__ import annotations

from chair.errors import UsageError
from chair.plot_files import save_figure
from chair.plot_panels import FAULT_COLOUR as FAULT_COLOUR  # importable from here
from chair.plot_panels import INJECT_COLOUR as INJECT_COLOUR
from chair.plot_panels import USER_COLOUR as USER_COLOUR
from chair.plot_panels import (
    draw_air,
    draw_bands,
    draw_heat,
    draw_levels,
    draw_marks,
    draw_roller,
    mmss,
)
from chair.plot_session import _Session
from chair.trace import Record
from chair.trace_check import load_trace


def _require_matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise UsageError("chair plot needs matplotlib, an optional extra: run "
                         "pip install 'massage-chair[plot]' (in a clone of the project: "
                         "pip install -e '.[plot]'; or pip install matplotlib) and try "
                         "again") from exc
    return matplotlib, Figure


def plot_trace(trace_path: str, out_path: str) -> None:
    """Draw the trace at `trace_path` as one figure and write it to `out_path`.

    The image format follows the file name (`.png`, `.svg`, `.pdf`); a PNG carries the
    text chunk Software=`chair plot`. Raises UsageError when matplotlib is missing, the
    trace cannot be read (naming the file and line of a bad record) or the image cannot be
    written.
    """
    _require_matplotlib()
    records = load_trace(trace_path)
    if not records:
        raise UsageError(f"{trace_path} is empty: not a trace from `chair run --trace`")
    try:
        figure = make_figure(records)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # a shape not checked
        raise UsageError(f"{trace_path}: cannot draw it ({type(exc).__name__}: {exc}): is it "
                         "a trace from `chair run --trace` of this version?") from exc
    save_figure(figure, out_path)


def make_figure(records: list[Record]):
    """The figure for a trace's records (a matplotlib `Figure`, not yet saved)."""
    _, figure_class = _require_matplotlib()
    return _draw(_Session(records), figure_class)


# ----------------------------------------------------------------------------- drawing


def _draw(session: _Session, figure_class):
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    figure = figure_class(figsize=(15, 11), layout="constrained")
    grid = figure.add_gridspec(5, 1, height_ratios=[0.8, 3.2, 2.0, 1.6, 1.3])
    bands = figure.add_subplot(grid[0])
    axes = [bands]
    for row in range(1, 5):
        axes.append(figure.add_subplot(grid[row], sharex=bands))
    _, roller, air, heat, levels = axes
    end_t = max(session.end_t, 1.0)
    bands.set_xlim(0, end_t * 1.025)  # room to see a fault at the very end
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    levels.xaxis.set_major_formatter(FuncFormatter(mmss))
    levels.xaxis.set_major_locator(MaxNLocator(nbins=16, steps=[1, 2, 3, 5, 6, 10]))
    levels.set_xlabel("time since the controller started (min:s"
                      + (", simulated, fast-forward)" if session.header.get("fast") else ")"))

    figure.suptitle(_title(session), fontsize=13, x=0.01, ha="left")
    draw_bands(bands, session, end_t)
    if session.samples:
        draw_roller(roller, session)
        draw_air(air, session)
        draw_heat(heat, session)
        draw_levels(levels, session)
    else:
        roller.text(0.5, 0.5, "no samples: the run ended before the device reported",
                    transform=roller.transAxes, ha="center", va="center", fontsize=12)
    draw_marks(axes, session)
    for ax in axes[1:]:
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    return figure


def _title(session: _Session) -> str:
    header, end = session.header, session.end
    name = header.get("program", "?")
    title = header.get("title", "")
    lines = [f"{name}: {title}" if title else name]
    facts = []
    if end:
        facts.append(f"ended {end.get('state', '?')} after {mmss(end.get('t', 0.0))}: "
                     f"{end.get('reason', '?')}")
    else:
        facts.append("no end record: the run was interrupted")
    facts.append(f"port {header.get('port', '?')}")
    if header.get("seed") is not None:
        facts.append(f"seed {header['seed']}")
    if header.get("intensity", 5) != 5:
        facts.append(f"intensity {header['intensity']}")
    cautions = [c.get("name", "?") for c in header.get("cautions", [])]
    if cautions:
        facts.append("cautions: " + ", ".join(cautions))
    lines.append("   ".join(facts))
    if "chair" in header:  # the chair the device described (docs/trace.md)
        zones, heaters = session.zones, session.heaters
        chair = (f"chair: {len(zones)} airbag zone{'s' * (len(zones) != 1)} "
                 f"({', '.join(zones) or 'none'}), {len(heaters)} heater"
                 f"{'s' * (len(heaters) != 1)} ({', '.join(heaters) or 'none'}), track "
                 f"{session.track_mm:g} mm")
        skipped = header.get("skipped") or []
        if skipped:
            chair += f"   skipped for this chair: {len(skipped)} step part" + \
                "s" * (len(skipped) != 1)
        lines.append(chair)
    return "\n".join(lines)
