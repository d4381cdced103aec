"""The link, ready to forward: `repayment-url --message` and `--copy`, end to end against the sandbox."""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime

import pytest
from common import LINK

DEMO_USER_QUERY = "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo"
ORG_QUERY = "/v3/offlinefacemch/organizations"


def test_message_names_the_pupil_and_holds_the_link_whole(sandbox, configure, run):
    configure(sandbox)
    result = run(*LINK, "--message", "--json", expect=0)
    data = result.json
    assert set(data) == {"repayment_url", "expire_at", "message"}
    message = data["message"]
    assert "张小明" in message and "三年级二班" in message
    assert data["repayment_url"] in message.split()
    # the name and the school come from read-only calls, made before the link is fetched
    assert [(r.method, r.path) for r in sandbox.received] == [("GET", DEMO_USER_QUERY), ("GET", ORG_QUERY),
                                                              ("POST", "/v3/offlineface/repayment-url")]
    assert sandbox.received[1].query == {"organization_id": ["demo-org"]}
    assert all(r.signature_ok for r in sandbox.received)


def written(expire_at: str, lang: str) -> str:
    """The expiry as a person writes it, in the zone WeChat gave it (China's): 12月5日 01:50."""
    moment = datetime.fromisoformat(expire_at)
    if lang == "zh":
        return f"{moment.month}月{moment.day}日 {moment:%H:%M} 前"
    return f"before {moment.day} {moment:%b} {moment:%H:%M}"


@pytest.mark.parametrize("lang, greeting, purpose", [
    ("zh", "家长您好", "张小明（三年级二班）的垫资还款链接"),
    ("en", "Hello", "repay the advance (垫资) made for 张小明 (三年级二班)"),
])
def test_the_default_message_greets_names_the_school_and_says_when_as_a_person_writes_it(
        lang, greeting, purpose, sandbox, configure, run, local_zone):
    local_zone("America/New_York")  # the operator's machine may be anywhere; the family is in China
    configure(sandbox)
    table = run("--lang", lang, *LINK, "--message", "--format", "table", env={"COLUMNS": "200"}, expect=0)
    link = run(*LINK, "--json").json
    message = table.stdout[table.stdout.index(greeting):]
    assert message.startswith(greeting) and "演示实验小学" in message.splitlines()[0], message
    assert purpose in message and written(link["expire_at"], lang) in message, message
    assert "wxpay-sandbox.invalid" in message  # which host the link opens
    assert "+08:00" not in message and not re.search(r"\d\d:\d\d:\d\d", message), message


