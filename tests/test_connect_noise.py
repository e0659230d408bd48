"""Issue 9 item 8: the connect handshake on a noisy line.

Before: the whole handshake was tried three times, each step once per try, and a LIMITS
answer (32 lines, about 1 kB) had to arrive whole: 71 of 200 seeded connects got through at
1e-3 lost and 1e-3 corrupted bytes both ways (143 of 200 at `drop=0.001` alone), and a
damaged `INFO` was final ("device refused INFO: E02 unknown-command"). Now each step is
tried again with backoff and the table is put together from the lines of every answer.
"""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path

import pytest

from chair import protocol as p
from chair.cli import main
from chair.clock import VirtualClock
from chair.errors import LinkError
from chair.handshake import LimitsTable, TableCorrupt
from chair.limits import DEVICE_TABLE, DEVICE_TABLE_CRC, Limit, table_crc
from chair.link import Link
from chair.ports import open_port
from chair.trace import read_trace

SIM = "sim://?clock=virtual"


def faulty(query: str, seed: int) -> str:
    return f"faulty://?{query}&seed={seed}&port={urllib.parse.quote(SIM, safe='')}"


def connect(url: str) -> tuple[bool, float]:
    """Connect once; (connected, virtual seconds it took)."""
    port = open_port(url)
    try:
        link = Link(port, port.clock)
        try:
            link.connect()
        except LinkError:
            return False, port.clock.now()
        assert link.idle
        return True, port.clock.now()
    finally:
        port.close()


def connects(query: str, seeds: range) -> tuple[int, float]:
    results = [connect(faulty(query, seed)) for seed in seeds]
    return sum(ok for ok, _ in results), max(t for _, t in results)


def test_99_in_100_connects_at_1e_3_lost_and_corrupted_bytes_both_ways() -> None:
    """200 seeded connects (about 2 s): at least 198 get through, each within 3 s."""
    ok, slowest = connects("drop=0.001&corrupt=0.001", range(200))
    assert ok >= 198 and slowest <= 3.0 + 0.02


@pytest.mark.slow
@pytest.mark.parametrize(("query", "n", "least"), [
    ("drop=0.001&corrupt=0.001", 2000, 1980),
    ("drop=0.001", 1000, 990),
    ("corrupt=0.001", 1000, 990),
    ("drop=0.002&corrupt=0.002", 1000, 990),
])
def test_connects_on_noisy_lines_many_seeds(query: str, n: int, least: int) -> None:
    ok, slowest = connects(query, range(1000, 1000 + n))
    assert ok >= least and slowest <= 3.0 + 0.02


def test_a_run_connects_and_completes_at_1e_3_noise_from_the_start(tmp_path: Path) -> None:
    """The lumbar program, noise from the first byte (before: the handshake mostly failed);
    the run itself may still end in a fault, but it starts."""
    started = 0
    for seed in range(1, 6):
        trace = tmp_path / f"{seed}.jsonl"
        main(["run", "lumbar", "--fast", "--minutes", "1", "--trace", str(trace),
              "--link-fault", "drop=0.001", "--link-fault", "corrupt=0.001",
              "--link-fault", f"seed={seed}"])
        started += any(r.get("event") == "step" for r in read_trace(str(trace)))
    assert started == 5


# --------------------------------------------------------------------------- a dead port


class Dead:
    """A port that takes every byte and answers nothing."""

    port = "dead://"

    def __init__(self, clock: VirtualClock) -> None:
        self.clock, self.writes = clock, []

    in_waiting = 0

    def read(self, size: int) -> bytes:
        return b""

    def write(self, data: bytes) -> int:
        self.writes.append((round(self.clock.now(), 3), data))
        return len(data)

    def reset_input_buffer(self) -> None:
        pass


def test_a_dead_port_fails_within_the_timeout_with_a_clear_message() -> None:
    clock = VirtualClock()
    port = Dead(clock)
    with pytest.raises(LinkError, match=r"no answer to INFO from dead:// within 3.0 s "
                                        r"\(5 attempts\): is a chair .* baud rate"):
        Link(port, clock).connect()
    assert clock.now() <= 3.0 + 0.011
    # backing off: 0.25, 0.5, 1 s, then 1 s until the deadline
    assert [t for t, _ in port.writes] == [0.0, 0.25, 0.75, 1.75, 2.75]
    assert port.writes[0][1] == b"INFO*01C6\n" and port.writes[1][1] == b"\nINFO*01C6\n"


def test_a_silent_device_in_real_time_fails_within_a_few_seconds(tmp_path: Path,
                                                                 capsys) -> None:
    started = time.monotonic()
    code = main(["run", "lumbar", "--yes", "--link-fault", "rx.drop=1",
                 "--trace", str(tmp_path / "t.jsonl")])
    took = time.monotonic() - started
    assert code == 4 and 2.9 <= took <= 6.0  # 3 s, plus starting Python under load
    assert "no answer to INFO" in capsys.readouterr().err


# --------------------------------------------------------------------------- each step


