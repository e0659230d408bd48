"""`chair sweep`: the grid, the seeds, the rows whatever the number of jobs, the plant's
truth beside the trace, and planted violations that make the sweep fail naming the
sessions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import serial

from chair.cli import main
from chair.errors import Exit, UsageError
from chair.faults import FAULTS
from chair.program import load_program
from chair.safety import AIR_MARGIN_KPA
from chair.sweep import grid
from chair.sweep.worker import read_trace, read_truth

SMALL = ["sweep", "lumbar", "--heights", "160,190", "--faults", "none,pinch@20"]


ROOT = Path(__file__).resolve().parent.parent


def rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_ranges_include_their_stop_and_lists_keep_their_order() -> None:
    assert grid.parse_numbers("--heights", "150:200:10", grid.HEIGHT_CM) == \
        [150, 160, 170, 180, 190, 200]
    assert grid.parse_numbers("--heights", "150:200:15", grid.HEIGHT_CM) == [150, 165, 180, 195]
    assert grid.parse_numbers("--stiffness", "0.5:1:0.1", grid.STIFFNESS)[-1] == 1.0
    assert grid.parse_numbers("--stiffness", "1.5,0.5,1.5", grid.STIFFNESS) == [1.5, 0.5]


@pytest.mark.parametrize("text", ["100:200:10", "150:200:0", "200:150:5", "150:200",
                                  "a,b", "", "nan", "150:200:0.0001"])
def test_a_bad_range_is_a_usage_error_naming_the_option(text: str) -> None:
    with pytest.raises(UsageError, match="--heights"):
        grid.parse_numbers("--heights", text, grid.HEIGHT_CM)


def test_faults_none_all_and_names() -> None:
    assert grid.parse_faults("none") == [""]
    assert grid.parse_faults("all") == [f"{n}@{grid.ALL_FAULTS_AT_S:g}" for n in FAULTS]
    assert grid.parse_faults("none,pinch@5,all@3")[:3] == ["", "pinch@5", "pump-stuck-on@3"]
    for bad in ("bogus@3", "pinch", "pinch@-1"):
        with pytest.raises(UsageError, match="--faults"):
            grid.parse_faults(bad)
    with pytest.raises(UsageError, match="--models"):
        grid.parse_models("reference,nope", ["reference", "compact"])


def test_a_sessions_seed_comes_from_its_parameters_not_its_place() -> None:
    one = grid.sessions(["lumbar"], [160, 190], [1.0], ["reference"], ["", "pinch@20"], 2, 7)
    other = grid.sessions(["lumbar"], [190, 160], [1.0], ["reference"], ["pinch@20", ""], 2, 7)
    assert {s.name: s.seed for s in one} == {s.name: s.seed for s in other}
    assert len({s.seed for s in one}) == len(one)  # each session its own seed
    again = grid.sessions(["lumbar"], [160, 190], [1.0], ["reference"], ["", "pinch@20"], 2, 8)
    assert all(a.seed != b.seed for a, b in zip(one, again, strict=True))
    assert grid.derive_seed(7, "lumbar", 160, 1.0, "reference", "", 0) == one[0].seed
    with pytest.raises(UsageError, match="--seeds"):
        grid.sessions(["lumbar"], [160], [1.0], ["reference"], [""], 0, 7)


def test_one_job_and_two_give_the_same_rows(tmp_path, capsys) -> None:
    assert main([*SMALL, "--jobs", "1", "-o", str(tmp_path / "one.csv")]) == Exit.OK
    table = capsys.readouterr().out
    assert main([*SMALL, "--jobs", "2", "-o", str(tmp_path / "two.csv")]) == Exit.OK
    one, two = rows(tmp_path / "one.csv"), rows(tmp_path / "two.csv")
    assert one == two and len(one) == 4
    assert "4 sessions, 0 violating" in table
    by = {(r["height"], r["fault"]): r for r in one}
    faulted = by[("160.0", "pinch@20")]
    assert faulted["outcome"] == "fault" and faulted["exit_code"] == "3"
    assert 0 < float(faulted["safe_s"]) < 5 and faulted["violations"] == ""
    calm = by[("190.0", "")]
    assert calm["outcome"] == "completed" and calm["safe_s"] == ""
    assert 0 < float(calm["kpa.lumbar"]) <= float(calm["cap.lumbar"])
    assert 0 < float(calm["heat_c"]) <= float(calm["heat_cap"])
    # the plant's truth: near what the trace sampled, within the caps, force by landmark
    assert abs(float(calm["true_kpa.lumbar"]) - float(calm["kpa.lumbar"])) < 0.5
    assert 0 < float(calm["true_heat_c"]) <= float(calm["heat_cap"])
    assert float(calm["force_n.l5"]) > 0 and float(calm["force_n.sacrum"]) > 0
    assert not (tmp_path / "one.csv.traces").exists()  # nothing failed, nothing asked
    assert not list(tmp_path.glob("**/*.truth.json"))  # read and deleted


def test_traces_are_kept_on_request(tmp_path) -> None:
    out = tmp_path / "r.csv"
    assert main(["sweep", "lumbar", "--faults", "pinch@5", "--jobs", "1", "-o", str(out),
                 "--traces", str(tmp_path / "t")]) == Exit.OK
    (row,) = rows(out)
    assert row["trace"] == str(tmp_path / "t" / "lumbar-h175-k1-reference-pinch@5.jsonl")
    assert read_trace(row["trace"])["violations"] == []


def test_a_planted_violation_fails_the_sweep_and_names_the_session(tmp_path, capsys) -> None:
    """corrupt-limits: the device's lumbar cap pushed 10 kPa past the table its CRC covers;
    the session never reaches a confirmed safe state (the host refuses the chair)."""
    out = tmp_path / "r.csv"
    code = main(["sweep", "lumbar", "--heights", "170", "--jobs", "1", "-o", str(out),
                 "--sim-options", "defect=corrupt-limits"])
    assert code == Exit.FAULT
    err = capsys.readouterr().err
    assert "1 session(s) violate: lumbar-h170-k1-reference" in err
    (row,) = rows(out)
    assert "safe state" in row["violations"]
    assert row["trace"].startswith(str(out) + ".traces")  # kept beside the results


def test_a_planted_unsafe_chair_fails_the_sweep_on_trace_and_truth(tmp_path, capsys) -> None:
    """air-over-cap: the firmware fills a bag past its cap (its table still reports the true
    one), so the host's checks are the only channel left: it latches a fault on a sample
    over the cap, and the rows show the sampled and the true pressure over it."""
    out = tmp_path / "r.csv"
    code = main(["sweep", "lumbar", "--heights", "160,190", "--jobs", "1", "-o", str(out),
                 "--sim-options", "defect=air-over-cap"])
    assert code == Exit.FAULT
    err = capsys.readouterr().err
    assert ("2 session(s) violate: lumbar-h160-k1-reference, lumbar-h190-k1-reference"
            in err)
    for row in rows(out):
        cap = float(row["cap.lumbar"])
        assert float(row["kpa.lumbar"]) > cap
        assert float(row["true_kpa.lumbar"]) > cap + AIR_MARGIN_KPA
        assert "airbag lumbar" in row["violations"]
        assert "true airbag lumbar" in row["violations"]
        assert row["outcome"] == "fault" and "above the cap" in row["detail"]  # host caught


def test_a_stuck_sensor_hides_the_truth_that_the_row_shows(tmp_path) -> None:
    """pressure-sensor-stuck as the lumbar bag starts filling: the reading freezes low, the
    bag fills on until the device's rise check; the true peak is well above the sampled."""
    out = tmp_path / "r.csv"
    assert main(["sweep", "lumbar", "--faults", "pressure-sensor-stuck@93.5", "--jobs", "1",
                 "-o", str(out)]) == Exit.OK
    (row,) = rows(out)
    assert float(row["true_kpa.lumbar"]) > float(row["kpa.lumbar"]) + 3.0
    assert row["outcome"] == "fault" and row["violations"] == ""


