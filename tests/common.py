"""What many test files share: the demo pupil's commands, checks on a finished run, what the
sandbox received and the audit log holds, and a client of wxpay's own for the sandbox (to
meet a hostile server without the command line)."""

from __future__ import annotations

SHOW = ("user", "show", "--user", "demo", "--org", "demo-org")
LINK = ("repayment-url", "--user", "demo", "--org", "demo-org")
TERMINATE = ("contract", "terminate", "--user", "demo", "--org", "demo-org")  # asks, unless --yes


def no_traceback(result) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def refused(result, code: int, *words: str) -> None:
    """Ended with exit `code`, nothing on stdout, each of `words` on stderr, no traceback."""
    no_traceback(result)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def config_error(result, *words: str, one_line: bool = False) -> str:
    """Refused as a config problem (exit 3), each of `words` said; its stderr, one line if `one_line`."""
    refused(result, 3, *words)
    if one_line:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def terminations(sandbox) -> list:
    """The termination requests the sandbox received (POSTs to …/terminate-contract)."""
    return [r for r in sandbox.received if r.method == "POST" and r.path.endswith("/terminate-contract")]


def audit_lines() -> list[dict]:
    """The records of the (isolated) default audit log."""
    from wxpay_cli.local.audit import AuditLog

    return list(AuditLog().records())


def outcomes() -> list[str]:
    """The outcome of each audit record, oldest first."""
    return [line["outcome"] for line in audit_lines()]


def client_for(sandbox, sandbox_keys, timeout):
    """wxpay's Client for `sandbox` in public-key mode, with no retries."""
    from wxpay_cli.wire.client import Client
    from wxpay_cli.wire.signing import Signer, VerificationKey, Verifier

    return Client(base_url=sandbox.url, signer=Signer(sandbox_keys.mchid, sandbox_keys.serial_no,
                                                      sandbox_keys.merchant_key),
                  verifier=Verifier([VerificationKey(sandbox_keys.public_key_id, sandbox_keys.wechat_key.public_key(),
                                                     "public_key")]),
                  timeout=timeout, retries=0)
