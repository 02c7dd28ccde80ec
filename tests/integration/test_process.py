"""`process` and `start`: calling the project's methods, and every way a call can fail."""
from __future__ import annotations

import pytest

from tests.integration.conftest import call, upload


def test_default_project_answers_without_update_or_start(client):
    reply = call(client, "sport_client", "GetState", {})
    assert reply["status"] == "success"
    assert reply["data"]["posture"] == "lying"


def test_args_as_dict_list_or_missing(client):
    assert upload(client, "testbot")["status"] == "success"
    assert call(client, "bot", "add", {"a": 2, "b": 3})["data"] == 5
    assert call(client, "bot", "add", [2, 3])["data"] == 5
    assert call(client, "bot", "nothing")["data"] is None
    assert call(client, "bot", "nothing", None)["data"] is None
    assert call(client, "bot", "echo", {"x": [1, {"y": None}]})["data"] == {
        "args": [], "kwargs": {"x": [1, {"y": None}]}}


def test_module_level_function_with_null_object(client):
    upload(client, "testbot")
    reply = client.call("process", {"params": {"object": None, "method": "ping"}})
    assert reply == {"status": "success", "message": "main.ping returned", "data": "pong"}


def test_errors_carry_type_and_text(client):
    upload(client, "testbot")
    unknown_object = call(client, "nobody", "x")
    assert unknown_object["status"] == "error" and "unknown object 'nobody'" in unknown_object["message"]
    assert unknown_object["data"]["code"] == "unknown_object"
    unknown_method = call(client, "bot", "fly")
    assert unknown_method["status"] == "error" and "unknown method 'fly'" in unknown_method["message"]
    assert unknown_method["data"]["code"] == "unknown_method"
    wrong_args = call(client, "bot", "add", {"c": 1})
    assert wrong_args["status"] == "error" and wrong_args["message"].startswith("TypeError:")
    assert wrong_args["data"]["code"] == "bad_arguments"
    assert wrong_args["data"]["error"]["type"] == "TypeError"
    # A TypeError raised inside the method is the method's own failure, not bad arguments.
    inner = call(client, "bot", "add", ["x", 1])
    assert inner["status"] == "error" and inner["message"].startswith("TypeError: ")
    assert inner["data"]["code"] == "user_exception"
    raised = call(client, "bot", "fail", {"text": "motor fault"})
    assert raised["status"] == "error"
    assert raised["message"].startswith("ValueError: motor fault (main.py, line ")
    assert raised["data"]["error"]["type"] == "ValueError"
    assert raised["data"]["code"] == "user_exception"
    not_callable = call(client, "value", "real")
    assert not_callable["status"] == "error" and "unknown object 'value'" in not_callable["message"]
    assert not_callable["data"]["code"] == "unknown_object"
    dunder = call(client, "bot", "__class__")
    assert dunder["status"] == "error" and dunder["data"]["code"] == "unknown_method"
    no_function = client.call("process", {"params": {"object": None, "method": "nowhere"}})
    assert no_function["status"] == "error" and "unknown function 'nowhere'" in no_function["message"]
    assert no_function["data"]["code"] == "unknown_method"


def test_return_values_json_cannot_carry(client):
    upload(client, "testbot")
    reply = call(client, "bot", "not_json")
    assert reply["status"] == "error" and "set" in reply["message"]
    assert reply["data"] == {"code": "not_json"}
    reply = call(client, "bot", "nan")
    assert reply["status"] == "error" and "NaN" in reply["message"]
    assert reply["data"] == {"code": "not_json"}
    assert call(client, "bot", "ping" if False else "incr")["status"] == "success"


def test_start_is_idempotent(client):
    upload(client, "testbot")
    first = client.call("start", {})
    assert first["status"] == "success" and first["message"] == "Project started"
    assert first["data"]["loaded"] is True and first["data"]["origin"] == "upload"
    second = client.call("start", {})
    assert second["status"] == "success" and second["message"] == "Project already started"
    assert call(client, "bot", "incr")["data"] == 1


def test_import_error_names_exception_and_line(client):
    assert upload(client, "import_error")["status"] == "success"
    reply = client.call("start", {})
    assert reply["status"] == "error" and reply["data"]["code"] == "load_failed"
    assert "ModuleNotFoundError" in reply["message"]
    assert "(main.py, line 4)" in reply["message"]
    # process on a project that cannot load reports the same error
    reply = call(client, "x", "y")
    assert "ModuleNotFoundError" in reply["message"] and reply["data"]["code"] == "load_failed"


def test_syntax_error_names_line(client):
    upload(client, "syntax_error")
    reply = client.call("start", {})
    assert reply["status"] == "error" and reply["data"]["code"] == "load_failed"
    assert reply["message"].startswith("cannot load the project: SyntaxError:")
    assert "line 2" in reply["message"]


@pytest.mark.config(executor={"requirements": "check"})
def test_missing_requirements_are_named(client, tmp_path):
    import shutil
    from tests.appliance import FIXTURES, b64, zip_dir
    project = tmp_path / "withreqs"
    shutil.copytree(str(FIXTURES / "folder_zip"), str(project))
    (project / "requirements.txt").write_text("pyyaml\nnot-a-real-package-xyz>=1.0\n")
    client.call("update", {"data": b64(zip_dir(project))}, timeout=60)
    reply = client.call("start", {})
    assert reply["status"] == "success"
    assert reply["data"]["missing_requirements"] == ["not-a-real-package-xyz>=1.0"]
    assert "not-a-real-package-xyz" in reply["message"]


def test_malformed_payloads_get_error_replies(client):
    for payload in (None, 5, "x", [], {"params": 3}, {"params": {}},
                    {"params": {"object": 1, "method": "x"}},
                    {"params": {"object": "bot", "method": "x", "args": "nope"}}):
        reply = client.call("process", payload)
        assert reply["status"] == "error", payload
        assert set(reply) == {"status", "message", "data"}
        assert reply["data"] == {"code": "invalid_payload"}, payload
    reply = client.call("no_such_event", {"a": 1})
    assert reply["status"] == "error" and "unknown event" in reply["message"]
    assert reply["data"] == {"code": "unknown_event"}
    # python-socketio dispatches an event literally named "*" to the catch-all handler
    # itself, with fewer arguments
    for args in ((), ({"a": 1},)):
        reply = client.call("*", *args)
        assert reply["status"] == "error" and "unknown event" in reply["message"], args
        assert reply["data"] == {"code": "unknown_event"}, args
