"""The chair descriptions the firmware reads at start (firmware/chairs/*.json)."""

from __future__ import annotations

import binascii
import json
from pathlib import Path

import pytest

from chair import limits
from firmware import chairs

NAMES = sorted(p.stem for p in Path(chairs.__file__).parent.glob("*.json"))


def test_both_chairs_ship() -> None:
    assert NAMES == ["compact", "reference"]


@pytest.mark.parametrize("name", NAMES)
def test_each_table_matches_the_crc_it_was_built_with(name: str) -> None:
    chair = chairs.load(name)
    text = "".join(f"${e[0]}={float(e[1]):g}\n" for e in chair["limits"])
    assert binascii.crc_hqx(text.encode(), 0xFFFF) == int(chair["limits_crc"], 16)
    names = [e[0] for e in chair["limits"]]
    assert len(names) == len(set(names)), "a limit named twice"
    assert all(len(e) == 5 and all(e[2:]) for e in chair["limits"]), "unit, source, meaning"


def test_the_reference_chair_is_the_hosts_device_table() -> None:
    """One table, two readers until the host learns it from the device (issue 12)."""
    chair = chairs.load("reference")
    assert [tuple(e) for e in chair["limits"]] == [
        (lim.name, lim.value, lim.unit, lim.source, lim.meaning) for lim in limits.DEVICE_TABLE]
    assert int(chair["limits_crc"], 16) == limits.DEVICE_TABLE_CRC
    assert tuple(chair["zones"]) == limits.ZONES and tuple(chair["heaters"]) == limits.HEATERS
    assert (chair["track_mm"], chair["seat_mm"]) == (limits.TRACK_MM, limits.SEAT_BEND_MM)
    assert tuple(chair["techniques"]) == limits.TECHNIQUES


def test_the_compact_chair_is_smaller() -> None:
    chair = chairs.load("compact")
    assert chair["zones"] == ["lumbar", "seat", "calves"] and chair["heaters"] == ["lumbar"]
    assert "force" not in chair["sensors"] and "foot" not in chair["axes"]
    assert chair["track_mm"] < chairs.load("reference")["track_mm"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c.pop("zones"), "missing key 'zones'"),
    (lambda c: c.update(heaters="lumbar"), "'heaters' must be a list"),
    (lambda c: c["limits"].append(["x"]), "bad limits entry"),
    (lambda c: c["zones"].append("neck"), "no limit airbag_kpa_max.neck for zone neck"),
    (lambda c: c["zones"].append("lumbar"), "'zones' names lumbar twice"),
    (lambda c: c["heaters"].append("Seat"), "'heaters' has 'Seat', not a name"),
    (lambda c: c.update(limits_crc="zz"), "'limits_crc' must be four upper-case hex digits"),
    (lambda c: c["axes"].append("neck-massager"), "'axes' has 'neck-massager'; known:"),
    (lambda c: c.update(seat_mm=2000), "'seat_mm' must be less than 'track_mm'"),
])
def test_a_bad_description_is_refused_naming_the_key(change, message: str) -> None:
    chair = json.loads(json.dumps(chairs.load("reference")))
    change(chair)
    with pytest.raises(ValueError, match=message):
        chairs.check(chair, "test")
