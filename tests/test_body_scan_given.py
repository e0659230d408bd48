"""The shoulder line on a chair whose roller senses no force: --height, --shoulder-mm, the
per-port profile and --no-profile (chair.shoulder, chair.profile); and the force scan as it
was on a chair that senses force.

The forceless chair here is the reference chair's description with `force` taken out of its
sensors (its six zones and two heaters, so that these tests do not depend on how the host
handles a chair with fewer zones); the firmware then reports a force of 0.0 and a banner
`sensors=pinch,seat`, as the compact chair does.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import pytest

from chair import protocol as p
from chair.cli import main
from chair.landmarks import HEIGHT_CM_RANGE, SHOULDER_MM_PER_CM, shoulder_from_height
from chair.link import Link
from chair.trace import read_trace
from firmware import chairs
from sim import body

PORT = "sim://?height=180"
SEAT_MM = 850.0  # the reference chair's seat bend


@pytest.fixture
def profile_path(tmp_path: Path, monkeypatch) -> Path:
    """A fresh $XDG_CONFIG_HOME for this test; the profile's path in it."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "chair" / "profile.json"


@pytest.fixture
def forceless(monkeypatch) -> None:
    """sim:// builds the reference chair without its roller force sensor."""
    real = chairs.load

    def load(name: str) -> dict:
        chair = real(name)
        if name == "reference":
            chair = dict(chair, sensors=[s for s in chair["sensors"] if s != "force"])
        return chair

    monkeypatch.setattr(chairs, "load", load)


@pytest.fixture
def sent(monkeypatch) -> list[p.Command]:
    """Every command the host queued for the device."""
    commands: list[p.Command] = []
    real = Link.send

    def send(self, command: p.Command) -> None:
        commands.append(command)
        real(self, command)

    monkeypatch.setattr(Link, "send", send)
    return commands


def run(tmp_path: Path, *args: str, port: str = PORT) -> tuple[int, list[dict]]:
    trace = tmp_path / f"t{len(list(tmp_path.glob('t*.jsonl')))}.jsonl"
    code = main(["run", "lumbar", "--fast", "--port", port, "--trace", str(trace), *args])
    return code, read_trace(str(trace))


def scan_event(records: list[dict]) -> dict | None:
    return next((r for r in records if r.get("event") == "scan"), None)


def nothing_moved(records: list[dict], sent: list[p.Command]) -> None:
    assert scan_event(records) is None
    assert not [r for r in records if r.get("event") == "state" and r["dest"] == "scanning"]
    assert not [c for c in sent if c.KIND is p.Kind.ACTUATE]


# ---------------------------------------------------------------- the anthropometry


def test_the_height_mapping_is_the_simulated_persons() -> None:
    assert HEIGHT_CM_RANGE == body.HEIGHT_CM_RANGE
    assert -body.LANDMARK_MM_PER_CM["shoulder"] == SHOULDER_MM_PER_CM
    for name in ("reference", "compact"):
        seat = float(chairs.load(name)["seat_mm"])
        for height in (150.0, 163.5, 175.0, 190.0, 210.0):
            true = body.Body(height).shoulder_mm(seat)
            assert shoulder_from_height(height, seat) == pytest.approx(true, abs=1.0)


@pytest.mark.parametrize("height", [149.9, 210.1, math.nan, math.inf, True])
def test_a_height_outside_the_range_is_refused(height) -> None:
    with pytest.raises(ValueError):
        shoulder_from_height(height)


# ---------------------------------------------------------------- runs without force sensing


def test_height_places_the_shoulder_line_near_the_persons_true_one(
        tmp_path: Path, profile_path: Path, forceless, capsys) -> None:
    code, records = run(tmp_path, "--height", "180")
    assert code == 0, records[-1]
    true = body.Body(180.0).shoulder_mm(SEAT_MM)
    scan = scan_event(records)
    assert scan["method"] == "height"
    assert abs(scan["shoulder_mm"] - true) < 5.0
    header = records[0]
    assert header["body_scan"] == {"method": "height", "from": "option", "height_cm": 180.0,
                                   "shoulder_mm": pytest.approx(true, abs=5.0),
                                   "profile": str(profile_path), "remembered": True}
    assert records[-1]["reason"] == "completed"
    out = capsys.readouterr().out
    assert "scan      shoulder line at 229 mm, from --height 180" in out
    # the roller never swept the back looking for force: the scan took no time
    scanning = [r for r in records if r.get("state") == "scanning"]
    assert not scanning or scanning[-1]["t"] - scanning[0]["t"] < 0.5


def test_the_same_person_scanned_and_given_by_height_agree(tmp_path: Path) -> None:
    """On the chair that senses force the scan finds the line the height gives."""
    code, records = run(tmp_path)
    assert code == 0
    scan = scan_event(records)
    assert scan["method"] == "force"
    assert abs(scan["shoulder_mm"] - shoulder_from_height(180.0, SEAT_MM)) < 10.0


