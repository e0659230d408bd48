"""The `chair` command: run programs, check files and devices, serve the simulated chair.

Exit codes: chair.errors.Exit (0 done, 2 bad program, arguments or file, 3 safety fault,
4 link error, 130 stopped by the user, 1 anything unexpected), the same for every command.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from chair import __version__
from chair.errors import ChairError, Exit, UsageError
from chair.limits import HOST

log = logging.getLogger("chair")


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
    from chair.limits import DEVICE_TABLE, DEVICE_TABLE_CRC, HOST

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
    from chair.trace_check import check_trace_input

    check_trace_input(args.trace)  # a directory, FIFO or device: refused before anything
    output = args.output or default_output(args.trace)
    check_output(args.trace, output, chosen=args.output is not None)
    replaced = os.path.exists(output)
    plot_trace(args.trace, output)
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


def _path(text: str) -> str:
    """An argparse type for a file or device path: an empty one is a usage error (exit 2),
    never silently the same as leaving the option out."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path is not a file; name one")
    return text


def _baud(text: str) -> int:
    """An argparse type for `--baud`: a whole number of bits per second above zero."""
    try:
        baud = int(text)
    except ValueError:
        baud = 0
    if baud <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a baud rate: give a whole number "
                                         "above 0, such as 115200 (the default) or 57600")
    return baud


