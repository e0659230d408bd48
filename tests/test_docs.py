"""The documents stay true: docs/safety.md against the limits and the tests, links, and the
worked example of docs/programs.md run as a reader would run it."""

from __future__ import annotations

import argparse
import ast
import functools
import re
import shlex
from pathlib import Path

import pytest

from chair.caps import CAUTIONS
from chair.cli import build_parser, main
from chair.limits import DEVICE_TABLE, HOST
from chair.program import list_programs, shipped_dir

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SAFETY = (DOCS / "safety.md").read_text(encoding="utf-8")
HOBBYIST = (DOCS / "hobbyist.md").read_text(encoding="utf-8")
PROGRAMS = (DOCS / "programs.md").read_text(encoding="utf-8")

#: Test files that docs/safety.md names before they exist (others are writing them). Once a
#: file exists, its references are checked like any other.
PENDING = {"tests/test_fault_injection.py", "tests/test_conformance.py",
           "tests/test_properties.py"}


def section(text: str, heading: str) -> str:
    """The text under the `## ` heading that starts with `heading`, up to the next one."""
    found = re.search(rf"^## {re.escape(heading)}.*?$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert found, f"no section '## {heading}'"
    return found.group(1)


def table_rows(text: str) -> dict[str, list[str]]:
    """Markdown table rows keyed by their first cell's `code` name."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([^`]+)`", cells[0]) if cells else None
        if line.startswith("|") and name:
            rows[name.group(1)] = cells
    return rows


# ----------------------------------------------------------------------- docs/safety.md


def test_every_device_limit_is_documented_with_its_value_unit_and_source() -> None:
    rows = table_rows(section(SAFETY, "The device limits"))
    assert set(rows) == {limit.name for limit in DEVICE_TABLE}, "document every limit, once"
    for limit in DEVICE_TABLE:
        cells = rows[limit.name]
        assert cells[1] == f"{limit.value:g}", f"{limit.name}: the doc says {cells[1]}"
        assert cells[2] == limit.unit, limit.name
        source = cells[-1]
        assert source, f"{limit.name} needs a source"
        assert ("assumed" in source) == limit.source.startswith("assumed"), \
            f"{limit.name}: the code says its source is '{limit.source}'; the doc '{source}'"


def test_every_controller_cap_is_documented_with_its_value() -> None:
    rows = table_rows(section(SAFETY, "The controller's caps"))
    assert set(rows) == set(HOST), "document every controller cap, once"
    for name, value in HOST.items():
        assert rows[name][1] == f"{value:g}", f"{name}: the doc says {rows[name][1]}"
        assert rows[name][-1], f"{name} needs a source"


def test_the_supervisor_windows_are_documented_with_their_values() -> None:
    from chair import safety

    text = section(SAFETY, "The controller's caps")
    for name in ("AIR_RISE_S", "AIR_VENT_TAU_S", "AIR_VENT_LAG_S", "AIR_VENT_MARGIN_KPA",
                 "VENTED_KPA", "AIR_MARGIN_KPA", "HEAT_RISE_S", "HEAT_OFF_RISE_C",
                 "HEAT_OFF_RISE_S", "STALL_S", "DWELL_MM", "REGION_TOLERANCE_MM",
                 "AIR_KPA_MIN"):
        value = f"{getattr(safety, name):g}"
        assert re.search(rf"{value} (s|kPa|mm)\b[^.]*?\(`{name}`", text), f"{name} = {value}"


def test_the_table_crc_in_the_doc_is_the_firmwares() -> None:
    from chair.limits import DEVICE_TABLE_CRC

    assert f"0x{DEVICE_TABLE_CRC:04X}" in SAFETY


def test_every_caution_is_documented() -> None:
    rows = table_rows(section(SAFETY, "Cautions"))
    assert set(rows) == set(CAUTIONS)


def test_every_rule_has_its_tests() -> None:
    rules = re.findall(r"^### (\d+)\. (.+)$", SAFETY, re.M)
    assert [int(n) for n, _ in rules] == list(range(1, 16)), "rules 1 to 15, in order"
    bodies = re.split(r"^### \d+\. .+$", section(SAFETY, "The rules"), flags=re.M)[1:]
    for (number, title), body in zip(rules, bodies, strict=True):
        assert "::test_" in body, f"rule {number} ({title}) names no test"


@functools.cache
def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def _references(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"(tests/[\w/]+\.py)(?:::(test_\w+))?", text)]


@pytest.mark.parametrize("doc", ["safety.md", "hobbyist.md"])
def test_every_test_a_document_names_exists(doc: str) -> None:
    text = (DOCS / doc).read_text(encoding="utf-8")
    missing = []
    for path, name in _references(text):
        file = ROOT / path
        if not file.exists():
            if path not in PENDING:
                missing.append(path)
            continue
        if name and name not in _defined_tests(file):
            missing.append(f"{path}::{name}")
    assert not missing, f"{doc} names tests that do not exist: {missing}"


def test_the_safe_state_and_the_gaps_are_written_down() -> None:
    safe = section(SAFETY, "The safe state")
    for words in ("vent", "pump off", "heaters", "never closing", "retracted"):
        assert words in safe
    gaps = section(SAFETY, "What is not covered")
    for words in ("hardware", "model", "standard", "slow"):
        assert words in gaps


# ----------------------------------------------------------------------- docs/hobbyist.md


def test_the_hobbyist_guide_answers_its_readers_questions() -> None:
    for heading in ("What the device side must implement", "Wiring checklist",
                    "Safety hardware a real chair needs", "Before anyone sits down",
                    "Watching the wire"):
        section(HOBBYIST, heading)
    hardware = section(HOBBYIST, "Safety hardware")
    for part in ("presence-sensor kill switch", "pinch sensor", "pressure-relief valve",
                 "thermal cut-out", "emergency stop"):
        assert part in hardware, part
    assert "chair conformance" in section(HOBBYIST, "Before anyone sits down")
    assert "spy://" in section(HOBBYIST, "Watching the wire")


def test_the_conformance_checks_in_the_guide_are_the_commands() -> None:
    conformance = pytest.importorskip("chair.conformance")
    names = getattr(conformance, "CHECKS", None)
    if names is None:
        pytest.skip("chair.conformance has no CHECKS table to compare with")
    documented = set(table_rows(section(HOBBYIST, "Before anyone sits down")))
    assert documented == set(names if isinstance(names, dict) else
                             (getattr(c, "name", c) for c in names))


def test_the_guide_lists_every_simulated_defect() -> None:
    """The defect list is in the docs, not only in sim/defects.py (docs/hobbyist.md)."""
    from sim.defects import DEFECTS, RULE_DEFECTS

    table = HOBBYIST.split("| defect | the device | fails the check |", 1)[1].split("\n\n")[0]
    listed = [row.split("|")[1].strip() for row in table.splitlines()[2:]]
    assert sorted(listed) == sorted(DEFECTS)
    for name in RULE_DEFECTS:
        assert f"`{name}`" in HOBBYIST, name


PLACEHOLDERS = ("PROGRAM", "PORT", "FILE", "NAME", "CHECK", "TRACE", "...")


def _chair_commands(text: str, inline: bool) -> list[list[str]]:
    """`chair ...` commands of the ```sh blocks and `$ chair ...` lines; with `inline`, also
    of `chair ...` in backticks (except a bare `chair COMMAND`, which names a command)."""
    commands = []
    for block in re.findall(r"^```(?:sh)?\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            line = line.removeprefix("$ ")
            if line.startswith("chair "):
                commands.append(shlex.split(line, comments=True)[1:])
    for snippet in re.findall(r"`(chair [^`]+)`", text) if inline else []:
        words = shlex.split(snippet)
        if len(words) > 2 and not any(p in w for w in words for p in PLACEHOLDERS):
            commands.append(words[1:])
    return [argv for argv in commands if not any(p in w for w in argv for p in PLACEHOLDERS)]


@pytest.mark.parametrize(("doc", "inline"), [("hobbyist.md", True), ("safety.md", True),
                                             ("programs.md", False), ("trace.md", False),
                                             ("sweeps.md", True)])
def test_every_chair_command_in_a_document_parses(doc: str, inline: bool) -> None:
    """Commands a document shows are real commands with real options (not run: some need
    a real device)."""
    parser = build_parser()
    commands = _chair_commands((DOCS / doc).read_text(encoding="utf-8"), inline)
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"{doc}: `chair {shlex.join(argv)}` does not parse") from exc
        assert isinstance(parser.parse_args(argv), argparse.Namespace)


