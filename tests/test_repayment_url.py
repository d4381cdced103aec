"""`wxpay repayment-url` end to end against the sandbox on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from wxpay_cli.wire.signing import parse_authorization

EXPECTED_BODY = b'{"out_user_id":"demo","organization_id":"demo-org"}'


def test_json_is_exactly_the_api_object_and_request_is_signed(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) == {"repayment_url", "expire_at"}
    assert "/sandbox/repay/" in data["repayment_url"]

    [request] = sandbox.received
    assert request.method == "POST" and request.target == "/v3/offlineface/repayment-url"
    assert request.body == EXPECTED_BODY
    assert request.signature_ok
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("wxpay/")
    assert request.headers["Wechatpay-Serial"] == sandbox.keys.public_key_id
    assert parse_authorization(request.headers["Authorization"])["mchid"] == sandbox.keys.mchid


def test_pipe_defaults_to_json(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--user", "demo", "--org", "demo-org")
    assert result.json["repayment_url"].startswith("https://wxpay-sandbox.invalid/")


def test_table_shows_whole_link_expiry_and_context(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", "--format", "table", expect=0)
    url = run("repayment-url", "--user", "demo", "--org", "demo-org").json["repayment_url"]
    # Each answer carries a fresh token; the table's link must stand whole on one line.
    link_lines = [line for line in result.stdout.splitlines() if "/sandbox/repay/" in line]
    assert len(link_lines) == 1
    assert link_lines[0].strip().startswith(url.split("?")[0])
    assert len(link_lines[0].strip()) == len(url)
    for text in ("in 29 min", "school-a", sandbox.keys.mchid, "demo-org", "demo"):
        assert text in result.stdout


def test_certificate_mode(cert_sandbox, configure, run):
    configure(cert_sandbox)
    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert cert_sandbox.received[0].headers["Wechatpay-Serial"] == cert_sandbox.keys.platform_serial


@pytest.mark.parametrize("mode_fixture", ["sandbox", "cert_sandbox"])
def test_profile_with_both_keys_picks_by_serial(mode_fixture, request, configure, run):
    """One profile, two keys: each answer is verified with the key its Wechatpay-Serial names."""
    box = request.getfixturevalue(mode_fixture)
    configure(box, mode="both")
    result = run("-v", "repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    answered_by = box.keys.public_key_id if mode_fixture == "sandbox" else box.keys.platform_serial
    assert f"< wechatpay-serial: {answered_by}" in result.stderr
    assert box.received[0].headers["Wechatpay-Serial"] == box.keys.public_key_id  # announced: the public key id


@pytest.mark.parametrize("fault", [
    "bad_signature", "signtest", "stale_timestamp", "unknown_serial", "missing_header", "tamper_body", "unsigned",
])
def test_verification_failure_prints_nothing_and_exits_5(fault, sandbox, configure, run):
    configure(sandbox)
    sandbox.inject(fault)
    result = run("-v", "repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=5)
    assert result.stdout == ""
    assert "/repay/" not in result.stderr  # not even in the -v trace
    error = json.loads(result.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "VERIFICATION_FAILED"
    assert len(sandbox.received) == 1  # a verification failure is never retried


def test_answer_without_documented_fields_is_refused(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("not_json")
    result = run("repayment-url", "--user", "demo", "--org", "demo-org")
    assert result.exit_code == 5 and result.stdout == ""
    assert "not JSON" in result.stderr


def test_wechat_refusal_exits_1_with_code_message_and_request_id(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--user", "nobody", "--org", "demo-org", "--format", "table", expect=1)
    assert result.stdout == ""
    assert "RESOURCE_NOT_EXISTS" in result.stderr and "用户不存在" in result.stderr
    assert "Request-ID: 08" in result.stderr
    assert "Traceback" not in result.stderr
    # on a terminal: the read-only name lookup, then the link; a 4xx is never retried
    assert [r.method for r in sandbox.received] == ["GET", "POST"]


def test_json_error_is_one_line(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--user", "nobody", "--org", "demo-org", "--json", expect=1)
    [line] = result.stderr.splitlines()
    error = json.loads(line)["error"]
    assert error["code"] == "RESOURCE_NOT_EXISTS"
    assert error["http_status"] == 404
    assert error["request_id"].startswith("08")
    assert error["detail"] == {"organization_id": "demo-org", "out_user_id": "nobody"}
    assert error["message"] == "用户不存在"


def test_5xx_is_retried_then_succeeds(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("status", status=500, retry_after="0", times=2)
    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert len(sandbox.received) == 3
    nonces = {parse_authorization(r.headers["Authorization"])["nonce_str"] for r in sandbox.received}
    assert len(nonces) == 3  # each retry is signed afresh


def test_persistent_503_exits_4_after_two_retries(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("status", status=503, code="SERVICE_UNAVAILABLE", retry_after="0", times=5)
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", expect=4)
    assert result.stdout == ""
    assert "SERVICE_UNAVAILABLE" in result.stderr
    assert len(sandbox.received) == 3


def test_429_is_retried(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("status", status=429, code="RATELIMIT_EXCEEDED", retry_after="0", times=1)
    run("repayment-url", "--user", "demo", "--org", "demo-org", expect=0)
    assert len(sandbox.received) == 2


def test_timeout_exits_4(sandbox, configure, run):
    configure(sandbox, timeout=0.1)  # every attempt times out, however loaded the machine
    sandbox.inject("delay", seconds=0.5, times=3)
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", expect=4)
    assert "timed out" in result.stderr and result.stdout == ""


def test_connection_refused_exits_4(sandbox, configure, run):
    sandbox.stop()
    configure(sandbox)
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", expect=4)
    assert "cannot connect to 127.0.0.1" in result.stderr


@pytest.mark.parametrize("args", [
    ("--user", "", "--org", "demo-org"),
    ("--user", "   ", "--org", "demo-org"),
    ("--user", "demo", "--org", " "),
    ("--user", "demo"),
])
def test_blank_ids_are_usage_errors_and_never_sent(args, sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", *args, expect=2)
    assert result.stdout == ""
    assert sandbox.received == []


def test_verbose_trace_redacts_signature(sandbox, configure, run):
    configure(sandbox)
    result = run("-v", "repayment-url", "--user", "demo", "--org", "demo-org", expect=0)
    signature = parse_authorization(sandbox.received[0].headers["Authorization"])["signature"]
    assert signature not in result.stderr
    assert "(redacted)" in result.stderr
    assert "> POST http://127.0.0.1" in result.stderr
    assert '{"out_user_id":"demo","organization_id":"demo-org"}' in result.stderr
    assert "BEGIN" not in result.stderr  # no key material


def test_sandbox_flag_needs_no_config(run, tmp_path):
    result = run("--sandbox", "repayment-url", "--user", "demo", "--org", "demo-org", expect=0)
    assert result.json["repayment_url"].startswith("https://wxpay-sandbox.invalid/")
    assert not (tmp_path / "config.toml").exists()
