"""Text from outside reaches a terminal harmless: control and bidi characters from WeChat's
answers or an input file are escaped, a message stays one line (no forged `error:` line), an
unverified body is labelled and never traced, and `-v` redacts WeChat's signature too."""

from __future__ import annotations

import json

import pytest
from common import no_traceback, refused, terminations
from hostile import LINK_PATH, USER_PATH

from wxpay_cli.errors import ExitStatus

EVIL = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202eevil\u2066"


def assert_clean(text: str) -> None:
    for char in ("\x1b", "\x07", "\u009b", "\u202e", "\u2066"):
        assert char not in text, (char, text)


def test_control_and_bidi_characters_in_fields_are_escaped_in_a_table(sandbox, hostile, run):
    hostile.rewrite(USER_PATH, lambda d: {**d, "user_name": "Ann" + EVIL, "student_info": {"class_name": EVIL}})
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--format", "table")
    no_traceback(result)
    assert result.exit_code == 0
    assert_clean(result.stdout)
    assert "\\x1b" in result.stdout and "\\u202e" in result.stdout


def test_json_output_keeps_exact_values(sandbox, hostile, run):
    hostile.rewrite(USER_PATH, lambda d: {**d, "user_name": "Ann" + EVIL})
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert result.json["user_name"] == "Ann" + EVIL
    assert_clean(result.stdout)  # escaped by JSON itself, as \u001b, \u009b, \u202e


def test_the_termination_preview_is_sanitised(sandbox, hostile, run):
    hostile.rewrite(USER_PATH, lambda d: {**d, "user_name": "Ann" + EVIL})
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--dry-run", "--format", "table")
    no_traceback(result)
    assert result.exit_code == 0
    assert_clean(result.stderr) and assert_clean(result.stdout)


def test_an_unverified_error_body_is_capped_labelled_and_sanitised(hostile, run):
    body = json.dumps({"code": "PARAM_ERROR" + EVIL, "message": "bad" + EVIL,
                       "detail": {"issue": EVIL + "A" * 20000}}, ensure_ascii=False).encode()
    # header values: latin-1 only, as HTTP carries them
    hostile.raw(USER_PATH, 400, body, {"Content-Type": "application/json", "Request-ID": "R-\x1b]0;x\x07\x9b"})
    result = run("-v", "user", "show", "--user", "demo", "--org", "demo-org")
    refused(result, ExitStatus.REFUSED, "unverified")
    assert_clean(result.stderr)
    assert len(result.stderr) < 6000  # the -v trace, the error line and a capped detail
    assert "AAAAAAAAAA" * 100 not in result.stderr
    assert "< {" not in result.stderr  # -v never prints an unverified body


def test_an_unverified_error_body_is_not_traced_with_v(hostile, run):
    hostile.raw(USER_PATH, 404, b'{"code": "NOT_FOUND", "message": "no", "detail": "secret-looking"}',
                {"Content-Type": "application/json"})
    result = run("-v", "user", "show", "--user", "demo", "--org", "demo-org", expect=ExitStatus.REFUSED)
    assert not any(line.startswith("< {") for line in result.stderr.splitlines())


@pytest.mark.parametrize("headers", [
    {"Wechatpay_Serial": "S" * 20000},
    {"Wechatpay_Serial": "\x1b[31mPUB_KEY_ID_0114\x9b"},
    {"Wechatpay_Signature_Type": "X" * 20000},
    {"Wechatpay_Nonce": "\x1b]0;t\x07"},
])
def test_odd_headers_are_a_short_clean_verification_failure(hostile, run, headers):
    hostile.signed(USER_PATH, b'{"user_id": "u"}', **headers)
    result = run("user", "show", "--user", "demo", "--org", "demo-org")
    refused(result, ExitStatus.VERIFICATION)
    assert_clean(result.stderr) and len(result.stderr) < 1000


def test_a_contract_state_from_wechat_cannot_forge_a_line_in_the_refusal(sandbox, hostile, run):
    hostile.rewrite(USER_PATH, lambda d: {**d, "contract_state": "PAUSED\nerror: forged\rline"})
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")
    no_traceback(result)
    assert result.exit_code == ExitStatus.REFUSED, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "\r" not in result.stderr
    assert terminations(sandbox) == []


@pytest.mark.parametrize("field", ["code", "message"])
def test_an_unverified_error_body_cannot_forge_a_line(hostile, run, field):
    body = {"code": "PARAM_ERROR", "message": "bad", field: "x\nerror: forged\rline"}
    hostile.raw(LINK_PATH, 400, json.dumps(body).encode(), {"Content-Type": "application/json"})
    result = run("repayment-url", "--user", "demo", "--org", "demo-org")
    no_traceback(result)
    assert result.exit_code == ExitStatus.REFUSED, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "\r" not in result.stderr


@pytest.mark.parametrize("field", ["code", "message"])
def test_an_unverified_refusal_of_the_credentials_in_batch_cannot_forge_a_line(hostile, run, tmp_path, field):
    """A batch stopped by a 401 says WeChat's code and message inside its own sentence."""
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\ndemo,demo-org\n")
    body = {"code": "SIGN_ERROR", "message": "bad", field: "x\nerror: forged"}
    hostile.raw(LINK_PATH, 401, json.dumps(body).encode(), {"Content-Type": "application/json"})
    result = run("repayment-url", "--batch", str(rows), "--concurrency", "1")
    no_traceback(result)
    assert result.exit_code == ExitStatus.CONFIG, result.stderr
    assert not any(line.startswith("error: forged") for line in result.stderr.splitlines()), result.stderr


def test_csv_batch_output_on_a_terminal_is_sanitised(sandbox, hostile, tmp_path):
    from terminal import run_on_terminal

    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id,remark\ndemo,demo-org,\x1b]0;pwned\x07 \u202eevil\n",
                    encoding="utf-8")
    hostile.rewrite(USER_PATH, lambda d: {**d, "user_name": "\x1b[2J\u009b31m\u2066name"})
    shown = run_on_terminal("user", "show", "--batch", str(rows), "--format", "csv", tmp_path=tmp_path,
                            stdin=False, stdout=True, stderr=False)  # the terminal shows stdout only
    assert shown.returncode == 0, shown.terminal
    for raw in ("\x1b", "\x07", "\u009b", "\u202e", "\u2066"):
        assert raw not in shown.terminal, (raw, shown.terminal)
    assert "pwned" in shown.terminal and "name" in shown.terminal


def test_verbose_trace_redacts_the_answers_signature_too(sandbox, configure, run):
    """README: `-v` traces with signatures redacted; WeChat's answer signature included
    (with it and the traced body, a pasted trace is a whole signed answer to replay)."""
    configure(sandbox)
    seen = []
    original = sandbox.server.RequestHandlerClass.send_header

    def keep(self, name, value):
        if name.lower() == "wechatpay-signature":
            seen.append(value)
        original(self, name, value)

    sandbox.server.RequestHandlerClass.send_header = keep
    try:
        result = run("-v", "repayment-url", "--user", "demo", "--org", "demo-org")
    finally:
        sandbox.server.RequestHandlerClass.send_header = original
    assert result.exit_code == 0, result.stderr
    assert seen and seen[0] not in result.stderr
    assert "wechatpay-signature" in result.stderr.lower()
