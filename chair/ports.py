"""Opening ports: any pyserial URL or device, plus our `sim://` scheme.

The simulated chair is reached only through pyserial's URL-handler mechanism: putting the
package name "sim" on `serial.protocol_handler_packages` lets `serial_for_url` find
`sim/protocol_sim.py`; nothing in `chair` imports `sim`.
"""

from __future__ import annotations

import serial

from chair.errors import LinkError

SIM_SCHEME = "sim://"


def enable_sim() -> None:
    """Let pyserial find the `sim://` handler (the `sim` package) by name."""
    if "sim" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("sim")


def open_port(url: str, *, baudrate: int = 115200, exclusive: bool = True) -> serial.SerialBase:
    """Open `url` for non-blocking reads, with an error that says what to check."""
    enable_sim()
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=0,
                                     exclusive=exclusive or None)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise LinkError(f"cannot open port {url}: {exc}. List ports with `chair ports`; a "
                        "busy port is open in another program") from exc
