"""What many test files share: the demo pupil's commands, checks on a finished run, what the
sandbox received and the audit log holds, and a client of wxpay's own for the sandbox (to
meet a hostile server without the command line)."""

from __future__ import annotations

from pathlib import Path

import wxpay_cli

ROOT = Path(__file__).resolve().parent.parent  # the checkout
PACKAGE = Path(wxpay_cli.__file__).parent  # the package imported (a mutation run's copy, in one)

SHOW = ("user", "show", "--user", "demo", "--org", "demo-org")
LINK = ("repayment-url", "--user", "demo", "--org", "demo-org")
TERMINATE = ("contract", "terminate", "--user", "demo", "--org", "demo-org")  # asks, unless --yes


def commands(group=None, prefix: tuple[str, ...] = ()) -> list[tuple[list[str], object]]:
    """Every command of wxpay (or under `group`) as (path, command), each group before its own."""
    import click

    from wxpay_cli.cli import cli

    group = group or cli
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None and command.name == name, f"{name} does not load"
        found.append(([*prefix, name], command))
        if isinstance(command, click.Group):
            found.extend(commands(command, (*prefix, name)))
    return found


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


def at_the_deadline(elapsed: float, timeout: float) -> bool:
    """An attempt of `timeout` seconds that a stalling server made wait: it ended at its deadline,
    not before, and before twice the deadline. The margin (one more `timeout`) is for a busy
    machine, and a deadline silently doubled still fails it."""
    return timeout <= elapsed < 2 * timeout


def closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound for a moment, then let go)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def client_for(sandbox, sandbox_keys, timeout):
    """wxpay's Client for `sandbox` in public-key mode, with no retries."""
    from wxpay_cli.wire.client import Client
    from wxpay_cli.wire.signing import Signer, VerificationKey, Verifier

    return Client(base_url=sandbox.url, signer=Signer(sandbox_keys.mchid, sandbox_keys.serial_no,
                                                      sandbox_keys.merchant_key),
                  verifier=Verifier([VerificationKey(sandbox_keys.public_key_id, sandbox_keys.wechat_key.public_key(),
                                                     "public_key")]),
                  timeout=timeout, retries=0)
