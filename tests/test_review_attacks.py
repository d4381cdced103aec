"""Attacks found in review: each ends with its documented exit code, never exit 70."""

from __future__ import annotations

import pytest
from common import no_traceback, posts_to_terminate


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
