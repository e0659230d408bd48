"""The simulated chair with its firmware executed by real MicroPython (sim/remote.py): the
WebAssembly build under Node.js, relayed to the plant. The firmware a board flashes passes
`chair conformance` on a virtual clock (and served on a real pty in real time: the README's
commands, tests/test_readme.py), and runs a whole session to the same trace, line for line,
as the firmware run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chair.cli import main

MICROPYTHON = "sim://?clock=virtual&micropython=1"


def test_the_micropython_firmware_passes_conformance(capsys: pytest.CaptureFixture) -> None:
    code = main(["conformance", MICROPYTHON, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, [r["detail"] for r in report["checks"] if r["result"] != "PASS"]
    assert report["summary"]["passed"] == 12 and report["summary"]["ok"]


def test_a_session_under_micropython_gives_the_in_process_trace(tmp_path: Path) -> None:
    """Same firmware, same plant, same seed: the same trace after the header."""
    traces = []
    for name, port in (("cpython", "sim://"), ("micropython", "sim://?micropython=1")):
        trace = tmp_path / f"{name}.jsonl"
        code = main(["run", "lumbar", "--fast", "--port", port, "--trace", str(trace)])
        assert code == 0, name
        traces.append(trace.read_text(encoding="utf-8").splitlines()[1:])
    assert len(traces[0]) > 1000 and traces[0] == traces[1]


def test_test_doubles_are_not_offered_under_micropython(capsys) -> None:
    assert main(["conformance", MICROPYTHON + "&defect=no-deadman"]) == 2
    assert "do not combine" in capsys.readouterr().err


def test_a_missing_micropython_says_how_to_install_it(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("CHAIR_MICROPYTHON", str(tmp_path / "nowhere"))
    assert main(["run", "lumbar", "--fast", "--port", "sim://?micropython=1"]) == 2
    assert "micropython.mjs" in capsys.readouterr().err


def test_the_transmit_buffers_rules_hold_under_micropython() -> None:
    """Garbage refusals coalesce in the firmware's own buffer, as in-process (found by the
    tester: the relay drained every line at once, so five refusals came as five lines)."""
    from chair.ports import open_port

    lines = []
    for url in ("sim://?clock=virtual", MICROPYTHON):
        port = open_port(url)
        port.read(port.in_waiting)
        for _ in range(5):
            port.write(b"hello\x01\n")
        lines.append(port.read(port.in_waiting))
        port.close()
    assert lines[0] == lines[1]
    assert lines[1].count(b"E13") == 1 and b"n=5 first:" in lines[1]
