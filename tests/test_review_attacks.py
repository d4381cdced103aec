"""Attacks found in review: each ends with its documented exit code, never exit 70."""

from __future__ import annotations

import json

import pytest
from common import no_traceback, posts_to_terminate
from hostile import LINK_PATH, USER_PATH

from wxpay_cli.errors import ExitStatus


def test_a_contract_state_from_wechat_cannot_forge_a_line_in_the_refusal(sandbox, hostile, run):
    hostile.rewrite(USER_PATH, lambda d: {**d, "contract_state": "PAUSED\nerror: forged\rline"})
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")
    no_traceback(result)
    assert result.exit_code == ExitStatus.REFUSED, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "\r" not in result.stderr
    assert posts_to_terminate(sandbox) == []


@pytest.mark.parametrize("field", ["code", "message"])
def test_an_unverified_error_body_cannot_forge_a_line(hostile, run, field):
    body = {"code": "PARAM_ERROR", "message": "bad", field: "x\nerror: forged\rline"}
    hostile.raw(LINK_PATH, 400, json.dumps(body).encode(), {"Content-Type": "application/json"})
    result = run("repayment-url", "--user", "demo", "--org", "demo-org")
    no_traceback(result)
    assert result.exit_code == ExitStatus.REFUSED, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "\r" not in result.stderr


def test_an_unverified_refusal_of_the_credentials_in_batch_cannot_forge_a_line(hostile, run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\ndemo,demo-org\n")
    body = {"code": "SIGN_ERROR", "message": "x\nerror: forged"}
    hostile.raw(LINK_PATH, 401, json.dumps(body).encode(), {"Content-Type": "application/json"})
    result = run("repayment-url", "--batch", str(rows), "--concurrency", "1")
    no_traceback(result)
    assert result.exit_code == ExitStatus.CONFIG, result.stderr
    assert not any(line.startswith("error: forged") for line in result.stderr.splitlines()), result.stderr


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


@pytest.mark.parametrize("interruption", ["ctrl-c", "sigterm"])
def test_an_interruption_after_the_verified_204_says_the_termination_was_done(sandbox, configure, run,
                                                                              monkeypatch, interruption):
    """Ctrl-C during the re-query that follows WeChat's verified 204: the operator is told it
    happened (exit 130/143), not just "interrupted" about an irreversible operation."""
    from wxpay_cli.errors import SigtermReceived
    from wxpay_cli.local.audit import AuditLog
    from wxpay_cli.wire.client import Client

    configure(sandbox)
    real = Client.send_unverified

    def interrupted_after_post(self, call):
        if call.method == "GET" and any(r.method == "POST" for r in sandbox.received):
            raise SigtermReceived() if interruption == "sigterm" else KeyboardInterrupt()
        return real(self, call)

    monkeypatch.setattr(Client, "send_unverified", interrupted_after_post)
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")
    no_traceback(result)
    assert result.exit_code == (143 if interruption == "sigterm" else 130), result.stderr
    assert "TERMINATED" in result.stderr or "was terminated" in result.stderr, result.stderr
    assert [line["outcome"] for line in AuditLog().records()] == ["attempted", "succeeded"]
    assert len(posts_to_terminate(sandbox)) == 1
