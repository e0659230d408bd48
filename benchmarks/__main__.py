"""``python -m benchmarks [--json] [--quick] [--only NAME ...]``: every target, one table."""

from __future__ import annotations

import argparse
import json
import sys
import time

from benchmarks import codec, fastforward, reactions, realtime, scaling, sweep, wire
from benchmarks.common import Row, load_average, machine

#: The groups, in the order they run and print.
GROUPS = ("fastforward", "codec", "memory", "reactions", "realtime", "wire", "scaling",
          "sweep")


def collect(quick: bool, only: tuple[str, ...] = GROUPS, progress=None) -> list[Row]:
    """Run the chosen groups; return their rows in table order."""
    say = progress or (lambda text: None)
    rows: list[Row] = []
    capture = None
    for group in GROUPS:
        if group not in only:
            continue
        say(f"running {group} ...")
        if group in ("codec", "wire") and capture is None:
            capture = wire.capture_session(minutes=1.0 if quick else None)
        if group == "fastforward":
            rows += fastforward.run(quick)
        elif group == "codec":
            rows += codec.run(quick, capture)
        elif group == "memory":
            rows += scaling.memory(quick)
        elif group == "reactions":
            rows += reactions.run(quick)
        elif group == "realtime":
            rows += realtime.run(quick)
        elif group == "wire":
            rows += wire.run(quick, capture)
        elif group == "scaling":
            rows += scaling.linearity(quick) + scaling.parallel(quick)
        elif group == "sweep":
            rows += sweep.run(quick)
    return rows


def table(rows: list[Row]) -> str:
    """The rows as a fixed-width table (with the load average each was measured at), then
    each row's note."""
    heads = ("figure", "target", "measured", "load", "")
    cells = [(r.figure, r.target, r.measured, f"{r.load:.2f}", r.verdict) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip()
            for cell in cells]
    notes = [f"  {r.key}: {r.note}" for r in rows if r.note]
    return "\n".join(out + (["", "notes:", *notes] if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--json", action="store_true", help="the figures as one JSON object")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: checks that everything runs; timings mean nothing")
    parser.add_argument("--only", action="append", choices=GROUPS, metavar="GROUP",
                        help=f"run only this group (repeatable): {', '.join(GROUPS)}")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_before = load_average()
    progress = None if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    rows = collect(args.quick, tuple(args.only or GROUPS), progress)
    info = machine()
    info["load_average"] = [load_before, load_average()]  # other work on the machine, start and end
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({"machine": info, "quick": args.quick, "seconds": round(elapsed, 1),
                          "rows": [r.as_dict() for r in rows]}, indent=1))
    else:
        print(f"machine: {info['cpu']}, {info['cores']} cores, {info['system']}, "
              f"{info['implementation']} {info['python']}, numpy {info['numpy']}; load average "
              f"{info['load_average'][0]:.2f} at the start, {info['load_average'][1]:.2f} at the "
              "end" + ("  (--quick: sizes too small for the timings to mean anything)"
                       if args.quick else ""))
        print(table(rows))
        print(f"\n{sum(r.ok is True for r in rows)} pass, {sum(r.ok is False for r in rows)} "
              f"fail; {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
