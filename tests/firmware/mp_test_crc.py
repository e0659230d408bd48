"""CRC-16/CCITT-FALSE in the firmware: known values (plain asserts; CPython and MicroPython)."""

from firmware import crc


def test_the_check_value():
    assert crc.crc16_table(b"123456789") == 0x29B1
    assert crc.crc16(b"123456789") == 0x29B1


def test_the_documented_frames():
    # docs/protocol.md: the worked example, and CRCs quoted in its vectors
    known = [(b"1 SYNC", 0x1454), (b"7 STATUS", 0xFDB6), (b"STATUS", 0x2DAA),
             (b"7 AIR lumbar 12.0 2000", 0x2F32), (b"ok -", 0x914F), (b"ok 7", 0x2234),
             (b"!F01 estop", 0xA271), (b"7 STOP", 0xCA87), (b"[console mode off]", 0x9723)]
    for data, value in known:
        assert crc.crc16_table(data) == value, data
        assert crc.crc16(data) == value, data


def test_the_running_crc_of_the_worked_example():
    # the table under "| CRC after it |" in docs/protocol.md §1.1, byte by byte
    running = []
    value = 0xFFFF
    for byte in b"1 SYNC":
        value = crc.crc16_table(bytes((byte,)), value)
        running.append(value)
    assert running == [0xC782, 0x0FC9, 0x5279, 0xC86B, 0x9A4E, 0x1454]
    assert crc.crc16_table(b"") == 0xFFFF and crc.crc16(b"") == 0xFFFF


def test_continuing_equals_one_pass():
    data = bytes(range(256)) * 2
    for cut in (0, 1, 100, 511, 512):
        assert crc.crc16_table(data[cut:], crc.crc16_table(data[:cut])) == crc.crc16_table(data)
    assert crc.crc16(bytearray(b"1 SYNC")) == 0x1454
