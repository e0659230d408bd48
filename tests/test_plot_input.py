"""`chair plot` on what a user may point it at (issue 9, item 15): a malformed or binary
trace is a clear error naming the file and line (exit 2), never a TypeError or a
UnicodeDecodeError; without `-o` the picture is named after the trace and nothing that
`chair plot` did not draw is overwritten."""

from __future__ import annotations

import json
import os
import threading
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chair.cli import main
from chair.errors import UsageError
from chair.plot import plot_trace
from chair.trace import read_trace

PNG = b"\x89PNG\r\n\x1a\n"
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def trace(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plotin") / "feet.jsonl"
    assert main(["run", "feet", "--fast", "--trace", str(path)]) == 0
    return path


def _lines(trace: Path) -> list[str]:
    return trace.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(("bad", "words"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", ["not UTF-8"]),
    (b"\xff\xfe{}\n", ["not UTF-8"]),
    (b"[1, 2]\n", ["JSON list"]),
    (b"42\n", ["JSON int"]),
    (b'{"type": "sample", "t": "soon"}\n', ["'t'"]),
    (b'{"type": "sample", "t": 1, "roller": [1]}\n', ["'roller'"]),
    (b'{"type": "sample", "t": 1, "airbags": {"seat": "full"}}\n', ["airbags.seat"]),
    (b'{"type": "event", "t": 1, "event": "state", "dest": 3, "source": "idle"}\n',
     ["'dest'"]),
    (b'{"type": "event", "t": 1, "event": "scan", "landmarks": {"l5": "low"}}\n',
     ["landmarks"]),
    (b'{"type": "header", "limits": 5}\n', ["'limits'"]),
    (b"{not json\n", ["not a JSON line"]),
], ids=["png", "utf16-bom", "list", "number", "t-text", "roller-list", "airbag-text",
        "dest-number", "landmark-text", "limits-number", "not-json"])
def test_a_bad_line_is_named_with_its_file_and_line(trace: Path, tmp_path: Path, capsys,
                                                   bad: bytes, words: list[str]) -> None:
    """Before: TypeError, AttributeError or UnicodeDecodeError tracebacks."""
    path = tmp_path / "bad.jsonl"
    good = trace.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(good[:3]) + bad + b"".join(good[3:10]))
    assert main(["plot", str(path), "-o", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4:" in err and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    assert not (tmp_path / "out.png").exists()


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.lists(st.integers(), max_size=2), st.just({}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damaged_field_draws_or_is_a_usage_error(trace: Path, data) -> None:
    """The whole kind: replace one field anywhere in a short trace with anything."""
    records = read_trace(str(trace))
    short = records[:2] + [r for r in records if r.get("event") in ("state", "step", "scan")] \
        + [r for r in records if r["type"] == "sample"][:20] + records[-1:]
    index = data.draw(st.integers(0, len(short) - 1))
    record = json.loads(json.dumps(short[index]))
    target = record
    path = []
    while True:
        key = data.draw(st.sampled_from(sorted(target)))
        path.append(key)
        if isinstance(target[key], dict) and target[key] and data.draw(st.booleans()):
            target = target[key]
            continue
        target[key] = data.draw(_VALUES)
        break
    short[index] = record
    where = trace.parent / "damaged.jsonl"
    where.write_text("".join(json.dumps(r) + "\n" for r in short), encoding="utf-8")
    try:
        plot_trace(str(where), str(trace.parent / "damaged.png"))
    except UsageError as exc:
        assert str(where) in str(exc)


def test_without_o_the_picture_is_named_after_the_trace(trace: Path, capsys) -> None:
    """Before: `chair plot TRACE` wrote ./session.png, over whatever was there."""
    picture = trace.with_suffix(".png")
    picture.unlink(missing_ok=True)
    assert main(["plot", str(trace)]) == 0
    assert picture.read_bytes()[:8] == PNG
    assert f"wrote {picture}" in capsys.readouterr().out
    assert main(["plot", str(trace)]) == 0, "a picture chair plot drew may be redrawn"
    assert "replacing" in capsys.readouterr().out


def test_without_o_a_file_chair_plot_did_not_draw_is_kept(trace: Path, tmp_path: Path,
                                                           capsys) -> None:
    copy = tmp_path / "mine.jsonl"
    copy.write_bytes(trace.read_bytes())
    precious = tmp_path / "mine.png"
    precious.write_bytes(PNG + b"a holiday photo")
    assert main(["plot", str(copy)]) == 2
    err = capsys.readouterr().err
    assert str(precious) in err and "not overwriting" in err
    assert precious.read_bytes() == PNG + b"a holiday photo"
    assert main(["plot", str(copy), "-o", str(precious)]) == 0, "named with -o: the user's call"


def test_the_trace_itself_is_never_the_picture(trace: Path, capsys) -> None:
    before = trace.read_bytes()
    assert main(["plot", str(trace), "-o", str(trace)]) == 2
    assert "the trace itself" in capsys.readouterr().err
    assert trace.read_bytes() == before


# ------------------------------------------------------- what is not a trace file (fix-inputs)
# Findings 3, 6, 11: `chair plot /dev/zero` read until the OOM killer came, a FIFO with no
# writer blocked forever, `chair plot .` was a ValueError traceback, `-o ''` wrote
# TRACE.png silently and `-o /dev/null` "replaced" the device.


def _plot_refused(argv: list[str], capsys, *words: str) -> str:
    code: list = []
    worker = threading.Thread(target=lambda: code.append(_exit_code(argv)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), f"chair {' '.join(argv)} blocked"
    assert code == [2]
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse: a usage error
        return int(exc.code)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_not_read_as_a_trace(tmp_path: Path, capsys, device: str) -> None:
    _plot_refused(["plot", device, "-o", str(tmp_path / "z.png")], capsys, device, "device")
    assert not (tmp_path / "z.png").exists()


def test_a_fifo_is_not_read_as_a_trace(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _plot_refused(["plot", str(fifo), "-o", str(tmp_path / "x.png")], capsys, str(fifo),
                  "FIFO")


@pytest.mark.parametrize("where", [".", "..", "DIR"])
def test_a_directory_is_not_a_trace(tmp_path: Path, capsys, monkeypatch, where: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "DIR").mkdir()
    _plot_refused(["plot", where], capsys, where, "directory")
    _plot_refused(["plot", where, "-o", "x.png"], capsys, where, "directory")


def test_a_trace_over_the_size_cap_is_refused_unread(tmp_path: Path, capsys,
                                                     monkeypatch) -> None:
    from chair import trace_check

    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * 2048)
    monkeypatch.setattr(trace_check, "MAX_TRACE_BYTES", 1024)
    _plot_refused(["plot", str(path), "-o", str(tmp_path / "b.png")], capsys, str(path),
                  "1024 bytes")


def test_the_size_cap_is_far_above_a_long_session(trace: Path) -> None:
    """The feet program lasts a few minutes; the longest session (30 min) fits 4 times."""
    from chair.program import load_program
    from chair.trace_check import MAX_TRACE_BYTES

    per_second = trace.stat().st_size / load_program("feet").seconds
    assert 4 * per_second * 30 * 60 < MAX_TRACE_BYTES


@pytest.mark.parametrize("argv", [["plot", "TRACE", "-o", ""], ["plot", ""],
                                  ["plot", "TRACE", "--output="]])
def test_an_empty_path_is_a_usage_error(trace: Path, capsys, argv: list[str]) -> None:
    argv = [str(trace) if a == "TRACE" else a for a in argv]
    picture = trace.with_suffix(".png")
    picture.unlink(missing_ok=True)
    _plot_refused(argv, capsys, "empty")
    assert not picture.exists()


def test_a_picture_is_not_written_to_a_device_or_a_fifo(trace: Path, tmp_path: Path,
                                                        capsys) -> None:
    _plot_refused(["plot", str(trace), "-o", os.devnull], capsys, os.devnull, "device")
    fifo = tmp_path / "out.png"
    os.mkfifo(fifo)
    _plot_refused(["plot", str(trace), "-o", str(fifo)], capsys, str(fifo), "FIFO")


def test_control_characters_in_a_trace_are_not_drawn(trace: Path, tmp_path: Path) -> None:
    """Finding 10: ESC in a header's title made matplotlib warn "Glyph 27 missing"."""
    from chair.trace_check import load_trace

    records = read_trace(str(trace))
    records[0]["title"] = "so\x1b[2Jles\x00\x9b"
    records[0]["cautions"] = [{"name": "bell\x07"}]
    path = tmp_path / "esc.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    header = load_trace(str(path))[0]
    assert header["title"] == "so\\x1b[2Jles\\x00\\x9b"
    assert header["cautions"] == [{"name": "bell\\x07"}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_trace(str(path), str(tmp_path / "esc.png"))


@pytest.mark.parametrize("t", [-4305290.0, 1e12])
def test_a_time_far_outside_a_run_is_a_usage_error(trace: Path, tmp_path: Path, capsys,
                                                   t: float) -> None:
    """Found by the damaged-field fuzzer: an event at t = -4305290 stretched the time axis
    until matplotlib failed ("raster overflow", exit 1)."""
    records = read_trace(str(trace))
    records[2]["t"] = t
    where = tmp_path / "far.jsonl"
    where.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert main(["plot", str(where), "-o", str(tmp_path / "far.png")]) == 2
    err = capsys.readouterr().err
    assert f"{where}:3:" in err and "outside 0..86400 s" in err, err
