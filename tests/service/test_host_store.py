"""The data directory (chair.service.store): session ids, the list, damaged traces, paths
that never leave the directory, the plot drawn once."""

from __future__ import annotations

import json

import pytest

from chair.service.api import ErrorCode, ServiceError
from chair.service.store import Store, default_dir, outcome_of


def _trace(path, *, end: dict | None, events: tuple[dict, ...] = (), **header) -> None:
    lines = [{"type": "header", "program": "lumbar", "title": "Lower back", "by": "web",
              "started": "2026-11-30T21:45:03+00:00", **header},
             {"type": "event", "t": 0.0, "event": "cautions", "acknowledged": True},
             *events]
    if end is not None:
        lines.append({"type": "end", **end})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_the_default_directory_follows_xdg(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_dir() == tmp_path / "chair" / "sessions"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")
    assert default_dir().parts[-4:] == (".local", "share", "chair", "sessions")


def test_ids_are_the_start_time_and_program_and_never_collide(tmp_path) -> None:
    store = Store(tmp_path)
    first, second = store.new_id("lumbar"), store.new_id("lumbar")
    assert first != second and first.endswith("-lumbar") and second.startswith(first)
    assert len(first.split("-")[0]) == 8 and len(first.split("-")[1]) == 6


def test_the_list_is_newest_first_and_a_damaged_trace_is_said(tmp_path) -> None:
    store = Store(tmp_path)
    _trace(tmp_path / "20261130-100000-lumbar.jsonl",
           end={"t": 220.5, "state": "idle", "reason": "completed"})
    _trace(tmp_path / "20261130-110000-lumbar.jsonl",
           end={"t": 12.0, "state": "estop", "reason": "stopped at once by the user"})
    _trace(tmp_path / "20261130-120000-lumbar.jsonl", end=None)  # the host died
    (tmp_path / "20261130-130000-legs.jsonl").write_bytes(b"\x00\xff not json\n")
    (tmp_path / "notes.jsonl").write_text("{}")  # not a session: not listed
    listed = store.sessions(active="20261130-140000-feet")
    assert [s["id"] for s in listed] == ["20261130-130000-legs", "20261130-120000-lumbar",
                                         "20261130-110000-lumbar", "20261130-100000-lumbar"]
    assert [s["outcome"] for s in listed] == ["damaged", "damaged", "stopped", "completed"]
    assert listed[3]["seconds"] == 220.5 and listed[3]["by"] == "web"
    assert listed[3]["started"].startswith("2026-11-30")


NOBODY = "nobody is seated: the chair starts only with a person in it"


def test_a_start_refused_before_anything_moved_is_listed_as_refused(tmp_path) -> None:
    """Not as a session that ran (issue 13, B4): outcome "refused", the reason, no seconds."""
    store = Store(tmp_path)
    _trace(tmp_path / "20261130-100000-lumbar.jsonl",  # the controller refused the start
           events=({"type": "event", "t": 0.138, "event": "state", "source": "connecting",
                    "dest": "idle", "trigger": "connected"},
                   {"type": "event", "t": 0.144, "event": "refused", "trigger": "start",
                    "state": "idle", "why": NOBODY}),
           end={"t": 0.144, "state": "idle", "reason": NOBODY})
    cap = "the chair's table has no cap for lumbar"
    _trace(tmp_path / "20261130-110000-lumbar.jsonl", incomplete=True,  # refused at connect
           events=({"type": "event", "t": 0.2, "event": "refused", "trigger": "connect",
                    "state": "connecting", "why": cap},
                   {"type": "event", "t": 0.2, "event": "state", "source": "connecting",
                    "dest": "disconnected", "trigger": "disconnect"}),
           end={"t": 0.2, "state": "disconnected", "reason": cap})
    shoulder = "refused before anything moved: --height CM: give the person's height"
    _trace(tmp_path / "20261130-120000-lumbar.jsonl",
           end={"t": 0.3, "state": "idle", "reason": shoulder})
    _trace(tmp_path / "20261130-130000-lumbar.jsonl",  # a reset refused mid-session: ran
           events=({"type": "event", "t": 40.0, "event": "refused", "trigger": "reset",
                    "state": "fault", "why": "F05"},),
           end={"t": 41.0, "state": "fault", "reason": "device F05 overpressure"})
    listed = {s["id"][:15]: s for s in store.sessions()}
    for key, reason in (("20261130-100000", NOBODY), ("20261130-110000", cap),
                        ("20261130-120000", shoulder)):
        assert (listed[key]["outcome"], listed[key]["reason"], listed[key]["seconds"]) == \
            ("refused", reason, None), listed[key]
    assert listed["20261130-130000"]["outcome"] == "fault"
    assert listed["20261130-130000"]["seconds"] == 41.0


@pytest.mark.parametrize(("end", "outcome"), [
    ({"state": "idle", "reason": "session timer"}, "completed"),
    ({"state": "idle", "reason": "stopped by the user"}, "stopped"),
    ({"state": "fault", "reason": "link lost: no valid report for 1.0 s"}, "link"),
    ({"state": "fault", "reason": "device F05 overpressure"}, "fault"),
    ({"state": "idle", "reason": "nobody is seated: the chair starts only with a person"},
     "fault"),
])
def test_the_outcome_is_chair_run_s(end, outcome) -> None:
    assert outcome_of(end) == outcome


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "20261130-100000-x/..",
                                 "20261130-100000-lumbar.jsonl", "", "nope", None, 3])
def test_no_path_outside_the_directory_is_ever_named(tmp_path, bad) -> None:
    store = Store(tmp_path / "sessions")
    store.ensure()
    with pytest.raises(ServiceError) as caught:
        store.trace_path(bad)
    assert caught.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(ServiceError):
        store.plot_path(bad)


def test_a_link_out_of_the_directory_is_not_served(tmp_path) -> None:
    outside = tmp_path / "secret.jsonl"
    outside.write_text("{}")
    store = Store(tmp_path / "sessions")
    store.ensure()
    (store.dir / "20261130-100000-lumbar.jsonl").symlink_to(outside)
    with pytest.raises(ServiceError):
        store.trace_path("20261130-100000-lumbar")


def test_the_plot_is_drawn_once_and_kept(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from chair.program import load_program
    from chair.runner import RunOptions, run

    store = Store(tmp_path)
    session = store.new_id("lumbar")
    run(load_program("lumbar"), RunOptions(fast=True, trace=str(store.trace_file(session)),
                                           minutes=1))
    png = store.plot_path(session)
    assert png == tmp_path / f"{session}.png" and png.read_bytes()[:4] == b"\x89PNG"
    drawn = png.stat().st_mtime_ns
    assert store.plot_path(session).stat().st_mtime_ns == drawn
