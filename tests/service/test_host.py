"""The real host (chair.service.host.ChairHost) on the simulated chair, sped up: what it
says about the chair, starting sessions as `chair run` would (and refusing as it would),
following them, pausing and stopping them."""

from __future__ import annotations

import itertools
import json

import pytest

from chair.errors import UsageError
from chair.service.api import SNAPSHOT_PERIOD_S, ErrorCode, ServeOptions, ServiceError, StartRequest
from chair.service.host import ChairHost
from tests.service.hosts import Recorder, make_host, state_is, wait_for

MOVING = ("scanning", "running")


@pytest.fixture
def host(tmp_path):
    host = make_host(tmp_path / "sessions")
    yield host
    host.close()


def start(host: ChairHost, program: str = "lumbar", **fields) -> dict:
    fields.setdefault("acknowledged", True)
    fields.setdefault("by", "web")
    return host.start(StartRequest(program, **fields))


def errors(call, *args) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args)
    return caught.value


def test_open_knows_the_chair_before_any_session(host) -> None:
    info = host.chair_info()
    assert info["zones"][:3] == ["shoulders", "arms", "lumbar"]
    assert info["heaters"] == ["lumbar", "seat"] and info["track_mm"] == 1250.0
    assert info["limits"]["airbag_kpa_max.lumbar"] == 35.0  # the device's own table
    assert info["caps"]["airbag_kpa"]["calves"] == 8.0  # the gentle default, not firm legs
    snapshot = host.status()
    assert snapshot["state"] == "idle" and snapshot["link"]["ok"] and snapshot["occupied"]
    assert snapshot["can"] == {"start": True, "pause": False, "resume": False,
                               "stop": False, "reset": False}
    assert [bag["cap_kpa"] for bag in snapshot["airbags"]][2] == 28.0
    json.dumps(snapshot)  # JSON-able, as the contract says
    json.dumps(host.programs()), json.dumps(host.server_info())
    assert host.server_info()["speed"] == 20.0


def test_between_sessions_the_chair_is_read_and_snapshots_keep_coming(host) -> None:
    recorder = Recorder()
    unsubscribe = host.subscribe(recorder)
    t0 = host.status()["t"]
    wait_for(lambda: len(recorder.got) >= 12, 10, "a dozen idle snapshots")
    unsubscribe()
    times = [at for at, _ in recorder.got]
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]  # after the first, at once
    assert max(gaps) <= SNAPSHOT_PERIOD_S + 0.1, gaps  # 5 Hz at least, with slack for load
    assert recorder.got[-1][1]["t"] > t0  # the chair's clock runs: it is being read


def test_a_session_starts_runs_and_stops_as_chair_run_s(host, tmp_path) -> None:
    recorder = Recorder()
    host.subscribe(recorder)
    started = start(host)
    session = started["session"]
    assert session["program"] == "lumbar" and session["by"] == "web" and session["active"]
    assert host.status()["state"] in MOVING
    assert errors(start, host).code is ErrorCode.BUSY
    wait_for(lambda: (host.status()["session"] or {}).get("step"), 20, "the first step")
    snapshot = host.status()
    step = snapshot["session"]["step"]
    assert step["number"] == 1 and step["of"] == 5 and step["zone"] == "lumbar"
    assert snapshot["session"]["program_s"] == 220.0
    assert snapshot["roller"]["shoulder_mm"] is not None
    wait_for(lambda: host.status()["roller"]["landmark"], 10, "a landmark under the roller")
    assert snapshot["can"]["stop"] and snapshot["can"]["pause"] and not snapshot["can"]["start"]
    host.pause("api")
    wait_for(state_is(host, "paused"), 10, "paused")
    assert host.status()["can"]["resume"]
    with pytest.raises(ServiceError):
        host.pause("api")
    host.resume("mqtt")
    wait_for(state_is(host, "running"), 10, "running again")
    host.stop("web")
    wait_for(lambda: host.status()["session"]["outcome"] == "stopped", 30, "stopped")
    snapshot = host.status()
    assert snapshot["state"] == "idle" and snapshot["reason"] == "stopped by the user"
    assert not snapshot["session"]["active"] and snapshot["can"]["start"]
    assert "parking" in recorder.states() and "paused" in recorder.states()
    listed = host.sessions()
    assert listed[0]["id"] == session["id"] and listed[0]["outcome"] == "stopped"
    assert listed[0]["by"] == "web" and listed[0]["seconds"] > 0
    records = [json.loads(line) for line in host.trace_path(session["id"]).open()]
    assert records[0]["type"] == "header" and records[0]["by"] == "web"
    assert records[-1]["type"] == "end" and records[-1]["reason"] == "stopped by the user"
    events = [r for r in records if r["type"] == "event"]
    cautions = next(r for r in events if r["event"] == "cautions")
    assert cautions["acknowledged"] and cautions["by"] == "web"
    users = [(r["action"], r["by"]) for r in events if r["event"] == "user"]
    assert users == [("pause", "api"), ("resume", "mqtt"), ("stop", "web")]
    assert any(r["event"] == "safe" and r["confirmed"] for r in events)