class Lossy:
    """A simulated chair whose lines to the host are dropped by rule: `lose(prefix, k)`
    drops the k-th (0-based) line starting with `prefix`; `lose_out(prefix, k)` drops the
    k-th host write starting with it (the device never sees it)."""

    def __init__(self) -> None:
        self.inner = open_port(SIM)
        self.clock = self.inner.clock
        self.port = "lossy://"
        self._rules: dict[tuple[str, bytes], set[int]] = {}
        self._seen: dict[tuple[str, bytes], int] = {}
        self._partial = b""
        self._out = bytearray()
        self.written: list[bytes] = []

    def lose(self, prefix: bytes, *k: int) -> None:
        self._rules.setdefault(("in", prefix), set()).update(k)

    def lose_out(self, prefix: bytes, *k: int) -> None:
        self._rules.setdefault(("out", prefix), set()).update(k)

    def _keep(self, way: str, line: bytes) -> bool:
        for (direction, prefix), which in self._rules.items():
            if direction == way and line.lstrip(b"\n").startswith(prefix):
                n = self._seen.get((way, prefix), 0)
                self._seen[(way, prefix)] = n + 1
                if n in which:
                    return False
        return True

    def _pump(self) -> None:
        waiting = self.inner.in_waiting
        data = self._partial + (self.inner.read(waiting) if waiting else b"")
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            if self._keep("in", line):
                self._out += line + b"\n"

    @property
    def in_waiting(self) -> int:
        self._pump()
        return len(self._out)

    def read(self, size: int) -> bytes:
        self._pump()
        data = bytes(self._out[:size])
        del self._out[:size]
        return data

    def write(self, data: bytes) -> int:
        self.written.append(data)
        if self._keep("out", data):
            self.inner.write(data)
        return len(data)

    def reset_input_buffer(self) -> None:
        self._pump()
        self._out.clear()


def lossy_connect(port: Lossy) -> dict[str, float]:
    link = Link(port, port.clock)
    info = link.connect()
    assert link.idle and info.banner.limits_crc == DEVICE_TABLE_CRC
    return info.limits


def sent(port: Lossy, verb: bytes) -> list[bytes]:
    return [w for w in port.written if verb in w]


def test_info_answered_without_its_banner_is_asked_again_at_once() -> None:
    port = Lossy()
    port.lose(b"#CHAIR", 1)  # the banner answering INFO (the 0th is pushed at start)
    lossy_connect(port)
    assert len(sent(port, b"INFO")) == 2 and port.clock.now() < 0.2


def test_info_that_never_reached_the_device_is_asked_again_after_a_wait() -> None:
    port = Lossy()
    port.lose_out(b"INFO", 0)
    lossy_connect(port)
    assert len(sent(port, b"INFO")) == 2 and 0.25 <= port.clock.now() < 0.5


def test_info_damaged_on_the_way_is_asked_again_at_once() -> None:
    port = Lossy()
    port.inner.write(b"INFO*01C")  # a partial line: our INFO runs into it, E01
    lossy_connect(port)
    assert len(sent(port, b"INFO")) == 2 and port.clock.now() < 0.2


def test_limits_are_put_together_from_several_damaged_answers() -> None:
    port = Lossy()
    port.lose(b"$deadman_ms", 0)  # first answer: one line lost
    port.lose(b"$tick_ms", 1)  # second: another, and its ok
    port.lose(b"ok - crc=", 1)
    limits = lossy_connect(port)
    assert limits == {lim.name: lim.value for lim in DEVICE_TABLE}
    assert len(sent(port, b"LIMITS")) == 2  # complete once the second answer arrived


def test_sync_and_report_whose_replies_are_lost_are_resent() -> None:
    port = Lossy()
    port.lose(b"ok 1", 0)  # SYNC's reply
    port.lose(b"ok 2", 0)  # REPORT's
    lossy_connect(port)
    assert len(sent(port, b"SYNC")) == 2 and len(sent(port, b"REPORT")) == 2


def test_a_table_put_together_from_parts_that_fails_the_banner_crc_is_corrupt() -> None:
    table_ = [*DEVICE_TABLE]
    table_[1] = Limit(table_[1].name, table_[1].value + 1, "", "", "")  # not the banner's
    changed = [p.LimitLine(lim.name, lim.value) for lim in table_]
    ok = p.Ok(None, f"crc={table_crc(table_):04X} n={len(changed)}")
    table = LimitsTable(DEVICE_TABLE_CRC)
    for message in [*changed[:5], *changed[6:], ok]:  # one line lost
        table.feed(message)
    assert not table.complete
    table.new_answer()
    for message in changed[:10]:  # the lost line arrives in the next answer
        table.feed(message)
    with pytest.raises(TableCorrupt, match="does not match its banner"):
        assert table.complete


def test_lines_whose_order_no_answer_fixes_are_ordered_by_the_crc() -> None:
    """Lines 5 and 6 never arrive in one answer: both orders are tried against the CRC."""
    lines = [p.LimitLine(lim.name, lim.value) for lim in DEVICE_TABLE]
    ok = p.Ok(None, f"crc={DEVICE_TABLE_CRC:04X} n={len(lines)}")
    table = LimitsTable(DEVICE_TABLE_CRC)
    for without in (5, 6):
        table.new_answer()
        for message in [*lines[:without], *lines[without + 1:], ok]:
            table.feed(message)
    assert table.complete and list(table.limits()) == [line.name for line in lines]
