"""The transmit buffer (firmware/outq.py): bounded, urgent lines first, whole lines dropped
and counted, merged lines (plain asserts; CPython and MicroPython). Ported from
tests/test_flood.py's tests of chair.linequeue."""

from firmware.outq import OutQueue


def _line(n):
    return ("line %02d\n" % n).encode()


def _bad(n):
    return ("error - E13 bad-byte n=%d\n" % n).encode()


def test_the_queue_is_bounded_drops_whole_lines_and_counts_them():
    queue = OutQueue(100)
    for n in range(40):
        queue.push(_line(n))  # 8 bytes each
    assert len(queue) <= 100 and queue.dropped_lines == 28 and queue.dropped_bytes == 224
    out = queue.take()
    assert out == b"".join([_line(n) for n in range(28, 40)])  # the newest, whole
    queue.push(b"x" * 101 + b"\n")  # longer than the whole queue: dropped itself
    assert not queue and len(queue) == 0 and queue.dropped_lines == 29


def test_fault_pushes_and_banners_go_ahead_of_queued_lines():
    queue = OutQueue(1000)
    queue.push(b"<Run status>\n")
    queue.push(b"ok 1\n")
    queue.push(b"!F01 estop\n")
    queue.push(b"#CHAIR proto=1\n")
    assert queue.take(limit=1) == b"!F01 estop\n"  # at least one whole line, never torn
    assert queue.take() == b"#CHAIR proto=1\n<Run status>\nok 1\n"
    assert queue.take() == b"" and queue.pop() == b""


def test_a_full_queue_makes_room_for_a_fault_push():
    queue = OutQueue(64)
    for _ in range(8):
        queue.push(b"<status>\n")
    queue.push(b"!F05 overpressure\n")
    assert queue.take().startswith(b"!F05 overpressure\n") and queue.dropped_lines > 0


def test_urgent_lines_alone_are_dropped_oldest_first():
    queue = OutQueue(30)
    for n in range(5):
        queue.push(("!F0%d x\n" % (n + 1)).encode())  # 7 bytes each
    assert queue.take() == b"!F02 x\n!F03 x\n!F04 x\n!F05 x\n" and queue.dropped_lines == 1


def test_merged_lines_stand_for_their_count_until_read():
    queue = OutQueue(1000)
    for _ in range(57):
        queue.merge("bad", _bad)
    queue.push(b"ok 2\n")
    queue.merge("bad", _bad)
    assert queue.merged == 57
    assert queue.take() == _bad(58) + b"ok 2\n"
    queue.merge("bad", _bad)  # a new burst
    assert queue.take() == _bad(1)


def test_take_stops_before_the_line_that_would_pass_the_limit():
    queue = OutQueue(1000)
    for n in range(5):
        queue.push(_line(n))
    assert queue.take(limit=20) == _line(0) + _line(1)  # 16 bytes; a third would be 24
    assert len(queue) == 24
    queue.clear()
    assert not queue and queue.take() == b"" and queue.dropped_lines == 0


def test_a_capacity_must_be_positive():
    for bad in (0, -1):
        try:
            OutQueue(bad)
        except ValueError:
            continue
        raise AssertionError("capacity %d accepted" % bad)
