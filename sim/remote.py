"""The firmware run by real MicroPython, for the simulated chair (`sim://?micropython=1`,
`chair sim --micropython`).

`RemoteFirmware` has the interface of `firmware.device.Firmware`, so `sim.device.Device`
drives it as it drives the firmware in-process; but the firmware runs in the WebAssembly
build of MicroPython under Node.js (sim/mp_runner.mjs, relay mode, with `firmware/` and
sim/mp_relay.py copied in). Each call is one line of JSON each way over the child's pipes:
the plant's readings go in, the outputs the firmware wrote come back and are applied to the
plant here; the lines it sends wait in its own transmit buffer until taken. Raises
`sim.micropython.MicroPythonMissing` when Node.js or the npm package is not installed,
RuntimeError when the interpreter fails.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sim import micropython
from sim.hardware import SimHardware
from sim.mp_relay import SENSORS as _SENSORS  # what the relay sets, in one place

_HERE = Path(__file__).resolve().parent
_FIRMWARE = _HERE.parent / "firmware"


class _Latch:
    """The latched faults as the interpreter last reported them."""

    def __init__(self) -> None:
        self.latched: dict[int, str] = {}


class RemoteFirmware:
    """`Firmware(hw, chair, now, proto, name)`, executed by MicroPython in a child process."""

    def __init__(self, hw: SimHardware, chair: dict, now: float, proto: int = 2,
                 name: str = "") -> None:
        self.hw = hw
        self.chair = chair
        self.tick_s = float(dict((e[0], e[1]) for e in chair["limits"])["tick_ms"]) / 1000.0
        self.t0 = now
        self.k = 0
        self.now = now
        self.state = "Idle"
        self.latch = _Latch()
        self.waiting = 0  # bytes waiting in the firmware's transmit buffer
        self._proc = subprocess.Popen(
            micropython.command("relay", {
                "files": [[str(_FIRMWARE), "/lib/firmware"],
                          [str(_HERE / "mp_relay.py"), "/lib/mp_relay.py"]],
                "entry": "mp_relay:handle"}),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._call({"op": "boot", "chair": chair, "now": now, "proto": proto,
                    "name": name or "chair-fw-0.2.0", "s": self._snapshot()})

    # ------------------------------------------------------------------ the relay

    def _snapshot(self) -> dict:
        hw = self.hw
        hw.sense()
        return {name: getattr(hw, name) for name in _SENSORS}

    def _call(self, request: dict) -> dict:
        proc = self._proc
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise RuntimeError(f"the MicroPython relay ended (exit {proc.poll()}): see its "
                               "stderr above")
        answer = json.loads(line)
        if "w" in answer:
            self.waiting = answer["w"]
        if "o" not in answer:
            return answer
        hw = self.hw
        for name, *args in answer["o"]:
            getattr(hw, name)(*args)
        self.state = answer["st"]
        self.latch.latched = {int(code): detail for code, detail in answer["l"].items()}
        self.k, self.now = answer["k"], answer["n"]
        return answer

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=5)

    # ------------------------------------------------------------------ Firmware's interface

    def receive(self, data: bytes, now: float) -> None:
        self._call({"op": "rx", "data": data.hex(), "now": now, "s": self._snapshot()})

    def tick(self, k: int) -> None:
        self._call({"op": "tick", "k": k, "s": self._snapshot()})

    def quiet_until(self, k: int, last: int) -> int:
        return self._call({"op": "quiet", "k": k, "last": last})["j"]

    def boot(self, now: float) -> None:
        self._call({"op": "power", "now": now, "s": self._snapshot()})

    def take(self, limit: int | None = None) -> bytes:
        if not self.waiting:
            return b""
        return bytes.fromhex(self._call({"op": "take", "limit": limit})["x"])
