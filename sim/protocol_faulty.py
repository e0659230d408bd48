"""The ``faulty://`` pyserial URL handler: any port, with its link spoilt on purpose.

pyserial finds it once ``"sim"`` is in ``serial.protocol_handler_packages`` (as for
``sim://``)::

    port = serial.serial_for_url(
        "faulty://?drop=0.001&corrupt=0.001&seed=3&port=sim%3A%2F%2F%3Fclock%3Dvirtual")

The query carries the faults and, in ``port``, the URL of the port to wrap (percent-encoded:
``urllib.parse.quote(url, safe="")``; any pyserial URL or device name). Options (all but
``port`` optional; see chair.faults for the catalogue)::

    port=URL            the wrapped port (required)
    drop=R              per byte, probability it is lost                (0..1, default 0)
    corrupt=R           per byte, probability one random bit flips      (0..1)
    dup=R               per byte, probability it arrives twice          (0..1)
    delay=R             per byte, probability the stream stalls before it (0..1)
    delay_ms=MS         how long one stall lasts                        (default 100)
    latency_ms=MS       every byte arrives this much later              (default 0)
    rx.NAME=V, tx.NAME=V   any of the six above for one direction only: rx is device to
                        host (what the host reads), tx host to device; without a prefix
                        the value applies to both
    seed=N              random seed (default 0)
    noise_at=S          the rates and delays apply from S seconds after opening (default 0)
    vanish_at=S         from S seconds after opening, every call raises SerialException
    silence_at=S        from S seconds, the host's writes are swallowed (host silence)
    mute_at=S           from S seconds, the device's bytes are dropped (device silence)

`chair run --link-fault SPEC` builds this URL around its port: ``drop=0.001``,
``rx.corrupt=0.01``, ``noise@5`` (= ``noise_at=5``), ``vanish@60`` (= ``vanish_at=60``),
``silence@30``, ``mute@45``.

The port exposes the wrapped port's ``.clock`` (so ``--fast`` works through it),
``.device`` (a simulated chair's firmware, for tests) and ``.faulty`` (the
`sim.linkfaults.FaultyPort`, whose ``stats`` count what was spoilt). Reads never block on
a virtual clock; on a real clock they wait up to ``timeout`` as pyserial's do.
"""

from __future__ import annotations

import urllib.parse

import serial
from serial.serialutil import PortNotOpenError, SerialException

from chair.faults import LINK_DIRECTIONS, LINK_RATES, LINK_TIMES, check_link_option
from sim.linkfaults import FaultyPort, Impairment
from sim.virtual_port import BadURL, VirtualPort, query_pairs

POLL_S = 0.002  # real-clock reads: how often to look again while waiting


def parse_url(url: str) -> dict:
    """The options of a ``faulty://`` URL, checked; raises BadURL (a SerialException and
    a ValueError) naming the option.

    Returns ``{"port": URL, "rx": Impairment, "tx": Impairment, "seed": int,
    "noise_at": S | None, "vanish_at": S | None, "silence_at": S | None,
    "mute_at": S | None}``.
    """
    pairs = query_pairs(url, "faulty", "faulty://?drop=0.001&port=sim%3A%2F%2F")
    inner: str | None = None
    both: dict[str, float] = {}
    lanes: dict[str, dict[str, float]] = {d: {} for d in LINK_DIRECTIONS}
    options: dict = {"seed": 0, "noise_at": None, "vanish_at": None, "silence_at": None,
                     "mute_at": None}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            raise BadURL(f"faulty:// option {name!r} given twice")
        seen.add(name)
        if name == "port":
            inner = value
            continue
        try:
            number = check_link_option(name, value)
        except ValueError as exc:
            raise BadURL(f"faulty:// option {exc}") from None
        direction, _, base = name.rpartition(".")
        if base in LINK_RATES or base in LINK_TIMES:
            (lanes[direction] if direction else both)[base] = number
        else:
            options[name] = number
    if not inner:
        raise BadURL(f"{url!r}: faulty:// needs port=URL, the port to wrap, "
                     "percent-encoded (urllib.parse.quote(url, safe=''))")
    if urllib.parse.urlsplit(inner).scheme.lower() == "faulty":
        raise BadURL(f"{url!r}: faulty:// cannot wrap another faulty:// port")
    options["port"] = inner
    for direction in LINK_DIRECTIONS:
        options[direction] = Impairment(**{**both, **lanes[direction]})
    return options


class Serial(VirtualPort):
    """A port wrapped in link faults (see the module docstring for the URL)."""

    def __init__(self, *args, **kwargs) -> None:
        self.faulty: FaultyPort | None = None
        super().__init__(*args, **kwargs)

    @property
    def clock(self):
        return None if self.faulty is None else self.faulty.clock

    @property
    def device(self):
        return None if self.faulty is None else self.faulty.device

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        options = parse_url(self.port)
        if "sim" not in serial.protocol_handler_packages:
            serial.protocol_handler_packages.append("sim")
        inner = serial.serial_for_url(options["port"], baudrate=self._baudrate, timeout=0,
                                      exclusive=self._exclusive)
        self.faulty = FaultyPort(inner, rx=options["rx"], tx=options["tx"],
                                 seed=options["seed"], noise_at=options["noise_at"],
                                 vanish_at=options["vanish_at"],
                                 silence_at=options["silence_at"], mute_at=options["mute_at"])
        self.is_open = True

    def close(self) -> None:
        if self.faulty is not None and self.is_open:
            self.faulty.close()
        self.is_open = False

    def _reconfigure_port(self) -> None:
        pass

    def _faulty(self) -> FaultyPort:
        if not self.is_open or self.faulty is None:
            raise PortNotOpenError()
        return self.faulty

    # ------------------------------------------------------------------ data

    @property
    def in_waiting(self) -> int:
        return self._faulty().in_waiting

    @property
    def out_waiting(self) -> int:
        return self._faulty().out_waiting

    def read(self, size: int = 1) -> bytes:
        faulty = self._faulty()
        if size <= 0:
            return b""
        data = bytearray(faulty.read(size))
        clock = faulty.clock
        if len(data) >= size or getattr(clock, "virtual", False) or self._timeout == 0:
            return bytes(data)
        deadline = None if self._timeout is None else clock.now() + self._timeout
        while self.is_open and len(data) < size:
            now = clock.now()
            if deadline is not None and now >= deadline:
                break
            clock.sleep_until(now + POLL_S if deadline is None else min(now + POLL_S,
                                                                         deadline))
            data += faulty.read(size - len(data))
        return bytes(data)

    def write(self, data) -> int:
        return self._faulty().write(data)

    def flush(self) -> None:
        self._faulty().flush()

    def reset_input_buffer(self) -> None:
        self._faulty().reset_input_buffer()

    def reset_output_buffer(self) -> None:
        self._faulty().reset_output_buffer()

    def _line(self, name: str) -> bool:
        inner = self._faulty().inner
        return bool(getattr(inner, name)) if hasattr(inner, name) else super()._line(name)
