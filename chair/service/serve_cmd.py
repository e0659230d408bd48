"""`chair serve`: hold one chair (chair.service.host.ChairHost) and serve it over HTTP (the
page and the JSON-RPC websocket, chair/service/web.py) and, with ``--mqtt``, to an MQTT
broker for Home Assistant (chair/service/mqtt.py), until Ctrl-C or SIGTERM parks the chair.

Exit codes (chair.errors.Exit): 130 after Ctrl-C or SIGTERM (the chair parked, its session's
trace ended); 2 for a bad option or an ``--http`` address that cannot be listened on (the
message names the option); 4 when the chair's port cannot be opened.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from chair.errors import Exit, UsageError
from chair.service.api import Host, ServeOptions

log = logging.getLogger("chair.service.serve")

DEFAULT_HTTP = "127.0.0.1:8080"
#: How long a stopping server waits for requests in flight, seconds.
SHUTDOWN_S = 2.0


def token_required(address: str) -> bool:
    """True when serving on `address` (an IP address, as bound) needs a token: any address
    but a loopback one (0.0.0.0 and :: are every address, so they need one too)."""
    try:
        return not ipaddress.ip_address(address.partition("%")[0]).is_loopback
    except ValueError:
        return True  # not an IP address: assume it is reachable


def http_url(address: str, port: int, token: str | None) -> str:
    """The address to open in a browser (an unspecified address as this machine's name)."""
    ip = ipaddress.ip_address(address.partition("%")[0])
    if ip.is_unspecified:
        name = socket.gethostname()
    else:
        name = f"[{address}]" if ip.version == 6 else address
    return f"http://{name}:{port}/" + (f"?token={token}" if token else "")


def _listen(text: str) -> socket.socket:
    from chair.serve import listen, parse_address

    try:
        host, port = parse_address(text)
        sock = listen(host, port)
    except UsageError as exc:
        raise UsageError(f"--http {exc}") from exc
    sock.listen(128)  # listen() readies one TCP client; a web server takes many
    return sock


def cmd_serve(args: argparse.Namespace, *, make_host: Callable[[ServeOptions], Any] | None = None,
              out: TextIO | None = None, stop: threading.Event | None = None) -> int:
    """Run `chair serve` with the parsed `args` until Ctrl-C, SIGTERM or `stop` is set.

    `make_host` builds the Host from the options (default ChairHost); it must have open()
    and close(). Returns Exit.STOPPED once the chair is parked.
    """
    out = out or sys.stdout
    if args.mqtt:
        _mqtt_bridge()  # a missing bridge is a usage error before anything opens
        from chair.service.mqtt import parse_broker
        parse_broker(args.mqtt)  # and so is a broker address without its port
    sock = _listen(args.http)
    bound, port = sock.getsockname()[:2]
    token = args.token
    generated = token is None and token_required(bound)
    if generated:
        token = secrets.token_urlsafe(18)
    options = ServeOptions(port=args.port, baud=args.baud, speed=args.speed,
                           data_dir=Path(args.data) if args.data else None, seed=args.seed)
    if make_host is None:
        from chair.service.host import ChairHost as make_host
    try:
        host = make_host(options)
    except BaseException:
        sock.close()
        raise
    opened = False
    try:
        host.open()  # LinkError (exit 4) when the port cannot be opened
        opened = True
        _announce(out, host, options, http_url(bound, port, token), generated, args.mqtt)
        asyncio.run(_serve(host, sock, token=token, mqtt=args.mqtt, stop=stop, out=out,
                           mqtt_node=getattr(args, "mqtt_node", "chair")))
        opened = False  # parked by _serve
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if opened:
            print("chair serve: stopping: parking the chair", file=out, flush=True)
        host.close()  # idempotent; also after a failed or interrupted open()
    return Exit.STOPPED


def _announce(out: TextIO, host: Host, options: ServeOptions, url: str, generated: bool,
              mqtt: str | None) -> None:
    info = host.server_info()
    data = info.get("data_dir") or options.data_dir or "the default data directory"
    chair = "the simulated chair" if options.port.startswith("sim://") else "the chair"
    speed = f", {options.speed:g} times faster" if options.speed != 1 else ""
    print(f"chair serve: {chair} on {options.port}{speed}", file=out)
    print(f"open {url}", file=out)
    if generated:
        print("  (not a loopback address: every request needs this token, shown only now; "
              "give --token to choose one)", file=out)
    print(f"sessions in {data}", file=out)
    if mqtt:
        print(f"MQTT broker {mqtt} (Home Assistant discovery)", file=out)
    print("Ctrl-C parks the chair and stops", file=out, flush=True)


def _mqtt_bridge() -> Any:
    try:
        from chair.service.mqtt import MqttBridge
    except ImportError as exc:
        raise UsageError(f"--mqtt: the MQTT bridge cannot be loaded ({exc}); install "
                         "'massage-chair[serve]'") from exc
    return MqttBridge


async def _serve(host: Host, sock: socket.socket, *, token: str | None,
                 mqtt: str | None, stop: threading.Event | None,
                 out: TextIO | None = None, mqtt_node: str = "chair") -> None:
    """Serve until a signal (or `stop`), then park the chair (`host.close`) while the page,
    the API and the MQTT bridge still serve (no session starts; the emergency stop works),
    then stop serving. A second signal during the park stops the chair at once."""
    from aiohttp import web

    from chair.service.web import make_app

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    signals: list[int] = []  # one entry per SIGINT or SIGTERM received

    def on_signal() -> None:
        signals.append(1)
        if len(signals) == 1:
            done.set()
        else:  # a second one: stop at once, as `chair run`'s second Ctrl-C does
            loop.run_in_executor(None, _stop_at_once, host)

    runner = web.AppRunner(make_app(host, token=token), access_log=None,
                           shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    tasks: list[asyncio.Task[Any]] = []
    if mqtt:
        bridge = _mqtt_bridge()(host, mqtt, token=token, node_id=mqtt_node)
        tasks.append(asyncio.create_task(bridge.run(), name="mqtt"))
        tasks[-1].add_done_callback(_report)
    if stop is not None:
        tasks.append(asyncio.create_task(asyncio.to_thread(stop.wait)))
        tasks[-1].add_done_callback(lambda _: done.set())
    with _signals(loop, on_signal):
        try:
            await done.wait()
            if out is not None:
                print("chair serve: stopping: parking the chair", file=out, flush=True)
            await asyncio.to_thread(_park, host, "signal" if signals else "close")
        finally:
            if stop is not None:
                stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runner.cleanup()


def _park(host: Host, by: str) -> None:
    """Park the chair: `host.close(by)` (ChairHost.close, in a worker thread)."""
    host.close(by)  # type: ignore[attr-defined]


def _stop_at_once(host: Host) -> None:
    """The emergency stop for a second signal (the device's stop byte, the trace's end)."""
    try:
        host.estop(by="signal")
    except Exception as exc:  # the byte may not have gone out: say so, go on
        log.error("the emergency stop failed: %s", exc)
        print(f"chair serve: the emergency stop failed: {exc}", file=sys.stderr)


def _report(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the MQTT bridge stopped: %s", task.exception())
        print(f"chair serve: the MQTT bridge stopped: {task.exception()}", file=sys.stderr)


@contextlib.contextmanager
def _signals(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]):
    """Ctrl-C and SIGTERM call `handler` on the loop (main thread only); the handlers in
    place before are put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kinds = (signal.SIGINT, signal.SIGTERM)
    before = {kind: signal.getsignal(kind) for kind in kinds}
    try:
        for kind in kinds:
            loop.add_signal_handler(kind, handler)
    except NotImplementedError:  # Windows: Ctrl-C raises KeyboardInterrupt, as before
        pass
    try:
        yield
    finally:
        for kind in kinds:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(kind)
            signal.signal(kind, before[kind])
