"""The `chair` command: run programs, check files and devices, serve the simulated chair.

Exit codes: chair.errors.Exit (0 done, 2 bad program, arguments or file, 3 safety fault,
4 link error, 130 stopped by the user, 1 anything unexpected), the same for every command.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from chair import __version__
from chair.commands import (
    _cmd_conformance,
    _cmd_diagram,
    _cmd_faults,
    _cmd_limits,
    _cmd_list,
    _cmd_plot,
    _cmd_ports,
    _cmd_reset,
    _cmd_run,
    _cmd_serve,
    _cmd_show,
    _cmd_sim,
    _cmd_validate,
    simulated_chairs,
)
from chair.errors import ChairError, Exit, UsageError
from chair.limits import HOST

__all__ = ["build_parser", "main", "simulated_chairs"]

log = logging.getLogger("chair")


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


def _address(text: str) -> str:
    """An argparse type for HOST:PORT ([IPV6]:PORT; port 0 picks a free one)."""
    from chair.serve import parse_address

    try:
        parse_address(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def _speed(text: str) -> float:
    """An argparse type for `--speed`: a number from 1 to 100."""
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not 1 <= speed <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed: give a number from 1 "
                                         "(real time, the default) to 100")
    return speed


def _token(text: str) -> str:
    """An argparse type for `--token`: at least 8 characters, none of them spaces."""
    if len(text) < 8 or any(c.isspace() or not c.isprintable() for c in text):
        raise argparse.ArgumentTypeError("a token is at least 8 characters, without spaces "
                                         "(leave --token out to have one generated)")
    return text


def _mqtt_node(text: str) -> str:
    """An argparse type for `--mqtt-node`: what MqttBridge takes as its node id."""
    from chair.service.mqtt_discovery import Topics

    try:
        Topics(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


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

    plot = sub.add_parser("plot", help="draw a trace, or a sweep's results, as one figure "
                          "(needs the plot extra)")
    plot.add_argument("trace", type=_path, metavar="TRACE|RESULTS",
                      help="a JSON Lines trace from `chair run --trace`, or a sweep's results "
                           "(.csv or .parquet from `chair sweep -o`: worst pressure by body "
                           "height and zone against the caps)")
    plot.add_argument("-o", "--output", default=None, type=_path,
                      help="image file to write, .png, .svg or .pdf (default: the input's "
                           "name ending in .png, beside it; never over a file chair plot "
                           "did not draw)")
    plot.set_defaults(func=_cmd_plot)

    serve = sub.add_parser("serve", help="hold a chair and serve it: a web page, JSON-RPC "
                           "over a websocket (docs/api.md) and Home Assistant over MQTT")
    serve.add_argument("--port", default="sim://", type=_path, metavar="URL",
                       help="pyserial URL or device of the chair (default sim://, the "
                            "simulated chair, in real time)")
    serve.add_argument("--http", default="127.0.0.1:8080", type=_address, metavar="HOST:PORT",
                       help="where to serve the page and the API (default 127.0.0.1:8080; "
                            "port 0: any free port; [::1]:PORT for IPv6; any address but a "
                            "loopback one needs a token)")
    serve.add_argument("--mqtt", default=None, type=_address, metavar="HOST:PORT",
                       help="also bridge to this MQTT broker for Home Assistant")
    serve.add_argument("--mqtt-node", default="chair", type=_mqtt_node, metavar="NAME",
                       help="this chair's name in the MQTT topics, chair/NAME/... (default "
                            "chair); each chair on one broker needs its own")
    serve.add_argument("--speed", type=_speed, default=1.0, metavar="N",
                       help="run the simulated chair N times faster, for demos (1..100)")
    serve.add_argument("--token", type=_token, default=None, metavar="T",
                       help="require this token on every request (generated and printed "
                            "once when serving a non-loopback address without one)")
    serve.add_argument("--data", type=_path, default=None, metavar="DIR",
                       help="where session traces go (default "
                            "$XDG_DATA_HOME/chair/sessions)")
    serve.add_argument("--seed", type=int, default=None, help="simulator seed")
    _add_baud(serve, "of --port")
    serve.set_defaults(func=_cmd_serve)

    ports = sub.add_parser("ports", help="list serial ports, marking a likely chair bridge")
    ports.add_argument("--json", action="store_true")
    ports.set_defaults(func=_cmd_ports)

    from chair.sweep.cli import add_parser as add_sweep

    add_sweep(sub, _path)
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
