"""chair.shoulder and chair.profile on their own: which way the shoulder line is placed for a
banner, and the profile file's refusals (the runs themselves: test_body_scan_given.py)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from chair import profile
from chair import protocol as p
from chair.display import LiveDisplay, Summary
from chair.errors import UsageError
from chair.shoulder import BodyScan, ShoulderChoice, choose, describe, senses_force


def banner(sensors: tuple[str, ...] | None, seat: float = 780.0,
           track: float = 1100.0) -> p.Banner:
    return p.Banner(2, "fw", ("lumbar", "seat", "calves"), ("lumbar",), track, seat, 0x1234,
                    ("carriage", "back", "leg"), sensors)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "chair" / "profile.json"


def test_which_banners_sense_force() -> None:
    assert senses_force(banner(("force", "pinch", "seat")))
    assert senses_force(banner(None))  # the device did not say: today's scan
    assert not senses_force(banner(("pinch", "seat")))
    assert not senses_force(banner(()))


def test_a_banner_that_does_not_list_its_sensors_keeps_the_scan(path: Path) -> None:
    assert choose(ShoulderChoice(profile_path=str(path)), banner(None), "x") == BodyScan()
    with pytest.raises(UsageError, match="does not list its sensors"):
        choose(ShoulderChoice(175.0, profile_path=str(path)), banner(None), "x")
    assert not path.exists()


def test_height_is_placed_on_this_chairs_own_seat(path: Path) -> None:
    scan = choose(ShoulderChoice(175.0, profile_path=str(path)), banner(("seat",)), "/dev/x")
    assert scan.shoulder_mm == pytest.approx(780.0 - 3.45 * 175.0)
    assert (scan.method, scan.origin, scan.remembered) == ("height", "option", True)
    assert profile.load(path) == {"/dev/x": profile.Entry(height_cm=175.0)}
    again = choose(ShoulderChoice(175.0, profile_path=str(path)), banner(("seat",)), "/dev/x")
    assert again.remembered is False  # already there: not rewritten


def test_a_remembered_entry_that_does_not_fit_this_chair_names_the_profile(path: Path) -> None:
    profile.remember(path, "/dev/x", profile.Entry(height_cm=210.0))  # fits a longer back
    with pytest.raises(UsageError) as refused:
        choose(ShoulderChoice(profile_path=str(path)), banner(("seat",)), "/dev/x")
    text = str(refused.value)
    assert text.startswith(f"the profile {path}, port /dev/x: height 210 cm places the "
                           "shoulder line at 56 mm")
    assert "does not fit this chair" in text
    # and says which heights do (found by the fresh tester: the sentence did not)
    assert "heights from 150 to " in text and "or give --shoulder-mm N" in text


def test_every_refusal_on_a_forceless_chair_names_the_options(path: Path) -> None:
    with pytest.raises(UsageError) as refused:
        choose(ShoulderChoice(profile_path=str(path)), banner(("pinch", "seat")), "/dev/x")
    text = str(refused.value)
    assert "--height CM or --shoulder-mm N" in text and "sensors=pinch,seat" in text
    assert "1100 mm track" in text and "seat bend at 780 mm" in text
    assert "Nothing moved" in text


@pytest.mark.parametrize("text, says", [
    ('{"chair_profile": 2, "ports": {}}', "not a chair profile"),
    ('[1, 2]', "not a chair profile"),
    ('{"chair_profile": 1, "ports": []}', ":1: the profile is damaged: \"ports\" must be"),
    ('{"chair_profile": 1,\n"ports": {"a": {"height_cm": true}}}', ":2: the profile is damaged: "
     "port 'a': height_cm must be a number"),
    ('{"chair_profile": 1,\n"ports": {"a": {"shoulder_mm": -3}}}', ":2: the profile is damaged: "
     "port 'a': shoulder_mm -3 is not a position"),
    ('{"chair_profile": 1,\n"ports": {"a": {"weight_kg": 70}}}', ":2: the profile is damaged: "
     "port 'a': an entry holds exactly one"),
    ('{"chair_profile": 1, "ports": {"a": {"height_cm": NaN}}}', "height_cm must be a number"),
    ("[" * 100_000, "damaged"),
])
def test_damaged_profiles_are_refused_naming_the_file(path: Path, text: str,
                                                      says: str) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(UsageError) as refused:
        profile.load(path)
    assert str(refused.value).startswith(str(path)) and says in str(refused.value)
    with pytest.raises(UsageError):
        profile.remember(path, "b", profile.Entry(height_cm=170.0))
    assert path.read_text() == text


def test_what_is_not_a_file_is_refused(path: Path) -> None:
    path.mkdir(parents=True)
    with pytest.raises(UsageError, match="the profile is a directory"):
        profile.load(path)
    os.rmdir(path)
    os.mkfifo(path)
    with pytest.raises(UsageError, match="the profile is a FIFO"):
        profile.load(path)  # never opened: it would block
    os.unlink(path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(UsageError, match="not UTF-8"):
        profile.load(path)


def test_a_profile_that_cannot_be_written_is_a_usage_error(tmp_path: Path, path: Path,
                                                           monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError, match=r"profile\.json: cannot read the profile"):
        profile.remember(blocker / "chair" / "profile.json", "x",
                         profile.Entry(height_cm=170.0))

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(profile.tempfile, "mkstemp", full)
    with pytest.raises(UsageError) as refused:
        profile.remember(path, "x", profile.Entry(height_cm=170.0))
    assert str(refused.value).startswith(f"{path}: cannot write the profile (No space left")
    assert "--no-profile" in str(refused.value)


def test_the_default_place_follows_xdg(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert profile.default_path() == tmp_path / "chair" / "profile.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # the spec says: ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert profile.default_path() == tmp_path / "home" / ".config" / "chair" / "profile.json"


def test_the_run_says_which_it_used() -> None:
    given = {"method": "height", "from": "option", "height_cm": 175, "shoulder_mm": 246.25,
             "profile": "/p.json", "remembered": True}
    assert describe(given) == ("shoulder line at 246.25 mm, from --height 175 (the roller "
                               "senses no force; remembered for this port in /p.json)")
    assert "body scan" in describe({"method": "force", "from": "scan"})
    out = io.StringIO()
    display = LiveDisplay(out)
    display({"type": "header", "program": "lumbar", "port": "sim://", "body_scan": given})
    assert "body scan: shoulder line at 246.25 mm, from --height 175" in out.getvalue()
    summary = Summary()
    summary({"type": "header", "body_scan": {"method": "shoulder-mm", "from": "profile",
                                             "shoulder_mm": 250, "profile": "/p.json"}})
    summary({"type": "end", "t": 1.0, "state": "idle", "reason": "completed"})
    assert ("scan      shoulder line at 250 mm, from the shoulder line remembered in /p.json"
            in summary.render())
    assert json.dumps(BodyScan().header()) == '{"method": "force", "from": "scan"}'
