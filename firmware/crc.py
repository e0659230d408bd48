"""CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no xorout).

MicroPython's binascii has no crc_hqx, so the firmware computes it from a 256-entry table
(`crc16_table`). Under CPython `crc16` is binascii.crc_hqx itself, the same function in C
(the simulator runs every host line through it); the tests keep the two equal.
"""


def _make_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


TABLE = _make_table()


def crc16_table(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE of `data` (bytes-like) continuing from `crc`; an int 0..0xFFFF."""
    table = TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFF00) ^ table[(crc >> 8) ^ byte]
    return crc


try:
    from binascii import crc_hqx as _crc_hqx
except ImportError:  # MicroPython
    _crc_hqx = None

#: `crc16` without the default argument: ``crc16_raw(data, crc)`` (the decoder's hot path)
crc16_raw = crc16_table if _crc_hqx is None else _crc_hqx

if _crc_hqx is None:
    crc16 = crc16_table
else:
    def crc16(data, crc=0xFFFF):
        """CRC-16/CCITT-FALSE of `data` continuing from `crc` (binascii.crc_hqx)."""
        return _crc_hqx(data, crc)
