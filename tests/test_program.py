"""Programs as data: the shipped programs, the chain, and errors a user can act on."""

from __future__ import annotations

import contextlib
import copy
import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chair import caps, limits, safety
from chair.cautions import render_cautions
from chair.errors import ProgramError
from chair.landmarks import LANDMARKS, landmark_positions
from chair.program import (
    MAX_BYTES,
    MAX_STEPS,
    PROGRAM_ZONES,
    TECHNIQUES,
    ZONE_DEPTH_MAX,
    ZONE_LANDMARKS,
    Program,
    _check_shape,
    list_programs,
    load_program,
    parse_program,
    program_from_dict,
    render_timeline,
    search_path,
    shipped_dir,
)

SHIPPED = shipped_dir()
PARTS = ("lumbar", "gluteal", "piriformis", "legs", "feet")
LUMBAR = (SHIPPED / "lumbar.toml").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ shipped

def test_program_zones_agree_with_the_supervisor() -> None:
    assert PROGRAM_ZONES == caps.PROGRAM_ZONES
    assert set(ZONE_DEPTH_MAX) == set(PROGRAM_ZONES) == set(ZONE_LANDMARKS)
    cap = min(limits.HOST["roller_depth_max"], limits.DEVICE["roller_depth_max"])
    assert all(1 <= depth <= cap for depth in ZONE_DEPTH_MAX.values())
    assert set(TECHNIQUES) < set(limits.TECHNIQUES) and "off" not in TECHNIQUES
    assert all(set(places) <= set(LANDMARKS) for places in ZONE_LANDMARKS.values())


@pytest.mark.parametrize("name", PARTS)
def test_each_standalone_program_loads_and_is_gentle(name: str) -> None:
    program = load_program(name)
    assert program.name == name
    assert program.source.endswith(f"{name}.toml")
    assert 120 <= program.seconds <= 300, "a standalone program lasts a few minutes"
    assert {step.zone for step in program.steps} == {name}
    assert [s.number for s in program.steps] == list(range(1, len(program.steps) + 1))
    # what every program shares (red flags, "do not use", guidance) is said before every
    # run by chair.cautions (tests/test_cautions.py); a program says what is its own
    assert program.cautions, "a program says what to watch for in its own work"
    for step in program.steps:
        if step.roller is not None:
            deepest = 4 if name in ("gluteal", "piriformis") else 3
            assert 1 <= step.roller.depth <= deepest
            assert step.roller.technique in TECHNIQUES
        if step.airbags is not None:
            assert all(1 <= level <= 3 for level in step.airbags.levels.values())
    depths = [s.roller.depth for s in program.steps if s.roller is not None]
    assert not depths or sum(depths) / len(depths) <= 3


def test_the_programs_do_what_the_sciatica_notes_ask() -> None:
    lumbar = load_program("lumbar")
    assert all(s.heat.get("lumbar") for s in lumbar.steps)
    assert {s.roller.start for s in lumbar.steps} | {s.roller.end for s in lumbar.steps} \
        >= {"t12", "sacrum"}
    assert any(s.roller.technique == "knead" for s in lumbar.steps)
    assert any(s.airbags and "lumbar" in s.airbags.levels for s in lumbar.steps)
    gluteal = load_program("gluteal")
    assert any(s.airbags and "seat" in s.airbags.levels for s in gluteal.steps)
    piri = load_program("piriformis")
    # moving work across the piriformis, never held where the sciatic nerve leaves the
    # pelvis (issue 10 item 4; tests/test_program_clinical.py checks the traces)
    assert all(s.roller and s.roller.start != s.roller.end for s in piri.steps)
    assert any(s.roller.technique == "knead" and s.roller.depth >= 3 for s in piri.steps)
    assert all({"sacrum", "gluteal"} == {s.roller.start, s.roller.end} for s in piri.steps)
    legs = load_program("legs")
    assert all(s.airbags and "calves" in s.airbags.levels for s in legs.steps)
    assert any(s.roller and "thigh" in (s.roller.start, s.roller.end) for s in legs.steps)
    feet = load_program("feet")
    assert all(s.foot >= 1 for s in feet.steps)
    assert any(s.airbags and "feet" in s.airbags.levels for s in feet.steps)


def test_the_sciatica_session_chains_all_five_zones_in_14_minutes() -> None:
    session = load_program("sciatica")
    parts = [load_program(name) for name in PARTS]
    assert session.seconds == pytest.approx(14 * 60)
    assert session.seconds + 30 <= limits.HOST["session_s_default"]
    zones = [s.zone for s in session.steps]
    assert [z for i, z in enumerate(zones) if i == 0 or zones[i - 1] != z] == list(PARTS)
    assert len(session.steps) == sum(len(p.steps) for p in parts)
    assert [s.number for s in session.steps] == list(range(1, len(session.steps) + 1))
    flat = [s for p in parts for s in p.steps]
    factor = session.seconds / sum(p.seconds for p in parts)
    for merged, original in zip(session.steps, flat, strict=True):
        assert (merged.zone, merged.name, merged.roller, merged.airbags) == \
            (original.zone, original.name, original.roller, original.airbags)
        assert merged.seconds == pytest.approx(original.seconds * factor, abs=0.1)
        assert 5 <= merged.seconds <= 600
    assert len(set(session.cautions)) == len(session.cautions)
    for part in parts:
        assert set(part.cautions) <= set(session.cautions)


