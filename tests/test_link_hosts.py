"""A repayment link moves money: one whose host could mislead the person forwarding it (a
user name before the host, a backslash, an IP address, a look-alike name) is never shown."""

from __future__ import annotations

import json

import pytest

LINK_PATH = "/v3/offlineface/repayment-url"
FETCH = ("repayment-url", "--user", "demo", "--org", "demo-org")


@pytest.mark.parametrize("link", [
    "https://pay.weixin.qq.com@evil.example/repay",
    "https://evil.example\\@pay.weixin.qq.com/repay",
    "https://203.0.113.7/repay",
    "https://[2001:db8::1]/repay",
    "https://xn--pay-weixn-8va.qq.com/repay",
    "https://pay.xn--wxpay-9ta.com/repay",
    "https://2130706433/repay",
    "https://0x7f.1/repay",
    "https://pay.0x7f/repay",
    "https://127.1/repay",
    "https://pay.weixin.qq.%D1%81om/repay",
    "https://%61.XN--80ak6aa92e.com/repay",
], ids=["user name before the host", "backslash", "IPv4", "IPv6", "punycode label", "punycode domain",
        "an address as one number", "a hex address", "a hex last label", "a short address", "percent-encoded", "upper-case XN--"])
def test_a_misleading_link_is_refused_and_never_shown(hostile, run, link):
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": link})
    result = run(*FETCH, "--json")
    assert result.exit_code == 5, result.stderr
    assert result.stdout == "" and "repayment_url" in result.stderr and "evil" not in result.stdout


def test_the_table_says_which_host_the_link_opens(sandbox, configure, run):
    configure(sandbox)
    result = run(*FETCH, "--format", "table", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    host = json.loads(run(*FETCH, "--json").stdout)["repayment_url"].split("/")[2]
    assert any(line.strip().startswith("Opens") and host in line for line in result.stdout.splitlines()), \
        result.stdout
