"""The API's messages as a client reads them: a duplicate key or an unreadable id refused
without a Python detail, the grammar of a type error, API param names (never `chair run`'s
flags) in a refused start, and a missing program named the same way however it was asked
for, without a path of the server."""

from __future__ import annotations

import json

import pytest

from chair.errors import UsageError
from chair.service.api import ErrorCode, ServiceError
from chair.service.rpc import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, Dispatcher
from chair.service.startcheck import api_words, find_program
from tests.service.fake_host import FakeHost


@pytest.fixture
def rpc():
    host = FakeHost(period_s=60.0)
    yield Dispatcher(host)
    host.close()


def test_an_object_with_a_duplicate_key_is_an_invalid_request(rpc) -> None:
    reply = json.loads(rpc.handle('{"jsonrpc":"2.0","method":"status.get",'
                                  '"method":"chair.estop","id":1}'))
    assert reply["error"]["code"] == INVALID_REQUEST, reply
    assert "duplicate key 'method'" in reply["error"]["message"]
    assert rpc.host.calls == [], "nothing was done"
    nested = json.loads(rpc.handle('{"jsonrpc":"2.0","method":"session.start","id":2,'
                                   '"params":{"program":"lumbar","program":"neck"}}'))
    assert nested["error"]["code"] == INVALID_REQUEST, nested


@pytest.mark.parametrize("text", ['{"jsonrpc":"2.0","method":"status.get","id":1%s}',
                                  '{"jsonrpc":"2.0","method":"session.start","id":1,'
                                  '"params":{"program":"lumbar","intensity":1%s}}'])
def test_a_number_too_long_to_read_is_refused_without_a_python_detail(rpc, text) -> None:
    reply = json.loads(rpc.handle(text % ("0" * 5000)))
    error = reply["error"]
    assert error["code"] in (PARSE_ERROR, INVALID_REQUEST), reply
    assert "int" not in error["message"].lower() and "sys." not in error["message"]
    assert "digits" in error["message"] or "number" in error["message"], error


def test_a_type_error_says_an_integer(rpc) -> None:
    reply = json.loads(rpc.handle(json.dumps({"jsonrpc": "2.0", "method": "session.start",
                                              "id": 1, "params": {"program": "lumbar",
                                                                  "intensity": "x"}})))
    assert reply["error"]["code"] == INVALID_PARAMS
    assert "must be an integer" in reply["error"]["message"], reply


@pytest.mark.parametrize(("message", "words"), [
    ("--intensity 0: choose 1 (gentlest) to 5", "intensity 0: choose 1 (gentlest) to 5"),
    ("--minutes 100: choose more than 0", "minutes 100: choose more than 0"),
    ("--caution bogus: unknown", "cautions bogus: unknown"),
    ("--shoulder-mm 5: ... drop --shoulder-mm", "shoulder_mm 5: ... drop shoulder_mm"),
    ("--height and --shoulder-mm both place", "height and shoulder_mm both place"),
    ("--firm-legs with --caution neuropathy: leave out --firm-legs",
     "firm_legs with cautions neuropathy: leave out firm_legs"),
])
def test_a_refused_start_names_the_apis_params_not_the_flags(message, words) -> None:
    assert api_words(message) == words


def test_the_rpc_layer_names_params_for_a_usage_error_of_a_start(rpc, monkeypatch) -> None:
    def refuse(request):
        raise UsageError("--intensity 9: choose 1 (gentlest) to 5")

    monkeypatch.setattr(rpc.host, "start", refuse)
    reply = json.loads(rpc.handle(json.dumps({"jsonrpc": "2.0", "method": "session.start",
                                              "id": 1, "params": ["lumbar", 9]})))
    assert reply["error"] == {"code": ErrorCode.INVALID,
                              "message": "intensity 9: choose 1 (gentlest) to 5"}


def test_a_missing_program_is_named_the_same_way_without_a_server_path(tmp_path,
                                                                       monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    messages = set()
    for name in ("nonexistent", "../etc/passwd", "lumbar.toml", 5, None):
        with pytest.raises(ServiceError) as caught:
            find_program(name)
        assert caught.value.code == ErrorCode.NOT_FOUND
        message = caught.value.message
        assert "/" not in message.replace(repr(name), ""), message
        assert "lumbar" in message and "searched" not in message, message
        messages.add(message.replace(repr(name), "NAME"))
    assert len(messages) == 1, messages