@pytest.mark.parametrize("name", [*PARTS, "sciatica"])
def test_shipped_programs_pass_the_controllers_cap_check(name: str) -> None:
    caps.check_program(load_program(name))


@pytest.mark.parametrize("cautions", [(), ("herniated-disc",), ("osteoporosis", "neuropathy")])
def test_the_executor_turns_the_session_into_setpoints_inside_the_track(cautions) -> None:
    from chair.executor import Executor

    program = load_program("sciatica")
    supervisor = safety.Supervisor(caps.make_caps(limits.DEVICE, cautions=cautions))
    executor = Executor(program, landmark_positions(246.0), supervisor, 1500)
    seen: set[str] = set()
    t = 0.0
    while t < program.seconds:
        for command in executor.setpoints(t, None).values():
            seen.add(type(command).__name__)
            if hasattr(command, "pos_mm"):
                assert 0.0 <= command.pos_mm <= limits.TRACK_MM
        t += 2.0
    assert {"SetRoller", "SetAir", "SetFoot", "SetRecline"} <= seen
    assert executor.setpoints(program.seconds, None) == {}


def test_list_programs_finds_all_six() -> None:
    names = [p.name for p in list_programs()]
    assert {*PARTS, "sciatica"} <= set(names)
    assert names == sorted(names)


@given(st.floats(100.0, 400.0))
def test_every_roller_landmark_is_placed_by_the_scan(shoulder: float) -> None:
    positions = landmark_positions(shoulder)
    for step in load_program("sciatica").steps:
        if step.roller is not None:
            assert step.roller.start in positions and step.roller.end in positions


def test_render_timeline_shows_every_step_by_zone_and_the_cautions() -> None:
    session = load_program("sciatica")
    text = render_timeline(session)
    for step in session.steps:
        assert step.name in text
    for zone in PARTS:
        assert f"-- {zone} (" in text
    assert "14:00" in text
    assert "knead l3→sacrum w2/d2/s2" in text
    assert "calves 3 (5+3+5 s)" in text
    assert "back 25% leg 20%" in text
    assert text.index("read this") > text.index(session.steps[-1].name)
    assert text.endswith(render_cautions(session))  # what `chair run` prints first


def test_render_timeline_of_a_program_without_cautions() -> None:
    program = parse_program(_minimal(), "mini.toml")
    assert program.cautions == ()
    text = render_timeline(program)
    assert "THIS PROGRAM" not in text and "DO NOT USE" in text  # the shared ones, always


# ------------------------------------------------------------------------------ lookup

def test_names_are_looked_up_in_chair_programs_first(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "lumbar.toml").write_text(LUMBAR.replace("Lower back: warm and loosen",
                                                         "My own lumbar"), encoding="utf-8")
    monkeypatch.setenv("CHAIR_PROGRAMS", str(tmp_path))
    assert search_path()[0] == tmp_path
    assert load_program("lumbar").title == "My own lumbar"
    assert load_program(str(SHIPPED / "lumbar.toml")).title != "My own lumbar"


