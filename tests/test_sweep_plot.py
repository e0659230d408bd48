"""`chair plot RESULTS`: a sweep's results drawn as worst pressure by body height and zone,
sampled and true against the cap, violating sessions marked; bad files are usage errors."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pytest

from chair.cli import main
from chair.errors import UsageError

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A small real sweep: lumbar at two heights, one session per height failing on the
    planted unsafe chair (air-over-cap) beside a sound one at a third height."""
    where = tmp_path_factory.mktemp("sweep-plot")
    sound, unsafe = where / "sound.csv", where / "unsafe.csv"
    assert main(["sweep", "lumbar", "--heights", "160,190", "--stiffness", "1,1.5",
                 "--jobs", "2", "-o", str(sound)]) == 0
    assert main(["sweep", "lumbar", "--heights", "175", "--jobs", "1", "-o", str(unsafe),
                 "--sim-options", "defect=air-over-cap"]) == 3
    both = where / "r.csv"
    with open(sound, newline="") as a, open(unsafe, newline="") as b:
        rows = list(csv.DictReader(a)) + list(csv.DictReader(b))
    with open(both, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return both


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_cli_draws_a_png_of_sane_size(results: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep.png"
    assert main(["plot", str(results), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    data = out.read_bytes()
    assert data[:8] == PNG and 10_000 < len(data) < 2_000_000
    from matplotlib.image import imread

    height, width = imread(str(out)).shape[:2]
    assert 600 <= width <= 3000 and 400 <= height <= 3000
    assert main(["plot", str(results)]) == 0  # default: beside the results, as a trace's
    assert (results.parent / "r.png").read_bytes()[:8] == PNG


def test_the_plotted_data_is_the_rows(results: Path) -> None:
    pytest.importorskip("matplotlib")
    from chair.sweep.plot import load_rows, make_figure

    rows = _rows(results)
    figure, data = make_figure(load_rows(str(results)))
    assert list(data) == ["lumbar"]  # the only zone lumbar inflates
    (ax,) = [ax for ax in figure.axes if ax.get_visible()]
    lines = {line.get_gid(): line for line in ax.get_lines()}
    for model, k in (("reference", "1.0"), ("reference", "1.5")):
        mine = sorted((float(r["height"]), r) for r in rows
                      if r["stiffness"] == k and r["model"] == model)
        heights = [h for h, _ in mine]
        name = f"lumbar|{model} k{float(k):g}"
        assert list(lines[f"{name}|sampled"].get_xdata()) == heights
        assert list(lines[f"{name}|sampled"].get_ydata()) == \
            [float(r["kpa.lumbar"]) for _, r in mine]
        assert list(lines[f"{name}|true"].get_ydata()) == \
            [float(r["true_kpa.lumbar"]) for _, r in mine]
    cap = lines["lumbar|reference|cap"]
    assert set(cap.get_ydata()) == {float(rows[0]["cap.lumbar"])}
    # the violating session (h175, stiffness 1) is ringed; the sound ones are not
    (ring,) = [c for c in ax.collections if c.get_gid() == "lumbar|reference k1|violating"]
    ((x, y),) = ring.get_offsets().tolist()
    bad = next(r for r in rows if r["violations"])
    assert x == 175.0 and y == max(float(bad["kpa.lumbar"]), float(bad["true_kpa.lumbar"]))
    assert y > float(bad["cap.lumbar"])
    assert not math.isnan(y)


@pytest.mark.parametrize(("name", "content", "says"), [
    ("r.csv", "a,b\n1,2\n", "neither a sweep's results"),
    ("r.parquet", "not parquet", "neither a sweep's results"),
    ("r.txt", "hello\n", "not a JSON line"),  # neither: the trace plot says why
    ("r2.csv", "session,program\n", "missing"),
])
def test_a_file_that_is_neither_is_a_usage_error(tmp_path: Path, capsys, name: str,
                                                 content: str, says: str) -> None:
    pytest.importorskip("matplotlib")
    bad = tmp_path / name
    bad.write_text(content)
    assert main(["plot", str(bad), "-o", str(tmp_path / "x.png")]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    assert main(["plot", str(tmp_path / "gone.csv")]) == 2
    assert "cannot read the results" in capsys.readouterr().err


def test_without_matplotlib_the_same_message_as_chair_plot(results: Path, tmp_path: Path,
                                                          monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    from chair.sweep.plot import plot_results

    with pytest.raises(UsageError, match=r"pip install 'massage-chair\[plot\]'"):
        plot_results(str(results), str(tmp_path / "x.png"))
    assert main(["plot", str(results), "-o", str(tmp_path / "x.png")]) == 2
    assert "pip install 'massage-chair[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
