"""The connect handshake's queries: asked again until answered, and the limits table.

`ask` sends a query (INFO, LIMITS) through a `chair.link.Link` and tries again, with
backoff, until its answer arrives whole; `LimitsTable` (sans-I/O) is fed the device's
messages and says when the table is whole and verified; `identify` asks both and checks
the protocol version (`DeviceInfo`). `Link.connect` runs the steps and starts the session.

A noisy line rarely delivers the whole `LIMITS` answer (32 lines, about 1 kB) in one piece:
at 1e-3 lost and 1e-3 corrupted bytes one answer in eight arrives whole. Each line carries
its own CRC, so a line that arrives is trustworthy on its own; `LimitsTable` keeps the lines
of every attempt and puts the table together from them. The order of the lines matters (the
table CRC is over the lines in table order) and each answer is in table order, so every
two lines received one after the other in an answer say which comes first. Once all `n`
lines are known, the orders those constraints allow (at most `MAX_ORDERS` of them; usually
one) are tried, and the table is accepted only in an order whose CRC equals both the `crc=`
of the device's `ok` and the banner's `limits=` (docs/protocol.md section 7). The values
come from lines that each passed their own CRC, so the order only serves that check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chair import protocol as p
from chair.chairinfo import Chair
from chair.errors import LinkError
from chair.ports import baud_of

#: Tagged refusals our own well-formed lines can only earn when damaged on the way: resend
#: (the link's rule for sequenced lines; for a query, ask again).
GARBLED = frozenset({p.ErrorCode.NEED_CRC, p.ErrorCode.BAD_ARGS, p.ErrorCode.UNKNOWN_COMMAND})

#: How long each attempt of a handshake query waits for its answer, in seconds: attempt k
#: waits ATTEMPT_S[k] (the last figure from then on) unless the answer comes sooner, within
#: the connect's overall timeout. Doubling: a device still booting or a slow bridge gets
#: more time each try; a noisy line gets many quick tries. A whole LIMITS answer takes
#: 90 ms at 115,200 baud (1,038 bytes at 11,520 B/s), so the first wait covers it twice.
ATTEMPT_S = (0.25, 0.5, 1.0)
#: The most orders of the limits lines tried against the table CRC at once; with more
#: possible, the next answer narrows them down. Each costs one CRC over ~1 kB.
MAX_ORDERS = 64


def attempt_s(tries: int) -> float:
    """The answer timeout of attempt number `tries` (0 for the first), in seconds."""
    return ATTEMPT_S[min(tries, len(ATTEMPT_S) - 1)]


class TableCorrupt(Exception):
    """The device's whole table arrived and does not match its banner: final, not noise."""