# ----------------------------------------------------------------------- links


@pytest.mark.parametrize("doc", ["README.md", *sorted(p.name for p in DOCS.glob("*.md"))])
def test_local_links_lead_somewhere(doc: str) -> None:
    path = ROOT / doc if doc == "README.md" else DOCS / doc
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{doc}: link to {target}: no such file"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked.read_text(encoding="utf-8")), \
                f"{doc}: link to {target}: no such heading"


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


# ----------------------------------------------------------------------- docs/programs.md


def test_the_programs_table_is_the_shipped_programs() -> None:
    table = PROGRAMS[PROGRAMS.index("The shipped programs"):PROGRAMS.index("\n## ")]
    rows = table_rows(table)
    shipped = {p.name: p for p in list_programs() if Path(p.source).parent == shipped_dir()}
    assert set(shipped) <= set(rows)
    for name, program in shipped.items():
        cells = rows[name]
        assert int(cells[2]) == len(program.steps), name
        assert float(cells[3]) == program.seconds, name


def test_the_worked_example_gives_the_messages_shown(tmp_path: Path, capsys,
                                                     monkeypatch) -> None:
    """docs/programs.md's evening program, validated and shown as the page does."""
    example = next(block for block in re.findall(r"```toml\n(.*?)```", PROGRAMS, re.S)
                   if 'name = "evening"' in block and "purpose" in block)
    shown = dict.fromkeys(("typo", "deep", "ok"), "")
    outputs = re.findall(r"```\n(\$ chair validate programs/evening.toml.*?)```", PROGRAMS,
                         re.S)
    typo, deep, good = outputs[-3:]
    shown.update(typo=typo.splitlines()[1], deep=deep.splitlines()[1],
                 ok=good.splitlines()[1])
    (tmp_path / "programs").mkdir()
    target = tmp_path / "programs" / "evening.toml"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHAIR_PROGRAMS", raising=False)
    for key, text in (("typo", example), ("deep", example.replace("dpeth = 2", "depth = 5")),
                      ("ok", example.replace("dpeth = 2", "depth = 2"))):
        target.write_text(text, encoding="utf-8")
        code = main(["validate", "programs/evening.toml"])
        out = capsys.readouterr()
        assert code == (0 if key == "ok" else 2)
        assert (out.out if key == "ok" else out.err).strip() == shown[key].strip(), key
    assert main(["show", "evening"]) == 0
    printed = capsys.readouterr().out
    page = good.split("$ chair show evening\n", 1)[1]
    normalise = lambda text: re.sub(r"from \S+evening\.toml", "from FILE", text).strip()  # noqa: E731
    # the page elides what every program shares (the red flags and the rest, shown in full
    # under "Cautions shown before every run"): the timeline and the program's own part
    # must be what `chair show` prints
    for cut in ("read this.", "THIS PROGRAM"):
        assert cut in printed and cut in page, cut
    head = lambda text: text.split("read this.", 1)[0]  # noqa: E731
    tail = lambda text: text.split("THIS PROGRAM", 1)[1]  # noqa: E731
    assert normalise(head(printed)) == normalise(head(page))
    assert normalise(tail(printed)) == normalise(tail(page))


