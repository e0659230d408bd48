"""Whole runs on the simulated chair, fast-forwarded, checked on their traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chair.cli import main
from chair.program import PROGRAM_ZONES, shipped_dir
from chair.trace import read_trace

PROGRAMS = ["lumbar", "gluteal", "piriformis", "legs", "feet"]


def run_trace(tmp_path: Path, *args: str, name: str = "t.jsonl") -> tuple[int, list[dict]]:
    path = tmp_path / name
    code = main(["run", *args, "--fast", "--trace", str(path)])
    return code, read_trace(str(path))


def check_invariants(records: list[dict]) -> None:
    """What every trace must show, whatever happened in the run."""
    header, end = records[0], records[-1]
    assert header["type"] == "header" and end["type"] == "end"
    assert all(r["type"] in ("sample", "event") for r in records[1:-1])
    limits = header["limits"]
    samples = [r for r in records if r["type"] == "sample"]
    assert samples
    for sample in samples:
        for zone, kpa in sample["airbags"].items():
            assert kpa <= limits["airbag_kpa_max"][zone] + 1.0, (sample["t"], zone, kpa)
        for zone, temp in sample["heat_c"].items():
            assert temp <= limits["heat_c_max"], (sample["t"], zone, temp)
        if sample["state"] in ("fault", "estop", "idle"):
            assert sample["roller"]["technique"] == "off" or sample["device_state"] != "Run" \
                or sample["t"] - _entered(records, sample) < 0.2
    times = [r["t"] for r in records[1:]]
    assert times == sorted(times), "trace time runs backwards"


def _entered(records: list[dict], sample: dict) -> float:
    """When the controller entered the state a sample reports."""
    entered = 0.0
    for record in records:
        if record is sample:
            break
        if record.get("event") == "state" and record["dest"] == sample["state"]:
            entered = record["t"]
    return entered


def test_sciatica_session_completes_safely(tmp_path: Path) -> None:
    code, records = run_trace(tmp_path, "sciatica", "--seed", "1")
    assert code == 0
    check_invariants(records)
    zones = {r["zone"] for r in records if r.get("event") == "step"}
    assert zones == set(PROGRAM_ZONES)
    assert records[-1]["state"] == "idle"
    last = [r for r in records if r["type"] == "sample"][-1]
    assert max(last["airbags"].values()) < 1.0, "airbags must be vented at the end"
    assert last["roller"]["technique"] == "off"
    samples = [r for r in records if r["type"] == "sample"]
    span = samples[-1]["t"] - samples[0]["t"]
    assert len(samples) >= 10 * span * 0.98, "at least 10 samples per simulated second"
    assert records[-1]["t"] <= records[0]["limits"]["session_s_max"] + 30


def test_same_seed_gives_the_same_trace(tmp_path: Path) -> None:
    _, first = run_trace(tmp_path, "lumbar", "--seed", "7", name="a.jsonl")
    _, second = run_trace(tmp_path, "lumbar", "--seed", "7", name="b.jsonl")
    assert [json.dumps(r) for r in first[1:]] == [json.dumps(r) for r in second[1:]]


@pytest.mark.parametrize("program", PROGRAMS)
def test_each_program_runs_within_its_caps(tmp_path: Path, program: str) -> None:
    code, records = run_trace(tmp_path, program)
    assert code == 0, records[-1]
    check_invariants(records)
    assert any(r.get("event") == "step" for r in records)


def test_herniated_disc_runs_under_lower_caps(tmp_path: Path, capsys) -> None:
    _, plain = run_trace(tmp_path, "lumbar", name="plain.jsonl")
    code, careful = run_trace(tmp_path, "lumbar", "--caution", "herniated-disc")
    assert code == 0
    check_invariants(careful)
    lim, plain_lim = careful[0]["limits"], plain[0]["limits"]
    assert lim["airbag_kpa_max"]["lumbar"] < plain_lim["airbag_kpa_max"]["lumbar"]
    assert lim["roller_depth_max"]["lumbar"] < plain_lim["roller_depth_max"]["lumbar"]
    assert careful[0]["cautions"][0]["name"] == "herniated-disc"
    depths = [r["roller"]["depth"] for r in careful if r["type"] == "sample"
              and r["state"] == "running"]
    assert max(depths) <= lim["roller_depth_max"]["lumbar"]
    assert "herniated" in capsys.readouterr().out


def test_intensity_caps_the_pressures(tmp_path: Path) -> None:
    _, full = run_trace(tmp_path, "legs", name="full.jsonl")
    _, low = run_trace(tmp_path, "legs", "--intensity", "1", name="low.jsonl")

    def peak(records: list[dict]) -> float:
        return max(max(r["airbags"].values()) for r in records if r["type"] == "sample")

    assert peak(low) < peak(full)


def test_session_timer_ends_the_run(tmp_path: Path) -> None:
    code, records = run_trace(tmp_path, "sciatica", "--minutes", "1")
    assert code == 0
    check_invariants(records)
    assert any(r.get("reason") == "session timer" for r in records if r.get("event") == "state")
    assert records[-1]["t"] < 60 + 30


def test_unseated_chair_does_not_start(tmp_path: Path) -> None:
    code, records = run_trace(tmp_path, "lumbar", "--port", "sim://?seated=0")
    assert code == 3
    assert not any(r.get("event") == "step" for r in records)
    assert "nobody is seated" in records[-1]["reason"]


def test_bad_program_exits_2_and_names_the_field(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    good = shipped_dir() / "lumbar.toml"
    text = good.read_text(encoding="utf-8")
    bad.write_text(text.replace("[[step]]", "[[step]]\nintensity = 99", 1), encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "intensity" in err and "bad.toml" in err
    assert main(["run", str(bad), "--fast"]) == 2


def test_unwritable_trace_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["run", "lumbar", "--fast", "--trace", str(tmp_path / "no" / "t.jsonl")]) == 2


def test_missing_port_is_a_link_error() -> None:
    assert main(["run", "lumbar", "--yes", "--port", "/dev/does-not-exist"]) == 4


def test_fast_needs_a_simulated_port() -> None:
    assert main(["run", "lumbar", "--fast", "--port", "/dev/ttyUSB9"]) == 2