def test_the_truth_file_is_judged_against_the_caps_and_deleted(tmp_path) -> None:
    path = tmp_path / "t.truth.json"
    peaks = {"bag_kpa": {"lumbar": 28.0 + AIR_MARGIN_KPA + 0.01, "seat": 28.9},
             "surface_c": {"lumbar": 43.2, "seat": 40.0}, "force_n": {"l5": 61.0}}
    path.write_text(json.dumps(peaks))
    row = {"cap.lumbar": 28.0, "cap.seat": 28.0, "heat_cap": 43.0, "violations": []}
    out = read_truth(str(path), row)
    assert out == {"true_kpa.lumbar": 29.01, "true_kpa.seat": 28.9, "true_heat_c": 43.2,
                   "force_n.l5": 61.0}
    assert [v.split()[:3] for v in row["violations"]] == [["true", "airbag", "lumbar"],
                                                          ["true", "heat", "43.2"]]
    assert not path.exists()
    assert read_truth(str(path), row) == {}  # no file: the port never opened


def test_the_sim_url_writes_the_peaks_when_it_closes_across_a_power_cycle(tmp_path) -> None:
    path = tmp_path / "peaks.json"
    serial.protocol_handler_packages.append("sim")
    port = serial.serial_for_url(f"sim://?clock=virtual&truth={path}&fault=power-cycle@1")
    plant, kept = port.device.plant, port.device.plant.peaks
    port.clock.sleep_until(0.5)
    port.read(10000)
    plant.bag_kpa[:] = 5.0  # a bag the (idle, venting) firmware did not fill: truth only
    port.clock.sleep_until(2.0)
    port.read(10000)  # the firmware rebooted at 1 s; the plant and its peaks go on
    assert port.device.plant is plant and plant.peaks is kept
    assert not path.exists()
    port.close()
    peaks = json.loads(path.read_text())
    assert peaks == kept.as_dict() and 2.0 < min(peaks["bag_kpa"].values()) <= 5.0
    with pytest.raises(ValueError, match="truth"):
        serial.serial_for_url("sim://?clock=virtual&truth=")


