"""`--baud N` on `chair run`, `conformance`, `sim`, `reset` and `show --port`: 115200 is
a default, not a fact. The rate reaches the port; a wrong one is a usage error (exit 2); a
port that does not answer is told with the rate that was tried."""

from __future__ import annotations

import pytest

import chair.conformance
import chair.fit
import chair.reset
import chair.runner
import chair.serve
from chair.cli import main
from chair.ports import open_port


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The keyword arguments of every port `chair run` and `chair conformance` open."""
    calls: list[dict] = []

    def recording(url: str, **kwargs):
        calls.append(kwargs)
        return open_port(url, **kwargs)

    monkeypatch.setattr(chair.runner, "open_port", recording)
    monkeypatch.setattr(chair.conformance, "open_port", recording)
    monkeypatch.setattr(chair.reset, "open_port", recording)
    monkeypatch.setattr(chair.fit, "open_port", recording)
    return calls


@pytest.mark.parametrize("command", [["run", "lumbar", "--fast"],
                                     ["conformance", "sim://?clock=virtual", "--only",
                                      "banner"],
                                     ["reset", "--port", "sim://?clock=virtual"],
                                     ["show", "lumbar", "--port", "sim://?clock=virtual"]],
                         ids=["run", "conformance", "reset", "show"])
def test_the_rate_reaches_the_port(command: list[str], opened: list[dict], capsys) -> None:
    assert main([*command, "--baud", "57600"]) == 0
    assert opened[0]["baudrate"] == 57600
    assert main(command) == 0
    assert opened[1]["baudrate"] == 115200  # the default


@pytest.mark.parametrize("bad", ["0", "-9600", "fast", "9600.5", ""])
@pytest.mark.parametrize("command", [["run", "lumbar", "--fast"],
                                     ["conformance", "sim://?clock=virtual"], ["sim"],
                                     ["reset"], ["show", "lumbar", "--port", "sim://"]],
                         ids=["run", "conformance", "sim", "reset", "show"])
def test_a_rate_that_is_not_a_positive_whole_number_is_a_usage_error(
        command: list[str], bad: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--baud", bad])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--baud" in err and f"{bad!r} is not a baud rate" in err and "115200" in err


def test_sim_serves_at_the_rate_and_says_it(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    served: list[dict] = []

    def serve_pty(url: str, **kwargs) -> str:
        served.append(kwargs)
        kwargs["on_ready"]("/dev/pts/77")
        return "/dev/pts/77"

    monkeypatch.setattr(chair.serve, "serve_pty", serve_pty)
    assert main(["sim", "--baud", "57600"]) == 0
    assert served[0]["baudrate"] == 57600
    assert "miniterm /dev/pts/77 57600" in capsys.readouterr().out


def test_conformance_names_the_rate_it_tried(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(chair.conformance, "CONTACT_S", 0.2)
    assert main(["conformance", "loop://", "--baud", "9600"]) == 4
    err = capsys.readouterr().err
    assert "at 9600 baud (--baud N tries another)" in err, err


def test_run_names_the_rate_it_tried(capsys) -> None:
    """The handshake's "at the right baud rate?" says which rate (a port that echoes our own
    lines answers nothing a device would)."""
    assert main(["run", "lumbar", "--yes", "--port", "loop://", "--baud", "19200"]) == 4
    err = capsys.readouterr().err
    assert "at the right baud rate (tried 19200 baud; --baud N tries another)?" in err, err
