"""`chair plot`: a trace as one figure a person can read; a clear message without matplotlib."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from chair.cli import main
from chair.errors import UsageError
from chair.trace import read_trace

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, Path]:
    """A clean lumbar run and one where a vent valve sticks shut at 100 s."""
    where = tmp_path_factory.mktemp("plot")
    clean, faulted = where / "clean.jsonl", where / "faulted.jsonl"
    assert main(["run", "lumbar", "--fast", "--seed", "3", "--trace", str(clean)]) == 0
    assert main(["run", "lumbar", "--fast", "--fault", "vent-stuck-closed@100",
                 "--trace", str(faulted)]) == 3
    return {"clean": clean, "faulted": faulted}


def _texts(figure) -> str:
    """Every piece of text on the figure: titles, labels, tick labels, annotations."""
    texts = [figure.texts, *(ax.texts for ax in figure.axes)]
    found = [t.get_text() for group in texts for t in group]
    found += [t.get_text() for t in figure.findobj(lambda o: hasattr(o, "get_text"))]
    for ax in figure.axes:
        found += [ax.get_ylabel(), ax.get_xlabel(), ax.get_title()]
        found += [label.get_text() for label in ax.get_yticklabels()]
        legend = ax.get_legend()
        if legend is not None:
            found += [t.get_text() for t in legend.get_texts()]
    return "\n".join(found)


def test_the_cli_writes_a_png(traces: dict[str, Path], tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "session.png"
    assert main(["plot", str(traces["clean"]), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG
    assert f"wrote {out}" in capsys.readouterr().out
    from matplotlib.image import imread

    height, width = imread(str(out)).shape[:2]
    assert width >= 1200 and height >= 900, "big enough to read the labels"


def test_the_figure_shows_what_the_chair_did(traces: dict[str, Path]) -> None:
    pytest.importorskip("matplotlib")
    from chair.plot import make_figure

    records = read_trace(str(traces["clean"]))
    figure = make_figure(records)
    text = _texts(figure)
    assert "lumbar: Lower back" in text and "ended idle" in text and "completed" in text
    for landmark in ("shoulder", "t12", "l3", "l5", "sacrum", "piriformis", "gluteal", "thigh"):
        assert landmark in text.split("\n"), f"landmark {landmark} is labelled"
    for words in ("roller position", "airbag pressure", "surface temperature", "running",
                  "scanning", "roll", "knead", "lumbar heater", "cut-off 43 °C"):
        assert words in text, words
    roller = figure.axes[1]
    assert roller.get_ylim()[0] > roller.get_ylim()[1], "the top of the track is at the top"
    end = records[-1]["t"]
    assert figure.axes[0].get_xlim()[1] >= end, "the whole run is on the time axis"


def test_a_fault_is_marked_and_labelled(traces: dict[str, Path]) -> None:
    pytest.importorskip("matplotlib")
    from chair.plot import FAULT_COLOUR, INJECT_COLOUR, make_figure

    records = read_trace(str(traces["faulted"]))
    fault_t = next(r["t"] for r in records if r.get("event") == "fault")
    figure = make_figure(records)
    text = _texts(figure)
    assert "does not vent" in text, "the fault's cause is written on the figure"
    assert "injected: vent-stuck-closed" in text
    assert "ended fault" in text
    for ax in figure.axes[:5]:  # the five panels (the twin y axes share them)
        xs = {round(line.get_xdata()[0], 3) for line in ax.get_lines()
              if line.get_color() == FAULT_COLOUR and len(set(line.get_xdata())) == 1}
        assert round(fault_t, 3) in xs, "a fault line through every panel"
    injected = [line for ax in figure.axes[1:] for line in ax.get_lines()
                if line.get_color() == INJECT_COLOUR]
    assert injected and injected[0].get_xdata()[0] == 100.0


def test_other_formats_follow_the_file_name(traces: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from chair.plot import plot_trace

    plot_trace(str(traces["faulted"]), str(tmp_path / "f.svg"))
    assert (tmp_path / "f.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_a_trace_without_samples_still_draws(tmp_path: Path) -> None:
    """A run that never reached the device (the port was missing) has a header and an end."""
    pytest.importorskip("matplotlib")
    from chair.plot import plot_trace

    trace = tmp_path / "t.jsonl"
    assert main(["run", "lumbar", "--yes", "--port", "/dev/does-not-exist", "--trace",
                 str(trace)]) == 4
    plot_trace(str(trace), str(tmp_path / "t.png"))
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG


def test_an_interrupted_trace_draws(traces: dict[str, Path], tmp_path: Path) -> None:
    """A trace cut off mid-run (no end line) is drawn up to where it stops."""
    pytest.importorskip("matplotlib")
    from chair.plot import make_figure, plot_trace

    lines = traces["clean"].read_text(encoding="utf-8").splitlines()
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    plot_trace(str(cut), str(tmp_path / "cut.png"))
    assert "interrupted" in _texts(make_figure(read_trace(str(cut))))


def test_a_user_stop_is_marked(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from chair.plot import USER_COLOUR, make_figure

    records = read_trace(str(_stopped_trace(tmp_path)))
    figure = make_figure(records)
    assert "user: stop" in _texts(figure)
    assert any(line.get_color() == USER_COLOUR for line in figure.axes[1].get_lines())


def _stopped_trace(tmp_path: Path) -> Path:
    """A lumbar run stopped by Ctrl-C at 30 s."""
    from chair.program import load_program
    from chair.runner import RunOptions, run

    pressed: list[float] = []

    def ctrl_c(record: dict) -> None:
        if record["type"] == "sample" and record["t"] >= 30.0 and not pressed:
            pressed.append(record["t"])
            raise KeyboardInterrupt

    trace = tmp_path / "stopped.jsonl"
    outcome = run(load_program("lumbar"), RunOptions(fast=True, trace=str(trace),
                                                     listeners=[ctrl_c]))
    assert outcome.exit_code == 130
    return trace


# ----------------------------------------------------------------------- errors


def test_without_matplotlib_the_message_says_how_to_install_it(
        traces: dict[str, Path], tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    from chair.plot import plot_trace

    with pytest.raises(UsageError, match=r"pip install 'massage-chair\[plot\]'"):
        plot_trace(str(traces["clean"]), str(tmp_path / "x.png"))
    assert main(["plot", str(traces["clean"]), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and "pip install 'massage-chair[plot]'" in err
    assert not (tmp_path / "x.png").exists()


def test_a_missing_trace_is_a_usage_error(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    assert main(["plot", str(tmp_path / "nope.jsonl")]) == 2
    assert "chair run PROGRAM --trace FILE" in capsys.readouterr().err


def test_a_file_that_is_not_a_trace_is_a_usage_error(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"type": "header"}) + "\nnot json\n", encoding="utf-8")
    assert main(["plot", str(bad)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert main(["plot", str(empty)]) == 2


def test_an_unwritable_image_is_a_usage_error(traces: dict[str, Path], tmp_path: Path,
                                              capsys) -> None:
    pytest.importorskip("matplotlib")
    assert main(["plot", str(traces["clean"]), "-o", str(tmp_path / "no" / "x.png")]) == 2
    assert main(["plot", str(traces["clean"]), "-o", str(tmp_path / "x.nosuchformat")]) == 2
    assert "cannot write" in capsys.readouterr().err
