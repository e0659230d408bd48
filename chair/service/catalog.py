"""What `chair serve` describes without asking the chair thread: the chair the device
described (`chair.info`) and the programs with every caution text (`programs.list`), in
the page's words (chair.cautions.on_page: no Ctrl-C, no command-line options)."""

from __future__ import annotations

from typing import Any

from chair.caps import CAUTIONS, Caps
from chair.cautions import (
    GENERAL,
    GUIDANCE,
    RED_FLAGS_DOCTOR,
    RED_FLAGS_URGENT,
    changes,
    on_page,
)
from chair.clock import wall_now
from chair.link import DeviceInfo
from chair.program import list_programs
from chair.service.startcheck import ack_fresh, cautions_text
from chair.service.store import Store


def chair_described(info: DeviceInfo, caps: Caps | None) -> dict[str, Any]:
    """`chair.info`: the chair's header (zones, heaters, axes, sensors, track), firmware,
    protocol, the device's limits table and the caps in force (kPa per zone, °C per heater)."""
    chair = info.chair
    return {**chair.header(), "firmware": info.banner.firmware,
            "protocol": info.banner.proto, "limits": dict(info.limits),
            "caps": {"airbag_kpa": dict(caps.airbag_kpa) if caps else {},
                     "heat_c": {h: caps.heat_target_c or caps.heat_c_max
                                for h in chair.heaters} if caps else {}}}


def programs_listed(store: Store) -> dict[str, Any]:
    """`programs.list`: every program with its cautions and when and by whom they were
    last acknowledged (`acknowledged`: an MQTT start may rely on it now), the red flags,
    the conditions, the cautions said always and the guidance."""
    listed = []
    for program in list_programs():
        acknowledged = store.acknowledged(program.name, cautions_text(program))
        listed.append({"name": program.name, "title": program.title,
                       "purpose": program.purpose, "seconds": program.seconds,
                       "zones": list(dict.fromkeys(s.zone for s in program.steps)),
                       "cautions": list(program.cautions),
                       # MQTT may start it now (startcheck.check_acknowledged)
                       "acknowledged": ack_fresh(acknowledged, wall_now()),
                       "acknowledged_at": (acknowledged or {}).get("at"),
                       "acknowledged_by": (acknowledged or {}).get("by")})
    return _in_page_words({
        "programs": listed,
        "red_flags": {"urgent": list(RED_FLAGS_URGENT), "doctor": list(RED_FLAGS_DOCTOR)},
        "conditions": [{"name": name, "text": c.text, "refuse": c.refuse,
                        "changes": "" if c.refuse else changes(c)}
                       for name, c in CAUTIONS.items()],
        "always": list(GENERAL), "guidance": list(GUIDANCE)})


def _in_page_words(listed: dict[str, Any]) -> dict[str, Any]:
    """The listing's texts as the page shows them (the red flags have no command words)."""
    for program in listed["programs"]:
        program["purpose"] = on_page(program["purpose"])
        program["cautions"] = [on_page(text) for text in program["cautions"]]
    for condition in listed["conditions"]:
        condition["text"], condition["changes"] = (on_page(condition["text"]),
                                                   on_page(condition["changes"]))
    listed["always"] = [on_page(text) for text in listed["always"]]
    listed["guidance"] = [on_page(text) for text in listed["guidance"]]
    return listed
