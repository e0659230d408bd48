"""The rows of a sweep written as CSV (or Parquet, with pyarrow), and its summary table.

Columns: the parameters first (session, program, height, stiffness, model, fault, replica,
seed), then outcome, exit_code, detail, every `kpa.ZONE`, `cap.ZONE` and `true_kpa.ZONE`
seen (sorted), heat_c, heat_cap, true_heat_c, every `force_n.LANDMARK` seen (sorted),
safe_s, violations (joined with "; ") and trace.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from chair.errors import UsageError

#: How a sweep's CSV begins (its first column's name): a file that begins otherwise is
#: not ours to overwrite.
RESULTS_HEAD = b"session,"
FIRST = ["session", "program", "height", "stiffness", "model", "fault", "replica", "seed",
         "outcome", "exit_code", "detail"]
HEAT = ["heat_c", "heat_cap", "true_heat_c"]
LAST = ["safe_s", "violations", "trace"]


def require_pyarrow(where: str, instead: str = "") -> None:
    """UsageError naming `where` when pyarrow (for Parquet) is not installed."""
    if importlib.util.find_spec("pyarrow") is None:
        raise UsageError(f"{where}: Parquet needs the pyarrow package (pip install pyarrow), "
                         f"which is not installed{instead}")


def check_output(path: str) -> None:
    """UsageError (-o), before any session runs, for a name that is neither .csv nor
    .parquet, .parquet without pyarrow, a directory that does not exist, or an existing
    file that is not a sweep's results (never overwritten: only results are replaced)."""
    if path.endswith(".parquet"):
        require_pyarrow(f"-o {path}", "; or write .csv")
    elif not path.endswith(".csv"):
        raise UsageError(f"-o {path}: write results to a .csv (or .parquet) file")
    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"-o {path}: {target.parent} is not a directory")
    if target.is_dir():
        raise UsageError(f"-o {path}: a directory, not a results file")
    if target.exists():
        with open(target, "rb") as existing:
            head = existing.read(len(RESULTS_HEAD))
        if head and head != RESULTS_HEAD[:len(head)] and not head.startswith(b"PAR1"):
            raise UsageError(f"-o {path}: a file that is not a sweep's results is there; "
                             "it is not overwritten (choose another name)")


def columns(rows: list[dict]) -> list[str]:
    """The columns of `rows`, in the order of the module docstring."""
    keys = {key for row in rows for key in row}
    zones = sorted(k for k in keys if k.startswith(("kpa.", "cap.", "true_kpa.")))
    marks = sorted(k for k in keys if k.startswith("force_n."))
    return FIRST + zones + HEAT + marks + LAST


def flat(row: dict) -> dict:
    return {**row, "violations": "; ".join(row["violations"])}


def write(path: str, rows: list[dict]) -> None:
    """Write `rows` to `path` (.csv, or .parquet: see check_output)."""
    names = columns(rows)
    flat_rows = [flat(row) for row in rows]
    if path.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({n: [r.get(n) for r in flat_rows] for n in names}), path)
        return
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(flat_rows)


def _nearest_cap(row: dict) -> str | None:
    """The zone whose worst sampled kPa came nearest its cap (the largest share of it), or
    None when no bag was inflated."""
    shares = [(row[k] / row[f"cap.{k[4:]}"], k[4:]) for k in row
              if k.startswith("kpa.") and row[k] and row.get(f"cap.{k[4:]}")]
    return max(shares)[1] if shares else None


def summary(rows: list[dict]) -> str:
    """A table a line per session (worst sampled kPa against the cap, the worst true kPa of
    that zone, heat, time to safe, verdict) and a closing count."""
    width = max([48, *(len(row["session"]) for row in rows)])
    lines = [f"{'session':<{width}} {'outcome':<9} {'exit':>4} {'worst kPa/cap':>16} "
             f"{'true':>6} {'heat °C':>8} {'safe s':>7}  verdict"]
    for row in rows:
        worst = _nearest_cap(row)
        kpa = f"{row['kpa.' + worst]:g}/{row['cap.' + worst]:g} {worst}" if worst else "-"
        true = row.get(f"true_kpa.{worst}") if worst else None
        true = "-" if true is None else f"{true:g}"
        heat = "-" if row["heat_c"] is None else f"{row['heat_c']:g}"
        safe = "-" if row["safe_s"] is None else f"{row['safe_s']:g}"
        verdict = "VIOLATES: " + "; ".join(row["violations"]) if row["violations"] else "ok"
        lines.append(f"{row['session']:<{width}} {row['outcome']:<9} {row['exit_code']:>4} "
                     f"{kpa:>16} {true:>6} {heat:>8} {safe:>7}  {verdict}")
    bad = sum(bool(row["violations"]) for row in rows)
    refused = sum(row["outcome"] == "refused" and not row["violations"] for row in rows)
    lines.append(f"{len(rows)} sessions, {bad} violating"
                 + (f", {refused} refused before anything moved (see detail)" if refused
                    else ""))
    return "\n".join(lines)