@pytest.mark.parametrize(("fields", "code", "said"), [
    ({"intensity": 7}, ErrorCode.INVALID, "choose 1 (gentlest) to 5"),
    ({"intensity": True}, ErrorCode.INVALID, "whole number"),
    ({"minutes": 45}, ErrorCode.INVALID, "at most 30"),
    ({"cautions": ("hernia",)}, ErrorCode.INVALID, "unknown"),
    ({"cautions": ("thrombosis",)}, ErrorCode.INVALID, "do not use the chair"),
    ({"firm_legs": True, "cautions": ("neuropathy",)}, ErrorCode.INVALID,
     "firm_legs with cautions neuropathy"),
    ({"height_cm": 180}, ErrorCode.INVALID, "senses force"),
    ({"program": "nope"}, ErrorCode.NOT_FOUND, "no program 'nope'; the programs are"),
    ({"program": "../lumbar.toml"}, ErrorCode.NOT_FOUND, "programs.list"),
])
def test_a_start_is_checked_as_chair_run_checks_it(host, fields, code, said) -> None:
    program = fields.pop("program", "lumbar")
    error = errors(lambda: start(host, program, **fields))
    assert error.code is code and said in error.message
    assert host.status()["state"] == "idle" and host.sessions() == []


def test_the_cautions_are_acknowledged_once_per_text_and_remembered(tmp_path) -> None:
    data = tmp_path / "sessions"
    host = make_host(data)
    try:
        error = errors(lambda: start(host, acknowledged=False, by="mqtt"))
        assert error.code is ErrorCode.NOT_ACKNOWLEDGED
        assert "DO NOT USE" in error.data["text"] and error.data["program"] == "lumbar"
        assert not next(p for p in host.programs()["programs"]
                        if p["name"] == "lumbar")["acknowledged"]
        start(host, acknowledged=True, by="web")
        host.stop("web")
        wait_for(lambda: host.status()["session"]["outcome"], 30, "the end")
    finally:
        host.close()
    again = make_host(data)  # a new process on the same data directory
    try:
        assert next(p for p in again.programs()["programs"]
                    if p["name"] == "lumbar")["acknowledged"]
        session = start(again, acknowledged=False, by="mqtt")["session"]
        assert session["by"] == "mqtt"
        # another program is not acknowledged by lumbar's
        again.stop("mqtt")
        wait_for(lambda: again.status()["session"]["outcome"], 30, "the end")
        error = errors(lambda: start(again, "legs", acknowledged=False, by="mqtt"))
        assert error.code is ErrorCode.NOT_ACKNOWLEDGED
    finally:
        again.close()
    acks = json.loads((data / "acknowledged.json").read_text())
    assert acks["lumbar"]["by"] == "web" and "DO NOT USE" in acks["lumbar"]["text"]


def test_nobody_seated_is_refused_with_the_controller_s_reason(tmp_path) -> None:
    host = make_host(tmp_path / "sessions", "sim://?seated=0")
    try:
        assert not host.status()["occupied"]
        error = errors(lambda: start(host))
        assert error.code is ErrorCode.REFUSED and "nobody is seated" in error.message
        listed = host.sessions()[0]  # listed as refused, not as a session that ran (B4)
        assert (listed["outcome"], listed["seconds"]) == ("refused", None)
        assert "nobody is seated" in listed["reason"]
        assert host.status()["state"] == "idle"
    finally:
        host.close()


def test_a_chair_without_force_sensing_needs_the_shoulder_line(tmp_path) -> None:
    host = make_host(tmp_path / "sessions", "sim://?chair=compact")
    try:
        error = errors(lambda: start(host, "lumbar"))
        assert error.code is ErrorCode.INVALID and "height CM" in error.message
        assert "--height" not in error.message, "the API's param names, not the flags"
        session = start(host, "lumbar", height_cm=175)["session"]
        wait_for(lambda: host.status()["roller"]["shoulder_mm"], 20, "the shoulder line")
        host.stop()
        wait_for(lambda: host.status()["session"]["outcome"], 30, "the end")
        assert host.sessions()[0]["id"] == session["id"]
    finally:
        host.close()


def test_speed_is_for_the_simulated_chair_only(tmp_path) -> None:
    host = ChairHost(ServeOptions(port="socket://127.0.0.1:9", speed=10,
                                  data_dir=tmp_path / "sessions"))
    with pytest.raises(UsageError, match="--speed"):
        host.open()
    with pytest.raises(UsageError, match="speed"):
        ChairHost(ServeOptions(port="sim://?speed=3", speed=10,
                               data_dir=tmp_path / "s")).open()


def test_stop_pause_resume_need_a_session(host) -> None:
    for call in (host.stop, host.pause, host.resume):
        assert errors(call, "api").code is ErrorCode.REFUSED
    reset = host.reset("api")  # nothing latched: nothing to do, and nothing starts
    assert reset["state"] == "idle" and host.status()["session"] is None


def test_in_real_time_too(tmp_path) -> None:
    """The default: the simulated chair in real time, its clock shared, a request waking
    the chair thread at once."""
    host = make_host(tmp_path / "sessions", speed=1.0)
    try:
        assert host.server_info()["speed"] == 1.0
        start(host, "gluteal")
        assert host.status()["state"] in MOVING
        host.stop("web")
        wait_for(lambda: host.status()["session"]["outcome"], 40, "the stop")
        assert host.status()["session"]["outcome"] == "stopped"
    finally:
        host.close()
