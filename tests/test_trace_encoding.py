"""The trace's lines are encoded by orjson with the stdlib encoder as the reference (issue 14,
item 3): the same records, NaN and Infinity still refused where orjson would write null."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chair.trace import Trace, _line


@pytest.mark.parametrize("record", [
    {"type": "sample", "t": 1.234, "step": None, "x": [0.1, 1e-7, 1e20, 2.0, -0.0, 5]},
    {"type": "event", "t": 0.0, "event": "note", "text": "null ünïcode \"q\" \n"},
    {"type": "event", "t": 0.0, "event": "n", "value": np.float64(1.5), "i": 2 ** 70},
])
def test_a_line_reads_back_as_the_record(record) -> None:
    """Every line is one JSON object, equal to what the stdlib encoder writes, read back."""
    line = _line(record)
    assert b"\n" not in line
    assert json.loads(line) == json.loads(json.dumps(record))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_beside_a_null_is_refused(bad) -> None:
    """orjson writes NaN as null: a record with a real null and a NaN must still be refused."""
    with pytest.raises(ValueError, match="not finite"):
        _line({"type": "sample", "t": 1.0, "step": None, "deep": {"a": [1.0, bad]}})


def test_each_line_is_in_the_file_once_emitted(tmp_path) -> None:
    """Flushed line by line (docs/trace.md): a reader sees each record before the run ends."""
    path = tmp_path / "t.jsonl"
    trace = Trace(str(path))
    trace.header(program="x")
    trace.event(1.0, "reading", value=1.5)
    lines = path.read_bytes().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["header", "event"]
    trace.close()
