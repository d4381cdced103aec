"""✓ green, ✗ red, warnings yellow, only on a terminal and never with NO_COLOR; one casing for errors."""

from __future__ import annotations

import io

import pytest
from terminal import run_on_terminal

from wxpay_cli.errors import ConfigError
from wxpay_cli.terminal import output

RED, YELLOW, GREEN = "\x1b[31m", "\x1b[33m", "\x1b[32m"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def tty_stderr(monkeypatch):
    """A terminal as stderr, set inside the test (pytest puts its own capture back between phases)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")

    def install() -> Tty:
        stream = Tty()
        monkeypatch.setattr("sys.stderr", stream)
        return stream

    return install


def test_warning_prefix_is_yellow_on_a_terminal(tty_stderr):
    tty_stderr = tty_stderr()
    output.warn("the key is readable by others")
    assert tty_stderr.getvalue() == f"{YELLOW}warning:\x1b[0m the key is readable by others\n"


def test_error_prefix_is_red_on_a_terminal(tty_stderr):
    tty_stderr = tty_stderr()
    output.error(ConfigError("no config file"), as_json=False)
    assert tty_stderr.getvalue().startswith(f"{RED}error:\x1b[0m no config file")


@pytest.mark.parametrize("no_color", ["1", "yes"])
def test_no_color_means_no_colour(no_color, tty_stderr, monkeypatch):
    monkeypatch.setenv("NO_COLOR", no_color)
    tty_stderr = tty_stderr()
    output.warn("w")
    output.error(ConfigError("e"), as_json=False)
    assert "\x1b" not in tty_stderr.getvalue()
    assert tty_stderr.getvalue() == "warning: w\nerror: e\n"


def test_no_colour_off_a_terminal(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    output.warn("w")
    assert stream.getvalue() == "warning: w\n"


def test_usage_errors_have_the_same_lower_case_prefix(run):
    result = run("repayment-url", "--user", "", "--org", "x", expect=2)
    assert "\nerror: Invalid value for '--user'" in result.stderr
    assert "Error:" not in result.stderr
    assert "Usage: " in result.stderr and "--help" in result.stderr  # click's usage line and hint stay
    result = run("--no-such-option")
    assert result.exit_code == 2 and "error: No such option" in result.stderr and "Error:" not in result.stderr
    result = run("no-such-command")
    assert result.exit_code == 2 and "error: No such command" in result.stderr


def test_a_group_alone_still_shows_its_help(run):
    result = run("contract")
    assert "terminate" in result.stdout + result.stderr and "error" not in result.stdout + result.stderr


def test_config_check_marks_on_a_real_terminal(sandbox, configure, tmp_path):
    configure(sandbox)
    shown = run_on_terminal("config", "check", tmp_path=tmp_path, stdout=True, env={"NO_COLOR": ""})
    assert "32m✓" in shown.terminal  # green (and bold, as the first column is)


@pytest.mark.parametrize("no_color, coloured", [("", True), ("1", False)])
def test_table_marks_respect_no_color(no_color, coloured, monkeypatch):
    monkeypatch.setenv("NO_COLOR", no_color)
    monkeypatch.setenv("TERM", "xterm")
    stream = Tty()
    monkeypatch.setattr("sys.stdout", stream)
    output.render(output.View(data=None, rows=[("✓", "ok"), ("✗", "bad"), ("!", "hmm")], columns=("", "check")),
                  "table")
    text = stream.getvalue()
    assert ("32m✓" in text and "31m✗" in text and "33m!" in text) is coloured
    assert "✓" in text and "✗" in text


def test_errors_are_red_on_a_real_terminal_and_plain_in_a_file(tmp_path):
    shown = run_on_terminal("repayment-url", "--user", "", tmp_path=tmp_path, env={"NO_COLOR": ""})
    assert f"{RED}error:" in shown.terminal and "Error:" not in shown.terminal
    piped = run_on_terminal("repayment-url", "--user", "", tmp_path=tmp_path, stderr=False)
    assert "\x1b" not in piped.stderr and "error: Invalid value" in piped.stderr