# ----------------------------------------------------------------------- README.md


def test_the_readme_exit_codes_are_the_table_in_code() -> None:
    """One exit-code table (chair.errors), and the README's copy of it equal, row by row."""
    from chair.errors import EXIT_MEANINGS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^### Exit codes\n(.*?)(?=^#)", readme, re.S | re.M)
    assert found, "no '### Exit codes' section in the README"
    rows = {}
    for line in found.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            rows[int(cells[0])] = cells[1]
    assert rows == {int(code): meaning for code, meaning in EXIT_MEANINGS.items()}


def test_no_source_cites_a_file_the_repository_does_not_have(capsys) -> None:
    """Sources are named where a reader can find them: never the team's private notes
    (`domain.md`, not in the repository), in the limits table, `chair limits` or the docs."""
    assert not (ROOT / "domain.md").exists() and not (DOCS / "domain.md").exists()
    assert not [lim.name for lim in DEVICE_TABLE if "domain.md" in lim.source]
    assert main(["limits"]) == 0 and "domain.md" not in capsys.readouterr().out
    assert main(["limits", "--json"]) == 0 and "domain.md" not in capsys.readouterr().out
    for doc in [ROOT / "README.md", *DOCS.glob("*.md")]:
        assert "domain.md" not in doc.read_text(encoding="utf-8"), doc.name
    for limit in DEVICE_TABLE:  # a figure from a real chair names where it was read
        if not limit.source.startswith(("assumed", "safety.md rule")):
            assert "https://" in limit.source or "not recorded" in limit.source, limit
