"""`--trace` never overwrites what is not a trace, and never writes to a FIFO or a device
(issue 9, item 10): before, `--trace chair/programs/lumbar.toml` replaced the program with 580 KB
of trace and exited 0."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from chair.cli import main
from chair.trace import read_trace

PROGRAMS = Path(__file__).resolve().parents[1] / "chair" / "programs"


def refused(path: Path, capsys, ports: list, *words: str) -> None:
    assert main(["run", "lumbar", "--fast", "--trace", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err, err
    for word in words:
        assert word in err, err
    assert not ports, "refused before the port opened: nothing moved"


def test_a_program_file_is_not_overwritten(tmp_path: Path, capsys, ports: list) -> None:
    program = tmp_path / "lumbar.toml"
    shutil.copy(PROGRAMS / "lumbar.toml", program)
    before = program.read_bytes()
    refused(program, capsys, ports, "not a trace")
    assert program.read_bytes() == before


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\xff", b'{"type":"sample"}\n',
                                     b"[1, 2]\n", b"notes\n"],
                         ids=["binary", "json-not-a-header", "json-not-an-object", "text"])
def test_other_files_are_not_overwritten(tmp_path: Path, capsys, ports: list,
                                         content: bytes) -> None:
    path = tmp_path / "kept"
    path.write_bytes(content)
    refused(path, capsys, ports, "not a trace")
    assert path.read_bytes() == content


def test_a_fifo_is_refused_without_blocking(tmp_path: Path, capsys, ports: list) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done: list = []
    worker = threading.Thread(target=lambda: done.append(
        main(["run", "lumbar", "--fast", "--trace", str(fifo)])), daemon=True)
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():  # it opened the FIFO and waits for a reader: unblock it, then fail
        with open(fifo, "rb") as reader:
            reader.read()
        pytest.fail("--trace opened a FIFO")
    assert done == [2]
    err = capsys.readouterr().err
    assert "FIFO" in err and str(fifo) in err
    assert not ports


def test_a_device_is_refused(capsys, ports: list) -> None:
    refused(Path(os.devnull), capsys, ports, "device")


def test_an_existing_trace_and_an_empty_file_may_be_overwritten(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.touch()
    for _ in range(2):  # empty, then the first run's trace
        assert main(["run", "feet", "--fast", "--trace", str(trace)]) == 0
        records = read_trace(str(trace))
        assert records[0]["type"] == "header" and records[-1]["type"] == "end"
        assert sum(r["type"] == "header" for r in records) == 1


@pytest.mark.parametrize("argv", [["run", "feet", "--fast", "--trace", ""],
                                  ["run", "feet", "--fast", "--trace="],
                                  ["run", "feet", "--fast", "--port", ""],
                                  ["validate", ""], ["show", ""], ["run", ""],
                                  ["reset", "--port", ""], ["conformance", ""]],
                         ids=["trace", "trace=", "port", "validate", "show", "run",
                              "reset-port", "conformance"])
def test_an_empty_path_is_a_usage_error(tmp_path: Path, monkeypatch, capsys, ports: list,
                                        argv: list[str]) -> None:
    """Finding 11: `--trace ''` ran the program, wrote no trace and exited 0."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "empty path" in err and "Traceback" not in err, err
    assert not ports and not list(tmp_path.iterdir()), "nothing moved, nothing written"


def test_the_trace_writer_refuses_an_empty_path() -> None:
    from chair.errors import UsageError
    from chair.trace import Trace

    with pytest.raises(UsageError, match="empty path"):
        Trace("")