def test_a_fault_past_the_programs_end_is_a_usage_error_and_mid_is_its_half() -> None:
    length = load_program("lumbar").seconds
    placed = grid.sessions(["lumbar"], [175], [1.0], ["reference"],
                           grid.parse_faults("all@mid"), 1, 0)
    assert {s.fault for s in placed} == {f"{n}@{length / 2:g}" for n in FAULTS}
    with pytest.raises(UsageError, match=rf"--faults pinch@{length + 1:g}.*lumbar"):
        grid.sessions(["lumbar"], [175], [1.0], ["reference"], [f"pinch@{length + 1:g}"],
                      1, 0)


def test_a_sample_over_its_cap_is_a_violation(tmp_path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(
        '{"type":"header","limits":{"airbag_kpa_max":{"lumbar":28.0},"heat_c_max":43.0}}\n'
        '{"type":"sample","t":1,"airbags":{"lumbar":28.5},"heat_c":{"seat":44.0}}\n'
        '{"type":"sample","t":2,"airbags":{"lumbar":3},"heat_c":{"seat":150.0}}\n'
        '{"type":"event","t":2,"event":"fault","detail":"x"}\n'
        '{"type":"event","t":2.5,"event":"safe","confirmed":true}\n')
    row = read_trace(str(trace))
    assert row["kpa.lumbar"] == 28.5 and row["heat_c"] == 44.0  # 150: a failed thermistor
    assert row["safe_s"] == 0.5
    assert [v.split()[0] for v in row["violations"]] == ["airbag", "heat"]


@pytest.mark.parametrize("argv", [["--heights", "140"], ["--stiffness", "3"],
                                  ["--models", "nope"], ["--faults", "bogus@1"],
                                  ["--faults", "all@100000"],
                                  ["--jobs", "0"], ["--seeds", "0"]])
def test_bad_options_are_usage_errors(tmp_path, capsys, argv) -> None:
    assert main(["sweep", "lumbar", *argv, "-o", str(tmp_path / "r.csv")]) == Exit.USAGE
    assert argv[0] in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()


def test_results_must_be_csv_or_parquet(tmp_path, capsys) -> None:
    assert main(["sweep", "lumbar", "-o", str(tmp_path / "r.txt")]) == Exit.USAGE
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        assert main(["sweep", "lumbar", "-o", str(tmp_path / "r.parquet")]) == Exit.USAGE
        assert "pyarrow" in capsys.readouterr().err


def test_a_progress_line_only_on_a_terminal(tmp_path, capsys, monkeypatch) -> None:
    argv = ["sweep", "lumbar", "--faults", "pinch@5", "--jobs", "1"]
    assert main([*argv, "-o", str(tmp_path / "a.csv")]) == Exit.OK
    assert capsys.readouterr().err == ""  # piped: no progress line
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert main([*argv, "-o", str(tmp_path / "b.csv")]) == Exit.OK
    assert "sweep: 1/1 sessions" in capsys.readouterr().err


# ---------------------------------------------------------------- the tester's findings


@pytest.mark.parametrize("argv, words", [
    (["--seeds", "1000000000"], "at most 200,000"),  # it built the grid: 24 GB, killed
    (["--sim-options", "defect=nosuch"], "--sim-options"),
    (["--sim-options", "fault=pinch@100"], "fault is set by the sweep"),  # not in the row
    (["--sim-options", "height=160"], "height is set by the sweep"),
    (["--heights", "160.0001,160.0002"], "print alike"),  # one name, one seed, one trace
])
def test_mistakes_found_before_any_session_runs(tmp_path, capsys, argv, words) -> None:
    assert main(["sweep", "lumbar", *argv, "-o", str(tmp_path / "r.csv")]) == Exit.USAGE
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "r.csv").exists()


