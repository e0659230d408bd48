"""The host's picture of the chair comes from the device (issue 12, items 1 and 2).

At connect the host builds one chair description (chair.chairinfo) from the banner and the
limits table; caps, supervisor, executor, trace, display and plot are keyed by its zones.
A table without a cap for a banner zone is refused before the session starts. A program's
parts the chair lacks are skipped and said (chair.fit); a program it can do none of is
refused with exit 2. `sim://?chair=compact` is the second chair: lumbar, seat and calf
airbags, one lumbar heater, no force sensor, no foot rollers, an 1100 mm track.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chair import protocol as p
from chair.caps import make_caps
from chair.chairinfo import REFERENCE, Chair
from chair.cli import main
from chair.errors import Exit, ProgramError, UsageError
from chair.fit import fit
from chair.limits import DEVICE, DEVICE_TABLE_CRC, HOST
from chair.link import DeviceInfo, Link
from chair.program import program_from_dict
from chair.trace import read_trace
from chair.trace_check import load_trace
from firmware import chairs

COMPACT = "sim://?chair=compact"
COMPACT_ZONES = ["lumbar", "seat", "calves"]


def _banner(zones: tuple[str, ...], heaters: tuple[str, ...], *, axes=None,
            sensors=None, proto: int = 2) -> p.Banner:
    return p.Banner(proto, "fake", zones, heaters, 1100.0, 780.0, DEVICE_TABLE_CRC,
                    axes, sensors)


def _compact_limits() -> dict[str, float]:
    return {entry[0]: float(entry[1]) for entry in chairs.load("compact")["limits"]}


@pytest.fixture
def force_compact(monkeypatch) -> None:
    """The compact chair with a roller force sensor, so the scan of today finds the
    shoulder line (what item 3 replaces); everything else is the compact chair's."""
    real = chairs.load

    def load(name):
        found = real(name)
        if name == "compact":
            found = {**found, "sensors": ["force", *found["sensors"]]}
        return found

    monkeypatch.setattr(chairs, "load", load)


def _program(*steps: dict) -> dict:
    return {"program": {"name": "test", "title": "Test", "purpose": "a test"},
            "step": list(steps)}


def _step(**parts) -> dict:
    return {"zone": "legs", "name": "a step", "seconds": 20, **parts}


# ---------------------------------------------------------------- the chair description

def test_the_chair_comes_from_the_banner_and_the_table() -> None:
    banner = _banner(("lumbar", "seat", "calves"), ("lumbar",), axes=("carriage", "back"),
                     sensors=("pinch",))
    chair = DeviceInfo(banner, _compact_limits()).chair
    assert chair.zones == ("lumbar", "seat", "calves") and chair.heaters == ("lumbar",)
    assert chair.axes == ("carriage", "back") and chair.sensors == ("pinch",)
    assert (chair.track_mm, chair.seat_mm) == (1100.0, 780.0)
    assert chair.refusal() == ""
    assert chair.header()["zones"] == ["lumbar", "seat", "calves"]


def test_a_banner_without_axes_or_sensors_means_the_reference_chair_s() -> None:
    chair = Chair.from_device(_banner(("lumbar",), (), proto=1), dict(DEVICE))
    assert chair.axes == REFERENCE.axes and chair.sensors == REFERENCE.sensors


def test_a_table_without_a_cap_for_a_banner_zone_is_refused_with_the_cap_named() -> None:
    limits = _compact_limits()
    del limits["airbag_kpa_max.calves"]
    why = Chair.from_device(_banner(("lumbar", "seat", "calves"), ("lumbar",)),
                            limits).refusal()
    assert "airbag_kpa_max.calves" in why and "nothing moved" in why
    limits = _compact_limits()
    del limits["heat_c_max"]  # a heater named, its cut-off not published
    assert "heat_c_max" in Chair.from_device(_banner(("seat",), ("lumbar",)), limits).refusal()
    # a chair without heaters need not publish their caps
    assert Chair.from_device(_banner(("seat",), ()), limits).refusal() == ""


def test_the_status_line_is_read_by_the_chair_s_own_zone_order() -> None:
    chair = Chair.from_device(_banner(("lumbar", "seat", "calves"), ("lumbar",)),
                              _compact_limits())
    status = p.StatusReport("Idle", 0.0, 0.0, "off", 1, 0, 1, 0.0, (12.0, 3.0, 0.5),
                            (30.0,), 0, 0.0, 0.0, True, False, ())
    assert chair.air(status) == {"lumbar": 12.0, "seat": 3.0, "calves": 0.5}
    assert chair.heat(status) == {"lumbar": 30.0}


