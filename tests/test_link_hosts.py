"""A repayment link moves money: one whose host could mislead the person forwarding it (a
user name before the host, a backslash, an IP address, a look-alike name, no named host at
all) is never shown."""

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
    "https:///repay",
    "https://./repay",
    "https://pay..weixin.qq.com/repay",
], ids=["user name before the host", "backslash", "IPv4", "IPv6", "punycode label", "punycode domain",
        "an address as one number", "a hex address", "a hex last label", "a short address", "percent-encoded",
        "upper-case XN--", "no host", "a dot for a host", "an empty label"])
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


# -- whose host: WeChat Pay's domains (the profile's `link_hosts`), else confirmed -------------

EVIL = "https://pay.evil.example/repay?id=1"
WECHAT = "https://pay.weixin.qq.com/repay/abc?token=1"


@pytest.fixture
def default_hosts(hostile, sandbox, configure, tmp_path):
    """A profile with the default link_hosts (WeChat Pay's domains), not the sandbox's own."""
    from conftest import write_config

    table = configure(sandbox)
    table.pop("link_hosts", None)
    write_config(tmp_path, {"school-a": table})


def test_a_link_outside_wechat_pay_is_refused_off_a_terminal(default_hosts, hostile, run):
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": EVIL})
    result = run(*FETCH, "--json", expect=1)
    assert result.error["code"] == "LINK_HOST"
    assert "pay.evil.example" in result.error["message"] and "--allow-link-host" in result.error["message"]
    assert result.stdout == ""
    from wxpay_cli.local.audit import AuditLog

    [record] = AuditLog().records()
    assert (record["outcome"], record["error"]) == ("failed", "LINK_HOST")


def test_a_link_on_a_wechat_pay_domain_is_shown(default_hosts, hostile, run):
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": WECHAT})
    assert run(*FETCH, "--json", expect=0).json["repayment_url"] == WECHAT


def test_allow_link_host_names_the_host_to_let_through(default_hosts, hostile, run):
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": EVIL})
    assert run(*FETCH, "--json", "--allow-link-host", "Pay.Evil.Example", expect=0).json["repayment_url"] == EVIL
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": EVIL})
    run(*FETCH, "--json", "--allow-link-host", "evil.example", expect=1)  # a host, not a domain: exactly it


@pytest.mark.parametrize(("answer", "shown"), [("y\n", True), ("n\n", False)])
def test_on_a_terminal_the_operator_confirms_an_unusual_host(default_hosts, hostile, run, terminal, answer, shown):
    hostile.rewrite(LINK_PATH, lambda data: {**data, "repayment_url": EVIL})
    result = run(*FETCH, "--format", "table", input=answer, env={"COLUMNS": "200"})
    assert "pay.evil.example" in result.stderr and "WeChat Pay" in result.stderr, result.stderr
    assert (EVIL in result.stdout) is shown, result.stdout
    assert result.exit_code == (0 if shown else 1), result.stderr


def test_no_to_an_unusual_host_is_the_operators_cancellation(default_hosts, hostile, run, terminal):
    hostile.rewrite(LINK_PATH, lambda data: {**data, "repayment_url": EVIL})
    result = run("--lang", "zh", *FETCH, "--format", "table", input="否\n", env={"COLUMNS": "200"}, expect=1)
    assert "已取消" in result.stderr and "错误" not in result.stderr, result.stderr
    assert EVIL not in result.stdout
    from wxpay_cli.local.audit import AuditLog

    [record] = AuditLog().records()
    assert (record["outcome"], record["error"]) == ("failed", "LINK_HOST")
    assert (record["request_id"] or "").startswith("08HOSTILE"), record  # the answer's Request-ID, to report it by


def test_a_batch_row_with_an_unusual_host_is_that_rows_error(default_hosts, hostile, run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\ndemo,demo-org\ndemo-2,demo-org\n")
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": EVIL})
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": WECHAT})
    result = run("repayment-url", "--batch", str(rows), "--concurrency", "1", expect=1)
    first, second = result.lines
    assert first["error"]["code"] == "LINK_HOST" and "repayment_url" not in first
    assert second["repayment_url"] == WECHAT
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": EVIL})
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": WECHAT})
    allowed = run("repayment-url", "--batch", str(rows), "--concurrency", "1", "--allow-link-host", "pay.evil.example",
                  expect=0)
    assert allowed.lines[0]["repayment_url"] == EVIL


def test_the_message_to_forward_says_which_host_the_link_opens(sandbox, configure, run):
    configure(sandbox)
    english = run(*FETCH, "--message", "--json", expect=0).json["message"]
    assert "opens: wxpay-sandbox.invalid" in english, english
    chinese = run(*FETCH, "--message", "--format", "table", env={"WXPAY_LANG": "zh"}, expect=0).stdout
    assert "（打开的网址：wxpay-sandbox.invalid）" in chinese, chinese


def test_a_custom_template_without_the_host_gets_it_added(sandbox, configure, run):
    configure(sandbox, message_template="{name}: {url}")
    message = run(*FETCH, "--message", "--json", expect=0).json["message"]
    assert message.startswith("张小明: https://wxpay-sandbox.invalid/") and "wxpay-sandbox.invalid" in \
        message.splitlines()[-1] and len(message.splitlines()) == 2, message


@pytest.mark.parametrize("hosts", [["https://pay.weixin.qq.com"], "qq.com", ["пример.рф"], [""], ["a b"]])
def test_link_hosts_must_be_a_list_of_plain_host_names(sandbox, configure, run, hosts):
    configure(sandbox, link_hosts=hosts)
    result = run(*FETCH, expect=3)
    assert "link_hosts" in result.stderr


@pytest.mark.parametrize("link", ["https://evilwechat.com/pay", "https://notweixin.qq.com/pay"],
                         ids=["a domain ending like one", "a label ending like one"])
def test_a_host_that_only_ends_like_a_wechat_domain_is_outside_it(default_hosts, hostile, run, link):
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": link})
    result = run(*FETCH, "--json", expect=1)
    assert result.error["code"] == "LINK_HOST" and result.error["request_id"], result.error


def test_link_hosts_are_compared_whatever_their_letter_case(hostile, sandbox, configure, run):
    configure(sandbox, link_hosts=["WeChatPay.CN"])
    hostile.rewrite(LINK_PATH, lambda answer: {**answer, "repayment_url": "https://pay.wechatpay.cn/r"})
    assert run(*FETCH, "--json", expect=0).json["repayment_url"] == "https://pay.wechatpay.cn/r"


def test_only_a_loopback_sandbox_profile_lets_the_sandbox_host_through(sandbox, configure, tmp_path):
    from wxpay_cli.local.config import SANDBOX_LINK_HOST, parse_profile

    table = configure(sandbox)
    assert SANDBOX_LINK_HOST in parse_profile(table, name="a", path=None).link_hosts
    real = parse_profile({**table, "base_url": "https://api.mch.weixin.qq.com"}, name="b", path=None)
    assert SANDBOX_LINK_HOST not in real.link_hosts and "weixin.qq.com" in real.link_hosts
