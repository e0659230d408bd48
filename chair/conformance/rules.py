"""The figures `chair conformance` judges by, in one table (data, not strings in the checks).

Two kinds. The rules' own figures (docs/safety.md, not the device's table: the device is what
is checked); those with a `bound` also limit the device's table entry of the same name (the
`limits` check). And the checker's own figures: how it probes (report period, probe
pressure, leases) and, for the drive stage, how it drives a short session. The drive judges
the device by the same supervision figures `chair run` faults on (`chair.safety`), so the
two agree. Each check's title and messages are made from these values.
"""

from __future__ import annotations

from dataclasses import dataclass

from chair import safety
from chair.controller import PARK_MM, PARK_TIMEOUT_S, SCAN_TIMEOUT_S
from chair.limits import AIRBAG_KPA_RULE_MAX


@dataclass(frozen=True)
class Figure:
    """One figure: its value, unit, where it comes from and what it means. `bound` "max"
    (or "min"): the device's limits-table entry of the same name may not be above (below)
    it."""

    value: float
    unit: str
    source: str
    meaning: str
    bound: str = ""


RULES: dict[str, Figure] = {
    # ---- the rules (docs/safety.md)
    "deadman_ms": Figure(500, "ms", "safety.md rule 1", "host silent this long: safe state",
                         "max"),
    "tick_ms": Figure(10, "ms", "safety.md rules 1, 3",
                      "the dead-man's and the emergency stop's budget: one device tick", "max"),
    "lease_ms_max": Figure(2000, "ms", "safety.md rule 2", "longest lease on a setpoint",
                           "max"),
    "bad_frames_max": Figure(3, "lines", "safety.md rule 4",
                             "this many bad lines within the window latch F03", "max"),
    "bad_frames_window_ms": Figure(1000, "ms", "safety.md rule 4", "the bad lines' window",
                                   "min"),
    "session_s_max": Figure(1800, "s", "safety.md rule 6", "continuous actuation", "max"),
    "airbag_inflate_s_max": Figure(10, "s", "safety.md rule 7", "one inflation", "max"),
    "heat_c_max": Figure(45, "°C", "safety.md rule 8", "surface cut-off", "max"),
    "airbag_kpa_max": Figure(AIRBAG_KPA_RULE_MAX, "kPa", "safety.md rule 7 (a cuff's 40 kPa)",
                             "each zone's cap (airbag_kpa_max.<zone>)", "max"),
    "status_answer_ms": Figure(100, "ms", "protocol.md section 3",
                               "`?` is answered with one status line within this"),
    "reply_memory": Figure(32, "seqs", "protocol.md section 2.2",
                           "replies a device remembers to answer duplicates"),
    # ---- how the checks probe (the checker's choices)
    "report_ms": Figure(20, "ms", "protocol.md section 3 (the fastest REPORT)",
                        "report period while timing something"),
    "paced_report_ms": Figure(100, "ms", "checker", "the period the status check asks for"),
    "reply_ms": Figure(500, "ms", "checker", "a reply later than this counts as none"),
    "probe_kpa": Figure(5, "kPa", "checker", "a gentle airbag pressure for the probes"),
    "vent_ms": Figure(200, "ms", "safety.md rule 7",
                      "after a stop the probe airbag must be seen falling within this"),
    "lease_probe_ms": Figure(300, "ms", "checker", "the short lease the lease check times"),
    "renew_probe_ms": Figure(500, "ms", "checker", "the RENEW the lease check sends"),
    "reset_watch_ms": Figure(300, "ms", "checker", "how long nothing may move after RESET"),
    "latch_watch_ms": Figure(200, "ms", "checker",
                             "how long a latch must last after SYNC (nothing moving)"),
    "probe_fill_ms": Figure(300, "ms", "checker", "the probe airbag fills this long before a stop"),
    "gate_lease_ms": Figure(300, "ms", "checker",
                            "the lease of a setpoint sent only to be refused or seen"),
    "keepalive_ms": Figure(100, "ms", "checker",
                           "a CRC'd STATUS this often keeps the dead-man quiet while watching"),
    # ---- the drive stage: a short session as `chair run` drives it (chair.safety figures)
    "drive_air_share": Figure(0.3, "of cap", "checker",
                              "each zone's cycle fills to this share of its device cap"),
    "drive_air_fill": Figure(0.8, "of target", "checker",
                             "a fill is done once the reading reaches this share of target"),
    "drive_air_hold": Figure(1.0, "s", "checker",
                             "the hold lasts as long as the inflation took, plus this"),
    "drive_air_hold_band": Figure(0.5, "of target", "checker",
                                  "a held bag stays above this share of its target"),
    "air_margin_kpa": Figure(safety.AIR_MARGIN_KPA, "kPa", "chair.safety (chair run)",
                             "a bag reading more than this above its target is over-filled"),
    "air_rise_s": Figure(safety.AIR_RISE_S, "s", "chair.safety (chair run)",
                         "a filling bag reaches 20 % of its target by then"),
    "air_vent_tau_s": Figure(safety.AIR_VENT_TAU_S, "s", "chair.safety (chair run)",
                             "time constant of the slowest vent chair run accepts"),
    "air_vent_lag_s": Figure(safety.AIR_VENT_LAG_S, "s", "chair.safety (chair run)",
                             "delay before a vent must show"),
    "air_vent_margin_kpa": Figure(safety.AIR_VENT_MARGIN_KPA, "kPa", "chair.safety",
                                  "noise allowed above the vent curve"),
    "vented_kpa": Figure(safety.VENTED_KPA, "kPa", "chair.safety (chair run)",
                         "a bag under this is vented; the other zones stay under it"),
    "drive_heat_c": Figure(40, "°C", "checker (chair run's heat level 3)",
                           "the heat ramp's target (at most the table's heat_target_c_max)"),
    "heat_rise_c": Figure(1.0, "°C", "checker",
                          "the ramp ends once the reading has risen this much"),
    "heat_follow_s": Figure(safety.HEAT_FOLLOW_S, "s", "chair.safety (chair run)",
                            "a powered heater's reading must rise within this"),
    "heat_follow_c": Figure(safety.HEAT_FOLLOW_C, "°C", "chair.safety (chair run)",
                            "by this much"),
    "heat_ramp_s": Figure(safety.HEAT_RISE_S, "s", "chair.safety (chair run)",
                          "the longest a ramp may take to rise"),
    "sweep_share": Figure(0.4, "of track", "checker",
                          "the roller sweep goes this share of the track down and back"),
    "stall_s": Figure(safety.STALL_S, "s", "chair.safety (chair run)",
                      "a carriage told to move must move 1 mm within this"),
    "park_mm": Figure(PARK_MM, "mm", "chair.controller (chair run)",
                      "parked: the roller above this"),
    "park_s": Figure(PARK_TIMEOUT_S, "s", "chair.controller (chair run)",
                     "parking takes at most this"),
    "scan_s": Figure(SCAN_TIMEOUT_S, "s", "chair.controller (chair run)",
                     "the body scan takes at most this"),
}


class _Values:
    """`R.name`: a figure's value (`R.deadman_ms` is 500)."""

    def __getattr__(self, name: str) -> float:
        try:
            return RULES[name].value
        except KeyError:
            raise AttributeError(name) from None


R = _Values()
#: The device table entries a rule bounds: name -> ("max" or "min", the rule's value).
RULE_BOUNDS: dict[str, tuple[str, float]] = {name: (f.bound, f.value)
                                             for name, f in RULES.items() if f.bound}
# The figures the checks use most, in seconds.
DEADMAN_S = R.deadman_ms / 1000
TICK_S = R.tick_ms / 1000
LEASE_MAX_MS = int(R.lease_ms_max)
BAD_FRAMES_MAX = int(R.bad_frames_max)
BAD_WINDOW_S = R.bad_frames_window_ms / 1000
REPORT_MS = int(R.report_ms)
REPLY_S = R.reply_ms / 1000
PROBE_KPA = float(R.probe_kpa)
VENT_S = R.vent_ms / 1000
GATE_MS = int(R.gate_lease_ms)
KEEPALIVE_S = R.keepalive_ms / 1000
PARK_MM = R.park_mm