def _add_baud(parser: argparse.ArgumentParser, what: str) -> None:
    from chair.ports import DEFAULT_BAUD

    parser.add_argument("--baud", type=_baud, default=DEFAULT_BAUD, metavar="N",
                        help=f"line rate {what}, bits per second (default {DEFAULT_BAUD}; "
                             "the bridge's firmware sets it)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chair", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"chair {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log to stderr: -v states, steps and faults; -vv a status line "
                             "a second; -vvv the state-machine library too")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a program on a chair (the simulated one by default)")
    run.add_argument("program", type=_path, help="program name (see `chair list`) or TOML file")
    run.add_argument("--port", default="sim://", type=_path, help="pyserial URL or device (default sim://)")
    run.add_argument("--fast", action="store_true",
                     help="fast-forward on the virtual clock (simulated chair only)")
    run.add_argument("--intensity", type=int, default=5, metavar="N",
                     help="cap airbag levels and roller depth at N (1..5, default 5)")
    run.add_argument("--firm-legs", action="store_true",
                     help=f"calf and foot airbags up to the controller's cap "
                          f"({HOST['airbag_kpa_max.calves']:g} kPa) instead of the gentle "
                          f"default ({HOST['airbag_kpa_default.calves']:g} kPa); not with "
                          "--caution neuropathy")
    run.add_argument("--minutes", type=float, default=None, metavar="M",
                     help="session timer (default 15, at most 30)")
    run.add_argument("--caution", action="append", default=[], metavar="NAME",
                     help="a condition you have (repeatable; `chair show PROGRAM` lists "
                          "them): herniated-disc, osteoporosis, neuropathy lower the caps; "
                          "a 'do not use' condition such as thrombosis refuses the run")
    run.add_argument("--yes", action="store_true",
                     help="acknowledge the cautions without the question a real-time run "
                          "asks first (for scripts; they are still printed)")
    run.add_argument("--trace", metavar="FILE", type=_path, help="write the JSON Lines trace here")
    run.add_argument("--seed", type=int, default=None, help="simulator seed")
    run.add_argument("--fault", action="append", default=[], metavar="NAME@S",
                     help="inject a simulated fault at S seconds (repeatable)")
    run.add_argument("--link-fault", action="append", default=[], metavar="SPEC",
                     help="spoil the link (repeatable): drop=R, corrupt=R, dup=R, delay=R, "
                          "delay_ms=MS, latency_ms=MS (rx./tx. prefix for one direction), "
                          "seed=N, vanish@S, silence@S, mute@S; see `chair faults --link`")
    run.add_argument("--json", action="store_true", help="print trace records, not text")
    shoulder = run.add_mutually_exclusive_group()
    shoulder.add_argument("--height", type=float, default=None, metavar="CM",
                          help="your height in cm (150..210), for a chair whose roller "
                               "senses no force: places the shoulder line instead of the "
                               "body scan (refused on a chair that scans)")
    shoulder.add_argument("--shoulder-mm", type=float, default=None, metavar="N",
                          help="the shoulder line in mm from the top of the track, for a "
                               "chair whose roller senses no force (refused on one that "
                               "scans)")
    run.add_argument("--no-profile", action="store_true",
                     help="neither read nor write the user profile that remembers "
                          "--height or --shoulder-mm per port "
                          "($XDG_CONFIG_HOME/chair/profile.json)")
    _add_baud(run, "of --port")
    run.set_defaults(func=_cmd_run)

    validate = sub.add_parser("validate", help="check program files")
    validate.add_argument("files", nargs="+", metavar="FILE", type=_path)
    validate.set_defaults(func=_cmd_validate)

    lst = sub.add_parser("list", help="list the programs")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_cmd_list)

    show = sub.add_parser("show", help="show a program's timeline by zone and the cautions "
                          "`chair run` prints first")
    show.add_argument("program", type=_path)
    show.add_argument("--caution", action="append", default=[], metavar="NAME",
                      help="as for `chair run`: show what it changes")
    show.add_argument("--port", metavar="URL",
                      help="show the plan for the chair on this port (asks its device "
                           "which zones, heaters and drives it has; nothing moves)")
    _add_baud(show, "of --port")
    show.set_defaults(func=_cmd_show)

    sub.add_parser("diagram", help="print the controller's state diagram (mermaid)") \
        .set_defaults(func=_cmd_diagram)

    limits = sub.add_parser("limits", help="the limits table in force")
    limits.add_argument("--json", action="store_true")
    limits.set_defaults(func=_cmd_limits)

    sim = sub.add_parser("sim", help="serve the simulated chair on a pty or TCP")
    where = sim.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="on a pseudo-terminal (default)")
    where.add_argument("--tcp", metavar="HOST:PORT",
                       help="on TCP, for socket://HOST:PORT ([::1]:PORT for IPv6; a "
                            "non-loopback address is reachable by anyone: no authentication)")
    sim.add_argument("--height", type=float, default=175.0, help="person's height in cm")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--fault", action="append", default=[], metavar="NAME@S")
    sim.add_argument("--micropython", action="store_true",
                     help="run the firmware in real MicroPython (Node.js and `npm ci`)")
    sim.add_argument("--chair", metavar="NAME",
                     help="chair description to simulate (a file in firmware/chairs: "
                          "reference, the default, or compact; --list-chairs lists them)")
    sim.add_argument("--list-chairs", action="store_true",
                     help="list the chair descriptions the simulator offers, and exit")
    sim.add_argument("--json", action="store_true", help="with --list-chairs: as JSON")
    _add_baud(sim, "of the pty it serves")
    sim.set_defaults(func=_cmd_sim)

    faults = sub.add_parser("faults", help="list the faults the simulator can inject")
    faults.add_argument("--json", action="store_true")
    faults.add_argument("--link", action="store_true",
                        help="list the link faults of `chair run --link-fault` instead")
    faults.set_defaults(func=_cmd_faults)

    conformance = sub.add_parser("conformance",
                                 help="check that a device honours the protocol's safety rules")
    conformance.add_argument("port", type=_path, help="pyserial URL or device, e.g. /dev/ttyACM0 or sim://")
    conformance.add_argument("--json", action="store_true", help="results as JSON")
    conformance.add_argument("--only", action="append", metavar="CHECK",
                             help="run only this check (repeatable)")
    _add_baud(conformance, "of the port")
    conformance.set_defaults(func=_cmd_conformance)

    reset = sub.add_parser("reset", help="clear a chair's latched faults (never starts "
                           "motion; refused while a fault condition is present)")
    reset.add_argument("--port", default="sim://", type=_path,
                       help="pyserial URL or device (default sim://)")
    reset.add_argument("--json", action="store_true", help="the report as JSON")
    _add_baud(reset, "of --port")
    reset.set_defaults(func=_cmd_reset)

    plot = sub.add_parser("plot", help="draw a trace as one figure (needs the plot extra)")
    plot.add_argument("trace", type=_path, help="a JSON Lines trace from `chair run --trace`")
    plot.add_argument("-o", "--output", default=None, type=_path,
                      help="image file to write, .png, .svg or .pdf (default: the trace's "
                           "name ending in .png, beside it; never over a file chair plot "
                           "did not draw)")
    plot.set_defaults(func=_cmd_plot)

    ports = sub.add_parser("ports", help="list serial ports, marking a likely chair bridge")
    ports.add_argument("--json", action="store_true")
    ports.set_defaults(func=_cmd_ports)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * args.verbose,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.verbose < 3:  # transitions narrates every callback at INFO: only with -vvv
        logging.getLogger("transitions").setLevel(logging.WARNING)
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:  # signal handlers belong to the main thread (tests call main elsewhere)
        previous = signal.signal(signal.SIGTERM, _terminate)  # `kill`, systemd: as Ctrl-C
    try:
        return args.func(args)
    except ChairError as exc:
        print(f"chair: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return Exit.STOPPED
    except BrokenPipeError:  # `chair limits | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM is a stop asked for from outside: handled as Ctrl-C (a run parks the chair,
    ends its trace and exits 130; a second one stops it at once)."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
