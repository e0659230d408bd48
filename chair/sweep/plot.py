"""`chair plot RESULTS`: a sweep's results drawn as worst pressure by body height.

One panel per airbag zone that any session inflated: body height (cm) along x, kPa up;
for each chair model and tissue stiffness one marker, the worst sampled pressure a solid
line and the worst true pressure (the plant's, `true_kpa.ZONE`) a dashed one, each the
worst over every session at that height (programs, faults, replicas); the zone's cap a
black line per model; a height where any session violated is ringed in red.

RESULTS is what `chair sweep -o` wrote: CSV (a first line starting `session,`) or Parquet
(`PAR1`, read with pyarrow). `kind(path)` tells them apart from a trace (JSON Lines); a
.csv or .parquet file without them is a UsageError naming the file. matplotlib is the plot
extra, as for `chair plot TRACE` (the same message without it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from chair.errors import UsageError
from chair.plot_files import save_figure
from chair.sweep.results import RESULTS_HEAD, require_pyarrow

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
VIOLATION_COLOUR = "#d62728"
_NEEDED = ("session", "height", "stiffness", "model", "violations")
_NEITHER = ("is neither a sweep's results (.csv or .parquet from `chair sweep -o`) nor a "
            "trace (JSON Lines from `chair run --trace`)")


def kind(path: str) -> str:
    """"csv" or "parquet" for a sweep's results (by content), "trace" for any other file
    (the trace plot says what is wrong with it). UsageError naming `path` for a .csv or
    .parquet name without a sweep's results in it."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError:
        head = None
    if head is not None and head.startswith(b"PAR1"):
        return "parquet"
    if head is not None and head.startswith(RESULTS_HEAD):
        return "csv"
    if Path(path).suffix.lower() in (".csv", ".parquet"):
        if head is None:
            raise UsageError(f"cannot read the results {path}: make them with "
                             "`chair sweep PROGRAM -o FILE.csv`")
        raise UsageError(f"{path} {_NEITHER}: its first bytes are not chair sweep's")
    return "trace"


def load_rows(path: str) -> list[dict]:
    """The rows of the results at `path`, values as written ("" and None for empty cells).
    UsageError naming the file when it cannot be read or lacks a needed column."""
    if kind(path) == "parquet":
        require_pyarrow(path)
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise UsageError(f"cannot read the results {path}: {exc}") from None
    missing = [name for name in _NEEDED if rows and name not in rows[0]]
    if not rows or missing:
        raise UsageError(f"{path}: not a sweep's results with sessions in it (missing "
                         f"{', '.join(missing) or 'rows'}); make them with `chair sweep -o`")
    return rows


def _number(value) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


@dataclass
class Series:
    """One model and stiffness in one zone's panel: heights (cm, sorted) and, per height,
    the worst sampled and true kPa, the cap and whether any session there violated."""

    model: str
    stiffness: float
    heights: list[float] = field(default_factory=list)
    sampled: list[float | None] = field(default_factory=list)
    true: list[float | None] = field(default_factory=list)
    cap: list[float | None] = field(default_factory=list)
    violating: list[bool] = field(default_factory=list)


