"""`user show`, `contract show`, `request` and the guided `handover`, against the sandbox."""

from __future__ import annotations

import json

import pytest


def test_user_show_decrypts_an_encrypted_name(sandbox, configure, run):
    configure(sandbox)
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    data = result.json
    assert data["user_name"] == "张小明"
    assert data["contract_state"] == "CONTRACTED" and data["student_info"] == {"class_name": "三年级二班"}
    [request] = sandbox.received
    assert request.method == "GET" and request.body == b"" and request.signature_ok
    assert request.target == "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo"


def test_user_show_plain_name_and_use_id_typo(sandbox, configure, run):
    configure(sandbox)
    user = sandbox.seed_user("demo-org", "typo", user_name="Plain Name", encrypt_name=False, use_id_typo=True)
    data = run("user", "show", "--user", "typo", "--org", "demo-org").json
    assert data["user_name"] == "Plain Name"
    assert data["user_id"] == user.user_id


def test_user_show_table(sandbox, configure, run):
    configure(sandbox)
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--format", "table")
    for text in ("张小明", "三年级二班", "CONTRACTED", "demo-org"):
        assert text in result.stdout


def test_ids_with_slashes_are_encoded_not_path(sandbox, configure, run):
    configure(sandbox)
    sandbox.seed_user("org/1", "a+b/c?d", user_name="X", encrypt_name=False)
    run("user", "show", "--user", "a+b/c?d", "--org", "org/1", expect=0)
    assert sandbox.received[0].target == "/v3/offlinefacemch/organizations/org%2F1/users/out-user-id/a%2Bb%2Fc%3Fd"


def test_contract_show(sandbox, configure, run):
    configure(sandbox)
    user = sandbox.state.users[("demo-org", "demo")]
    result = run("contract", "show", user.contract_id, "--appid", "wx123", "--json", expect=0)
    data = result.json
    assert data["contract_id"] == user.contract_id and data["user_id"] == user.user_id
    assert sandbox.received[0].target == f"/v3/offlineface/contracts/{user.contract_id}?appid=wx123"
    assert run("contract", "show", "nope").exit_code == 1


def test_request_get(sandbox, configure, run):
    configure(sandbox)
    result = run("request", "get", "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo", expect=0)
    assert result.json["out_user_id"] == "demo"
    assert sandbox.received[0].method == "GET" and sandbox.received[0].signature_ok


@pytest.mark.parametrize("how", ["inline", "file", "stdin"])
def test_request_post_body(how, sandbox, configure, run, tmp_path):
    configure(sandbox)
    body = '{"out_user_id": "demo", "organization_id": "demo-org"}'
    args, stdin = ["--data", body], None
    if how == "file":
        (tmp_path / "body.json").write_text(body)
        args = ["--data", f"@{tmp_path / 'body.json'}"]
    elif how == "stdin":
        args, stdin = ["--data", "-"], body
    result = run("request", "POST", "/v3/offlineface/repayment-url", *args, input=stdin, expect=0)
    assert "repayment_url" in result.json
    assert sandbox.received[0].body == b'{"out_user_id":"demo","organization_id":"demo-org"}'
    assert sandbox.received[0].signature_ok


@pytest.mark.parametrize("path", [
    "/v3/offlinefacemch/organizations/demo-org/users/user-id/{user_id}/terminate-contract",
    "/v3/offlinefacemch/organizations/demo-org/users/user-id/{user_id}/TERMINATE-contract/",
    "/v3/offlinefacemch/organizations/demo-org/users/user-id/{user_id}/terminate%2Dcontract?x=1",
    "/v3/eduschoolpay/contracts/c1/terminate",
])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post"])
def test_request_refuses_terminations(method, path, sandbox, configure, run):
    """The escape hatch must not bypass confirmation and the audit log, whatever the method."""
    configure(sandbox)
    user = sandbox.state.users[("demo-org", "demo")]
    result = run("request", method, path.format(user_id=user.user_id), expect=1)
    assert "does not send terminations" in result.stderr
    assert "wxpay contract terminate" in result.stderr or "guarded command" in result.stderr
    assert sandbox.received == []
    assert user.contract_state == "CONTRACTED"


