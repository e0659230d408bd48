"""Error and fault codes as plain ints, with their wire names (docs/protocol.md §5).

On the wire an error is ``Enn name`` and a fault ``Fnn name``; `error_wire` and `fault_wire`
write them. The values and names are chair.protocol's ErrorCode and FaultCode (a CPython
test keeps them equal).
"""

E_BAD_CRC = 1
E_UNKNOWN_COMMAND = 2
E_BAD_ARGS = 3
E_OUT_OF_RANGE = 4
E_SEQ_GAP = 5
E_NEED_CRC = 6
E_FAULTED = 7
E_ESTOPPED = 8
E_LINE_TOO_LONG = 9
E_NOT_SYNCED = 10
E_RESET_REFUSED = 11
E_UNOCCUPIED = 12
E_BAD_BYTE = 13
E_LIMITS_INVALID = 14

F_ESTOP = 1
F_DEADMAN = 2
F_BAD_FRAMES = 3
F_SESSION_CAP = 4
F_OVERPRESSURE = 5
F_INFLATE_TIMEOUT = 6
F_OVERTEMP = 7
F_THERMISTOR = 8
F_HEAT_RUNAWAY = 9
F_STALL = 10
F_TRACK_TIMEOUT = 11
F_OVERCURRENT = 12
F_PINCH = 13
F_LIMITS_CRC = 14
F_RECLINE_TIMEOUT = 15
F_VACANT = 16
F_STUCK_ON = 17  # an output draws current while commanded off (pump, heater relay)
F_AIR_HOLD = 18  # a bag held inflated too long or for too much of a window
F_NOT_VENTING = 19  # a bag told to vent does not lose its pressure (stuck vent valve)

ERROR_NAMES = {
    E_BAD_CRC: "bad-crc",
    E_UNKNOWN_COMMAND: "unknown-command",
    E_BAD_ARGS: "bad-args",
    E_OUT_OF_RANGE: "out-of-range",
    E_SEQ_GAP: "seq-gap",
    E_NEED_CRC: "need-crc",
    E_FAULTED: "faulted",
    E_ESTOPPED: "estopped",
    E_LINE_TOO_LONG: "line-too-long",
    E_NOT_SYNCED: "not-synced",
    E_RESET_REFUSED: "reset-refused",
    E_UNOCCUPIED: "unoccupied",
    E_BAD_BYTE: "bad-byte",
    E_LIMITS_INVALID: "limits-invalid",
}

FAULT_NAMES = {
    F_ESTOP: "estop",
    F_DEADMAN: "deadman",
    F_BAD_FRAMES: "bad-frames",
    F_SESSION_CAP: "session-cap",
    F_OVERPRESSURE: "overpressure",
    F_INFLATE_TIMEOUT: "inflate-timeout",
    F_OVERTEMP: "overtemp",
    F_THERMISTOR: "thermistor",
    F_HEAT_RUNAWAY: "heat-runaway",
    F_STALL: "stall",
    F_TRACK_TIMEOUT: "track-timeout",
    F_OVERCURRENT: "overcurrent",
    F_PINCH: "pinch",
    F_LIMITS_CRC: "limits-crc",
    F_RECLINE_TIMEOUT: "recline-timeout",
    F_VACANT: "vacant",
    F_STUCK_ON: "stuck-on",
    F_AIR_HOLD: "air-hold",
    F_NOT_VENTING: "not-venting",
}


def error_wire(code):
    """``E01 bad-crc`` for 1; KeyError for a code that is not one."""
    return "E%02d %s" % (code, ERROR_NAMES[code])


def fault_wire(code):
    """``F05 overpressure`` for 5; KeyError for a code that is not one."""
    return "F%02d %s" % (code, FAULT_NAMES[code])
