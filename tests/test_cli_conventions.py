"""What every command does alike: a bug is one line and exit 70 (a JSON line with --json,
the real error with --traceback), a usage error is click's exit 2 (two output formats at once
among them), and SIGTERM exits 143.
(Ctrl-C and SIGTERM during a termination: test_termination.py.)"""

from __future__ import annotations

import signal

import pytest
from common import LINK, SHOW
from terminal import signal_once


@pytest.fixture
def buggy_view(monkeypatch):
    def broken(data):
        return {}["no such key"]

    monkeypatch.setattr("wxpay_cli.commands._views.user_view", broken)


def test_a_bug_is_one_line_and_exit_70(sandbox, configure, run, buggy_view):
    configure(sandbox)
    result = run(*SHOW, "--format", "table", expect=70)
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert "unexpected error (KeyError" in line and "rerun with --traceback" in line


def test_a_bug_with_json_errors_is_a_json_line(sandbox, configure, run, buggy_view):
    configure(sandbox)
    result = run(*SHOW, "--json", expect=70)
    assert result.error["code"] == "INTERNAL_ERROR"


def test_traceback_flag_shows_the_real_error(sandbox, configure, run, buggy_view):
    configure(sandbox)
    with pytest.raises(KeyError):
        run("--traceback", *SHOW, "--format", "table")


def test_usage_errors_are_still_clicks(run):
    result = run("user", "show", "--no-such-flag")
    assert result.exit_code == 2 and "No such option" in result.stderr


def test_sigterm_outside_a_termination_exits_143(sandbox, configure):
    configure(sandbox)
    sandbox.inject("slow_answer", seconds=5.0, path_contains="out-user-id")
    returncode, out, err = signal_once(SHOW, signal.SIGTERM, lambda: bool(sandbox.received))
    assert returncode == 143, err
    assert "interrupted" in err and "Traceback" not in err and out == ""


@pytest.mark.parametrize("flags", [("--json", "--format", "table"), ("--format", "table", "--json")])
def test_conflicting_output_flags_are_a_usage_error(sandbox, configure, run, flags):
    configure(sandbox)
    result = run(*LINK, *flags, expect=2)
    assert "different output formats" in result.stderr
    assert sandbox.received == []


def test_the_same_format_twice_is_fine(sandbox, configure, run):
    configure(sandbox)
    result = run(*LINK, "--json", "--format", "json", expect=0)
    assert result.json["repayment_url"]
