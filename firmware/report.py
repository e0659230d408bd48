"""What the device says about itself: the banner (docs/protocol.md §6) and the status line
(§4), from the hardware layer's readings and the outputs as commanded."""

from firmware import codec

STATES = ("Idle", "Run", "Fault", "Estop")


def banner(fw):
    """The `#CHAIR` line: protocol, firmware, zones, heaters, track, seat, the table's
    built CRC, then the drives (`axes`) and optional sensors (`sensors`) present."""
    chair = fw.chair
    extra = " axes=%s sensors=%s" % (",".join(chair["axes"]), ",".join(chair["sensors"]))
    return codec.banner(fw.proto, fw.name, fw.zones, fw.heaters, float(chair["track_mm"]),
                        float(chair["seat_mm"]), fw.limits.built_crc, extra)


def status(fw, now):
    """One status line at time `now` (seconds on the firmware's clock)."""
    hw = fw.hw
    axes = fw.axes
    technique, width, depth, speed = axes.head
    return codec.status(fw.state, max(0.0, now - fw.boot_time), hw.encoder_mm, technique,
                        width, depth, speed, hw.force_n, hw.pressure, hw.temp, axes.foot,
                        hw.back_pct, hw.leg_pct, hw.occupied, hw.pinch,
                        sorted(fw.latch.latched))