def test_a_program_given_twice_or_two_of_one_name_is_refused(tmp_path, capsys) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "feet.toml").write_text((ROOT / "chair" / "programs" / "feet.toml").read_text())
    for programs in (["feet", "feet"], ["feet", str(other / "feet.toml")]):
        assert main(["sweep", *programs, "-o", str(tmp_path / "r.csv")]) == Exit.USAGE
        assert "two sessions named feet-h175-k1-reference" in capsys.readouterr().err


def test_bad_places_for_the_results_and_traces_are_refused_first(tmp_path, capsys) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text("precious\n")
    (tmp_path / "r.csv.traces").write_text("a file\n")
    (tmp_path / "file").write_text("a file\n")
    cases = [["-o", str(tmp_path / "nodir" / "r.csv")],             # after the whole sweep
             ["-o", str(mine)],                                       # overwritten
             ["-o", str(tmp_path / "r.csv")],                         # r.csv.traces a file
             ["-o", str(tmp_path / "s.csv"), "--traces", str(tmp_path / "file")]]
    for argv in cases:
        assert main(["sweep", "feet", "--faults", "pinch@5", *argv]) == Exit.USAGE, argv
        assert "Traceback" not in capsys.readouterr().err
    assert mine.read_text() == "precious\n"
    assert main(["sweep", "feet", "--faults", "pinch@5", "-o", str(tmp_path / "t.csv")]) == 0
    assert main(["sweep", "feet", "--faults", "pinch@5", "-o", str(tmp_path / "t.csv")]) == 0


def test_a_body_the_chair_refuses_before_moving_is_refused_not_a_violation(tmp_path,
                                                                          capsys) -> None:
    out = tmp_path / "c.csv"
    assert main(["sweep", "lumbar", "--heights", "190,210", "--models", "compact",
                 "-o", str(out)]) == Exit.OK
    fits, too_tall = rows(out)
    assert fits["outcome"] == "completed" and too_tall["outcome"] == "refused"
    assert too_tall["violations"] == "" and "does not fit this chair" in too_tall["detail"]
    assert "1 refused before anything moved" in capsys.readouterr().out


def test_a_fault_with_none_injected_is_a_violation() -> None:
    from chair.sweep.worker import judge_outcome

    row = {"outcome": "fault", "detail": "airbag lumbar does not vent", "violations": []}
    grid_row = {**row, "violations": []}

    judge_outcome(grid_row, injected=False)
    assert grid_row["violations"] == ["a fault with none injected: airbag lumbar does not vent"]
    judge_outcome(row, injected=True)
    assert row["violations"] == []


def test_a_refusal_after_the_chair_moved_stays_a_violation() -> None:
    from chair.sweep.worker import NOT_SAFE, judge_outcome

    row = {"outcome": "refused", "detail": "x", "violations": [NOT_SAFE],
           "true_kpa.lumbar": 12.0}
    judge_outcome(row, injected=False)
    assert row["violations"] == [NOT_SAFE, "refused after the chair moved: x"]


@pytest.mark.xfail(strict=True, reason="open safety finding (issue 14's tester): with the "
                   "pressure sensor stuck, a fast bag (feet, fill tau 3 s) rises ~8 kPa in the "
                   "device's 0.5 s rise window (airbag_rise_s) before F06 vents it: 9.2 kPa "
                   "true against a cap of 8 (+1). Both channels read the same sensor.")
def test_a_stuck_sensor_keeps_a_fast_bag_within_its_cap(tmp_path) -> None:
    out = tmp_path / "r.csv"
    main(["sweep", "feet", "--faults", "pressure-sensor-stuck@10", "-o", str(out)])
    (row,) = rows(out)
    assert row["violations"] == "", row["violations"]
