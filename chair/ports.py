"""Opening ports: any pyserial URL or device, plus our `sim://` scheme.

The simulated chair is reached only through pyserial's URL-handler mechanism: putting the
package name "sim" on `serial.protocol_handler_packages` lets `serial_for_url` find
`sim/protocol_sim.py`; nothing in `chair` imports `sim`.
"""

from __future__ import annotations

import errno

import serial

from chair.errors import LinkError, UsageError

SIM_SCHEME = "sim://"

try:  # what a port raises: pyserial's errors, the OS's, and termios's (a tty that vanished)
    from termios import error as _TermiosError
except ImportError:  # pragma: no cover - Windows has no termios
    class _TermiosError(Exception):
        """Never raised: there is no termios here."""

PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, _TermiosError)


def enable_sim() -> None:
    """Let pyserial find the `sim://` handler (the `sim` package) by name."""
    if "sim" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("sim")


#: The line rate when none is chosen (`--baud`); docs/protocol.md section 0.
DEFAULT_BAUD = 115_200


def baud_of(port: object) -> str:
    """The rate `port` was opened at, for a message ("115200 baud"; "" if it has none)."""
    baud = getattr(port, "baudrate", None)
    return f"{baud} baud" if isinstance(baud, int) and baud > 0 else ""


def open_port(url: str, *, baudrate: int = DEFAULT_BAUD,
              exclusive: bool = True) -> serial.SerialBase:
    """Open `url` for non-blocking reads, with an error that says what to check.

    Raises UsageError when the URL itself is wrong (an unknown scheme, an unknown or
    out-of-range option: pyserial and our handlers raise ValueError for those) and
    LinkError when a good URL cannot be opened (missing, busy or broken port).
    """
    enable_sim()
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=0,
                                     exclusive=exclusive or None)
    except ValueError as exc:  # first: our handlers' URL errors are SerialExceptions too
        raise UsageError(f"port {url}: {exc}") from exc
    except PORT_ERRORS as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ValueError | TypeError | KeyError):  # pyserial's URL parsers
            scheme = url.partition("://")[0]
            raise UsageError(f"port {url}: not a valid {scheme}:// URL; write it as "
                             f"{scheme}://HOST:PORT with a port from 1 to 65535") from exc
        raise LinkError(f"cannot open port {url}: {exc}. {_hint(exc)}") from exc


def _hint(exc: BaseException) -> str:
    """What to check when a good URL cannot be opened, by what the system said."""
    errno_ = getattr(exc, "errno", None) or getattr(exc.__cause__ or exc.__context__,
                                                    "errno", None)
    if errno_ == errno.ENOENT:
        return "No such port: list the ports with `chair ports`"
    if errno_ == errno.ECONNREFUSED or isinstance(exc.__cause__ or exc.__context__,
                                                  ConnectionRefusedError):
        return "Nothing listens there: is `chair sim --tcp` (or the bridge) running?"
    if errno_ in (errno.EBUSY, errno.EACCES, errno.EPERM):
        return ("The port is busy in another program, or you may not open it (on Linux, "
                "join the dialout group)")
    return "List ports with `chair ports`; a busy port is open in another program"


#: USB vendor (and product) ids of the serial bridges hobbyists use, and what they are.
#: A product id of None matches every product of that vendor.
BRIDGES: dict[tuple[int, int | None], str] = {
    (0x1A86, 0x7523): "CH340 USB-serial bridge",
    (0x1A86, 0x55D4): "CH9102 USB-serial bridge",
    (0x10C4, 0xEA60): "Silicon Labs CP210x USB-serial bridge",
    (0x0403, 0x6001): "FTDI FT232R USB-serial bridge",
    (0x0403, 0x6015): "FTDI FT231X USB-serial bridge",
    (0x2341, None): "Arduino",
    (0x2E8A, None): "Raspberry Pi Pico (RP2040)",
}


def bridge_kind(vid: int | None, pid: int | None) -> str | None:
    """What a USB id is if it is a known serial bridge, else None."""
    if vid is None:
        return None
    return BRIDGES.get((vid, pid)) or BRIDGES.get((vid, None))


def describe_ports() -> list[dict]:
    """Every serial port pyserial can see, with the likely chair bridges marked.

    Each entry: `device` (what to pass to `--port`), `description`, `hwid`, `vid` and
    `pid` (numbers, or None for a port that is not USB), `vid_pid` (`"1a86:7523"` or ""),
    `manufacturer`, `serial_number`, `likely_bridge` (True for the USB-serial chips and
    boards a hobbyist's bridge is usually built on) and `bridge` (which one, or "").
    Sorted with likely bridges first, then by device name.
    """
    from serial.tools import list_ports

    out = []
    for info in list_ports.comports():
        vid, pid = info.vid, info.pid
        kind = bridge_kind(vid, pid)
        out.append({
            "device": info.device,
            "description": info.description or "",
            "hwid": info.hwid or "",
            "vid": vid,
            "pid": pid,
            "vid_pid": f"{vid:04x}:{pid:04x}" if vid is not None and pid is not None else "",
            "manufacturer": info.manufacturer or "",
            "serial_number": info.serial_number or "",
            "likely_bridge": kind is not None,
            "bridge": kind or "",
        })
    out.sort(key=lambda port: (not port["likely_bridge"], port["device"]))
    return out