def test_names_are_looked_up_in_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CHAIR_PROGRAMS", raising=False)
    (tmp_path / "programs").mkdir()
    (tmp_path / "programs" / "mine.toml").write_text(_minimal("mine"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_program("mine").name == "mine"
    assert load_program("sciatica").name == "sciatica"  # the shipped ones still found


def test_an_unknown_name_suggests_the_nearest() -> None:
    with pytest.raises(ProgramError, match=r"did you mean 'sciatica'\?.*available:.*lumbar"):
        load_program("sciatca")


@pytest.mark.parametrize("arg", ["", "   ", "../etc/passwd", "Lumbar!"])
def test_bad_names_and_missing_paths_are_program_errors(arg: str) -> None:
    with pytest.raises(ProgramError):
        load_program(arg)


def test_list_programs_can_collect_broken_files(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "broken.toml").write_text("[program\n", encoding="utf-8")
    monkeypatch.setenv("CHAIR_PROGRAMS", str(tmp_path))
    with pytest.raises(ProgramError):
        list_programs()
    errors: list[ProgramError] = []
    names = [p.name for p in list_programs(errors=errors)]
    assert "sciatica" in names and len(errors) == 1 and errors[0].file.endswith("broken.toml")


# ------------------------------------------------------------------------------ errors

def _minimal(name: str = "mini", **step: str) -> str:
    lines = [f'[program]\nname = "{name}"\ntitle = "Mini"\npurpose = "A test."\n',
             '[[step]]\nzone = "lumbar"\nseconds = 30']
    lines += [f"{key} = {value}" for key, value in step.items()]
    return "\n".join(lines) + "\n"


def _line_of(text: str, marker: str) -> int:
    """The line holding `marker`; "[[step]]#n" is the header of the nth step."""
    nth = 1
    if marker.startswith("[[step]]#"):
        marker, nth = "[[step]]", int(marker.split("#")[1])
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            nth -= 1
            if nth == 0:
                return number
    raise AssertionError(f"marker {marker!r} not in the text")


# (what to replace in lumbar.toml, with what, step, field, fragment of the message,
#  marker on the expected line)
BAD_EDITS = [
    # out of range: the message names the allowed range
    ('to = "l5", width = 2, depth = 2', 'to = "l5", width = 2, depth = 9', 2, "roller.depth",
     "9 is outside 1..3", 'depth = 9'),
    ('to = "l5", width = 2, depth = 2', 'to = "l5", width = 7, depth = 2', 2, "roller.width",
     "7 is outside 1..3", 'width = 7'),
    ("depth = 2, speed = 3", "depth = 2, speed = 0", 2, "roller.speed", "0 is outside 1..6",
     "speed = 0"),
    ("lumbar = 3, inflate_s = 4.0", "lumbar = 6, inflate_s = 4.0", 4, "airbags.lumbar",
     "6 is outside 1..5", "lumbar = 6"),
    ("lumbar = 2, inflate_s = 3.0", "lumbar = 2, inflate_s = 0.2", 3, "airbags.inflate_s",
     "outside 1..8 s", "inflate_s = 0.2"),
    ("hold_s = 3.0", "hold_s = 9.0", 4, "airbags.hold_s", "outside 0..8 s", "hold_s = 9.0"),
    ("inflate_s = 4.0, hold_s = 3.0", "inflate_s = 8.0, hold_s = 3.0", 4, "airbags.hold_s",
     "= 11 s is over the 8 s", "inflate_s = 8.0"),
    ("vent_s = 2.0 }\nheat = { lumbar = 2 }\n\n[[step]]\nzone = \"lumbar\"\nname = \"ease",
     "vent_s = 0 }\nheat = { lumbar = 2 }\n\n[[step]]\nzone = \"lumbar\"\nname = \"ease", 4,
     "airbags.vent_s", "outside 1..30 s", "vent_s = 0 }"),
    ("heat = { lumbar = 1 }", "heat = { lumbar = 5 }", 5, "heat.lumbar", "5 is outside 1..3",
     "lumbar = 5"),
    ("seconds = 50", "seconds = 2", 2, "seconds", "2 is outside 5..600 s", "seconds = 2"),
    ("seconds = 50", "seconds = 6000", 2, "seconds", "outside 5..600 s", "seconds = 6000"),
    ("back_pct = 25", "back_pct = 101", 1, "recline.back_pct", "101 is outside 0..100 %",
     "back_pct = 101"),
    ("seconds = 30\nroller", "seconds = 30\nfoot = 4\nroller", 5, "foot", "4 is outside 0..3",
     "foot = 4"),
    # wrong types
    ("seconds = 50", 'seconds = "fifty"', 2, "seconds", "expected a number 5..600 s, got text",
     'seconds = "fifty"'),
    ("depth = 2, speed = 3", "depth = 2.5, speed = 3", 2, "roller.depth",
     "expected a whole number 1..3, got a number 2.5", "depth = 2.5"),
    ("depth = 2, speed = 3", "depth = true, speed = 3", 2, "roller.depth",
     "got true/false", "depth = true"),
    ('heat = { lumbar = 1 }', 'heat = 1', 5, "heat", "expected a table", "heat = 1"),
    ('heat = { lumbar = 1 }', 'heat = { lumbar = "warm" }', 5, "heat.lumbar",
     "expected a whole number 1..3, got text", 'lumbar = "warm"'),
    ('zone = "lumbar"\nname = "ease out"', 'zone = 3\nname = "ease out"', 5, "zone",
     "expected a zone name", "zone = 3"),
    ('recline = { back_pct = 25, leg_pct = 20 }', 'recline = [25, 20]', 1, "recline",
     "expected a table", "recline = [25, 20]"),
    ('name = "lumbar"', "name = 7", None, "program.name", "expected text", "name = 7"),
    ('cautions = [', 'cautions = [3, ', None, "program.cautions", "expected an array of text",
     "cautions = [3"),
    # missing fields
    ("seconds = 50\n", "", 2, "seconds", "missing", "[[step]]#2"),
    ('zone = "lumbar"\nname = "ease out"', 'name = "ease out"', 5, "zone", "missing",
     "[[step]]#5"),
    ('technique = "roll", from = "t12", to = "l5"', 'from = "t12", to = "l5"', 2,
     "roller.technique", "missing", 'to = "l5"'),
    ('title = "Lower back: warm and loosen"\n', "", None, "program.title", "missing",
     "[program]"),
    ('recline = { back_pct = 25, leg_pct = 20 }', 'recline = { back_pct = 25 }', 1,
     "recline.leg_pct", "missing", "back_pct = 25 }"),
    # unknown keys, with a suggestion
    ("depth = 2, speed = 3", "dpeth = 2, speed = 3", 2, "roller.dpeth",
     "a typo for 'depth'?", "dpeth"),
    ("seconds = 50", "secods = 50", 2, "secods", "a typo for 'seconds'?", "secods"),
    ("lumbar = 3, inflate_s", "lumbar = 3, inflate = 4.0, infalte_s", 4, "airbags.inflate",
     "a typo for 'inflate_s'?", "inflate = 4.0"),
    ("heat = { lumbar = 1 }", "heat = { lumbr = 1 }", 5, "heat.lumbr", "a typo for 'lumbar'?",
     "lumbr"),
    ("[program]", "[progam]", None, "progam", "a typo for 'program'?", "[progam]"),
    ('purpose = """', 'purpse = """', None, "program.purpse", "a typo for 'purpose'?",
     "purpse"),
    ('seconds = 50', 'seconds = 50\nintensity = 99', 2, "intensity",
     "--intensity caps them", "intensity = 99"),
    ("depth = 2, speed = 3", "depth = 2, speed = 3, intensity = 99", 2, "roller.intensity",
     "unknown key 'intensity'", "intensity = 99"),
    # unknown names: the valid ones are listed
    ('technique = "knead", from = "l3"', 'technique = "kneed", from = "l3"', 3,
     "roller.technique", "did you mean 'knead'?); choose from knead, tap, press, roll",
     '"kneed"'),
    ('from = "l3"', 'from = "l4"', 3, "roller.from", "choose from shoulder, scapula, t12",
     '"l4"'),
    ('to = "l5"', 'to = "thigh"', 2, "roller.to",
     "outside the lumbar zone; a lumbar step's roller stays within t12, l3, l5, sacrum",
     '"thigh"'),
    ('zone = "lumbar"\nname = "ease out"', 'zone = "lumber"\nname = "ease out"', 5, "zone",
     "did you mean 'lumbar'?); choose from lumbar, gluteal, piriformis, legs, feet",
     '"lumber"'),
    ("lumbar = 3, inflate_s", "neck = 3, inflate_s", 4, "airbags.neck",
     "allowed in 'airbags': shoulders, arms", "neck = 3"),
    ('lumbar = 3, inflate_s = 4.0, hold_s = 3.0, vent_s = 2.0',
     'inflate_s = 4.0, hold_s = 3.0, vent_s = 2.0', 4, "airbags", "names no airbag zone",
     "inflate_s = 4.0, hold_s = 3.0"),
    ('name = "lumbar"', 'name = "Lower Back"', None, "program.name", "lower-case letters",
     'name = "Lower Back"'),
]


@pytest.mark.parametrize(("old", "new", "step", "field", "fragment", "marker"), BAD_EDITS,
                         ids=[f"{e[3]}-{i}" for i, e in enumerate(BAD_EDITS)])
def test_each_bad_value_names_file_line_step_and_field(
        tmp_path: Path, old: str, new: str, step: int | None, field: str, fragment: str,
        marker: str) -> None:
    assert old in LUMBAR, old
    text = LUMBAR.replace(old, new, 1)
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProgramError) as caught:
        load_program(str(path))
    err = caught.value
    assert err.file == str(path)
    assert err.step == step
    assert err.field == field
    assert fragment in str(err)
    assert err.line == _line_of(text, marker), str(err)
    where = f"{path}:{err.line}" + (f" step {step}" if step is not None else "")
    assert str(err).startswith(f"{where} field '{field}': ")


@pytest.mark.parametrize("style", [
    '\n[step.roller]\ntechnique = "roll"\nfrom = "t12"\nto = "l5"\nwidth = 2\ndepth = 9\n',
    '\nroller.technique = "roll"\nroller.from = "t12"\nroller.to = "l5"\nroller.depth = 9\n',
])
def test_lines_are_found_in_section_and_dotted_styles(style: str) -> None:
    text = _minimal() + style + '\n[[step]]\nzone = "feet"\nseconds = 30\ndepth = 1\n'
    with pytest.raises(ProgramError) as caught:
        parse_program(text, "style.toml")
    assert caught.value.field == "roller.depth" and caught.value.step == 1
    assert caught.value.line == _line_of(text, "depth = 9")


def test_the_example_message_of_the_brief() -> None:
    text = LUMBAR.replace("depth = 2, speed = 3", "depth = 9, speed = 3", 1)
    with pytest.raises(ProgramError) as caught:
        parse_program(text, "programs/x.toml")
    assert str(caught.value).startswith("programs/x.toml:28 step 2 field 'roller.depth': "
                                         "9 is outside 1..3")


@pytest.mark.parametrize(("text", "line"), [
    ("[program]\nname = \"x\"\ntitle = \n", 3),
    ("[program]\nname = \"x\n", 2),
    ("[program]\n[program]\n", 2),
    ("[[step]]\nzone = lumbar\n", 2),
    ("\n\n\n[program\n", 4),
    ('[program]\nname = "a"\nname = "b"\n', 3),
])
def test_toml_syntax_errors_give_the_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "syntax.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProgramError, match="TOML syntax error") as caught:
        load_program(str(path))
    assert caught.value.file == str(path)
    assert caught.value.line == line


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(LUMBAR + "# padding\n" * (MAX_BYTES // 10), encoding="utf-8")
    with pytest.raises(ProgramError, match="KiB") as caught:
        load_program(str(path))
    assert caught.value.file == str(path)
    with pytest.raises(ProgramError, match="KiB"):
        parse_program("#" * (MAX_BYTES + 1), "huge.toml")


def test_too_many_steps_are_refused(tmp_path: Path) -> None:
    step = '\n[[step]]\nzone = "feet"\nseconds = 5\nfoot = 1\n'
    text = _minimal() + step * MAX_STEPS
    path = tmp_path / "long.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProgramError, match=f"at most {MAX_STEPS}") as caught:
        load_program(str(path))
    assert caught.value.step == MAX_STEPS + 1 and caught.value.field == "step"
    assert caught.value.line == [i for i, line in enumerate(text.splitlines(), start=1)
                                 if line == "[[step]]"][MAX_STEPS]


def test_a_program_longer_than_the_session_cap_is_refused() -> None:
    text = _minimal() + '\n[[step]]\nzone = "feet"\nseconds = 600\nfoot = 1\n' * 3
    with pytest.raises(ProgramError, match="session cap"):
        parse_program(text, "long.toml")


def test_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[program]\nname = "caf\xe9"\n')
    with pytest.raises(ProgramError, match="UTF-8") as caught:
        load_program(str(path))
    assert caught.value.line == 2


def test_a_single_bracket_step_is_explained() -> None:
    text = _minimal().replace("[[step]]", "[step]")
    with pytest.raises(ProgramError, match="two brackets") as caught:
        parse_program(text, "one.toml")
    assert caught.value.field == "step" and caught.value.line == _line_of(text, "[step]")


def test_no_steps_and_empty_steps_are_refused() -> None:
    head = '[program]\nname = "x"\ntitle = "X"\npurpose = "p"\n'
    with pytest.raises(ProgramError, match="no steps") as caught:
        parse_program(head, "x.toml")
    assert caught.value.field == "step"
    with pytest.raises(ProgramError, match=r"\[\[step\]\]"):
        parse_program(head.replace("[program]", "step = []\n[program]"), "x.toml")


def test_a_held_roller_may_not_dwell_past_the_supervisor_cap() -> None:
    # (kneading: a press may hold one spot for 15 s only, tests/test_program_clinical.py)
    held = 'roller = { technique = "knead", from = "l5", to = "l5", depth = 1 }'
    text = _minimal(roller="{ technique = \"knead\", from = \"l5\", to = \"l5\" }")
    assert parse_program(text, "ok.toml").steps[0].roller.depth == 1  # defaults apply
    with pytest.raises(ProgramError, match="work one spot") as caught:
        parse_program(text.replace("seconds = 30", "seconds = 120"), "long.toml")
    assert caught.value.field == "seconds" and caught.value.step == 1
    twice = text.replace("seconds = 30", "seconds = 60") + \
        f'\n[[step]]\nzone = "lumbar"\nseconds = 60\n{held}\n'
    with pytest.raises(ProgramError, match="over consecutive steps") as caught:
        parse_program(twice, "twice.toml")
    assert caught.value.step == 2 and caught.value.field == "roller"
    swept = twice.replace('to = "l5" }\n', 'to = "sacrum" }\n', 1)
    assert len(parse_program(swept, "swept.toml").steps) == 2


def test_defaults_are_gentle() -> None:
    text = _minimal(roller='{ technique = "roll", from = "t12", to = "sacrum" }',
                    airbags="{ lumbar = 2 }")
    step = parse_program(text, "d.toml").steps[0]
    assert (step.roller.width, step.roller.depth, step.roller.speed) == (2, 1, 2)
    assert (step.airbags.inflate_s, step.airbags.hold_s, step.airbags.vent_s) == (4, 2, 2)
    assert step.heat == {} and step.foot == 0 and step.recline is None
    assert step.name == "step 1"


# ------------------------------------------------------------------------------ chains

def _chain(tmp_path: Path, chain: str, minutes: str = "", name: str = "session") -> Path:
    path = tmp_path / f"{name}.toml"
    extra = f"\nminutes = {minutes}" if minutes else ""
    path.write_text(f'[program]\nname = "{name}"\ntitle = "S"\npurpose = "p"\n'
                    f'cautions = ["mine"]\nchain = {chain}{extra}\n', encoding="utf-8")
    return path


def test_a_chain_finds_parts_next_to_it_then_on_the_search_path(tmp_path: Path) -> None:
    (tmp_path / "mini.toml").write_text(_minimal(), encoding="utf-8")
    program = load_program(str(_chain(tmp_path, '["mini", "feet"]')))
    assert program.steps[0].zone == "lumbar"
    assert program.steps[-1].zone == "feet"
    assert program.cautions[0] == "mine"
    assert program.seconds == 30 + load_program("feet").seconds


@pytest.mark.parametrize("minutes", ["3", "7.5", "14", "20"])
def test_a_chain_scales_to_fit_its_minutes_exactly(tmp_path: Path, minutes: str) -> None:
    program = load_program(str(_chain(tmp_path, '["lumbar", "legs"]', minutes)))
    assert program.seconds == pytest.approx(float(minutes) * 60, abs=1e-6)
    assert all(step.seconds * 10 == pytest.approx(round(step.seconds * 10))
               for step in program.steps)


def test_a_chain_may_not_include_a_chain(tmp_path: Path) -> None:
    _chain(tmp_path, '["lumbar"]', name="inner")
    outer = _chain(tmp_path, '["inner"]', name="outer")
    with pytest.raises(ProgramError, match="may not include another chain") as caught:
        load_program(str(outer))
    assert caught.value.file.endswith("inner.toml")
    assert "part of the chain at" in str(caught.value)
    selfish = _chain(tmp_path, '["selfish"]', name="selfish")
    with pytest.raises(ProgramError, match="may not include another chain"):
        load_program(str(selfish))


def test_an_error_in_a_part_names_the_part(tmp_path: Path) -> None:
    (tmp_path / "mini.toml").write_text(_minimal(foot="9"), encoding="utf-8")
    with pytest.raises(ProgramError) as caught:
        load_program(str(_chain(tmp_path, '["mini"]')))
    err = caught.value
    assert err.file.endswith("mini.toml") and err.step == 1 and err.field == "foot"
    assert err.line == 9


@pytest.mark.parametrize(("chain", "minutes", "fragment"), [
    ('["lumbr"]', "", "did you mean 'lumbar'?"),
    ("[]", "", "expected an array of program names"),
    ('"lumbar"', "", "expected an array of program names"),
    ('["../lumbar"]', "", "is not a program name"),
    ('["lumbar", 3]', "", "is not a program name"),
    (str(["feet"] * 13).replace("'", '"'), "", "at most 12"),
    ('["lumbar"]', "0.5", "outside 1..30 min"),
    ('["lumbar"]', '"14"', "expected a number 1..30 min"),
    ('["lumbar", "gluteal", "piriformis", "legs", "feet"]', "1.5", "outside 5..600 s"),
])
def test_bad_chains_name_the_field(tmp_path: Path, chain: str, minutes: str,
                                   fragment: str) -> None:
    path = _chain(tmp_path, chain, minutes)
    with pytest.raises(ProgramError) as caught:
        load_program(str(path))
    err = caught.value
    assert fragment in str(err)
    assert err.file == str(path)
    assert err.field in ("program.chain", "program.minutes")
    key = err.field.split(".")[1]
    assert err.line == _line_of(path.read_text(encoding="utf-8"), f"{key} =")


def test_a_chain_with_steps_is_refused(tmp_path: Path) -> None:
    path = _chain(tmp_path, '["lumbar"]')
    path.write_text(path.read_text() + '\n[[step]]\nzone = "feet"\nseconds = 9\n')
    with pytest.raises(ProgramError, match="takes its steps from the chain"):
        load_program(str(path))


def test_scaling_up_can_break_the_dwell_cap(tmp_path: Path) -> None:
    held = _minimal("held", roller='{ technique = "knead", from = "l5", to = "l5" }')
    (tmp_path / "held.toml").write_text(held.replace("seconds = 30", "seconds = 80"))
    with pytest.raises(ProgramError, match="work one spot") as caught:
        load_program(str(_chain(tmp_path, '["held"]', "2")))
    assert caught.value.field == "program.minutes"


# ------------------------------------------------------------------------------ fuzzing

toml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.sampled_from([10**400, -(10**4000), 2**1100]),  # no float holds these
    st.text(max_size=12), st.sampled_from([*LANDMARKS, *TECHNIQUES, *PROGRAM_ZONES,
                                           *limits.ZONES, "intensity", "from", "to"]))
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["zone", "seconds", "roller", "airbags", "heat", "depth", "from",
                         "to", "technique", "lumbar", "seat", "name", "chain", "minutes",
                         "step", "program", "foot", "recline", "back_pct", "x"]) | st.text(
            max_size=6), inner, max_size=5),
    max_leaves=20)