def test_host_caps_for_a_zone_the_host_table_does_not_name_derive_from_the_device_s() -> None:
    device = {**_compact_limits(), "airbag_kpa_max.neck": 20.0}
    caps = make_caps(device, zones=("neck", "lumbar"))
    assert "airbag_kpa_max.neck" not in HOST
    assert caps.airbag_kpa == {"neck": 16.0, "lumbar": HOST["airbag_kpa_max.lumbar"]}
    # the reference chair's caps are what they were
    assert make_caps(DEVICE).airbag_kpa == {zone: min(HOST[f"airbag_kpa_max.{zone}"],
                                                      HOST.get(f"airbag_kpa_default.{zone}",
                                                               99.0))
                                            for zone in REFERENCE.zones}


# ---------------------------------------------------------------- programs fitted to a chair

COMPACT_CHAIR = Chair.from_device(_banner(("lumbar", "seat", "calves"), ("lumbar",),
                                          axes=("carriage", "back", "leg"),
                                          sensors=("pinch", "seat")), _compact_limits())


def test_a_step_part_for_a_missing_zone_heater_or_drive_is_skipped_and_said() -> None:
    program = program_from_dict(_program(
        _step(airbags={"calves": 2, "feet": 3}, heat={"seat": 2, "lumbar": 1}, foot=2,
              roller={"technique": "roll", "from": "gluteal", "to": "thigh"}),
        _step(foot=2, airbags={"feet": 2}),
        _step(airbags={"calves": 1})))
    fitted = fit(program, COMPACT_CHAIR)
    said = {(s.step, s.part) for s in fitted.skipped}
    assert said == {(1, "airbags.feet"), (1, "heat.seat"), (1, "foot"), (2, "step")}
    first, third = fitted.program.steps
    assert first.airbags.levels == {"calves": 2} and first.heat == {"lumbar": 1}
    assert first.foot == 0 and first.roller is not None
    assert third.number == 3  # numbers are kept
    assert "no feet airbag zone" in next(s.why for s in fitted.skipped if s.step == 1
                                         and s.part == "airbags.feet")
    # on the reference chair nothing is skipped: the very same program
    assert fit(program, REFERENCE).program is program


def test_a_program_none_of_whose_steps_the_chair_can_do_is_refused() -> None:
    program = program_from_dict(_program(_step(foot=2), _step(airbags={"feet": 2})))
    with pytest.raises(ProgramError, match="none of the program's steps"):
        fit(program, COMPACT_CHAIR)


# ---------------------------------------------------------------- end to end on sim://

@pytest.mark.parametrize("program", ["lumbar", "sciatica"])
def test_programs_run_on_the_compact_chair(program: str) -> None:
    """No force sensor: the shoulder line from the person's height (issue 12 item 3)."""
    assert main(["run", program, "--fast", "--port", COMPACT, "--height", "175",
                 "--no-profile"]) == 0


@pytest.mark.usefixtures("force_compact")
def test_lumbar_on_the_compact_chair_traces_its_own_zones(tmp_path: Path, capsys) -> None:
    trace = tmp_path / "lumbar.jsonl"
    assert main(["run", "lumbar", "--fast", "--port", COMPACT, "--trace", str(trace)]) == 0
    records = load_trace(str(trace))  # the header's chair checks every sample's zones
    header = records[0]
    assert header["chair"]["zones"] == COMPACT_ZONES
    assert header["chair"]["heaters"] == ["lumbar"]
    assert header["chair"]["track_mm"] == 1100.0 and "foot" not in header["chair"]["axes"]
    assert list(header["limits"]["airbag_kpa_max"]) == COMPACT_ZONES
    assert header["skipped"] == []
    samples = [r for r in records if r["type"] == "sample"]
    assert samples and all(list(s["airbags"]) == COMPACT_ZONES for s in samples)
    assert all(list(s["heat_c"]) == ["lumbar"] for s in samples)
    assert max(s["airbags"]["lumbar"] for s in samples) > 5.0  # its lumbar bag worked
    assert records[-1]["reason"] == "completed"
    assert "skipped" not in capsys.readouterr().out