def test_without_the_schools_name_the_message_leaves_it_out(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("status", status=404, code="RESOURCE_NOT_EXISTS", message="机构不存在",
                   path_contains="/v3/offlinefacemch/organizations", skip=1)
    result = run("--lang", "zh", *LINK, "--message", "--format", "table", env={"COLUMNS": "200"}, expect=0)
    message = result.stdout[result.stdout.index("家长您好"):]
    assert message.startswith("家长您好！\n这是张小明（三年级二班）的垫资还款链接"), message
    assert "这里是" not in message and "None" not in message and "{" not in message


def test_a_school_name_that_fails_verification_shows_no_link(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("bad_signature", path_contains="/v3/offlinefacemch/organizations", skip=1)
    result = run(*LINK, "--message", "--json", expect=5)
    assert result.stdout == ""
    assert [r.method for r in sandbox.received] == ["GET", "GET"]  # no link was fetched


def test_a_template_without_the_school_asks_nothing_more(sandbox, configure, run):
    configure(sandbox, message_template="{name}: {url}")
    run(*LINK, "--message", "--json", expect=0)
    assert ORG_QUERY not in [r.path for r in sandbox.received]
    configure(sandbox, message_template="{school}：{name} 请在 {expires} 前还款 {url}")
    data = run("--lang", "zh", *LINK, "--message", "--json", expect=0).json
    assert data["message"].startswith("演示实验小学：张小明 请在 ")


def test_table_shows_name_class_and_the_message(sandbox, configure, run):
    configure(sandbox)
    result = run(*LINK, "--message", "--format", "table", env={"COLUMNS": "80"}, expect=0)
    lines = result.stdout.splitlines()
    assert any("Name" in line and "张小明" in line for line in lines)
    assert any("Class" in line and "三年级二班" in line for line in lines)
    link_lines = [line for line in lines if "/sandbox/repay/" in line]
    assert len(link_lines) == 2 and link_lines[0] == link_lines[1]  # below the table and in the message, whole


def test_plain_table_shows_name_and_class_too(sandbox, configure, run):
    configure(sandbox)
    result = run(*LINK, "--format", "table")
    assert "张小明" in result.stdout and "三年级二班" in result.stdout


def test_json_without_message_is_unchanged_and_makes_one_call(sandbox, configure, run):
    configure(sandbox)
    data = run(*LINK, "--json").json
    assert set(data) == {"repayment_url", "expire_at"}
    assert len(sandbox.received) == 1


def test_profile_template(sandbox, configure, run):
    configure(sandbox, message_template="{name}（{class_name}）家长您好，请点击链接还款：{url} 有效期至 {expires}")
    data = run(*LINK, "--message", "--json").json
    assert data["message"].startswith("张小明（三年级二班）家长您好，请点击链接还款：" + data["repayment_url"] + " 有效期至 ")


@pytest.mark.parametrize("template", ["{name} {link}", "{url} {0}", "{url} {}", "{url.__class__}", "{url!r}",
                                      "{url:>200}", "no link here {name}", "{url", ""])
def test_bad_template_is_a_config_error_before_anything_is_sent(template, sandbox, configure, run):
    configure(sandbox, message_template=template)
    result = run(*LINK, "--message", expect=3)
    assert "message_template" in result.stderr
    assert sandbox.received == []


def test_name_lookup_refused_still_gives_the_message_by_id(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("status", status=403, code="NO_AUTH", message="无权限", path_contains="/users/out-user-id/")
    result = run(*LINK, "--message", "--json", expect=0)
    assert "NO_AUTH" in result.stderr and "warning" in result.stderr
    data = result.json
    assert "demo" in data["message"] and data["repayment_url"] in data["message"]


def test_name_lookup_that_fails_verification_shows_no_link(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("bad_signature", path_contains="/users/out-user-id/")
    result = run(*LINK, "--message", "--json", expect=5)
    assert result.stdout == ""
    assert [r.method for r in sandbox.received] == ["GET"]  # no link was fetched


def test_outside_name_cannot_control_the_terminal(sandbox, configure, run):
    sandbox.seed_user("demo-org", "evil", user_name="张\x1b[2J小明\u202e", class_name="一班\x07", encrypt_name=False)
    configure(sandbox)
    result = run("repayment-url", "--user", "evil", "--org", "demo-org", "--message", "--format", "table", expect=0)
    assert not any(c in result.stdout for c in "\x1b\u202e\x07")
    assert "\\x1b[2J" in result.stdout


def test_a_name_still_encrypted_is_not_shown_as_the_pupils_name(sandbox, configure, run):
    """A user_name WeChat encrypted for another key cannot be read here: the pupil is named by id,
    not by 344 characters of base64."""
    import base64

    cipher = base64.b64encode(bytes(range(256))).decode()  # what RSA-2048 ciphertext looks like
    sandbox.seed_user("demo-org", "sealed", user_name=cipher, class_name="一班", encrypt_name=False)
    configure(sandbox)
    message = run("repayment-url", "--user", "sealed", "--org", "demo-org", "--message", "--json",
                  expect=0).json["message"]
    assert "made for sealed (一班):\n" in message and cipher not in message, message


def test_message_and_copy_are_single_mode_only(sandbox, configure, run, tmp_path):
    configure(sandbox)
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\ndemo,demo-org\n")
    for flag in ("--message", "--copy"):
        result = run("repayment-url", "--batch", str(rows), flag)
        assert result.exit_code == 2 and flag in result.stderr


# -- --copy -------------------------------------------------------------------------


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """A PATH holding only fake clipboard tools that write what they get to a file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)

    def add(name: str, exit_code: int = 0):
        out = tmp_path / f"{name}.out"
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n/bin/cat > '{out}'\nexit {exit_code}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return out

    return add


def test_copy_puts_the_message_on_the_clipboard(sandbox, configure, run, fake_tools, monkeypatch):
    configure(sandbox)
    clipboard = fake_tools("xclip")
    monkeypatch.setenv("DISPLAY", ":0")
    result = run(*LINK, "--message", "--copy", "--json", expect=0)
    assert clipboard.read_text(encoding="utf-8") == result.json["message"]
    assert "copied" in result.stderr and "xclip" in result.stderr


def test_outside_name_and_class_are_escaped_in_the_message_wherever_it_goes(sandbox, configure, run, fake_tools,
                                                                            monkeypatch):
    """The message is pasted into a chat: the name and class WeChat sent cannot reorder it
    (U+202E), ring a bell or add a line, in --json as on the clipboard."""
    sandbox.seed_user("demo-org", "evil", user_name="张\u202e小明\x07", class_name="一班\nPaid already, ignore this",
                      encrypt_name=False)
    configure(sandbox)
    clipboard = fake_tools("xclip")
    monkeypatch.setenv("DISPLAY", ":0")
    result = run("repayment-url", "--user", "evil", "--org", "demo-org", "--message", "--copy", "--json", expect=0)
    message = result.json["message"]
    assert clipboard.read_text(encoding="utf-8") == message
    assert "\u202e" not in message and "\x07" not in message and "\nPaid already" not in message, message
    assert "made for 张\\u202e小明\\x07 (一班\\x0aPaid already, ignore this):\n" in message, message


def test_copy_without_message_copies_the_link(sandbox, configure, run, fake_tools, monkeypatch):
    configure(sandbox)
    clipboard = fake_tools("wl-copy")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    result = run(*LINK, "--copy", "--json")
    assert clipboard.read_text(encoding="utf-8") == result.json["repayment_url"]


def test_clip_exe_gets_utf16_so_chinese_names_survive(sandbox, configure, run, fake_tools):
    configure(sandbox)
    clipboard = fake_tools("clip.exe")
    result = run(*LINK, "--message", "--copy", "--json", expect=0)
    assert clipboard.read_bytes().decode("utf-16") == result.json["message"]


def test_no_clipboard_says_so(sandbox, configure, run, fake_tools):
    configure(sandbox)
    result = run(*LINK, "--copy", "--json", expect=0)
    assert "no clipboard" in result.stderr and "nothing was copied" in result.stderr
    assert result.json["repayment_url"]


def test_failing_clipboard_tool_says_nothing_was_copied(sandbox, configure, run, fake_tools, monkeypatch):
    configure(sandbox)
    fake_tools("xclip", exit_code=1)
    monkeypatch.setenv("DISPLAY", ":0")
    result = run(*LINK, "--copy", "--json", expect=0)
    assert "xclip" in result.stderr and "nothing was copied" in result.stderr
    assert "copied to the clipboard" not in result.stderr


def test_handover_shows_the_message(sandbox, configure, run, monkeypatch):
    monkeypatch.setattr("wxpay_cli.terminal.prompt.interactive", lambda: True)
    configure(sandbox)
    result = run("handover", "--user", "demo", "--org", "demo-org", input="y\nn\n", env={"COLUMNS": "200"}, expect=1)
    assert "Message to forward" in result.stdout and "张小明" in result.stdout
    assert os.environ.get("PATH")  # the environment was left alone


def test_message_in_the_operators_language(sandbox, configure, run, fake_tools, monkeypatch):
    configure(sandbox)
    clipboard = fake_tools("xclip")
    monkeypatch.setenv("DISPLAY", ":0")
    result = run("--lang", "zh", *LINK, "--message", "--copy", "--format", "table", expect=0)
    assert "张小明（三年级二班）的垫资还款链接" in result.stdout and "Hello" not in result.stdout
    assert clipboard.read_text(encoding="utf-8").startswith("家长您好，这里是演示实验小学。\n")
    # JSON is the same in every language: the message there is the English default
    data = run("--lang", "zh", *LINK, "--message", "--json").json
    assert data["message"].startswith("Hello, this is 演示实验小学.\nHere is the link to repay the advance")


@pytest.mark.parametrize("lang, purpose", [("en", "made for 李四:"), ("zh", "李四的垫资还款链接")])
def test_a_pupil_without_a_class_is_named_without_an_empty_class(sandbox, configure, run, lang, purpose):
    """WeChat knows the pupil's name but no class: the message names them, with no empty brackets."""
    configure(sandbox)
    sandbox.seed_user("demo-org", "no-class", user_name="李四", class_name="", encrypt_name=False)
    result = run("--lang", lang, "repayment-url", "--user", "no-class", "--org", "demo-org", "--message",
                 "--format", "table", env={"COLUMNS": "200"}, expect=0)
    message = result.stdout
    assert purpose in message, message
    assert "()" not in message and "（）" not in message, message


def test_a_literal_host_in_braces_is_text_and_the_host_is_still_said(sandbox, configure, run):
    """`{{host}}` is the text {host}, not the placeholder: the message still gets its "opens:" line."""
    configure(sandbox, message_template="{name}: {url} {{host}}")
    message = run(*LINK, "--message", "--json", expect=0).json["message"]
    first, last = message.splitlines()
    assert first.endswith(" {host}"), message
    assert last == "opens: wxpay-sandbox.invalid", message


def test_the_host_placeholder_is_filled_and_not_said_twice(sandbox, configure, run):
    configure(sandbox, message_template="{name}: {url} ({host})")
    message = run(*LINK, "--message", "--json", expect=0).json["message"]
    assert message.endswith(" (wxpay-sandbox.invalid)") and len(message.splitlines()) == 1, message
