"""TEMPORARY (lead): replaced by the codec helper's codes.py at merge."""
E_BAD_CRC, E_UNKNOWN_COMMAND, E_BAD_ARGS, E_OUT_OF_RANGE, E_SEQ_GAP, E_NEED_CRC = 1, 2, 3, 4, 5, 6
E_FAULTED, E_ESTOPPED, E_LINE_TOO_LONG, E_NOT_SYNCED, E_RESET_REFUSED = 7, 8, 9, 10, 11
E_UNOCCUPIED, E_BAD_BYTE, E_LIMITS_INVALID = 12, 13, 14
F_ESTOP, F_DEADMAN, F_BAD_FRAMES, F_SESSION_CAP, F_OVERPRESSURE, F_INFLATE_TIMEOUT = 1, 2, 3, 4, 5, 6
F_OVERTEMP, F_THERMISTOR, F_HEAT_RUNAWAY, F_STALL, F_TRACK_TIMEOUT, F_OVERCURRENT = 7, 8, 9, 10, 11, 12
F_PINCH, F_LIMITS_CRC, F_RECLINE_TIMEOUT, F_VACANT, F_STUCK_ON, F_AIR_HOLD = 13, 14, 15, 16, 17, 18
F_NOT_VENTING = 19
ERROR_NAMES = {1: "bad-crc", 2: "unknown-command", 3: "bad-args", 4: "out-of-range", 5: "seq-gap",
               6: "need-crc", 7: "faulted", 8: "estopped", 9: "line-too-long", 10: "not-synced",
               11: "reset-refused", 12: "unoccupied", 13: "bad-byte", 14: "limits-invalid"}
FAULT_NAMES = {1: "estop", 2: "deadman", 3: "bad-frames", 4: "session-cap", 5: "overpressure",
               6: "inflate-timeout", 7: "overtemp", 8: "thermistor", 9: "heat-runaway",
               10: "stall", 11: "track-timeout", 12: "overcurrent", 13: "pinch", 14: "limits-crc",
               15: "recline-timeout", 16: "vacant", 17: "stuck-on", 18: "air-hold",
               19: "not-venting"}