def test_shoulder_mm_is_used_as_given(tmp_path: Path, profile_path: Path, forceless) -> None:
    code, records = run(tmp_path, "--shoulder-mm", "262.5")
    assert code == 0
    scan = scan_event(records)
    assert scan["shoulder_mm"] == 262.5 and scan["landmarks"]["shoulder"] == 262.5
    assert scan["method"] == "shoulder-mm"
    assert records[0]["body_scan"]["from"] == "option"
    assert json.loads(profile_path.read_text())["ports"] == {PORT: {"shoulder_mm": 262.5}}


def test_the_profile_remembers_per_port(tmp_path: Path, profile_path: Path, forceless,
                                        sent, capsys) -> None:
    assert run(tmp_path, "--height", "180")[0] == 0
    code, records = run(tmp_path)
    assert code == 0
    assert records[0]["body_scan"] == {
        "method": "height", "from": "profile", "height_cm": 180.0,
        "shoulder_mm": pytest.approx(shoulder_from_height(180.0, SEAT_MM)),
        "profile": str(profile_path), "remembered": False}
    assert f"from the height 180 cm remembered in {profile_path}" in capsys.readouterr().out
    # another port has no entry: refused, before anything moves
    sent.clear()
    code, records = run(tmp_path, port="sim://?height=180&seed=2")
    assert code == 2
    nothing_moved(records, sent)
    error = capsys.readouterr().err
    assert "--height CM or --shoulder-mm N" in error
    assert "holds no entry for sim://?height=180&seed=2" in error
    # a new value replaces the port's entry; the other port's stays
    assert run(tmp_path, "--shoulder-mm", "250", port="sim://?seed=2")[0] == 0
    assert run(tmp_path, "--height", "170")[0] == 0
    assert json.loads(profile_path.read_text()) == {
        "chair_profile": 1, "ports": {PORT: {"height_cm": 170.0},
                                      "sim://?seed=2": {"shoulder_mm": 250.0}}}


def test_no_profile_neither_reads_nor_writes(tmp_path: Path, profile_path: Path, forceless,
                                             sent, capsys) -> None:
    code, records = run(tmp_path, "--height", "180", "--no-profile")
    assert code == 0
    assert not profile_path.exists()
    assert records[0]["body_scan"] == {"method": "height", "from": "option",
                                       "height_cm": 180.0, "shoulder_mm": pytest.approx(229)}
    assert "not remembered: --no-profile" in capsys.readouterr().out
    # an entry that is there is not read
    assert run(tmp_path, "--height", "180")[0] == 0
    sent.clear()
    code, records = run(tmp_path, "--no-profile")
    assert code == 2
    nothing_moved(records, sent)
    assert "--no-profile: the profile was not read" in capsys.readouterr().err
    # nor is a damaged one, which is left as it was
    profile_path.write_text("{ damaged")
    code, _ = run(tmp_path, "--shoulder-mm", "240", "--no-profile")
    assert code == 0
    assert profile_path.read_text() == "{ damaged"


@pytest.mark.parametrize("text, line, why", [
    ('{\n  "chair_profile": 1,\n  "ports": {\n    "sim://": {"height_cm": 175}\n    "x": 1\n',
     5, "not JSON"),
    ('{"chair_profile": 1,\n "ports": {\n  "sim://?height=180": {"height_cm": 400}}}\n', 3,
     "height_cm 400 is outside 150..210 cm"),
    ('{"chair_profile": 1,\n "ports": {\n  "a": {"height_cm": 170},\n'
     '  "sim://?height=180": {"height_cm": 170, "shoulder_mm": 250}}}\n', 4,
     "exactly one of height_cm or shoulder_mm"),
])
def test_a_damaged_profile_is_refused_naming_the_file_and_line(
        tmp_path: Path, profile_path: Path, forceless, sent, capsys, text: str, line: int,
        why: str) -> None:
    profile_path.parent.mkdir(parents=True)
    profile_path.write_text(text)
    code, records = run(tmp_path)
    assert code == 2
    nothing_moved(records, sent)
    error = capsys.readouterr().err
    assert f"{profile_path}:{line}: the profile is damaged" in error and why in error
    assert "--no-profile" in error
    assert profile_path.read_text() == text  # never rewritten


def test_a_file_that_is_not_a_profile_is_never_overwritten(
        tmp_path: Path, profile_path: Path, forceless, capsys) -> None:
    profile_path.parent.mkdir(parents=True)
    profile_path.write_text('{"theme": "dark"}\n')
    code, _ = run(tmp_path, "--height", "180")
    assert code == 2
    error = capsys.readouterr().err
    assert f"{profile_path}: not a chair profile" in error
    assert profile_path.read_text() == '{"theme": "dark"}\n'


