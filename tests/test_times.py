"""Every time shown to a person is local time with its offset, in one format."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from wxpay_cli.terminal import times

LOCAL = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d")


@pytest.fixture
def new_york(local_zone):
    """A local zone that is not the sandbox's (+08:00), so conversion shows."""
    local_zone("America/New_York")


def test_one_long_format(new_york):
    assert times.local("2026-11-26T12:00:00+08:00") == "2026-11-25 23:00:00 -05:00"
    moment = datetime.fromisoformat("2026-11-26T12:00:00+08:00")
    assert LOCAL.fullmatch(times.local(moment))
    assert times.local("not a time") == "not a time"


def test_link_expiry_and_contract_times_are_local_with_offset(new_york, sandbox, configure, run):
    configure(sandbox)
    link = run("repayment-url", "--user", "demo", "--org", "demo-org", "--format", "table", expect=0)
    [expires] = [line for line in link.stdout.splitlines() if "Expires" in line]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d -05:00", expires)

    contract_id = sandbox.state.users[("demo-org", "demo")].contract_id
    table = run("contract", "show", contract_id, "--format", "table")
    [signed] = [line for line in table.stdout.splitlines() if "Signed" in line]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d -05:00", signed)
    raw = run("contract", "show", contract_id, "--json").json
    assert raw["contract_signed_time"].endswith("+08:00")  # JSON keeps WeChat's value as it came


def test_certificate_validity_is_local_time_with_offset(new_york, sandbox_keys):
    from wxpay_cli.flows import onboarding
    from wxpay_cli.local import keys
    from wxpay_cli.sandbox.keys import cert_pem

    cert = keys.load_certificate(cert_pem(sandbox_keys.platform_cert), source="platform_cert.pem")
    text = onboarding.validity(cert)
    assert re.search(r"until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d -05:00 \(\d+ days\)", text), text