@pytest.mark.usefixtures("force_compact")
def test_sciatica_on_the_compact_chair_skips_what_it_lacks_and_says_so(
        tmp_path: Path, capsys) -> None:
    trace = tmp_path / "sciatica.jsonl"
    assert main(["run", "sciatica", "--fast", "--port", COMPACT, "--trace", str(trace)]) == 0
    records = read_trace(str(trace))
    header = records[0]
    parts = {(s["step"], s["part"]) for s in header["skipped"]}
    assert {(6, "heat.seat"), (19, "airbags.feet"), (19, "foot"), (20, "step")} <= parts
    steps = [r["number"] for r in records if r.get("event") == "step"]
    assert 20 not in steps and 22 not in steps and 21 in steps
    assert not [r for r in records if r.get("event") == "device-refused"]
    out = capsys.readouterr().out
    assert "skipped   step 6 heat.seat: the chair has no seat heater" in out
    assert "step 20 (the whole step)" in out
    pytest.importorskip("matplotlib")
    from chair.plot import make_figure
    from tests.test_plot import _texts

    text = _texts(make_figure(records))
    assert "3 airbag zones (lumbar, seat, calves), 1 heater (lumbar)" in text
    assert "lumbar heater" in text and "seat heater" not in text
    assert "foot rollers (0..3)" not in text  # the compact chair has none
    assert "foot rollers (0..3)" in _texts(make_figure(load_trace(str(reference_trace()))))


def reference_trace() -> Path:
    """A lumbar session on the reference chair (for what its plot draws)."""
    import tempfile

    path = Path(tempfile.mkdtemp()) / "reference.jsonl"
    assert main(["run", "lumbar", "--fast", "--trace", str(path)]) == 0
    return path


def test_a_table_without_a_banner_zone_s_cap_is_refused_before_anything_is_sent(
        monkeypatch, tmp_path: Path, capsys) -> None:
    from chair import link

    identify = link.identify

    def lacking(port_link, deadline):
        info = identify(port_link, deadline)
        return DeviceInfo(info.banner, {k: v for k, v in info.limits.items()
                                        if k != "airbag_kpa_max.calves"})

    sent: list[p.Command] = []
    real_send = Link.send
    monkeypatch.setattr(link, "identify", lacking)
    monkeypatch.setattr(Link, "send", lambda self, command: (sent.append(command),
                                                             real_send(self, command)))
    trace = tmp_path / "refused.jsonl"
    code = main(["run", "lumbar", "--fast", "--port", COMPACT, "--trace", str(trace)])
    assert code == Exit.FAULT
    assert sent == [], "not even SYNC: the session never started"
    records = read_trace(str(trace))
    assert records[0]["chair"]["zones"] == COMPACT_ZONES and records[0]["incomplete"]
    assert not [r for r in records if r["type"] == "sample"]
    refused = [r for r in records if r.get("event") == "refused"]
    assert refused and "airbag_kpa_max.calves" in refused[0]["why"]
    assert "airbag_kpa_max.calves" in records[-1]["reason"]
    assert "airbag_kpa_max.calves" in capsys.readouterr().out


@pytest.fixture
def feet_only(tmp_path: Path) -> Path:
    path = tmp_path / "feetonly.toml"
    path.write_text('[program]\nname = "feetonly"\ntitle = "Feet only"\npurpose = "test"\n\n'
                    '[[step]]\nzone = "feet"\nname = "soles"\nseconds = 20\nfoot = 2\n\n'
                    '[[step]]\nzone = "feet"\nname = "squeeze"\nseconds = 20\n'
                    'airbags = { feet = 2 }\n', encoding="utf-8")
    return path


def test_a_run_the_chair_can_do_none_of_is_refused_with_exit_2(
        feet_only: Path, tmp_path: Path, monkeypatch) -> None:
    sent: list[p.Command] = []
    real_send = Link.send
    monkeypatch.setattr(Link, "send", lambda self, command: (sent.append(command),
                                                             real_send(self, command)))
    trace = tmp_path / "none.jsonl"
    assert main(["run", str(feet_only), "--fast", "--port", COMPACT,
                 "--trace", str(trace)]) == Exit.USAGE
    assert sent == []
    end = read_trace(str(trace))[-1]
    assert "none of the program's steps can run on this chair" in end["reason"]
    # the reference chair has foot rollers and feet airbags: it runs
    assert main(["run", str(feet_only), "--fast"]) == Exit.OK


def test_show_with_a_port_shows_the_plan_for_that_chair(feet_only: Path, capsys) -> None:
    assert main(["show", "feet", "--port", COMPACT]) == 0
    out = capsys.readouterr().out
    assert "airbag zones lumbar, seat, calves; heaters lumbar" in out
    assert "step 2 the whole step: the chair has none of its parts" in out
    assert main(["show", "feet"]) == 0
    assert "skips" not in capsys.readouterr().out  # without --port: as before
    assert main(["show", str(feet_only), "--port", COMPACT]) == Exit.USAGE


def test_trace_readers_refuse_a_sample_zone_the_header_s_chair_lacks(tmp_path: Path) -> None:
    header = {"type": "header", "chair": {**COMPACT_CHAIR.header()}}
    sample = {"type": "sample", "t": 0.1, "airbags": {"lumbar": 0.0, "feet": 1.0},
              "heat_c": {"lumbar": 24.0}}
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (header, sample)) + "\n")
    with pytest.raises(UsageError, match=r"airbags\.feet: the header's chair has no such zone"):
        load_trace(str(path))