class LimitsTable:
    """The device's limits table, put together from one or more `LIMITS` answers."""

    def __init__(self, banner_crc: int) -> None:
        self.banner_crc = banner_crc
        self.values: dict[str, float] = {}
        self.claimed_n: int | None = None
        self.claimed_crc: int | None = None
        self._after: set[tuple[str, str]] = set()  # (a, b): a comes right before b somewhere
        self._run: list[str] = []  # the current answer's names so far, in order
        self.order: list[str] | None = None
        self._tried: tuple | None = None  # what `complete` last looked at in vain

    def new_answer(self) -> None:
        """The next messages belong to another answer (a new attempt)."""
        self._run = []

    def feed(self, message: object) -> None:
        """Take one message from the device (anything but limits lines and `ok` is ignored).

        Raises TableCorrupt when one answer brought the whole table and its CRC does not
        match the banner's or the `ok`'s (a corrupt table, not a damaged line)."""
        if isinstance(message, p.LimitLine):
            run = self._run
            if message.name in run:  # a late answer's lines before this one's: a new answer
                run.clear()
            if run:
                self._after.add((run[-1], message.name))
            run.append(message.name)
            self.values[message.name] = message.value
        elif isinstance(message, p.Ok) and message.seq is None:
            if message.table is None:
                return  # the ok of another query (INFO), not of LIMITS
            n, crc = message.table
            self.claimed_n, self.claimed_crc = n, crc
            if len(self._run) == n and len(set(self._run)) == n:
                whole = p.table_crc(self._entries(self._run))
                if whole != self.banner_crc or whole != crc:
                    raise TableCorrupt(
                        f"device limits table CRC {whole:04X} does not match its banner's "
                        f"{self.banner_crc:04X}: the table is corrupt; do not use it")
            self._run = []

    @property
    def complete(self) -> bool:
        """True once all `n` lines are known in an order whose CRC the device confirms.

        Raises TableCorrupt when that order's CRC is not the banner's."""
        if self.order is not None:
            return True
        if self.claimed_n is None or len(self.values) != self.claimed_n:
            return False
        tried = (len(self.values), len(self._after), self.claimed_crc)
        if tried == self._tried:
            return False  # nothing new since the last look
        self._tried = tried
        for order in self._orders(MAX_ORDERS):
            crc = p.table_crc(self._entries(order))
            if crc != self.claimed_crc:
                continue  # not this order (or a line of a damaged answer passed its CRC)
            if crc != self.banner_crc:
                raise TableCorrupt(f"device limits table CRC {crc:04X} does not match its "
                                   f"banner's {self.banner_crc:04X}: the table is corrupt; "
                                   "do not use it")
            self.order = order
            return True
        return False

    def missing(self) -> str:
        """What is still lacking, for an error message."""
        if self.claimed_n is None:
            return f"{len(self.values)} lines and no `ok` with the table's size and CRC"
        return (f"{len(self.values)} of {self.claimed_n} lines, in no order yet that matches "
                "the table CRC" if len(self.values) == self.claimed_n
                else f"{len(self.values)} of {self.claimed_n} lines")

    def limits(self) -> dict[str, float]:
        """The verified table, in table order (only once `complete`)."""
        assert self.order is not None
        return {name: self.values[name] for name in self.order}

    def _entries(self, names: list[str]) -> list[tuple[str, float]]:
        return [(name, self.values[name]) for name in names]

    def _orders(self, limit: int) -> list[list[str]]:
        """Every order of the known names that all answers agree with, or none when there
        are more than `limit` (or a cycle: a late answer ran into the next with its ok
        lost; then the constraints start again from the next answers)."""
        before: dict[str, set[str]] = {name: set() for name in self.values}
        for a, b in self._after:
            if a in before and b in before:
                before[b].add(a)
        found: list[list[str]] = []
        order: list[str] = []
        placed: set[str] = set()

        def walk() -> bool:  # False: give up (too many orders, or a cycle)
            if len(order) == len(before):
                found.append(list(order))
                return len(found) <= limit
            ready = [n for n in before if n not in placed and before[n] <= placed]
            if not ready:
                self._after.clear()
                return False
            for name in ready:
                order.append(name)
                placed.add(name)
                going = walk()
                order.pop()
                placed.discard(name)
                if not going:
                    return False
            return True

        return found if walk() else []


class _Garbled(Exception):
    """A handshake answer that lost or damaged lines on the way: worth another try."""


class _NoAnswer(_Garbled):
    """No answer at all within one attempt's wait."""