def _valid_dict() -> dict:
    return tomllib.loads(LUMBAR)


def _mutate(data: dict, path: list[str | int], value: object) -> dict:
    """A copy of `data` with the value at `path` replaced (paths that miss change nothing)."""
    data = copy.deepcopy(data)
    node: object = data
    for key in path[:-1]:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return data
    last = path[-1]
    if isinstance(node, dict) or (isinstance(node, list) and isinstance(last, int)
                                  and last < len(node)):
        node[last] = value  # type: ignore[index]
    return data


paths = st.lists(st.sampled_from(["program", "step", 0, 1, 2, 3, 4, "roller", "airbags",
                                  "heat", "recline", "name", "seconds", "depth", "zone",
                                  "from", "lumbar", "chain", "minutes", "cautions"]),
                 min_size=1, max_size=4)


def _only_program_errors(data: object) -> None:
    try:
        result = program_from_dict(data)
    except ProgramError as err:
        assert str(err)
    else:
        assert isinstance(result, Program)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["program", "step", "x"]), toml_values, max_size=3))
def test_random_documents_never_crash_the_validator(data: dict) -> None:
    _only_program_errors(data)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(paths, toml_values)
def test_random_edits_of_a_valid_program_never_crash_the_validator(path: list,
                                                                   value: object) -> None:
    _only_program_errors(_mutate(_valid_dict(), path, value))


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_random_text_never_crashes_the_parser(text: str) -> None:
    with contextlib.suppress(ProgramError):
        parse_program(text, "<fuzz>")


