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
#: Limits the airbag part reads on every chair (F06: one inflation's time, its rise).
AIR_LIMITS = ("airbag_inflate_s_max", "airbag_rise_kpa", "airbag_rise_s")


def load(name):
    """The description `name` (a file `<name>.json` here); OSError if there is none,
    ValueError naming the key if one is missing or malformed."""
    with open(_HERE + "/" + name + ".json") as f:
        return check(json.load(f), name)


def check(chair, where="chair"):
    """`chair` itself, after checking its keys; ValueError names the first bad one."""
    for key in REQUIRED:
        if key not in chair:
            raise ValueError(where + ": missing key '" + key + "'")
    for key in ("zones", "heaters", "axes", "sensors", "techniques"):
        if not isinstance(chair[key], list):
            raise ValueError(where + ": '" + key + "' must be a list")
    for entry in chair["limits"]:
        if not (isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[0], str)
                and isinstance(entry[1], (int, float))):
            raise ValueError(where + ": bad limits entry " + repr(entry))
    names = [entry[0] for entry in chair["limits"]]
    for name in AIR_LIMITS:
        if name not in names:
            raise ValueError(where + ": no limit " + name + " (every chair's airbag timing)")
    for zone in chair["zones"]:
        if "airbag_kpa_max." + zone not in names:
            raise ValueError(where + ": no limit airbag_kpa_max." + zone + " for zone " + zone)
    return chair
