"""Cautions before anything moves (issue 10, items 1-3): shown by every run and by `chair
show` alike, acknowledged on a terminal (or by --yes) before the port opens, recorded in
the trace; red flags; "do not use" conditions refused; no stop sign that every sciatica
user already has."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from chair import caps
from chair.cautions import GUIDANCE, RED_FLAGS, changes, render_cautions
from chair.cli import main
from chair.program import list_programs, load_program, shipped_dir
from chair.trace import read_trace

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = sorted(p.name for p in list_programs())
REFUSED = [name for name, c in caps.CAUTIONS.items() if c.refuse]
LOWERING = [name for name, c in caps.CAUTIONS.items() if not c.refuse]


def flat(text: str) -> str:
    """`text` with its line wrapping undone (the rendering wraps at 88 columns)."""
    return " ".join(text.split())


def parts(name: str) -> list[str]:
    """The programs `name` chains (itself when it has no chain)."""
    head = tomllib.loads((shipped_dir() / f"{name}.toml").read_text("utf-8"))["program"]
    return head.get("chain", [name])


def first_scan(records: list[dict]) -> int | None:
    return next((i for i, r in enumerate(records)
                 if r.get("event") == "state" and r["dest"] == "scanning"), None)


def cautions_event(records: list[dict]) -> tuple[int, dict]:
    found = [(i, r) for i, r in enumerate(records) if r.get("event") == "cautions"]
    assert len(found) == 1, found
    return found[0]


# ------------------------------------------------------------------ what is shown, and where


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_run_prints_its_cautions_its_parts_and_every_red_flag_first(
        name: str, tmp_path: Path, capsys) -> None:
    """Before: a run printed no caution at all (only the trace header held them)."""
    trace = tmp_path / "t.jsonl"
    assert main(["run", name, "--fast", "--trace", str(trace)]) == 0
    out = flat(capsys.readouterr().out)
    assert out.index("read this") < out.index("program ")  # before the summary
    for part in parts(name):
        for caution in load_program(part).cautions:
            assert flat(caution) in out, (part, caution)
    for flag in RED_FLAGS:
        assert flat(flag) in out, flag
    for text in GUIDANCE:
        assert flat(text) in out
    records = read_trace(str(trace))
    index, event = cautions_event(records)
    assert event["acknowledged"] is True and event["by"] == "fast-forward"
    assert event["red_flags"] == list(RED_FLAGS)
    assert index < first_scan(records)


@pytest.mark.parametrize("cautions", [(), ("herniated-disc",), ("osteoporosis", "neuropathy")])
def test_chair_show_and_the_run_print_the_same_cautions(cautions, capsys) -> None:
    """Before: `chair show` listed the program's cautions, the run none."""
    flags = [arg for name in cautions for arg in ("--caution", name)]
    expected = render_cautions(load_program("sciatica"), cautions)
    assert main(["show", "sciatica", *flags]) == 0
    shown = capsys.readouterr().out
    assert main(["run", "sciatica", "--fast", *flags]) == 0
    ran = capsys.readouterr().out
    assert expected in shown and expected in ran
    for name in cautions:  # what each --caution changes, said from its fields
        assert f"--caution {name}: {changes(caps.CAUTIONS[name])}" in flat(expected)