@pytest.mark.parametrize("args, message", [
    (["GET", "v3/x"], "starting with /v3/"),
    (["POST", "/v3/x", "--data", "{nope"], "not valid JSON"),
    (["FETCH", "/v3/x"], "FETCH"),
    (["POST", "/v3/x", "--data", "@/nonexistent.json"], "cannot read"),
    (["POST", "/v3/offlinefacemch/organizations/o/users/user-id/u/terminate-contract#x"], "plain path"),
    (["POST", "/v3/./eduschoolpay/contracts/c1/terminate"], "plain path"),
    (["POST", "/v3//eduschoolpay/contracts/c1/terminate"], "plain path"),
    (["POST", "/v3/offlinefacemch/organizations/o/users/user-id/u/terminate-contract;a"], "plain path"),
    (["POST", "/v3/a/%2E%2E/b"], "plain path"),
    (["GET", "/v3/\x01"], "control characters"),
])
def test_request_usage_errors(args, message, sandbox, configure, run):
    configure(sandbox)
    result = run("request", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert sandbox.received == []


def test_request_refusal_and_verification(sandbox, configure, run):
    configure(sandbox)
    assert run("request", "GET", "/v3/nothing/here").exit_code == 1
    sandbox.inject("bad_signature")
    result = run("request", "GET", "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo")
    assert result.exit_code == 5 and result.stdout == ""


def test_handover_happy_path(sandbox, configure, run, terminal):
    configure(sandbox)
    result = run("handover", "--user", "demo", "--org", "demo-org", input="y\ny\ny\n", env={"COLUMNS": "200"}, expect=0)
    assert "/sandbox/repay/" in result.stdout and "█" in result.stdout  # link and QR
    assert "TERMINATED" in result.stdout
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in sandbox.received] == [
        ("GET", "demo"), ("POST", "repayment-url"), ("GET", "organizations"),  # the school's name, for the message
        ("GET", "demo"), ("GET", "demo"), ("POST", "terminate-contract"), ("GET", "demo"),
    ]


@pytest.mark.parametrize("answers, sent", [
    ("n\n", ["GET"]),                               # no link wanted
    ("y\nn\n", ["GET", "POST", "GET"]),             # family not reached (the GET: the school's name)
    ("y\ny\nn\n", ["GET", "POST", "GET", "GET"]),   # final confirmation refused
])
def test_handover_can_be_abandoned_at_each_step(answers, sent, sandbox, configure, run, terminal):
    configure(sandbox)
    result = run("handover", "--user", "demo", "--org", "demo-org", input=answers, expect=1)
    assert "nothing was terminated" in result.stderr
    assert [r.method for r in sandbox.received] == sent
    assert sandbox.state.users[("demo-org", "demo")].contract_state == "CONTRACTED"


def test_handover_needs_a_terminal(sandbox, configure, run):
    configure(sandbox)
    result = run("handover", "--user", "demo", "--org", "demo-org")
    assert result.exit_code == 1 and "needs a terminal" in result.stderr
    assert sandbox.received == []


@pytest.mark.parametrize("bad", [".", ".."])
def test_dot_ids_are_usage_errors(bad, sandbox, configure, run):
    configure(sandbox)
    assert run("user", "show", "--user", bad, "--org", "demo-org").exit_code == 2
    assert run("contract", "terminate", "--user-id", bad, "--org", "demo-org", "--yes").exit_code == 2
    assert run("contract", "show", bad).exit_code == 2
    assert sandbox.received == []


def test_ids_are_sent_trimmed(sandbox, configure, run):
    """An id pasted with a space around it names the same pupil: the space is not sent."""
    configure(sandbox)
    result = run("user", "show", "--user", " demo ", "--org", "demo-org\t", "--json", expect=0)
    assert result.json["out_user_id"] == "demo"
    assert [r.path for r in sandbox.received] == ["/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo"]


def test_ids_that_cannot_be_in_a_url_are_usage_errors(sandbox, configure, run):
    configure(sandbox)
    long_id = "a" * 70000
    assert run("user", "show", "--user", long_id, "--org", "demo-org").exit_code == 2
    assert run("contract", "terminate", "--user-id", "x\x01y", "--org", "demo-org", "--yes").exit_code == 2
    result = run("user", "show", "--batch", "-", input=f"out_user_id,organization_id\n{long_id},demo-org\ndemo,demo-org\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["error"]["code"] == "INVALID_ROW" and "user_name" in rows[1]
    assert [r.path.rsplit("/", 1)[-1] for r in sandbox.received] == ["demo"]


@pytest.mark.parametrize("args, position", [
    (("user", "show", "--user", "２０２４０１２５", "--org", "demo-org"), 1),
    (("repayment-url", "--user", "2024０125", "--org", "demo-org"), 5),
    (("repayment-url", "--user", "demo", "--org", "demo　org"), 5),
    (("contract", "terminate", "--user", "20 240125", "--org", "demo-org", "--yes"), 3),
    (("contract", "terminate", "--user-id", "wxu\u200b1", "--org", "demo-org", "--yes"), 4),
    (("contract", "show", "ct_１"), 4),
])
def test_an_id_typed_full_width_or_with_a_space_inside_is_refused_with_its_position(
        args, position, sandbox, configure, run):
    configure(sandbox)
    english = run(*args, expect=2)
    assert f"character {position}" in english.stderr, english.stderr
    chinese = run("--lang", "zh", *args, expect=2)
    assert f"第 {position} 个字符" in chinese.stderr, chinese.stderr
    if "\u200b" not in " ".join(args):
        assert "请改用半角字符" in chinese.stderr and "use half-width characters" in english.stderr
    assert sandbox.received == []


def test_a_full_width_id_is_refused_with_the_half_width_one_it_means(sandbox, configure, run):
    configure(sandbox)
    result = run("--lang", "zh", "user", "show", "--user", "２０２４０１２５", "--org", "demo-org", expect=2)
    assert "“２”" in result.stderr and "20240125" in result.stderr, result.stderr
    assert sandbox.received == []
