"""The connect handshake's pieces that need no port: its schedule and the limits table.

Sans-I/O: `LimitsTable` is fed the device's messages and says when the table is whole and
verified; `chair.link.Link.connect` does the asking and the waiting.

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

from chair import protocol as p
from chair.limits import Limit, table_crc

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
            claimed = dict(pair.split("=", 1) for pair in message.data.split() if "=" in pair)
            try:
                n, crc = int(claimed["n"]), int(claimed["crc"], 16)
            except (KeyError, ValueError):
                return  # the ok of another query (INFO), not of LIMITS
            self.claimed_n, self.claimed_crc = n, crc
            if len(self._run) == n and len(set(self._run)) == n:
                whole = table_crc(self._limits(self._run))
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
            crc = table_crc(self._limits(order))
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

    def _limits(self, names: list[str]) -> list[Limit]:
        return [Limit(name, self.values[name], "", "", "") for name in names]

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
