"""The JSON-RPC 2.0 dispatcher (chair/service/rpc.py) at the protocol level, over FakeHost:
every method, every error, malformed messages fed whole, and arbitrary JSON never crashing
it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chair.service.api import ErrorCode, StartRequest
from chair.service.rpc import METHODS, Dispatcher, Subscriptions, notification
from tests.service.fake_host import FakeHost


class Recorder(Subscriptions):
    def __init__(self) -> None:
        self.on = False

    def subscribe(self) -> bool:
        changed, self.on = not self.on, True
        return changed

    def unsubscribe(self) -> bool:
        changed, self.on = self.on, False
        return changed


@pytest.fixture
def host():
    fake = FakeHost(period_s=60.0)  # the session does not advance by itself here
    yield fake
    fake.close()


@pytest.fixture
def rpc(host) -> Dispatcher:
    return Dispatcher(host, by="web", subscriptions=Recorder())


def ask(rpc: Dispatcher, method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        request["params"] = params
    reply = rpc.handle(json.dumps(request))
    assert reply is not None
    answer = json.loads(reply)
    assert answer["jsonrpc"] == "2.0" and answer["id"] == id_
    assert ("result" in answer) != ("error" in answer)
    return answer


def result(rpc: Dispatcher, method: str, params: Any = None) -> Any:
    answer = ask(rpc, method, params)
    assert "result" in answer, answer
    return answer["result"]


def error(rpc: Dispatcher, method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    answer = ask(rpc, method, params, id_)
    assert "error" in answer, answer
    return answer["error"]


START = {"program": "lumbar", "intensity": 2, "acknowledged": True}


# ------------------------------------------------------------------- every method


@pytest.mark.parametrize(("method", "host_method"), [
    ("server.info", "server_info"), ("chair.info", "chair_info"),
    ("programs.list", "programs"), ("status.get", "status"), ("sessions.list", "sessions")])
def test_each_query_returns_the_hosts_answer(rpc, host, method, host_method) -> None:
    got = result(rpc, method)
    want = getattr(host, host_method)()
    if method == "status.get":
        assert got["state"] == want["state"] and set(got) == set(want)
    else:
        assert got == want


def test_server_info_adds_what_the_front_end_knows(host) -> None:
    rpc = Dispatcher(host, server={"token_required": True})
    assert result(rpc, "server.info") == {**host.server_info(), "token_required": True}


def test_session_start_makes_a_start_request_by_name(rpc, host) -> None:
    got = result(rpc, "session.start", {"program": "lumbar", "intensity": 2, "minutes": 5,
                                        "cautions": ["herniated-disc"], "height": 170.5,
                                        "shoulder_mm": None, "firm_legs": True,
                                        "acknowledged": True})
    assert got["session"]["program"] == "lumbar"
    assert host.calls[-1] == ("start", StartRequest(
        program="lumbar", intensity=2, minutes=5, cautions=("herniated-disc",),
        height_cm=170.5, shoulder_mm=None, firm_legs=True, acknowledged=True, by="web"))


def test_session_start_by_position_in_the_documented_order(rpc, host) -> None:
    result(rpc, "session.start", ["lumbar", 4, 10, [], None, None, False, True])
    assert host.calls[-1] == ("start", StartRequest("lumbar", 4, 10, by="web",
                                                    acknowledged=True))


def test_session_commands_reach_the_host_with_who_asked(rpc, host) -> None:
    result(rpc, "session.start", START)
    assert result(rpc, "session.pause") == {"state": "paused"}
    assert result(rpc, "session.resume") == {"state": "running"}
    assert result(rpc, "session.stop") == {"state": "idle"}
    assert result(rpc, "chair.estop", []) == {"state": "estop"}
    assert result(rpc, "chair.reset", {}) == {"state": "idle"}
    assert [c for c in host.calls if c[0] != "start"] == [
        ("pause", "web"), ("resume", "web"), ("stop", "web"), ("estop", "web"),
        ("reset", "web")]


def test_subscribe_and_unsubscribe_are_the_connections(rpc) -> None:
    assert result(rpc, "status.subscribe") == {"subscribed": True}
    assert rpc.subscriptions.on
    assert result(rpc, "status.unsubscribe") == {"subscribed": False, "was": True}
    assert not rpc.subscriptions.on


def test_without_a_connection_subscribe_is_not_offered(host) -> None:
    assert error(Dispatcher(host), "status.subscribe")["code"] == -32601


def test_every_method_is_answered(rpc) -> None:
    for method in METHODS:
        answer = ask(rpc, method, START if method == "session.start" else None)
        if "error" in answer:  # a command refused in this state: our code, never JSON-RPC's
            assert answer["error"]["code"] in {int(c) for c in ErrorCode}, (method, answer)


def test_a_notification_is_not_answered_but_is_done(rpc, host) -> None:
    assert rpc.handle(json.dumps({"jsonrpc": "2.0", "method": "chair.estop"})) is None
    assert host.status()["state"] == "estop"
    assert rpc.handle('{"jsonrpc": "2.0", "method": "no.such"}') is None


def test_the_status_update_notification() -> None:
    assert json.loads(notification("status.update", {"state": "idle"})) == {
        "jsonrpc": "2.0", "method": "status.update", "params": {"state": "idle"}}


# ------------------------------------------------------------------- batches


def test_a_batch_is_answered_in_order_without_its_notifications(rpc, host) -> None:
    reply = rpc.handle(json.dumps([
        {"jsonrpc": "2.0", "method": "status.get", "id": "a"},
        {"jsonrpc": "2.0", "method": "session.start", "params": START},
        {"jsonrpc": "2.0", "method": "nope", "id": 2},
        {"jsonrpc": "2.0", "method": "session.stop", "id": 3.5},
        7,
    ]))
    answers = json.loads(reply)
    assert [a["id"] for a in answers] == ["a", 2, 3.5, None]
    assert answers[0]["result"]["state"] == "idle"
    assert answers[1]["error"]["code"] == -32601
    assert answers[2]["result"] == {"state": "idle"}
    assert answers[3]["error"]["code"] == -32600
    assert [c[0] for c in host.calls] == ["start", "stop"]


def test_a_batch_of_notifications_gets_no_reply(rpc) -> None:
    assert rpc.handle('[{"jsonrpc": "2.0", "method": "status.get"}]') is None


def test_an_empty_batch_is_one_invalid_request(rpc) -> None:
    answer = json.loads(rpc.handle("[]"))
    assert answer["error"]["code"] == -32600 and answer["id"] is None


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize("text", [
    "", "{", "nul", '{"jsonrpc": "2.0", "method": "status.get", "id": 1',
    '{"jsonrpc": "2.0", "method": "status.get", "id": NaN}', "[1,", b"\xff\xfe",
    "[" * 100_000, "\x00",
])
def test_malformed_json_is_a_parse_error(rpc, text) -> None:
    answer = json.loads(rpc.handle(text))
    assert answer["error"]["code"] == -32700 and answer["id"] is None


@pytest.mark.parametrize("message", [
    1, "status.get", None, {"method": "status.get", "id": 1},
    {"jsonrpc": "1.0", "method": "status.get", "id": 1},
    {"jsonrpc": "2.0", "id": 1}, {"jsonrpc": "2.0", "method": 5, "id": 1},
    {"jsonrpc": "2.0", "method": "status.get", "params": 3, "id": 1},
    {"jsonrpc": "2.0", "method": "status.get", "params": "x", "id": 1},
    {"jsonrpc": "2.0", "method": "status.get", "id": [1]},
    {"jsonrpc": "2.0", "method": "status.get", "id": True},
])
def test_an_invalid_request(rpc, message) -> None:
    answer = json.loads(rpc.handle(json.dumps(message)))
    assert answer["error"]["code"] == -32600, answer
    assert answer["error"]["message"]
    assert answer["id"] == (1 if isinstance(message, dict) and message.get("id") == 1
                            and message.get("id") is not True else None)


def test_an_unknown_method_names_it(rpc) -> None:
    err = error(rpc, "session.launch")
    assert err["code"] == -32601 and "session.launch" in err["message"]
    assert "session.start" in err["message"]


@pytest.mark.parametrize(("params", "param", "words"), [
    ({}, "program", "required"),
    ({"program": 3}, "program", "string"),
    ({"program": "lumbar", "intensity": "3"}, "intensity", "integer"),
    ({"program": "lumbar", "intensity": True}, "intensity", "integer"),
    ({"program": "lumbar", "intensity": 2.5}, "intensity", "integer"),
    ({"program": "lumbar", "minutes": "ten"}, "minutes", "number"),
    ({"program": "lumbar", "cautions": "herniated-disc"}, "cautions", "list of strings"),
    ({"program": "lumbar", "cautions": [1]}, "cautions", "list of strings"),
    ({"program": "lumbar", "acknowledged": "yes"}, "acknowledged", "boolean"),
    ({"program": "lumbar", "speed": 9}, "speed", "unknown"),
    (["lumbar", 3, 10, [], None, None, False, True, "extra"], None, "at most 8"),
])
def test_invalid_params_name_the_param(rpc, host, params, param, words) -> None:
    err = error(rpc, "session.start", params)
    assert err["code"] == -32602, err
    assert words in err["message"]
    if param:
        assert repr(param) in err["message"] and err["data"]["param"] == param
    assert not [c for c in host.calls if c[0] == "start"], "nothing reached the host"


def test_a_number_too_large_for_a_float_is_refused(rpc) -> None:
    reply = rpc.handle('{"jsonrpc": "2.0", "method": "session.start", "id": 1,'
                       ' "params": {"program": "lumbar", "minutes": 1e400}}')
    err = json.loads(reply)["error"]
    assert err["code"] == -32602 and "'minutes'" in err["message"]


def test_params_on_a_method_that_takes_none(rpc) -> None:
    err = error(rpc, "session.stop", {"force": True})
    assert err["code"] == -32602 and "'force'" in err["message"]
    assert error(rpc, "status.get", [1])["code"] == -32602


@pytest.mark.parametrize(("params", "code"), [
    ({"program": "nothing"}, ErrorCode.NOT_FOUND),
    ({"program": "lumbar", "intensity": 9, "acknowledged": True}, ErrorCode.INVALID),
    ({"program": "lumbar"}, ErrorCode.NOT_ACKNOWLEDGED),
])
def test_the_hosts_refusals_are_our_codes_with_its_message(rpc, params, code) -> None:
    err = error(rpc, "session.start", params)
    assert err["code"] == code and err["message"]


def test_busy_refused_and_latched(rpc) -> None:
    result(rpc, "session.start", START)
    assert error(rpc, "session.start", START)["code"] == ErrorCode.BUSY
    assert error(rpc, "session.resume")["code"] == ErrorCode.REFUSED
    result(rpc, "chair.estop")
    err = error(rpc, "session.start", START)
    assert err["code"] == ErrorCode.LATCHED and "reset" in err["message"]


def test_service_error_data_is_passed_on(host) -> None:
    from chair.service.api import ServiceError

    def refuse(request):
        raise ServiceError(ErrorCode.REFUSED, "not seated", {"occupied": False})
    host.start = refuse
    err = error(Dispatcher(host), "session.start", {"program": "lumbar"})
    assert err == {"code": ErrorCode.REFUSED, "message": "not seated",
                   "data": {"occupied": False}}


def test_an_unexpected_exception_is_a_generic_internal_error_and_logged(
        host, caplog) -> None:
    def broken():
        raise KeyError("secret detail")
    host.status = broken
    err = error(Dispatcher(host), "status.get")
    assert err["code"] == -32603 and "secret" not in err["message"]
    assert "secret detail" in caplog.text


def test_a_result_that_is_not_json_is_an_internal_error(host) -> None:
    host.status = lambda: {"t": float("nan")}
    assert error(Dispatcher(host), "status.get")["code"] == -32603


def test_chair_errors_from_the_host_keep_their_message(host) -> None:
    from chair.errors import LinkError, UsageError

    host.chair_info = lambda: (_ for _ in ()).throw(LinkError("sim:// went silent"))
    err = error(Dispatcher(host), "chair.info")
    assert err == {"code": ErrorCode.LINK, "message": "sim:// went silent"}
    host.chair_info = lambda: (_ for _ in ()).throw(UsageError("bad height"))
    assert error(Dispatcher(host), "chair.info")["code"] == ErrorCode.INVALID


# ------------------------------------------------------------------- never crashes

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                          allow_infinity=False)
    | st.text(max_size=20) | st.sampled_from(list(METHODS)),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["jsonrpc", "method", "params", "id", "program",
                                       "intensity", "x"]) | st.text(max_size=5),
                      children, max_size=5),
    max_leaves=30)

requests = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0"), "method": st.sampled_from(list(METHODS))},
    optional={"params": json_values, "id": json_values})


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=json_values | requests | st.lists(requests, max_size=4))
def test_arbitrary_json_never_crashes_the_dispatcher(rpc, message) -> None:
    reply = rpc.handle(json.dumps(message))
    if reply is None:
        return
    answer = json.loads(reply)
    for one in answer if isinstance(answer, list) else [answer]:
        assert one["jsonrpc"] == "2.0" and "id" in one
        assert ("result" in one) != ("error" in one)
        if "error" in one:
            assert one["error"]["code"] != -32603, one  # nothing unexpected


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=60) | st.text(max_size=60))
def test_arbitrary_bytes_never_crash_the_dispatcher(rpc, data) -> None:
    reply = rpc.handle(data)
    assert reply is None or json.loads(reply)["jsonrpc"] == "2.0"


def test_an_api_start_acknowledges_every_time(rpc, host) -> None:
    """A start acknowledged before (on the page, say) does not let the API start without
    acknowledging: only MQTT may rely on a remembered acknowledgement (safety S3)."""
    result(rpc, "session.start", START)
    result(rpc, "session.stop")
    err = error(rpc, "session.start", {"program": "lumbar"})
    assert err["code"] == ErrorCode.NOT_ACKNOWLEDGED
    assert err["data"]["program"] == "lumbar" and err["data"]["cautions"]
    listed = result(rpc, "programs.list")["programs"][0]
    assert listed["acknowledged"] and listed["acknowledged_by"] == host.calls[0][1].by