def test_a_caution_s_recline_on_a_chair_without_a_backrest_drive_is_refused() -> None:
    from chair.clock import VirtualClock
    from chair.controller import Controller
    from chair.program import load_program
    from chair.trace import Trace
    from tests.test_controller_machine import FakeLink

    class NoBackrest(FakeLink):
        def connect(self, accept=None) -> DeviceInfo:
            banner = p.Banner(2, "fake", REFERENCE.zones, REFERENCE.heaters, 1250.0, 850.0,
                              DEVICE_TABLE_CRC, ("carriage", "leg", "foot"), REFERENCE.sensors)
            info = DeviceInfo(banner, dict(DEVICE))
            accept(info)
            return info

    clock = VirtualClock()
    link = NoBackrest(clock)
    controller = Controller(link, clock, Trace(None), load_program("lumbar"),
                            lambda table: make_caps(table, cautions=("herniated-disc",)))
    with pytest.raises(UsageError, match="no backrest drive"):
        controller.fire("connect")
    assert link.sent == []


def test_the_live_display_says_what_is_skipped_before_anything_moves() -> None:
    import io

    from chair.display import LiveDisplay

    out = io.StringIO()
    LiveDisplay(out)({"type": "header", "program": "feet", "port": COMPACT, "skipped": [
        {"step": 2, "part": "step", "why": "the chair has none of its parts (foot)"},
        {"step": 1, "part": "foot", "why": "the chair has no foot rollers"}]})
    text = out.getvalue()
    assert "this chair cannot do, so skipped:" in text
    assert "step 2 (the whole step): the chair has none of its parts (foot)" in text
    assert "step 1 foot: the chair has no foot rollers" in text


ALLOWED = {"limits.py", "chairinfo.py", "program.py", "program_schema.py", "program_load.py"}
# the table, the reference chair, and program validation (the zone names a program may use)


def test_no_fixed_zone_list_in_the_host_but_the_reference_table() -> None:
    import re

    root = Path(__file__).resolve().parent.parent / "chair"
    used = {path.name for path in root.rglob("*.py")
            if re.search(r"\b(ZONES|HEATERS)\b", path.read_text(encoding="utf-8"))}
    assert used <= ALLOWED, f"fixed zone lists in {sorted(used - ALLOWED)}: key by the chair"


def test_the_settle_time_covers_every_cap_the_rules_allow() -> None:
    """Parking waits SETTLE_S for the bags to vent: enough for the highest cap any chair may
    have (40 kPa, the rule both the firmware and conformance hold every zone to), not only
    the reference chair's."""
    from chair.limits import AIRBAG_KPA_RULE_MAX
    from chair.runner import SETTLE_S
    from chair.safety import SAFE_VENT_S, safe_vent_s
    from firmware.limits import AIRBAG_KPA_RULE

    assert AIRBAG_KPA_RULE[1] == AIRBAG_KPA_RULE_MAX  # the firmware's twin of the rule
    for name in ("reference", "compact"):
        caps = [v for n, v, *_ in chairs.load(name)["limits"] if n.startswith("airbag_kpa")]
        assert max(safe_vent_s(cap) for cap in caps) <= SAFE_VENT_S < SETTLE_S
    assert safe_vent_s(AIRBAG_KPA_RULE_MAX) == SAFE_VENT_S


def test_a_fast_run_says_at_the_start_what_it_skips_and_where_the_line_comes_from(
        capsys) -> None:
    """Said at the start, before the run (found by the fresh tester: a --fast run said it
    only in the end summary)."""
    assert main(["run", "sciatica", "--fast", "--port", COMPACT, "--height", "175",
                 "--no-profile"]) == 0
    out = capsys.readouterr().out
    start, summary = out.index("this chair cannot do, so skipped:"), out.index("program   ")
    assert out.index("body scan: shoulder line at ") < start < summary


def test_the_plot_says_where_a_given_shoulder_line_came_from(tmp_path: Path) -> None:
    """A line from --height is not "scanned" (found by the fresh tester)."""
    pytest.importorskip("matplotlib")
    from chair.plot import make_figure
    from tests.test_plot import _texts

    trace = tmp_path / "compact.jsonl"
    assert main(["run", "lumbar", "--fast", "--port", COMPACT, "--height", "175",
                 "--no-profile", "--trace", str(trace)]) == 0
    text = _texts(make_figure(load_trace(str(trace))))
    assert "shoulder line from height at 176 mm" in text and "scanned" not in text
