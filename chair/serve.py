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
import ipaddress
import os
import select
import socket
import sys
import threading
import tty
from collections.abc import Callable

import serial

from chair.errors import UsageError
from chair.linequeue import LineQueue
from chair.ports import open_port

POLL_S = 0.005  # longest wait between two polls of the port
CHUNK = 4096
MAX_PENDING = 1 << 16  # bytes kept for a reader that does not read: whole lines, oldest dropped
MAX_LINE = 1024  # bytes without a line end are passed on as they are (not a line protocol)


def _drain(port: serial.SerialBase) -> bytes:
    """What the port has for us now (advances a simulated device to now)."""
    # a whole chunk: socket:// and some drivers report in_waiting as 0 or 1, not a count
    return port.read(CHUNK) if port.in_waiting else b""


class _Outbox:
    """The port's bytes on their way to a client that may read slowly or not at all.

    Whole lines wait in a bounded `LineQueue` (fault pushes and banners first; when full the
    oldest lines are dropped whole and counted in `queue.dropped_lines`); `sending` holds the
    lines being written now (at most `CHUNK` bytes and one line), `partial` the start of a
    line still arriving. So a client never gets a torn line, and a fault push waits behind
    at most `CHUNK` bytes of this server (plus what the kernel already holds)."""

    def __init__(self) -> None:
        self.queue = LineQueue(MAX_PENDING)
        self.partial = bytearray()
        self.sending = bytearray()

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.partial += data
        start = 0
        while (end := self.partial.find(b"\n", start)) >= 0:
            self.queue.push(bytes(self.partial[start:end + 1]))
            start = end + 1
        del self.partial[:start]
        if len(self.partial) > MAX_LINE:
            self.queue.push(bytes(self.partial))
            self.partial.clear()

    def next(self) -> bytearray:
        """The bytes to write now (empty when nothing waits)."""
        if not self.sending and self.queue:
            self.sending += self.queue.take(CHUNK)
        return self.sending

    def sent(self, count: int) -> None:
        del self.sending[:count]

    def discard(self) -> None:
        """Drop the whole lines waiting (for nobody); keep the start of the next line."""
        self.queue.clear()
        self.sending.clear()


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
        outbox = _Outbox()
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
                outbox.feed(_drain(port))
                while pending := outbox.next():
                    try:
                        sent = os.write(master, pending)
                    except (BlockingIOError, InterruptedError):
                        break
                    outbox.sent(sent)
        return path
    finally:
        port.close()
        os.close(master)
        os.close(slave)


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``HOST:PORT``, ``[IPV6]:PORT`` or ``:PORT`` as (host, port); UsageError otherwise.

    The port is 0..65535 (0 picks a free one); an empty host is `default_host`.
    """
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UsageError(f"{text}: write an IPv6 address in brackets, e.g. [::1]:5555")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"{text}: expected HOST:PORT with a port from 0 to 65535, e.g. "
                         "127.0.0.1:5555 or [::1]:5555")
    return host or default_host, int(port)


def socket_url(host: str, port: int) -> str:
    """The ``socket://`` URL that reaches `host`:`port` (IPv6 addresses in brackets)."""
    return f"socket://[{host}]:{port}" if ":" in host else f"socket://{host}:{port}"


def listen(host: str, port: int) -> socket.socket:
    """A non-blocking TCP socket listening on `host`:`port` (IPv4 or IPv6, by the address).

    Raises UsageError naming the address when it cannot: a port out of range, a host that
    does not resolve, an address in use or not allowed.
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"port {port}: expected 0 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise UsageError(f"{host}:{port}: cannot resolve {host!r} ({exc.strerror}); use an "
                         "address such as 127.0.0.1 or [::1]") from exc
    server = socket.socket(family, kind, proto)
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(address)
        server.listen(1)
        server.setblocking(False)
    except OSError as exc:
        server.close()
        where = socket_url(host, port).removeprefix("socket://")
        hint = {errno.EADDRINUSE: "another program (perhaps another `chair sim`) listens "
                                  "there: choose another port, or 0 for a free one",
                errno.EACCES: "ports below 1024 need privileges: choose 1024 or above",
                errno.EADDRNOTAVAIL: "that address is not one of this machine's"
                }.get(exc.errno, "choose another address or port")
        raise UsageError(f"cannot listen on {where}: {exc.strerror or exc}; {hint}") from exc
    return server


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
    client: socket.socket | None = None
    try:
        server = listen(host, port)
    except BaseException:
        serial_port.close()
        raise
    try:
        bound_host, bound_port = server.getsockname()[:2]
        if not ipaddress.ip_address(bound_host.partition("%")[0]).is_loopback:
            print(f"warning: serving on {socket_url(bound_host, bound_port)}, reachable from "
                  "other machines: the chair protocol has no authentication, so anyone who "
                  "can connect can drive the chair; bind to 127.0.0.1 unless you mean it",
                  file=sys.stderr, flush=True)
        (on_ready or (lambda h, p: print(f"serving {url} on {socket_url(h, p)}",
                                         flush=True)))(bound_host, bound_port)
        outbox = _Outbox()
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.is_set():
                watch = [client] if client is not None else [server]
                ready, _, _ = select.select(watch, [], [], poll_s)
                if ready and client is None:
                    with contextlib.suppress(BlockingIOError):
                        client, _ = server.accept()
                        client.setblocking(False)
                        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        outbox.discard()  # a new client starts at a line boundary
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
                outbox.feed(_drain(serial_port))
                if client is None:  # nobody to tell: whole lines are dropped
                    outbox.discard()
                    continue
                while pending := outbox.next():
                    try:
                        sent = client.send(pending)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        client.close()
                        client = None
                        break
                    outbox.sent(sent)
    finally:
        if client is not None:
            client.close()
        server.close()
        serial_port.close()