def _worst(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def figure_data(rows: list[dict]) -> dict[str, list[Series]]:
    """What `make_figure` draws: per zone (those any session inflated, sampled or true;
    every zone when none did), one Series per (model, stiffness), in the rows' order."""
    zones = sorted({key[4:] for row in rows for key in row if key.startswith("kpa.")})
    if not zones:
        raise UsageError("no airbag pressure in these results: no session reached a status "
                         "report (see each row's outcome and detail)")
    inflated = [z for z in zones if any((_number(row.get(f"kpa.{z}")) or 0) > 0
                                        or (_number(row.get(f"true_kpa.{z}")) or 0) > 0
                                        for row in rows)]
    data: dict[str, list[Series]] = {}
    for zone in inflated or zones:
        groups: dict[tuple[str, float], dict[float, list[dict]]] = {}
        for row in rows:
            key = (str(row["model"]), float(row["stiffness"]))
            groups.setdefault(key, {}).setdefault(float(row["height"]), []).append(row)
        data[zone] = []
        for (model, stiffness), by_height in groups.items():
            series = Series(model, stiffness)
            for height in sorted(by_height):
                at = by_height[height]
                series.heights.append(height)
                series.sampled.append(_worst([_number(r.get(f"kpa.{zone}")) for r in at]))
                series.true.append(_worst([_number(r.get(f"true_kpa.{zone}")) for r in at]))
                series.cap.append(_worst([_number(r.get(f"cap.{zone}")) for r in at]))
                series.violating.append(any(bool(r["violations"]) for r in at))
            data[zone].append(series)
    return data


def make_figure(rows: list[dict]):
    """The figure of `rows` (a matplotlib Figure, not yet saved) and `figure_data(rows)`,
    what it draws."""
    from chair.plot import _require_matplotlib

    _, figure_class = _require_matplotlib()
    data = figure_data(rows)
    columns = min(3, len(data))
    lines = -(-len(data) // columns)
    figure = figure_class(figsize=(5.5 * columns + 1.5, 4.2 * lines + 0.8), layout="constrained")
    axes = figure.subplots(lines, columns, squeeze=False).ravel()
    for ax in axes[len(data):]:
        ax.set_visible(False)
    for ax, (zone, all_series) in zip(axes, data.items(), strict=False):
        _draw_zone(ax, zone, all_series)
    bad = sum(bool(row["violations"]) for row in rows)
    figure.suptitle(f"worst airbag pressure by body height: {len(rows)} sessions, "
                    f"{bad} violating")
    legend: dict = {}  # every panel's entries, once each
    for ax in axes[:len(data)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    figure.legend(list(legend.values()), list(legend), loc="outside lower center",
                  ncols=min(4, len(legend)), fontsize="small")
    return figure, data


def _draw_zone(ax, zone: str, all_series: list[Series]) -> None:
    caps_drawn: set[str] = set()
    for i, s in enumerate(all_series):
        colour, marker = COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]
        name = f"{s.model} k{s.stiffness:g}"
        ax.plot(s.heights, _nan(s.sampled), color=colour, marker=marker, linestyle="-",
                label=f"{name} sampled", gid=f"{zone}|{name}|sampled")
        ax.plot(s.heights, _nan(s.true), color=colour, marker=marker, linestyle="--",
                markerfacecolor="none", markersize=10, label=f"{name} true",
                gid=f"{zone}|{name}|true")
        if s.model not in caps_drawn:
            caps_drawn.add(s.model)
            ax.plot(s.heights, _nan(s.cap), color="black", linewidth=1.5,
                    label=f"cap ({s.model})", gid=f"{zone}|{s.model}|cap")
        bad = [(h, max(v or 0.0, t or 0.0)) for h, v, t, flag in
               zip(s.heights, s.sampled, s.true, s.violating, strict=True) if flag]
        if bad:
            ax.scatter([h for h, _ in bad], [k for _, k in bad], s=180, facecolors="none",
                       edgecolors=VIOLATION_COLOUR, linewidths=2, zorder=5,
                       label="violating session", gid=f"{zone}|{name}|violating")
    ax.set_title(zone)
    ax.set_xlabel("body height (cm)")
    ax.set_ylabel("kPa")
    top = max((v for s in all_series for v in (*s.sampled, *s.true, *s.cap) if v is not None),
              default=1.0)
    ax.set_ylim(0, max(top, 1.0) * 1.12)
    ax.grid(True, alpha=0.3)


def _nan(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def plot_results(path: str, out_path: str) -> None:
    """Draw the sweep's results at `path` and write the picture to `out_path` (.png, .svg,
    .pdf; a PNG carries Software=`chair plot`). UsageError without matplotlib, for results
    that cannot be read, or an image that cannot be written."""
    from chair.plot import _require_matplotlib

    _require_matplotlib()
    rows = load_rows(path)
    try:
        figure, _ = make_figure(rows)
    except (TypeError, ValueError, KeyError) as exc:
        raise UsageError(f"{path}: cannot draw it ({type(exc).__name__}: {exc}): is it a "
                         "sweep's results from `chair sweep -o` of this version?") from exc
    save_figure(figure, out_path)
