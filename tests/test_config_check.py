"""`wxpay config check` against the sandbox: one row per check, one live signed call,
SIGN_ERROR explained, clock offset from the Date header; exit 1 when any check fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import write_config

from wxpay_cli.sandbox.keys import SandboxKeys, cert_pem, make_certificate, private_pem
from wxpay_cli.sandbox.server import Sandbox


def check(run, *args, env=None):
    result = run("config", "check", "--json", *args, env=env)
    return result, result.json


def by_name(report, prefix):
    [row] = [row for row in report["checks"] if row["check"].startswith(prefix)]
    return row


def assert_failed(result, *names):
    assert result.exit_code == 1, result.stderr
    assert "checks failed" in result.stderr and "Traceback" not in result.stderr
    for name in names:
        assert name in result.stderr.splitlines()[-1]


def test_public_key_profile_passes_and_the_404_means_accepted(sandbox, configure, run):
    configure(sandbox)
    result, report = check(run)
    assert result.exit_code == 0, result.stderr
    assert report["ok"] is True and report["profile"] == "school-a"
    assert {row["status"] for row in report["checks"]} <= {"ok", "skip"}
    assert "404 RESOURCE_NOT_EXISTS" in by_name(report, "signed call")["result"]
    assert "signature accepted" in by_name(report, "signed call")["result"]
    assert by_name(report, "public key")["check"] == f"public key {sandbox.keys.public_key_id}"
    [request] = sandbox.received
    assert (request.method, request.target, request.signature_ok) == ("GET", "/v3/certificates", True)
    assert request.headers["Wechatpay-Serial"] == sandbox.keys.public_key_id


def test_certificate_profile_verifies_the_200(cert_sandbox, configure, run):
    configure(cert_sandbox)
    result, report = check(run)
    assert result.exit_code == 0, result.stderr
    assert by_name(report, "signed call")["result"] == (
        f"signature accepted; answer verified with {cert_sandbox.keys.platform_serial}")
    assert by_name(report, "platform certificate")["status"] == "ok"


def test_table_has_marks_and_hints(sandbox, configure, run):
    configure(sandbox)
    result = run("config", "check", "--format", "table", expect=0)
    assert "✓" in result.stdout and "private key file" in result.stdout and "clock" in result.stdout


def test_mixed_profile_picks_the_key_by_serial(sandbox_keys, configure, run):
    # A public-key merchant that still has platform certificates: the answer is signed
    # with the public key, and the profile lists both.
    with Sandbox(sandbox_keys, mode="public_key", has_platform_certs=True) as box:
        configure(box, mode="both")
        result, report = check(run)
    assert result.exit_code == 0, result.stderr
    assert by_name(report, "signed call")["result"].endswith(f"verified with {sandbox_keys.public_key_id}")


def test_wrong_serial_shows_wechats_detail_and_likely_causes(sandbox, configure, run):
    configure(sandbox, serial_no="ABCDEF0123")
    result, report = check(run)
    assert_failed(result, "signed call")
    row = by_name(report, "signed call")
    assert "HTTP 401 SIGN_ERROR" in row["result"] and "serial_no ABCDEF0123" in row["result"]
    assert "Request-ID" in row["result"]
    assert "serial_no is not the serial of the certificate" in row["hint"] and "clock" in row["hint"]
    assert sandbox.received[0].sign_error


def test_wrong_serial_is_caught_locally_with_the_merchant_cert(sandbox, configure, run, tmp_path):
    table = configure(sandbox, serial_no="ABCDEF0123")
    configure(sandbox, serial_no="ABCDEF0123", merchant_cert=table["private_key"].replace("apiclient_key", "apiclient_cert"))
    result, report = check(run)
    assert_failed(result, "merchant certificate", "signed call")
    row = by_name(report, "merchant certificate")
    assert "serial_no ABCDEF0123 is not the serial of" in row["result"] and sandbox.keys.serial_no in row["result"]


def test_key_that_does_not_match_shows_what_wechat_signed(sandbox, configure, run, tmp_path, sandbox_keys):
    other = tmp_path / "other_key.pem"
    other.write_bytes(private_pem(sandbox_keys.platform_key))
    other.chmod(0o600)
    table = configure(sandbox)
    configure(sandbox, private_key=str(other),
              merchant_cert=table["private_key"].replace("apiclient_key", "apiclient_cert"))
    result, report = check(run)
    assert_failed(result, "merchant certificate", "signed call")
    assert "the private key does not belong to" in by_name(report, "merchant certificate")["result"]
    live = by_name(report, "signed call")["result"]
    assert "signature does not match" in live and "sign_message" in live and "GET\\n/v3/certificates\\n" in live


def test_no_verification_key_yet(cert_sandbox, configure, run):
    configure(cert_sandbox, mode="none")
    result, report = check(run)
    assert_failed(result, "verification keys")
    assert "wxpay certs download" in by_name(report, "verification keys")["hint"]
    live = by_name(report, "signed call")
    # Unverified, a 200 is not known to come from WeChat: a warning, never a tick.
    assert live["status"] == "warn" and "cannot be verified yet" in live["result"]
    assert "Wechatpay-Serial" not in cert_sandbox.received[0].headers


def test_readable_key_is_a_warning_not_a_failure(sandbox, configure, run):
    table = configure(sandbox)
    Path(table["private_key"]).chmod(0o644)
    result, report = check(run)
    assert result.exit_code == 0
    row = by_name(report, "private key file")
    assert row["status"] == "warn" and "mode 644" in row["result"] and "chmod 600" in row["hint"]
    assert "warning:" in result.stderr and "readable by other users" in result.stderr


def write_cert(tmp_path, sandbox_keys, name, *, days, age):
    path = tmp_path / f"wechatpay_{name}.pem"
    start = datetime.now(UTC) - timedelta(days=age)
    path.write_bytes(cert_pem(make_certificate(sandbox_keys.platform_key, name, days=days, not_before=start)))
    return str(path)


@pytest.mark.parametrize("days, age, status, text", [
    (30, 20, "warn", "expires soon"),
    (30, 40, "fail", "expired on"),
])
def test_platform_certificate_expiry(days, age, status, text, cert_sandbox, configure, run, tmp_path, sandbox_keys):
    table = configure(cert_sandbox)
    extra = write_cert(tmp_path, sandbox_keys, "extra", days=days, age=age)
    configure(cert_sandbox, platform_certs=table["platform_certs"] + [extra])
    result, report = check(run)
    rows = [row for row in report["checks"] if row["check"].startswith("platform certificate")]
    assert [row["status"] for row in rows] == ["ok", status]
    assert text in rows[1]["result"]
    assert result.exit_code == (1 if status == "fail" else 0)


def test_clock_offset_from_the_date_header(sandbox, configure, run):
    configure(sandbox)
    sandbox.state.clock_offset = 120
    result, report = check(run)
    assert result.exit_code == 0, result.stderr
    assert 118 <= report["clock_offset_seconds"] <= 122
    row = by_name(report, "clock")
    assert row["status"] == "warn" and "behind WeChat's" in row["result"] and "NTP" in row["hint"]


def test_clock_too_far_off_is_refused_and_named(sandbox, configure, run):
    configure(sandbox)
    sandbox.state.clock_offset = -1000
    result, report = check(run)
    assert_failed(result, "signed call", "clock")
    assert "s away from the server clock" in by_name(report, "signed call")["result"]
    assert "ahead of WeChat's" in by_name(report, "clock")["result"]


@pytest.fixture
def encrypted_profile(sandbox, configure, encrypted_key):
    configure(sandbox, private_key=str(encrypted_key))


def test_encrypted_key_without_passphrase(encrypted_profile, sandbox, run):
    result, report = check(run)
    assert_failed(result, "private key loads")
    assert "WXPAY_PRIVATE_KEY_PASSWORD" in by_name(report, "private key loads")["hint"]
    assert by_name(report, "signed call")["status"] == "skip"
    assert sandbox.received == []


def test_encrypted_key_with_passphrase(encrypted_profile, sandbox, run):
    result, _ = check(run, env={"WXPAY_PRIVATE_KEY_PASSWORD": "s3cret-pass"})
    assert result.exit_code == 0, result.stderr
    assert sandbox.received[0].signature_ok


def test_private_key_pem_in_the_environment(sandbox, configure, run, sandbox_keys, tmp_path):
    table = configure(sandbox)
    del table["private_key"]
    write_config(tmp_path, {"school-a": table})
    result, report = check(run, env={"WXPAY_PRIVATE_KEY": private_pem(sandbox_keys.merchant_key).decode()})
    assert result.exit_code == 0, result.stderr
    assert by_name(report, "private key file")["result"] == "PEM from $WXPAY_PRIVATE_KEY"
    assert "BEGIN" not in result.stdout + result.stderr


def test_wrong_mchid(sandbox_keys, configure, run):
    other = SandboxKeys(**{**sandbox_keys.__dict__, "mchid": "1900000002"})
    with Sandbox(other) as box:
        configure(box, mchid="1900000001")
        result, report = check(run)
    assert_failed(result, "signed call")
    assert "mchid 1900000001 is not the merchant" in by_name(report, "signed call")["result"]


def test_forged_answer_fails_the_live_check(sandbox, configure, run):
    configure(sandbox)
    sandbox.state.has_platform_certs = True  # answer 200 instead of 404 ...
    sandbox.inject("bad_signature", path_contains="/v3/certificates")  # ... signed by the wrong key
    result, report = check(run)
    assert_failed(result, "signed call")
    assert "bad signature" in by_name(report, "signed call")["result"]


def test_a_404_other_than_resource_not_exists_fails(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("status", status=404, code="NOT_FOUND", message="no such path", path_contains="/v3/certificates")
    result, report = check(run)
    assert_failed(result, "signed call")
    assert "NOT_FOUND" in by_name(report, "signed call")["result"]


def test_check_uses_the_proxy_the_other_commands_use(sandbox, configure, run):
    """config check must reach WeChat the way real commands do (here: a dead proxy)."""
    configure(sandbox)
    env = {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    assert run("repayment-url", "--user", "demo", "--org", "demo-org", env=env).exit_code == 4
    result, report = check(run, env=env)
    assert_failed(result, "signed call")
    assert sandbox.received == []
