"""Remembered acknowledgements of a program's cautions (issue 13, safety S3): only a start
from MQTT (Home Assistant cannot show the cautions) may rely on one, and only for
ACK_MAX_AGE; the page and the API acknowledge at every start. `programs.list` says when and
by whom each program was last acknowledged."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chair.clock import wall_now
from chair.program import load_program
from chair.service.api import ErrorCode, ServiceError, StartRequest
from chair.service.startcheck import ACK_MAX_AGE, cautions_text
from tests.service.hosts import make_host, wait_for


@pytest.fixture
def host(tmp_path):
    host = make_host(tmp_path / "sessions")
    yield host
    host.close()


def remember(host, by: str = "web", age: timedelta = timedelta(0)) -> None:
    """As a start with acknowledged=True did, `age` ago."""
    host.store.acknowledge("lumbar", cautions_text(load_program("lumbar")), by)
    path = host.store.dir / "acknowledged.json"
    acks = json.loads(path.read_text())
    acks["lumbar"]["at"] = (wall_now() - age).isoformat(timespec="seconds")
    path.write_text(json.dumps(acks))


def refused(host, **fields) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        host.start(StartRequest("lumbar", **fields))
    return caught.value


def lumbar(host) -> dict:
    return next(p for p in host.programs()["programs"] if p["name"] == "lumbar")


@pytest.mark.parametrize("by", ["api", "web"])
def test_the_page_and_the_api_acknowledge_at_every_start(host, by: str) -> None:
    remember(host)
    error = refused(host, acknowledged=False, by=by)
    assert error.code is ErrorCode.NOT_ACKNOWLEDGED
    assert error.data["program"] == "lumbar" and error.data["cautions"]
    assert "DO NOT USE" in error.data["text"]
    assert host.status()["state"] == "idle" and host.sessions() == []


def test_programs_list_says_when_and_by_whom(host) -> None:
    assert (lumbar(host)["acknowledged"], lumbar(host)["acknowledged_at"],
            lumbar(host)["acknowledged_by"]) == (False, None, None)
    remember(host, by="api", age=timedelta(days=2))
    listed = lumbar(host)
    assert listed["acknowledged"] is True and listed["acknowledged_by"] == "api"
    assert listed["acknowledged_at"].startswith((wall_now() - timedelta(days=2)).date()
                                                .isoformat())


def test_an_old_acknowledgement_no_longer_lets_mqtt_start(host) -> None:
    remember(host, age=ACK_MAX_AGE + timedelta(hours=1))
    error = refused(host, acknowledged=False, by="mqtt")
    assert error.code is ErrorCode.NOT_ACKNOWLEDGED
    assert "page" in error.message and "30 days" in error.message, error.message
    assert error.data["cautions"]
    listed = lumbar(host)
    assert listed["acknowledged"] is False and listed["acknowledged_at"] is not None
    assert host.sessions() == []


def test_a_recent_acknowledgement_lets_mqtt_start(host) -> None:
    remember(host, age=ACK_MAX_AGE - timedelta(hours=1))
    session = host.start(StartRequest("lumbar", by="mqtt"))["session"]
    assert session["by"] == "mqtt"
    host.stop("mqtt")
    wait_for(lambda: host.status()["session"]["outcome"], 30, "the end")
