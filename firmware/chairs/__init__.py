"""Chair descriptions: what a chair has and its limits, as data the firmware reads at start.

A description is a JSON object (one file per chair model in this folder):
`name`, `about`, `zones` (airbag zones, in the order of the status line's `air`),
`heaters` (in the order of `heat`), `track_mm`, `seat_mm` (where the L-track bends into the
seat), `axes` (the drives present: `carriage`, `back`, `leg`, `foot`), `sensors` (the
optional sensors present: `force` on the roller, `pinch`, `seat`), `techniques`,
`limits_crc` (four hex digits: the CRC the firmware was built with) and `limits` (entries
`[name, value, unit, source, meaning]` in wire order; docs/safety.md gives the sources).
"""

import json

try:
    _HERE = __file__.rsplit("/", 1)[0]
except NameError:  # a frozen build without __file__
    _HERE = "firmware/chairs"

REQUIRED = ("name", "zones", "heaters", "track_mm", "seat_mm", "axes", "sensors",
            "techniques", "limits_crc", "limits")


def load(name):
    """The description `name` (a file `<name>.json` here); OSError if there is none,
    ValueError naming the key if one is missing or malformed."""
    with open(_HERE + "/" + name + ".json") as f:
        return check(json.load(f), name)


AXES = ("carriage", "back", "leg", "foot")
SENSORS = ("force", "pinch", "seat")
_HEX = "0123456789ABCDEF"


def _token(name):
    """A name of the wire: a lower-case letter, then letters, digits or '-', 16 at most."""
    if not isinstance(name, str) or not 1 <= len(name) <= 16 or not "a" <= name[0] <= "z":
        return False
    return all("a" <= c <= "z" or "0" <= c <= "9" or c == "-" for c in name)


def check(chair, where="chair"):
    """`chair` itself, after checking its keys; ValueError names the first bad one. (The
    limits' values are the firmware's to judge: firmware.limits refuses a table that breaks
    a rule, and the chair then reports F14 rather than failing to start.)"""
    for key in REQUIRED:
        if key not in chair:
            raise ValueError(where + ": missing key '" + key + "'")
    for key in ("zones", "heaters", "axes", "sensors", "techniques"):
        items = chair[key]
        if not isinstance(items, list):
            raise ValueError(where + ": '" + key + "' must be a list")
        for item in items:
            if not _token(item):
                raise ValueError(where + ": '" + key + "' has " + repr(item)
                                 + ", not a name (a-z, 0-9, '-', 16 at most)")
            if items.count(item) > 1:
                raise ValueError(where + ": '" + key + "' names " + item + " twice")
    for key, known in (("axes", AXES), ("sensors", SENSORS)):
        for item in chair[key]:
            if item not in known:
                raise ValueError(where + ": '" + key + "' has " + repr(item) + "; known: "
                                 + ", ".join(known))
    crc = chair["limits_crc"]
    if not (isinstance(crc, str) and len(crc) == 4 and all(c in _HEX for c in crc)):
        raise ValueError(where + ": 'limits_crc' must be four upper-case hex digits, not "
                         + repr(crc))
    for key in ("track_mm", "seat_mm"):
        if not isinstance(chair[key], (int, float)) or not chair[key] > 0:
            raise ValueError(where + ": '" + key + "' must be a positive number")
    if chair["seat_mm"] >= chair["track_mm"]:
        raise ValueError(where + ": 'seat_mm' must be less than 'track_mm'")
    for entry in chair["limits"]:
        if not (isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[0], str)
                and isinstance(entry[1], (int, float))):
            raise ValueError(where + ": bad limits entry " + repr(entry))
    names = [entry[0] for entry in chair["limits"]]
    for zone in chair["zones"]:
        if "airbag_kpa_max." + zone not in names:
            raise ValueError(where + ": no limit airbag_kpa_max." + zone + " for zone " + zone)
    return chair
