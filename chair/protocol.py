"""The wire protocol: a sans-I/O codec used by both ends (docs/protocol.md is its contract).

Bytes go in, small frozen messages come out, and back. Nothing here reads a port or a
clock, and the decoders never raise on input: a bad line becomes a `BadLine` event.

Host to device: ``[seq ]VERB[ arg...][*CRC]`` lines, plus the real-time bytes that are acted
on wherever they appear: ``?`` (status) and the emergency stops, 0x9E in protocol 2 and the
``!`` a person types (protocol 1's only stop; see `HostDecoder`). Device to host: every
line ends in ``*CRC`` and its first character says what it is (``o``k, ``e``rror, ``<``
status, ``!`` fault, ``#`` banner, ``$`` limit, ``[`` info).

The codec lives in five modules by part, all re-exported here (``from chair import protocol
as p``): chair/protocol_wire.py (constants, sequence numbers, the number grammar, CRC framing,
error and fault codes), chair/protocol_host.py (host to device: commands, their encoding and
parsing), chair/protocol_device.py (device to host: messages, their encoding and generic parsing),
chair/protocol_parse.py (`parse_device_line`: fast paths for status lines and ``ok`` in
front of the generic parser) and chair/protocol_lines.py (the line splitters:
`HostDecoder`, `DeviceDecoder`).
"""

from __future__ import annotations

from chair.protocol_device import (
    STATES,
    Banner,
    DeviceMessage,
    Error,
    FaultReport,
    Info,
    LimitLine,
    Ok,
    StatusReport,
    encode_device,
    table_crc,
)
from chair.protocol_host import (
    _PARSED as _PARSED,
)
from chair.protocol_host import (
    ARGUMENTS,
    COMMANDS,
    Command,
    Frame,
    Kind,
    QueryInfo,
    QueryLimits,
    QueryStatus,
    RealTime,
    Renew,
    Reset,
    SetAir,
    SetConsole,
    SetFoot,
    SetHeat,
    SetRecline,
    SetReport,
    SetRoller,
    Stop,
    Sync,
    encode_command,
    parse_host_line,
)
from chair.protocol_lines import (
    DeviceDecoder,
    HostDecoder,
)
from chair.protocol_parse import (
    _STATUS_BYTES as _STATUS_BYTES,
)
from chair.protocol_parse import parse_device_line
from chair.protocol_wire import (
    CRC_INIT,
    DECIMAL_GRAMMAR,
    ESTOP_BYTE,
    INT_GRAMMAR,
    MAX_DEVICE_LINE,
    MAX_HOST_LINE,
    PROTOCOL_VERSION,
    PROTOCOL_VERSIONS,
    REPLY_MEMORY,
    REPORT_MAX_MS,
    REPORT_MIN_MS,
    SEQ_MOD,
    STATUS_BYTE,
    TYPED_ESTOP_BYTE,
    BadLine,
    ErrorCode,
    FaultCode,
    crc16,
    estop_byte,
    seq_after,
    seq_distance,
)

__all__ = [
    "ARGUMENTS",
    "COMMANDS",
    "CRC_INIT",
    "DECIMAL_GRAMMAR",
    "ESTOP_BYTE",
    "INT_GRAMMAR",
    "MAX_DEVICE_LINE",
    "MAX_HOST_LINE",
    "PROTOCOL_VERSION",
    "PROTOCOL_VERSIONS",
    "REPLY_MEMORY",
    "REPORT_MAX_MS",
    "REPORT_MIN_MS",
    "SEQ_MOD",
    "STATES",
    "STATUS_BYTE",
    "TYPED_ESTOP_BYTE",
    "BadLine",
    "Banner",
    "Command",
    "DeviceDecoder",
    "DeviceMessage",
    "Error",
    "ErrorCode",
    "FaultCode",
    "FaultReport",
    "Frame",
    "HostDecoder",
    "Info",
    "Kind",
    "LimitLine",
    "Ok",
    "QueryInfo",
    "QueryLimits",
    "QueryStatus",
    "RealTime",
    "Renew",
    "Reset",
    "SetAir",
    "SetConsole",
    "SetFoot",
    "SetHeat",
    "SetRecline",
    "SetReport",
    "SetRoller",
    "StatusReport",
    "Stop",
    "Sync",
    "crc16",
    "encode_command",
    "encode_device",
    "estop_byte",
    "parse_device_line",
    "parse_host_line",
    "seq_after",
    "seq_distance",
    "table_crc",
]
