"""`chair sweep`: the options turned into sessions, run by an engine (chair.sweep.engines:
this process, a local process pool, or Dask), the rows written and summed up. Exit 0 when
no session violates, Exit.FAULT naming them otherwise; Exit.STOPPED on Ctrl-C, with no
results written."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import urllib.parse
from pathlib import Path

from chair.errors import ChairError, Exit, UsageError
from chair.sweep import engines, grid, results
from chair.sweep.grid import Session
from chair.sweep.worker import Job, session_url


def add_parser(sub, path_type) -> None:
    """Add `chair sweep` to the CLI's subparsers."""
    sweep = sub.add_parser("sweep", help="run programs across bodies, chairs and faults "
                           "in parallel, fast-forwarded; one row per session (docs/sweeps.md)")
    sweep.add_argument("programs", nargs="+", type=path_type, metavar="PROGRAM")
    sweep.add_argument("--heights", default="175", metavar="A:B:STEP",
                       help="body heights in cm, a range or a list (default 175)")
    sweep.add_argument("--stiffness", default="1", metavar="A:B:STEP",
                       help="tissue stiffness scales, a range or a list (default 1)")
    sweep.add_argument("--models", default="reference", metavar="NAME,...",
                       help="simulated chairs (`chair sim --list-chairs`; default reference)")
    sweep.add_argument("--faults", default="none", metavar="SPEC",
                       help=f"none (default), all (each fault at {grid.ALL_FAULTS_AT_S:g} s; "
                            "all@S at S; all@mid at half each program's length), or "
                            "NAME@S,...; none,all for both")
    sweep.add_argument("--seeds", type=int, default=1, metavar="N",
                       help="sessions per combination, each with its own seed (default 1)")
    sweep.add_argument("--seed", type=int, default=0, metavar="S",
                       help="the sweep's seed, from which every session's is derived")
    sweep.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="worker processes (default: all cores); with --scheduler local, "
                            "the cluster's workers")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on Dask (pip install 'massage-chair[cluster]'): local for "
                            "a LocalCluster of --jobs workers, or a running scheduler's "
                            "address such as tcp://HOST:8786 (docs/sweeps.md, Engines)")
    sweep.add_argument("-o", "--output", required=True, type=path_type, metavar="RESULTS",
                       help="results file: .csv, or .parquet (needs pyarrow)")
    sweep.add_argument("--traces", type=path_type, default=None, metavar="DIR",
                       help="keep every session's trace here (failing ones are always kept: "
                            "here, or in RESULTS.traces/ beside the results)")
    sweep.add_argument("--sim-options", default="", metavar="QUERY",
                       help="extra sim:// options for every session, such as "
                            "defect=NAME (for tests)")
    sweep.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from chair.commands import simulated_chairs

    results.check_output(args.output)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: give 1 or more worker processes")
    sessions = grid.sessions(
        list(args.programs), grid.parse_numbers("--heights", args.heights, grid.HEIGHT_CM),
        grid.parse_numbers("--stiffness", args.stiffness, grid.STIFFNESS),
        grid.parse_models(args.models, [c["name"] for c in simulated_chairs()]),
        grid.parse_faults(args.faults), args.seeds, args.seed)
    _check_programs(args.programs)
    _check_sim_options(args.sim_options, sessions[0])
    keep_dir = Path(args.traces) if args.traces else None
    fail_dir = keep_dir or Path(args.output + ".traces")
    _check_directory("--traces" if keep_dir else "-o", fail_dir)
    with tempfile.TemporaryDirectory(prefix="chair-sweep-") as scratch:
        where = keep_dir or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        jobs = [Job(s, str(where / f"{s.name}.jsonl"), keep_dir is not None, args.sim_options)
                for s in sessions]
        try:
            rows = engines.run(jobs, workers=args.jobs or os.cpu_count() or 1,
                               scheduler=args.scheduler, progress=_progress_line())
        except engines.Stopped as stop:
            print(f"\nchair: sweep stopped by the user after {stop.done} of {stop.total} "
                  f"sessions; nothing written to {args.output}", file=sys.stderr)
            return Exit.STOPPED
        if keep_dir is None:
            _move_failing(rows, fail_dir)
    results.write(args.output, rows)
    print(results.summary(rows))
    bad = [row["session"] for row in rows if row["violations"]]
    if bad:
        print(f"chair: {len(bad)} session(s) violate: {', '.join(bad)} (traces in "
              f"{fail_dir})", file=sys.stderr)
        return Exit.FAULT
    return Exit.OK


def _check_programs(programs: list[str]) -> None:
    from chair.program import load_program

    for name in programs:
        load_program(name)  # ProgramError (exit 2) before any session runs


#: sim:// options a sweep sets itself, from its grid (a fault goes in --faults, where the
#: row shows it)
SWEEP_SETS = ("height", "stiffness", "chair", "seed", "clock", "speed", "fault", "truth")


def _check_sim_options(query: str, first: Session) -> None:
    """UsageError (--sim-options) for an option the sweep sets itself or one sim:// refuses
    (the first session's chair opened and closed at once), before any session runs."""
    from chair.ports import open_port

    given = [name for name, _ in urllib.parse.parse_qsl(query, keep_blank_values=True)]
    taken = [name for name in given if name in SWEEP_SETS]
    if taken:
        raise UsageError(f"--sim-options {query}: {', '.join(taken)} is set by the sweep "
                         "itself (--heights, --stiffness, --models, --faults, --seed); "
                         "give it there")
    try:
        open_port(session_url(first, query) + "&clock=virtual", exclusive=False).close()
    except ChairError as exc:
        raise UsageError(f"--sim-options {query}: {exc}") from None


def _check_directory(option: str, path: Path) -> None:
    """UsageError when the traces' directory `path` is a file, or cannot be made."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option}: {path} is a file, not a directory for traces")
    if not path.exists() and not path.parent.is_dir():
        raise UsageError(f"{option}: {path.parent} is not a directory; traces go in {path}")


def _move_failing(rows: list[dict], into: Path) -> None:
    for row in rows:
        if row["trace"]:
            into.mkdir(parents=True, exist_ok=True)
            target = into / Path(row["trace"]).name
            Path(row["trace"]).replace(target)
            row["trace"] = str(target)


def _progress_line() -> engines.Progress:
    """A progress line on stderr (`sweep: 12/72 sessions`) when it is a terminal, ended
    with a newline after the last session."""
    def show(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rsweep: {done}/{total} sessions", end="\n" if done == total else "",
                  file=sys.stderr, flush=True)

    return show