def test_the_profile_is_written_whole_and_private(tmp_path: Path, profile_path: Path,
                                                  forceless) -> None:
    assert run(tmp_path, "--height", "180")[0] == 0
    assert stat.S_IMODE(os.stat(profile_path).st_mode) == 0o600
    assert [p.name for p in profile_path.parent.iterdir()] == ["profile.json"]  # no temp
    # a profile kept elsewhere behind a symbolic link is followed, the link kept
    kept = tmp_path / "dotfiles" / "chair.json"
    kept.parent.mkdir()
    profile_path.rename(kept)
    profile_path.symlink_to(kept)
    assert run(tmp_path, "--height", "175")[0] == 0
    assert profile_path.is_symlink()
    assert json.loads(kept.read_text())["ports"][PORT] == {"height_cm": 175.0}


def test_no_shoulder_line_on_a_forceless_chair_is_refused_before_anything_moves(
        tmp_path: Path, profile_path: Path, forceless, sent, capsys) -> None:
    code, records = run(tmp_path)
    assert code == 2
    nothing_moved(records, sent)
    end = records[-1]
    assert end["type"] == "end" and end["state"] == "idle"
    header = records[0]  # whole: the chair that refused is on record
    assert header["body_scan"] is None and "incomplete" not in header
    assert header["versions"]["firmware"] and header["device_limits"]
    assert end["reason"].startswith("refused before anything moved: this chair's roller "
                                    "senses no force")
    error = capsys.readouterr().err
    assert "--height CM or --shoulder-mm N" in error and "sensors=pinch,seat" in error
    assert not profile_path.exists()


@pytest.mark.parametrize("args, says", [
    (("--shoulder-mm", "900"), "--shoulder-mm 900: a shoulder line at 900 mm from the top, "
                               "which does not fit"),
    (("--shoulder-mm", "60"), "within 100..400 mm of the top"),
])
def test_a_shoulder_line_off_this_chair_is_refused_before_anything_moves(
        tmp_path: Path, profile_path: Path, forceless, sent, capsys, args, says) -> None:
    code, records = run(tmp_path, *args)
    assert code == 2
    nothing_moved(records, sent)
    assert says in capsys.readouterr().err
    assert not profile_path.exists()  # a value that does not fit is not remembered


@pytest.mark.parametrize("args, says", [
    (("--height", "140"), "--height: height 140 cm is outside 150..210 cm"),
    (("--height", "nan"), "--height: height nan is not a finite number"),
    (("--shoulder-mm", "-5"), "--shoulder-mm -5.0: the shoulder line is a position"),
    (("--shoulder-mm", "inf"), "--shoulder-mm inf"),
])
def test_bad_values_are_refused_before_the_port_opens(ports, capsys, args, says) -> None:
    assert main(["run", "lumbar", "--fast", *args]) == 2
    assert ports == []
    assert says in capsys.readouterr().err


def test_height_and_shoulder_mm_together_are_an_argument_error(ports, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "lumbar", "--fast", "--height", "175", "--shoulder-mm", "250"])
    assert exit_.value.code == 2 and ports == []


# ---------------------------------------------------------------- a chair that senses force


def test_the_force_scan_is_unchanged_and_said(tmp_path: Path, profile_path: Path,
                                              capsys) -> None:
    code, records = run(tmp_path)
    assert code == 0
    assert records[0]["body_scan"] == {"method": "force", "from": "scan"}
    scan = scan_event(records)
    assert scan["method"] == "force"
    assert abs(scan["shoulder_mm"] - body.Body(180.0).shoulder_mm(SEAT_MM)) < 10.0
    assert "found by the roller's force sensor" in capsys.readouterr().out
    assert not profile_path.exists()


@pytest.mark.parametrize("args", [("--height", "180"), ("--shoulder-mm", "250")])
def test_a_given_shoulder_line_is_refused_on_a_chair_that_scans(
        tmp_path: Path, profile_path: Path, sent, capsys, args) -> None:
    code, records = run(tmp_path, *args)
    assert code == 2
    nothing_moved(records, sent)
    error = capsys.readouterr().err
    assert f"{args[0]} {args[1]}: this chair's roller senses force" in error
    assert f"drop {args[0]}" in error
    assert not profile_path.exists()


def test_a_profile_entry_is_ignored_on_a_chair_that_scans(tmp_path: Path,
                                                          profile_path: Path) -> None:
    profile_path.parent.mkdir(parents=True)
    profile_path.write_text(json.dumps({"chair_profile": 1,
                                        "ports": {PORT: {"shoulder_mm": 380}}}))
    code, records = run(tmp_path)
    assert code == 0
    assert scan_event(records)["method"] == "force"
    assert scan_event(records)["shoulder_mm"] < 300


# ---------------------------------------------------------------- the compact chair


def test_the_compact_chair_asks_for_the_height_then_runs_on_it(
        tmp_path: Path, profile_path: Path, sent, capsys) -> None:
    port = "sim://?chair=compact&height=170"
    code, records = run(tmp_path, port=port)
    assert code == 2
    nothing_moved(records, sent)
    assert "--height CM or --shoulder-mm N" in capsys.readouterr().err
    code, records = run(tmp_path, "--height", "170", port=port)
    assert code == 0, records[-1]
    true = body.Body(170.0).shoulder_mm(780.0)
    assert abs(scan_event(records)["shoulder_mm"] - true) < 5.0
