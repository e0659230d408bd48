"""What every in-process port of ours shares: no wires, so no modem lines to drive."""

from __future__ import annotations

from serial.serialutil import PortNotOpenError, SerialBase


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
