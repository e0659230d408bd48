"""Serve any pyserial port on a pseudo-terminal or on one TCP client, in real time.

`chair sim --pty` and `chair sim --tcp HOST:PORT` call these with a ``sim://`` URL, which
makes the simulated chair look like a serial device to any program (miniterm, a hobbyist's
own host, `chair run --port /dev/pts/N` or ``socket://127.0.0.1:PORT``). Any other pyserial
URL works too (a real chair on /dev/ttyUSB0 shared over TCP, for instance).

The port is polled every few milliseconds whether anybody is connected or not, so a
simulated device keeps ticking (and its dead-man trips when a client goes away). This module
reaches the simulator only through pyserial's URL handlers: it never imports `sim`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
import tty
from collections.abc import Callable

import serial

from chair.ports import open_port

POLL_S = 0.005  # longest wait between two polls of the port
CHUNK = 4096
MAX_PENDING = 1 << 16  # bytes kept for a reader that does not read; older ones are dropped


def _drain(port: serial.SerialBase) -> bytes:
    """What the port has for us now (advances a simulated device to now)."""
    # a whole chunk: socket:// and some drivers report in_waiting as 0 or 1, not a count
    return port.read(CHUNK) if port.in_waiting else b""


def _keep(pending: bytearray, data: bytes) -> None:
    pending += data
    if len(pending) > MAX_PENDING:
        del pending[:len(pending) - MAX_PENDING]


def serve_pty(url: str, *, stop: threading.Event | None = None,
              on_ready: Callable[[str], None] | None = None, poll_s: float = POLL_S,
              baudrate: int = 115200) -> str:
    """Serve `url` on a new pty until `stop` is set or Ctrl-C; return the pty's path.

    `on_ready(path)` is called once the pty exists (by default the path is printed).
    """
    stop = stop or threading.Event()
    port = open_port(url, baudrate=baudrate, exclusive=False)
    master, slave = os.openpty()
    try:
        tty.setraw(slave)  # no echo, no line editing: bytes pass as they are
        path = os.ttyname(slave)
        os.set_blocking(master, False)
        (on_ready or (lambda p: print(f"serving {url} on {p}", flush=True)))(path)
        pending = bytearray()
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.is_set():
                ready, _, _ = select.select([master], [], [], poll_s)
                if ready:
                    try:
                        data = os.read(master, CHUNK)
                    except BlockingIOError:
                        data = b""
                    except OSError as exc:  # EIO: no client has the pty open
                        if exc.errno != errno.EIO:
                            raise
                        data = b""
                        stop.wait(poll_s)
                    if data:
                        port.write(data)
                _keep(pending, _drain(port))
                while pending:
                    try:
                        sent = os.write(master, pending)
                    except (BlockingIOError, InterruptedError):
                        break
                    del pending[:sent]
        return path
    finally:
        port.close()
        os.close(master)
        os.close(slave)


def serve_tcp(url: str, host: str = "127.0.0.1", port: int = 0, *,
              stop: threading.Event | None = None,
              on_ready: Callable[[str, int], None] | None = None, poll_s: float = POLL_S,
              baudrate: int = 115200) -> None:
    """Serve `url` to one TCP client at a time until `stop` is set or Ctrl-C.

    Binds to loopback unless told otherwise; `port=0` picks a free port. `on_ready(host,
    port)` is called once listening. A client that disconnects leaves the port (and a
    simulated device) running; what the port sends while nobody is connected is dropped.
    """
    stop = stop or threading.Event()
    serial_port = open_port(url, baudrate=baudrate, exclusive=False)
    server = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                           socket.SOCK_STREAM)
    client: socket.socket | None = None
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((host, port))
        server.listen(1)
        server.setblocking(False)
        bound_host, bound_port = server.getsockname()[:2]
        (on_ready or (lambda h, p: print(f"serving {url} on socket://{h}:{p}",
                                         flush=True)))(bound_host, bound_port)
        pending = bytearray()
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.is_set():
                watch = [client] if client is not None else [server]
                ready, _, _ = select.select(watch, [], [], poll_s)
                if ready and client is None:
                    with contextlib.suppress(BlockingIOError):
                        client, _ = server.accept()
                        client.setblocking(False)
                        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        pending.clear()
                elif ready:
                    try:
                        data = client.recv(CHUNK)
                    except (BlockingIOError, InterruptedError):
                        data = None
                    except OSError:
                        data = b""
                    if data == b"":  # the client went away; the device keeps running
                        client.close()
                        client = None
                    elif data:
                        serial_port.write(data)
                out = _drain(serial_port)
                if client is None:
                    continue
                _keep(pending, out)
                while pending:
                    try:
                        sent = client.send(pending)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        client.close()
                        client = None
                        break
                    del pending[:sent]
    finally:
        if client is not None:
            client.close()
        server.close()
        serial_port.close()
