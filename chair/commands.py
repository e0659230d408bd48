"""What each `chair` command does: one handler per subcommand, given the parsed arguments,
returning the exit code (chair.errors.Exit). The parser and `main` are chair/cli.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

from chair.errors import ChairError, Exit, UsageError
from chair.limits import HOST


def _cmd_run(args: argparse.Namespace) -> int:
    from chair.cautions import acknowledger
    from chair.clock import MonotonicClock
    from chair.display import JsonStream, LiveDisplay, LogListener, StartNotes, Summary
    from chair.program import load_program
    from chair.runner import RunOptions, run
    from chair.shoulder import ShoulderChoice

    program = load_program(args.program)
    summary = Summary()
    listeners = [summary, JsonStream() if args.json else LiveDisplay()]
    if args.fast and not args.json:
        listeners[-1] = StartNotes()  # fast-forward: what it says at the start, the summary
    if args.verbose:
        listeners.append(LogListener())  # -v: states, steps, faults; -vv: a status a second
    options = RunOptions(port=args.port, fast=args.fast, intensity=args.intensity,
                         firm_legs=args.firm_legs,
                         minutes=args.minutes, cautions=tuple(args.caution), trace=args.trace,
                         seed=args.seed, faults=tuple(args.fault),
                         link_faults=tuple(args.link_fault), listeners=listeners,
                         shoulder=ShoulderChoice(args.height, args.shoulder_mm,
                                                 profile=not args.no_profile),
                         baud=args.baud,
                         acknowledge=acknowledger(program, tuple(args.caution),
                                                  fast=args.fast, yes=args.yes,
                                                  out=sys.stderr if args.json else sys.stdout))
    wall_clock = MonotonicClock()  # to report the speed-up, not to control anything
    outcome = run(program, options)
    wall = wall_clock.now()
    if outcome.reason == "declined":
        print(f"chair: not started: {outcome.detail}", file=sys.stderr)
        return outcome.exit_code
    if not args.json:
        print(summary.render(wall if args.fast else None))
    if outcome.reason == "link":
        print(f"chair: {outcome.detail}", file=sys.stderr)
    return outcome.exit_code


def _cmd_validate(args: argparse.Namespace) -> int:
    from chair.caps import check_program
    from chair.program import load_program

    failed = 0
    for name in args.files:
        try:
            program = load_program(name)
            check_program(program)
        except ChairError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
        else:
            print(f"ok    {program.source}: {program.name}, {len(program.steps)} steps, "
                  f"{program.seconds / 60:.1f} min")
    return UsageError.exit_code if failed else Exit.OK


def _cmd_list(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chair.errors import ProgramError
    from chair.program import Program, list_programs

    errors: list[ProgramError] = []  # a broken file is listed as invalid, never a traceback
    programs = list_programs(errors=errors)
    rows = [(p.name, p) for p in programs] + [(Path(e.file).stem, e) for e in errors]
    rows.sort(key=lambda row: row[0])
    if args.json:
        print(json.dumps([{"name": p.name, "title": p.title, "seconds": p.seconds,
                           "source": p.source, "valid": True} if isinstance(p, Program) else
                          {"name": name, "source": p.file, "valid": False, "line": p.line,
                           "error": str(p)} for name, p in rows]))
    else:
        for name, p in rows:
            print(f"{name:<12} {p.seconds / 60:5.1f} min  {p.title}" if isinstance(p, Program)
                  else f"{name:<12} invalid    {p}")
    # exit 2 (a bad program file, as `chair validate`) so scripts notice; the rest is listed
    return ProgramError.exit_code if errors else 0


def _cmd_show(args: argparse.Namespace) -> int:
    from chair.caps import check_cautions
    from chair.program import load_program, render_timeline

    program = load_program(args.program)
    check_cautions(tuple(args.caution))  # a "do not use" condition: exit 2, as `chair run`
    if args.port:  # the plan for the chair on that port: what it lacks is skipped
        from chair.fit import chair_on, fit, render_fit

        chair = chair_on(args.port, baud=args.baud)
        fitted = fit(program, chair)  # none of it on this chair: ProgramError, exit 2
        print(render_fit(chair, fitted, args.port))
        program = fitted.program
    print(render_timeline(program, tuple(args.caution)))
    return 0


def _cmd_diagram(args: argparse.Namespace) -> int:
    from chair.controller import diagram

    print(diagram())
    return 0


def _cmd_limits(args: argparse.Namespace) -> int:
    from chair.limits import DEVICE_TABLE, DEVICE_TABLE_CRC

    if args.json:
        print(json.dumps({"device": {lim.name: lim.value for lim in DEVICE_TABLE},
                          "host": HOST,
                          "device_table": [{"name": lim.name, "value": lim.value,
                                            "unit": lim.unit, "source": lim.source,
                                            "meaning": lim.meaning} for lim in DEVICE_TABLE],
                          "device_table_crc": f"{DEVICE_TABLE_CRC:04X}"}, indent=2))
        return 0
    print(f"{'device limit':<28} {'value':>8}  {'unit':<6} source")
    for lim in DEVICE_TABLE:
        print(f"{lim.name:<28} {lim.value:>8g}  {lim.unit:<6} {lim.source}")
    print(f"\n{'controller cap':<28} {'value':>8}")
    for name, value in HOST.items():
        print(f"{name:<28} {value:>8g}")
    print(f"\ntable CRC {DEVICE_TABLE_CRC:04X}; sources and rules: docs/safety.md. "
          "--intensity and --caution lower the controller's caps for a run.")
    return 0


def simulated_chairs() -> list[dict]:
    """The chair descriptions the simulator offers (`sim://?chair=NAME`): the firmware
    package's chairs/*.json, read as data (the host never imports the firmware's code)."""
    spec = importlib.util.find_spec("firmware")
    folders = list(spec.submodule_search_locations or ()) if spec else []
    found = []
    for path in sorted(p for folder in folders for p in Path(folder, "chairs").glob("*.json")):
        chair = json.loads(path.read_text(encoding="utf-8"))
        found.append({"name": path.stem, "about": chair.get("about", ""),
                      "zones": chair.get("zones", []), "heaters": chair.get("heaters", []),
                      "axes": chair.get("axes", []), "sensors": chair.get("sensors", []),
                      "track_mm": chair.get("track_mm")})
    return found


def _cmd_sim(args: argparse.Namespace) -> int:
    from chair import serve
    from chair.runner import check_faults

    if args.list_chairs:
        chairs = simulated_chairs()
        if args.json:
            print(json.dumps(chairs, indent=1))
        for chair in [] if args.json else chairs:
            print(f"{chair['name']:<10} {chair['about']}")
            print(f"{'':<10} zones {', '.join(chair['zones'])}; heaters "
                  f"{', '.join(chair['heaters']) or 'none'}; drives {', '.join(chair['axes'])}"
                  f"; sensors {', '.join(chair['sensors']) or 'none'}; track "
                  f"{chair['track_mm']:g} mm")
        return Exit.OK
    check_faults(tuple(args.fault))  # a bad --fault is an argument error (exit 2)
    query = [f"height={args.height}", f"seed={args.seed}", *(f"fault={f}" for f in args.fault)]
    if args.micropython:
        query.append("micropython=1")
    if args.chair is not None:
        query.append(f"chair={args.chair}")  # the sim:// handler checks the name
    url = "sim://?" + "&".join(query)
    if args.tcp:
        try:
            host, port = serve.parse_address(args.tcp)
        except UsageError as exc:
            raise UsageError(f"--tcp {exc}") from None
        serve.serve_tcp(url, host, port, baudrate=args.baud,
                        on_ready=lambda h, p: print(f"serving the simulated chair on "
                                                    f"{serve.socket_url(h, p)} (Ctrl-C stops)",
                                                    flush=True))
    else:
        serve.serve_pty(url, baudrate=args.baud, on_ready=lambda path: print(
            f"simulated chair on {path}\nopen it with: python -m serial.tools.miniterm "
            f"{path} {args.baud}   (Ctrl-C stops)", flush=True))
    return 0


def _cmd_faults(args: argparse.Namespace) -> int:
    from chair.faults import FAULTS, LINK_EVENTS, LINK_RATES, LINK_TIMES

    if args.link:
        rows = {**{f"{n}=R": t for n, t in LINK_RATES.items()},
                **{f"{n}=MS": t for n, t in LINK_TIMES.items()},
                **{f"{n}@S": t for n, t in LINK_EVENTS.items()}, "seed=N": "random seed"}
        if args.json:
            print(json.dumps([{"spec": k, "description": v} for k, v in rows.items()],
                             indent=2))
            return 0
        for spec, text in rows.items():
            print(f"{spec:<16} {text}")
        print("\nrates and times may be prefixed rx. (device to host) or tx. (host to device)")
        return 0
    if args.json:
        print(json.dumps([{"name": f.name, "where": f.where, "description": f.description}
                          for f in FAULTS.values()], indent=2))
        return 0
    for fault in FAULTS.values():  # once: the name and what it does (--json for scripts)
        print(f"{fault.name:<22} {fault.description}")
    print("\ninject one with `chair run PROGRAM --fast --fault NAME@SECONDS` (repeatable); "
          "`chair faults --link` lists the link faults")
    return 0


def _cmd_conformance(args: argparse.Namespace) -> int:
    from chair.conformance import run_conformance

    return run_conformance(args.port, json_out=args.json, only=args.only, baud=args.baud)


def _cmd_reset(args: argparse.Namespace) -> int:
    from chair.reset import main as reset_main

    return reset_main(args.port, json_out=args.json, baud=args.baud)


def _cmd_plot(args: argparse.Namespace) -> int:
    from chair.plot import plot_trace
    from chair.plot_files import check_output, default_output
    from chair.sweep.plot import kind, plot_results
    from chair.trace_check import check_trace_input

    check_trace_input(args.trace)  # a directory, FIFO or device: refused before anything
    draw = plot_trace if kind(args.trace) == "trace" else plot_results
    output = args.output or default_output(args.trace)
    check_output(args.trace, output, chosen=args.output is not None)
    replaced = os.path.exists(output)
    draw(args.trace, output)
    print(f"wrote {output}" + (" (replacing the file that was there)" if replaced else ""))
    return 0


def _cmd_ports(args: argparse.Namespace) -> int:
    from chair.ports import describe_ports

    ports = describe_ports()
    if args.json:
        print(json.dumps(ports, indent=2))
        return 0
    if not ports:
        print("no serial ports found (the simulated chair is always there as sim://)")
        return 0
    print(f"  {'device':<20} {'usb id':<10} description")
    for port in ports:
        mark = "*" if port["likely_bridge"] else " "
        what = port["description"] + (f" ({port['bridge']})" if port["bridge"] else "")
        print(f"{mark} {port['device']:<20} {port['vid_pid'] or '-':<10} {what}")
    bridges = [port["device"] for port in ports if port["likely_bridge"]]
    if bridges:
        print(f"* a likely chair bridge: check it with `chair conformance {bridges[0]}` "
              "before anyone sits down")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("aiohttp") is None:
        raise UsageError("chair serve needs the serve extra: pip install 'massage-chair[serve]' "
                         "(in a clone: pip install -e '.[serve]')")
    from chair.service.serve_cmd import cmd_serve

    return cmd_serve(args)
