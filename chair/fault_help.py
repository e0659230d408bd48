"""What each latched fault (`chair.protocol.FaultCode`) means to a person in the chair, and
what they should do: the one table every front end shows (the web page, Home Assistant,
the API's status snapshot). docs/protocol.md section 5 says when the device latches each
one; a fault is cleared only by a reset the device accepts (its condition gone), which
never starts anything by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from chair.protocol import FaultCode


@dataclass(frozen=True)
class FaultHelp:
    """`text`: what happened, in plain words; `what_to_do`: the person's next step."""

    text: str
    what_to_do: str


_RESET = "then press reset"
_SERVICE = ("If it comes back, stop using the chair and have it checked (docs/hobbyist.md)")

#: Every fault code, what it means and what to do. tests/service check it is complete.
FAULT_HELP: dict[FaultCode, FaultHelp] = {
    FaultCode.ESTOP: FaultHelp(
        "Emergency stop: everything was stopped at once.",
        f"Make sure the person in the chair is comfortable and nothing is trapped, {_RESET}."),
    FaultCode.DEADMAN: FaultHelp(
        "The chair lost contact with its controller and stopped by itself.",
        f"Check that `chair serve` is running and the cable is plugged in, {_RESET}."),
    FaultCode.BAD_FRAMES: FaultHelp(
        "Too many damaged messages on the cable: the chair stopped.",
        f"Check the cable and its connectors (and the baud rate), {_RESET}."),
    FaultCode.SESSION_CAP: FaultHelp(
        "The chair worked for 30 minutes without a break and stopped: long sessions "
        "are not advised.",
        f"Get up and move for a while, {_RESET} before another session."),
    FaultCode.OVERPRESSURE: FaultHelp(
        "An airbag went above its pressure limit: the chair let the air out.",
        f"Check the person is not hurt and nothing presses on the airbags, {_RESET}. "
        + _SERVICE),
    FaultCode.INFLATE_TIMEOUT: FaultHelp(
        "An airbag took too long to fill, or could not be seen filling (a leak, a stuck "
        "valve, pump or pressure sensor).",
        f"Check the airbags and their hoses for a leak or a kink, {_RESET}. " + _SERVICE),
    FaultCode.OVERTEMP: FaultHelp(
        "A heater got too hot: heat was switched off.",
        f"Let the chair cool for a few minutes and check the skin under the heater, "
        f"{_RESET}. " + _SERVICE),
    FaultCode.THERMISTOR: FaultHelp(
        "A heater's temperature sensor reads nonsense (open or shorted): heat was "
        "switched off.",
        f"Have the sensor's wiring checked; {_RESET} (the chair refuses while it persists)."),
    FaultCode.HEAT_RUNAWAY: FaultHelp(
        "A heater did not warm as expected (a loose sensor or a broken element): heat "
        "was switched off.",
        f"Check the heater pad and its sensor sit in place, {_RESET}. " + _SERVICE),
    FaultCode.STALL: FaultHelp(
        "The roller was driven but did not move (blocked or jammed).",
        f"Check nothing blocks the roller's track and the person sits back normally, "
        f"{_RESET}."),
    FaultCode.TRACK_TIMEOUT: FaultHelp(
        "The roller did not reach the end of its track in time.",
        f"Check nothing blocks the roller's track, {_RESET}. " + _SERVICE),
    FaultCode.OVERCURRENT: FaultHelp(
        "The roller's motor drew too much current (pressing too hard, or blocked).",
        f"Check the person is not hurt and nothing blocks the roller, {_RESET}."),
    FaultCode.PINCH: FaultHelp(
        "Something was caught while the backrest or leg rest moved: the chair stopped.",
        f"Free whatever is caught (a hand, a foot, a pet, an object) before anything "
        f"else, {_RESET}."),
    FaultCode.LIMITS_CRC: FaultHelp(
        "The chair's own safety limits failed their check at start: it refuses to run.",
        "Do not use the chair: reflash its firmware (docs/firmware.md)."),
    FaultCode.RECLINE_TIMEOUT: FaultHelp(
        "The backrest or leg rest did not reach its position in time.",
        f"Check nothing blocks the backrest or the leg rest, {_RESET}."),
    FaultCode.VACANT: FaultHelp(
        "The seat emptied during massage: the chair stopped.",
        f"Sit down again, {_RESET} and start a new session."),
    FaultCode.STUCK_ON: FaultHelp(
        "The pump or a heater stays on when told to switch off (a stuck driver or a "
        "welded relay).",
        "Switch the chair off at the mains and have it checked before using it again."),
    FaultCode.AIR_HOLD: FaultHelp(
        "An airbag stayed inflated too long: the chair let the air out.",
        f"Let the legs or back rest a few minutes, {_RESET}."),
    FaultCode.NOT_VENTING: FaultHelp(
        "An airbag does not let its air out (a stuck vent valve): the chair vented it "
        "another way.",
        f"Check the airbag is soft again, {_RESET}. " + _SERVICE),
}


def help_for(code: FaultCode) -> FaultHelp:
    """The table's entry for `code` (KeyError for a code the table lacks: a bug)."""
    return FAULT_HELP[code]