def test_a_json_run_emits_the_acknowledgement_as_a_record_and_the_text_on_stderr(
        capsys) -> None:
    assert main(["run", "feet", "--fast", "--json"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]  # JSON only
    index, event = cautions_event(records)
    assert event["by"] == "fast-forward"
    assert records[0]["type"] == "header" and index == 1
    assert index < first_scan(records)
    assert "read this" in captured.err


def test_changes_names_every_field_a_caution_sets() -> None:
    """A field added to Caution later is still said before the run, never hidden."""
    for name in LOWERING:
        assert changes(caps.CAUTIONS[name]) != "nothing", name
    herniated = caps.CAUTIONS["herniated-disc"]
    assert "depth at most 1" in changes(herniated)
    assert "heat off" in changes(replace(herniated, no_heat=True))
    assert "no lumbar airbags" in changes(replace(herniated, airbag_scale={"lumbar": 0.0}))


# ------------------------------------------------------------------ item 2: red flags


def test_red_flags_cover_cauda_equina_progressive_deficit_and_serious_causes() -> None:
    text = flat(" ".join(RED_FLAGS)).lower()
    for sign in ("genitals", "back passage", "bladder", "bowels", "sex", "both legs",
                 "getting worse", "fever", "infection", "weight loss", "cancer", "fall",
                 "steroid", "surgery"):
        assert sign in text, sign


# ------------------------------------------------------------------ item 3: contradictions


def _every_caution_text() -> list[str]:
    from chair.cautions import GENERAL
    texts = [c.text for c in caps.CAUTIONS.values()] + list(GENERAL) + list(GUIDANCE)
    for path in sorted(shipped_dir().glob("*.toml")):
        texts += tomllib.loads(path.read_text("utf-8"))["program"].get("cautions", [])
    return texts


def test_no_stop_sign_describes_every_sciatica() -> None:
    """Before: "Stop at once if pain shoots or spreads down the leg" in every program."""
    for text in _every_caution_text():
        assert not re.search(r"\bshoot", text, re.I), text
        assert not re.search(r"spreads? down the leg", text, re.I), text
    stop = [t for t in _every_caution_text() if t.startswith("Stop at once")]
    assert stop and all("further" in t and "weakness" in t for t in stop)


@pytest.mark.parametrize("name", LOWERING)
def test_a_caution_that_runs_is_not_called_a_do_not_use(name: str) -> None:
    """Before: the cautions said "do not use with osteoporosis" (and osteoporosis was "a
    listed contraindication") while `--caution osteoporosis` ran the whole session."""
    word = name.split("-")[0]  # herniated, osteoporosis, neuropathy
    for text in _every_caution_text():
        for sentence in re.split(r"(?<=[.;:])\s", text):
            if "do not use" in sentence.lower() or "contraindication" in sentence.lower():
                assert word not in sentence.lower(), (name, sentence)


@pytest.mark.parametrize("name", REFUSED)
def test_a_do_not_use_condition_refuses_the_run_before_anything_opens(
        name: str, tmp_path: Path, capsys, ports: list) -> None:
    """Before: an acute disc herniation was a reason to stop, yet nothing refused it."""
    trace = tmp_path / "t.jsonl"
    assert main(["run", "sciatica", "--caution", name, "--trace", str(trace)]) == 2
    err = capsys.readouterr().err
    assert "do not use" in err and "unknown" not in err, err
    assert not ports and not trace.exists()  # nothing opened, nothing moved
    assert main(["show", "sciatica", "--caution", name]) == 2


def test_every_do_not_use_condition_shown_is_one_the_run_refuses() -> None:
    text = flat(render_cautions(load_program("feet")))
    block = text[text.index("DO NOT USE with"):text.index("WITH ONE OF THESE")]
    assert sorted(re.findall(r"--caution ([a-z-]+)\)", block)) == sorted(REFUSED)
    assert {"radicular", "thrombosis"} <= set(REFUSED)
    assert "KNGF 2021" in text and "NICE NG59" in text


@pytest.mark.parametrize("name", ["legs", "feet", "sciatica"])
def test_where_calves_and_feet_are_squeezed_the_program_says_why_not_with_a_clot(
        name: str) -> None:
    text = flat(render_cautions(load_program(name)))
    own = text[text.index("THIS PROGRAM"):]
    assert "blood clot" in own and "fatal pulmonary embolism" in own


# ------------------------------------------------------------------ item 1: the answer


def _read(fd: int, until: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and until not in seen:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def _records_when(trace: Path, predicate, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if trace.exists():
            records = [json.loads(line) for line in trace.read_text().splitlines()
                       if line.endswith("}")]
            if predicate(records):
                return records
        time.sleep(0.05)
    raise AssertionError(f"trace {trace} never showed what was waited for")


def _on_a_pty(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, int, Path]:
    trace = tmp_path / "t.jsonl"
    master, slave = os.openpty()
    process = subprocess.Popen([sys.executable, "-m", "chair.cli", "run", "feet", "--trace",
                                str(trace), *args], cwd=ROOT, stdin=slave, stdout=slave,
                               stderr=slave, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    os.close(slave)
    return process, master, trace


def _stop(process: subprocess.Popen) -> int:
    try:
        process.send_signal(signal.SIGINT)  # Ctrl-C parks the chair
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_real_time_run_on_a_terminal_asks_and_nothing_moves_until_yes(tmp_path) -> None:
    """Before: a real-time `chair run feet` started at once, showing no caution."""
    process, master, trace = _on_a_pty(tmp_path)
    try:
        seen = _read(master, b"Type yes to start", 20)
        assert b"Type yes to start" in seen, seen[-2000:]
        assert b"DO NOT USE" in seen and b"pulmonary embolism" in seen
        time.sleep(1.0)  # it waits: no trace, so the port was never opened
        assert process.poll() is None and not trace.exists()
        os.write(master, b"yes\n")
        records = _records_when(trace, lambda rs: first_scan(rs) is not None, 20)
        assert _stop(process) == 130
    finally:
        os.close(master)
    index, event = cautions_event(records)
    assert event == {**event, "acknowledged": True, "by": "prompt"}
    assert records[0]["type"] == "header" and index < first_scan(records)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_answering_no_exits_130_and_the_chair_never_scans(tmp_path: Path) -> None:
    process, master, trace = _on_a_pty(tmp_path)
    try:
        assert b"Type yes to start" in _read(master, b"Type yes to start", 20)
        os.write(master, b"no\n")
        assert process.wait(timeout=20) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    records = read_trace(str(trace))
    _, event = cautions_event(records)
    assert event["acknowledged"] is False and event["by"] == "no"
    assert first_scan(records) is None
    assert not [r for r in records if r["type"] == "sample"]
    assert records[-1]["reason"] == "the cautions were not acknowledged: nothing moved"


def test_piped_input_without_yes_is_refused_before_the_port_opens(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    done = subprocess.run([sys.executable, "-m", "chair.cli", "run", "feet", "--trace",
                           str(trace)], cwd=ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert "--yes" in done.stderr and "DO NOT USE" in done.stdout
    assert not trace.exists()


def test_yes_acknowledges_for_a_script_and_is_recorded(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "chair.cli", "run", "feet", "--yes",
                                "--trace", str(trace)], cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        records = _records_when(trace, lambda rs: first_scan(rs) is not None, 20)
    finally:
        assert _stop(process) == 130
    index, event = cautions_event(records)
    assert event["acknowledged"] is True and event["by"] == "--yes"
    assert index < first_scan(records)
