"""F06's rise rule reads its thresholds from the limits table (docs/protocol.md §5.1):
`airbag_rise_kpa` within `airbag_rise_s`, not constants of the firmware."""

from __future__ import annotations

import binascii
import copy

import pytest

from chair import limits
from chair import protocol as p
from firmware import chairs, codes
from firmware.device import Firmware
from firmware.hal import Hardware


def test_the_rise_thresholds_are_table_entries() -> None:
    assert limits.DEVICE["airbag_rise_kpa"] == 0.5
    assert limits.DEVICE["airbag_rise_s"] == 0.5
    for name in ("reference", "compact"):
        table = {e[0]: e[1] for e in chairs.load(name)["limits"]}
        assert (table["airbag_rise_kpa"], table["airbag_rise_s"]) == (0.5, 0.5), name


def chair_with(**values: float) -> dict:
    """The reference chair with some limits changed, its CRC recomputed."""
    chair = copy.deepcopy(chairs.load("reference"))
    for entry in chair["limits"]:
        if entry[0] in values:
            entry[1] = values[entry[0]]
    chair["limits_crc"] = f"{p.table_crc((e[0], e[1]) for e in chair['limits']):04X}"
    return chair


def f06_after(chair: dict) -> float:
    """Seconds from an AIR command to F06 with a pressure reading stuck at 0."""
    fw = Firmware(Hardware(), chair, 0.0)
    assert not fw.latch.latched
    fw.receive(b"CONSOLE 1\nAIR lumbar 10 2000\n", 0.0)
    for k in range(1, 1000):
        fw.tick(k)
        if k % 10 == 0:
            fw.receive(b"RENEW 2000\n", fw.now)
        if codes.F_INFLATE_TIMEOUT in fw.latch.latched:
            return fw.now
    raise AssertionError("no F06")


@pytest.mark.parametrize("rise_s", [0.5, 1.5])
def test_a_stuck_reading_latches_f06_after_the_tables_rise_time(rise_s: float) -> None:
    took = f06_after(chair_with(airbag_rise_s=rise_s))
    assert rise_s <= took <= rise_s + 0.15


def test_a_chair_without_the_rise_entries_is_refused_by_name() -> None:
    """Like any missing entry: the firmware starts, latches F14 naming it and refuses to
    actuate (firmware.limits.REQUIRED), rather than failing to start."""
    for name in ("airbag_rise_kpa", "airbag_rise_s"):
        chair = copy.deepcopy(chairs.load("reference"))
        chair["limits"] = [e for e in chair["limits"] if e[0] != name]
        text = "".join(f"${e[0]}={float(e[1]):g}\n" for e in chair["limits"])
        chair["limits_crc"] = f"{binascii.crc_hqx(text.encode(), 0xFFFF):04X}"
        fw = Firmware(Hardware(), chairs.check(chair, "test"), 0.0)
        assert fw.latch.latched == {codes.F_LIMITS_CRC: "no entry " + name}
