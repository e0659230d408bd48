"""The firmware's codes and transmit buffer against the host package's: codes.py equal to
chair.protocol's ErrorCode and FaultCode, the command table equal to chair.protocol's command
classes, and OutQueue behaving as chair.linequeue.LineQueue for any sequence of operations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chair import protocol as p
from chair.linequeue import LineQueue
from firmware import codec, codes
from firmware.outq import OutQueue


def test_the_codes_are_the_protocol_codes() -> None:
    assert {int(c): c.name.lower().replace("_", "-") for c in p.ErrorCode} == codes.ERROR_NAMES
    assert {int(c): c.name.lower().replace("_", "-") for c in p.FaultCode} == codes.FAULT_NAMES
    for c in p.ErrorCode:
        assert getattr(codes, f"E_{c.name}") == c.value
        assert codes.error_wire(c.value) == c.wire
    for c in p.FaultCode:
        assert getattr(codes, f"F_{c.name}") == c.value
        assert codes.fault_wire(c.value) == c.wire
    assert len([n for n in vars(codes) if n.startswith("E_")]) == len(p.ErrorCode)
    assert len([n for n in vars(codes) if n.startswith("F_")]) == len(p.FaultCode)


def test_the_command_table_is_the_protocol_table() -> None:
    kinds = {p.Kind.QUERY: codec.QUERY, p.Kind.MODE: codec.MODE,
             p.Kind.CONTROL: codec.CONTROL, p.Kind.ACTUATE: codec.ACTUATE}
    types = {int: "int", float: "float", str: "str"}
    assert {
        verb: (kinds[cls.KIND], tuple((name, types[kind]) for name, kind in p.ARGUMENTS[verb]))
        for verb, cls in p.COMMANDS.items()} == codec.COMMANDS


def test_the_constants_are_the_protocol_constants() -> None:
    for name in ("PROTOCOL_VERSION", "PROTOCOL_VERSIONS", "MAX_HOST_LINE", "STATUS_BYTE",
                 "ESTOP_BYTE", "TYPED_ESTOP_BYTE", "SEQ_MOD"):
        assert getattr(codec, name) == getattr(p, name), name
    for a in (0, 1, 65535, 32768, 12345):
        for b in (0, 1, 65535, 32767, 40000):
            assert codec.seq_distance(a, b) == p.seq_distance(a, b)
            assert codec.seq_after(a, b) == p.seq_after(a, b)


lines = st.builds(lambda head, n: head + b"x" * n + b"\n",
                  st.sampled_from([b"<", b"ok ", b"!F01", b"#CHAIR", b"error", b"$", b""]),
                  st.integers(0, 60))
operations = st.lists(st.one_of(
    st.tuples(st.just("push"), lines),
    st.tuples(st.just("merge"), st.sampled_from(["bad", "crc", 7])),
    st.tuples(st.just("take"), st.one_of(st.none(), st.integers(0, 120))),
    st.tuples(st.just("pop"), st.none()),
    st.tuples(st.just("clear"), st.none())), max_size=60)


def render(key):
    return lambda n: b"error - E13 %s n=%d\n" % (str(key).encode(), n)


@settings(max_examples=300)
@given(st.integers(1, 200), operations)
def test_the_queue_behaves_as_the_host_line_queue(capacity, ops) -> None:
    mine, ref = OutQueue(capacity), LineQueue(capacity)
    for op, arg in ops:
        if op == "push":
            mine.push(arg)
            ref.push(arg)
        elif op == "merge":
            mine.merge(arg, render(arg))
            ref.merge(arg, render(arg))
        elif op == "take":
            assert mine.take(arg) == ref.take(arg)
        elif op == "pop":
            assert mine.pop() == ref.pop()
        else:
            mine.clear()
            ref.clear()
        assert len(mine) == len(ref) <= capacity and bool(mine) == bool(ref)
        assert (mine.dropped_lines, mine.dropped_bytes, mine.merged) == (
            ref.dropped_lines, ref.dropped_bytes, ref.merged)
