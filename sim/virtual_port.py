"""What every in-process port of ours shares: options in the URL's query, and no wires, so
no modem lines to drive."""

from __future__ import annotations

import urllib.parse

from serial.serialutil import PortNotOpenError, SerialBase, SerialException


class BadURL(SerialException, ValueError):
    """A URL our handlers cannot accept (unknown or out-of-range option, wrong form).

    A SerialException, as pyserial's handlers raise, and a ValueError, as pyserial raises
    for an unknown scheme: the host tells a wrong URL (a usage error) from a port that
    fails (a link error) by ValueError alone, without importing `sim`.
    """


class VirtualPort(SerialBase):
    """A pyserial port with nothing behind it but Python: lines are read through `_line`."""

    def cancel_read(self) -> None:
        pass

    def cancel_write(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    def _line(self, name: str) -> bool:
        """The modem line `name` (cts, dsr, ri, cd): CTS follows RTS, DSR follows DTR."""
        if not self.is_open:
            raise PortNotOpenError()
        return {"cts": self._rts_state, "dsr": self._dtr_state, "ri": False, "cd": True}[name]

    @property
    def cts(self) -> bool:
        return self._line("cts")

    @property
    def dsr(self) -> bool:
        return self._line("dsr")

    @property
    def ri(self) -> bool:
        return self._line("ri")

    @property
    def cd(self) -> bool:
        return self._line("cd")


def query_pairs(url: str, scheme: str, example: str) -> list[tuple[str, str]]:
    """The ``name=value`` options of a ``scheme://?...`` URL, in order; BadURL
    (naming the URL and showing `example`) when it is not of that form."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != scheme:
        raise BadURL(f"expected a {scheme}:// URL, got {url!r}")
    if parts.netloc or parts.path not in ("", "/"):
        raise BadURL(f"{url!r}: a {scheme}:// URL takes options after '?' only, for "
                              f"example {example}")
    try:
        return urllib.parse.parse_qsl(parts.query, keep_blank_values=True,
                                      strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise BadURL(f"{url!r}: cannot read the options ({exc}); write them as "
                              "name=value joined by '&'") from None