@settings(max_examples=200)
@given(st.integers(0, len(LUMBAR) - 1), st.text(min_size=1, max_size=8))
def test_random_splices_into_a_valid_file_never_crash_the_parser(at: int, junk: str) -> None:
    try:
        parse_program(LUMBAR[:at] + junk + LUMBAR[at:], "<fuzz>")
    except ProgramError as err:
        assert err.file == "<fuzz>"


# ------------------------------------------------------------------------------ hostile files
# Issue 9 item 11: each of these raised a traceback (ValueError, RecursionError) or only
# "Invalid statement", and one such file on the search path broke `chair list`.

HOSTILE = {
    "long-integer": ("x = " + "9" * 4301 + "\n", "a number 4301 characters long", 1),
    "nested-arrays": ("\n\nx = " + "[" * 500 + "]" * 500 + "\n", "nested over 32 deep", 3),
    "nested-tables": ("x = " + "{a = " * 500 + "1" + "}" * 500 + "\n", "nested over 32 deep",
                      1),
    "long-float": ("x = 1." + "5" * 5000 + "\n", "characters long", 1),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_toml_is_a_program_error_naming_file_and_line(tmp_path: Path,
                                                              case: str) -> None:
    head, words, line = HOSTILE[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(head + LUMBAR, encoding="utf-8")
    with pytest.raises(ProgramError, match=words) as caught:
        load_program(str(path))
    assert caught.value.file == str(path) and caught.value.line == line
    assert str(path) in str(caught.value)


def test_digits_and_brackets_inside_strings_and_comments_are_fine() -> None:
    text = LUMBAR.replace('[program]', '[program]\n# ' + "[" * 40 + "9" * 200, 1)
    text = text.replace('purpose = """', 'purpose = """' + "[{" * 40 + '\\"' + "1" * 150, 1)
    text = text.replace('title = "', 'title = "' + "[" * 34 + '\\"\\\\', 1)
    program = parse_program(text, "brackets.toml")
    assert program.purpose.startswith("[{[{") and program.title.startswith("[[[")
    _check_shape("x = '" + "{" * 40 + "\\'\ny = " + "'" * 3 + "[" * 40 + "'" * 3, "lit.toml")


def test_a_byte_order_mark_is_read_past(tmp_path: Path) -> None:
    """Windows Notepad's "UTF-8 with BOM": the program loads (it used to be "Invalid
    statement" at line 1)."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + LUMBAR.encode("utf-8"))
    assert load_program(str(path)).name == "lumbar"


def test_chair_list_shows_a_bad_file_as_invalid_and_lists_the_rest(
        tmp_path: Path, monkeypatch, capsys) -> None:
    from chair.cli import main

    for case, (head, _, _) in HOSTILE.items():
        (tmp_path / f"{case}.toml").write_text(head + LUMBAR, encoding="utf-8")
    monkeypatch.setenv("CHAIR_PROGRAMS", str(tmp_path))
    assert main(["list"]) == 2  # a bad program file, as for `chair validate`
    out = capsys.readouterr().out
    for case in HOSTILE:
        row = next(line for line in out.splitlines() if line.startswith(case))
        assert " invalid " in row and str(tmp_path / f"{case}.toml") in row
    assert all(any(line.startswith(name) for line in out.splitlines())
               for name in ("lumbar", "sciatica", "feet"))
    assert main(["list", "--json"]) == 2
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed["sciatica"]["valid"] is True
    bad = listed["nested-arrays"]
    assert bad["valid"] is False and bad["line"] == 3 and "nested" in bad["error"]


# ------------------------------------------------------------------ every number form (fix-inputs)
# Finding 4: `seconds = 0x` + 4000 f's passed the long-number check (it counted decimal
# digits only) and was an OverflowError traceback on validate, run and list.

NUMBER_FORMS = {
    "hex": "0x" + "f" * 4000,
    "hex-upper": "0xDEADBEEF" * 400,
    "octal": "0o" + "7" * 4000,
    "binary": "0b" + "1" * 4000,
    "underscores": "1_000" * 1000,
    "exponent": "1.5e" + "3" * 400,
    "signed": "-" + "9" * 200,
}


@pytest.mark.parametrize("form", list(NUMBER_FORMS))
def test_every_long_number_form_is_refused_before_parsing(tmp_path: Path, form: str) -> None:
    value = NUMBER_FORMS[form]
    path = tmp_path / f"{form}.toml"
    text = LUMBAR.replace("seconds = 60", f"seconds = {value}", 1)
    assert text != LUMBAR
    path.write_text(text, encoding="utf-8")
    line = text[:text.index(value)].count("\n") + 1
    with pytest.raises(ProgramError, match=f"a number {len(value)} characters long") as caught:
        load_program(str(path))
    assert caught.value.file == str(path) and caught.value.line == line
    message = str(caught.value)
    assert value[:20] in message and value[:60] not in message, "shortened: start and length"


@pytest.mark.parametrize("value", [10**400, -(10**400), 16**4000, 10**5000, 1e308 * 10,
                                   2**1100],
                         ids=["1e400", "-1e400", "16^4000", "1e5000", "inf", "2^1100"])
@pytest.mark.parametrize("field", [("step", 0, "seconds"), ("step", 0, "roller", "depth"),
                                   ("program", "minutes"), ("step", 1, "recline", "back_pct"),
                                   ("step", 0, "foot")])
def test_a_huge_parsed_value_is_a_program_error_naming_the_field(value, field) -> None:
    """What tomllib hands over (or a caller's dict) is never converted unchecked."""
    data = _valid_dict()
    data["step"][1].setdefault("recline", {"back_pct": 10, "leg_pct": 10})
    with pytest.raises(ProgramError) as caught:
        program_from_dict(_mutate(data, list(field), value))
    assert caught.value.field.endswith(field[-1]), caught.value
    assert len(str(caught.value)) < 400


def test_a_hex_number_in_range_still_works() -> None:
    program = parse_program(LUMBAR.replace("seconds = 60", "seconds = 0x3c", 1), "hex.toml")
    assert program == parse_program(LUMBAR, "hex.toml")


def test_chair_list_and_validate_survive_a_hex_overflow(tmp_path: Path, monkeypatch,
                                                        capsys) -> None:
    from chair.cli import main

    path = tmp_path / "hex.toml"
    path.write_text(LUMBAR.replace("seconds = 60", "seconds = 0x" + "f" * 4000, 1),
                    encoding="utf-8")
    monkeypatch.setenv("CHAIR_PROGRAMS", str(tmp_path))
    assert main(["list"]) == 2
    out = capsys.readouterr().out
    assert "hex " in out and "invalid" in out and "sciatica" in out
    assert main(["validate", str(path)]) == 2
    assert "characters long" in capsys.readouterr().err


# ------------------------------------------------------------------ control characters (fix-inputs)
# Finding 10: a step name "so\u001b[2Jles" validated, and `chair show` printed ESC[2J
# (clearing the screen): a program could hide its own cautions.

CONTROLS = ["\\u001b[2J", "\\u0000", "\\u0007", "\\t", "\\n", "\\r", "\\u007f", "\\u009b",
            "\\u0085"]
TEXT_FIELDS = {
    "title": ('title = "', "program.title"),
    "purpose": ('purpose = """', "program.purpose"),
    "caution": ('cautions = [\n  "', "program.cautions"),
    "step-name": ('name = "warm', "name"),
}


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("where", list(TEXT_FIELDS))
def test_control_characters_in_text_are_refused(control: str, where: str) -> None:
    anchor, field = TEXT_FIELDS[where]
    assert anchor in LUMBAR, anchor
    text = LUMBAR.replace(anchor, anchor + "so" + control + "les", 1)
    with pytest.raises(ProgramError, match="control character") as caught:
        parse_program(text, "esc.toml")
    err = caught.value
    assert err.file == "esc.toml" and err.line is not None and err.field.endswith(field)
    assert "\x1b" not in str(err) and "\x00" not in str(err)


def test_control_characters_are_refused_in_a_dict_too() -> None:
    data = _valid_dict()
    data["step"][0]["name"] = "so\x1b[2Jles"
    with pytest.raises(ProgramError, match="control character"):
        program_from_dict(data)


def test_chair_show_never_prints_an_escape(tmp_path: Path, capsys) -> None:
    from chair.cli import main

    path = tmp_path / "esc.toml"
    path.write_text(LUMBAR.replace('name = "warm', 'name = "so\\u001b[2Jles warm', 1),
                    encoding="utf-8")
    assert main(["show", str(path)]) == 2
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err
    assert "control character" in captured.err
