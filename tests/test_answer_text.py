"""Every string of a verified answer is text that can be printed and written; every number is
a number JSON can carry. Otherwise exit 5, naming the field, before anything is sent or shown."""

from __future__ import annotations

import json

import pytest

USER_PATH = "/users/out-user-id/demo"
SHOW = ("user", "show", "--user", "demo", "--org", "demo-org")


def signed_user(hostile, sandbox, run, text: str) -> None:
    """The sandbox's own user answer, its JSON text edited, then signed."""
    answer = run(*SHOW, "--json").stdout
    hostile.signed(USER_PATH, text.replace("%ANSWER%", answer.strip()[1:-1]).encode())


def test_a_name_cut_in_half_is_refused_naming_the_field(hostile, sandbox, run):
    signed_user(hostile, sandbox, run, '{%ANSWER%, "user_name": "\\ud800"}')
    result = run(*SHOW, "--json")
    assert result.exit_code == 5 and result.stdout == "", result.stderr
    assert "user_name" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_lone_surrogate_in_an_undeclared_field_is_refused_too(hostile, sandbox, run):
    signed_user(hostile, sandbox, run, '{%ANSWER%, "extra": {"note": ["ok", "\\udfff"]}}')
    result = run(*SHOW, "--json")
    assert result.exit_code == 5 and "extra.note" in result.stderr, result.stderr


@pytest.mark.parametrize("text", ['{%ANSWER%, "\\ud800": "x"}', '{%ANSWER%, "extra": {"n\\udc00te": "ok"}}'],
                         ids=["top-level key", "nested key"])
def test_a_lone_surrogate_in_a_key_is_refused_too(hostile, sandbox, run, text):
    signed_user(hostile, sandbox, run, text)
    result = run(*SHOW, "--json", expect=5)
    assert result.stdout == "" and "half a character" in result.error["message"]


def test_a_termination_is_never_sent_on_an_answer_with_a_broken_name(hostile, sandbox, run):
    signed_user(hostile, sandbox, run, '{%ANSWER%, "user_name": "\\ud83d"}')
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")
    assert result.exit_code == 5, result.stderr
    assert not [r for r in sandbox.received if r.method == "POST"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_json_cannot_carry_are_refused(hostile, sandbox, run, number):
    signed_user(hostile, sandbox, run, '{%ANSWER%, "score": ' + number + "}")
    result = run(*SHOW, "--json")
    assert result.exit_code == 5 and result.stdout == "", result.stderr
    assert "score" in result.stderr, result.stderr


def test_json_output_is_utf8_whatever_stdouts_encoding(sandbox, configure, tmp_path):
    import subprocess
    import sys

    configure(sandbox)
    import os

    env = {**os.environ, "PYTHONIOENCODING": "latin-1", "WXPAY_CONFIG": str(tmp_path / "config.toml")}
    completed = subprocess.run([sys.executable, "-m", "wxpay_cli", *SHOW, "--json"], capture_output=True, env=env)
    assert completed.returncode == 0, completed.stderr.decode("utf-8", "replace")
    assert json.loads(completed.stdout.decode("utf-8"))["user_name"] == "张小明"


def test_a_terminal_that_cannot_show_a_name_gets_an_escape_not_an_error(sandbox, configure, tmp_path):
    import os
    import subprocess
    import sys

    configure(sandbox)
    env = {**os.environ, "PYTHONIOENCODING": "latin-1", "WXPAY_CONFIG": str(tmp_path / "config.toml"),
           "WXPAY_LANG": "en"}
    completed = subprocess.run([sys.executable, "-m", "wxpay_cli", *SHOW, "--format", "table"], capture_output=True,
                               env=env)
    assert completed.returncode == 0, completed.stderr.decode("latin-1")
    assert b"\\u5f20" in completed.stdout  # 张, escaped


def test_a_csv_is_utf8_with_its_bom_whatever_stdouts_encoding(sandbox, configure, tmp_path):
    """A Chinese Windows redirect (GBK) must still give Excel the UTF-8 file the manual promises."""
    import os
    import subprocess
    import sys

    configure(sandbox)
    roster = tmp_path / "roster.csv"
    roster.write_text("out_user_id,organization_id\ndemo,demo-org\n", encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "gbk", "WXPAY_CONFIG": str(tmp_path / "config.toml")}
    completed = subprocess.run([sys.executable, "-m", "wxpay_cli", "user", "show", "--batch", str(roster),
                                "--format", "csv"], capture_output=True, env=env)
    assert completed.returncode == 0, completed.stderr.decode("gbk", "replace")
    assert completed.stdout.startswith(b"\xef\xbb\xbfout_user_id,")
    assert "张小明" in completed.stdout.decode("utf-8")


def test_half_a_character_in_json_is_written_as_an_escape_not_a_crash(monkeypatch):
    import io
    import json

    from wxpay_cli.terminal import output

    raw = io.BytesIO()
    monkeypatch.setattr("sys.stdout", io.TextIOWrapper(raw, encoding="gbk"))
    output.write_json_line({"error": {"message": "bad \ud800 name"}})
    assert json.loads(raw.getvalue().decode("utf-8"))["error"]["message"] == "bad \ud800 name"