def ask(link: Any, query: p.Command, deadline: float, what: str,
        table: LimitsTable | None = None) -> list:
    """Send the unsequenced `query` through `link` until its answer arrives whole, or
    `deadline` (clock time); return what arrived in the last attempt.

    An attempt that hears nothing waits `attempt_s` (0.25, 0.5, 1 s ...: the device may be
    slow); an answer that arrives damaged or incomplete is asked for again at once, and the
    wait starts from its first figure again. `table` collects a LIMITS answer across
    attempts. Raises LinkError at the deadline, or when the device refuses the query."""
    start, tries, quiet, problem, silent = link.clock.now(), 0, 0, "", True
    while (left := deadline - link.clock.now()) > 0:
        tries += 1
        try:
            return _exchange(link, query, min(attempt_s(quiet), left), what, table,
                             flush=tries > 1)
        except _NoAnswer as exc:
            problem, quiet = str(exc), quiet + 1
        except _Garbled as exc:
            problem, silent, quiet = str(exc), False, 0
    took = f"{deadline - start:.1f} s ({tries} attempt{'s' if tries != 1 else ''})"
    if silent:
        raise LinkError(f"no answer to {what} from {link.port.port} within {took}: is a "
                        f"chair (or `chair sim`) on that port, at the right baud rate "
                        f"({_tried(link)})? Check the cable")
    raise LinkError(f"{problem}; gave up after {took}: check the cable, the baud rate "
                    f"({_tried(link)}) and that a chair is on that port")


def _tried(link: Any) -> str:
    """The rate this host tried, and how to try another."""
    return f"tried {baud_of(link.port) or 'the port default'}; --baud N tries another"


def _exchange(link: Any, query: p.Command, timeout_s: float, what: str,
              table: LimitsTable | None, *, flush: bool = False) -> list:
    """One attempt: send `query`, collect what arrives until its answer is whole.

    `flush` sends an LF first: an earlier try that lost its own LF left a partial line in
    the device, which the LF ends (one E01 for it, tolerated) instead of our query running
    into it; with nothing pending the device ignores the empty line."""
    clock = link.clock
    link.write_query(query, flush=flush)
    if table is not None:
        table.new_answer()
    deadline = clock.now() + timeout_s
    damaged = link.damaged + flush
    seen: list = []
    while clock.now() < deadline:
        answered = False
        for message in link.poll():
            seen.append(message)
            if table is not None:
                try:
                    table.feed(message)
                except TableCorrupt as exc:
                    raise LinkError(str(exc)) from None
            if isinstance(message, p.Error) and message.seq is None:
                if message.code in GARBLED:  # our line, damaged into another valid one
                    raise _Garbled(f"device refused {what} as malformed: "
                                   f"{message.code.wire} {message.detail}")
                raise LinkError(f"device refused {what}: {message.code.wire} {message.detail}")
            answered = answered or (isinstance(message, p.Ok) and message.seq is None)
        if (table.complete if table is not None
                else any(isinstance(m, p.Banner) for m in seen)):
            return seen
        if answered:
            raise _Garbled(f"the answer to {what} from {link.port.port} arrived incomplete"
                           + (f" ({table.missing()})" if table else ""))
        if link.damaged > damaged:
            raise _Garbled(f"{what} reached the device on {link.port.port} damaged")
        clock.sleep_until(min(clock.now() + 0.01, deadline))
    raise _NoAnswer(f"no answer to {what} from {link.port.port}")


@dataclass(frozen=True)
class DeviceInfo:
    """What the connect handshake learned: the banner and the verified limits table."""

    banner: p.Banner
    limits: dict[str, float]

    @property
    def chair(self) -> Chair:
        """The chair they describe (zones, heaters, drives, sensors, geometry, caps)."""
        return Chair.from_device(self.banner, self.limits)


def identify(link: Any, deadline: float) -> DeviceInfo:
    """INFO, then LIMITS, each asked again until answered (`ask`) by `deadline` (the link's
    clock): the banner and the table verified against its CRC. LinkError for a protocol
    version this host does not speak, a table that fails its CRC, or no answer in time."""
    seen = ask(link, p.QueryInfo(), deadline, "INFO")
    banner = [m for m in seen if isinstance(m, p.Banner)][-1]
    if banner.proto not in p.PROTOCOL_VERSIONS:
        raise LinkError(f"device speaks protocol {banner.proto}, this host speaks "
                        f"{' and '.join(map(str, p.PROTOCOL_VERSIONS))}: update the "
                        "firmware or the host")
    table = LimitsTable(banner.limits_crc)
    ask(link, p.QueryLimits(), deadline, "LIMITS", table)
    return DeviceInfo(banner, table.limits())
