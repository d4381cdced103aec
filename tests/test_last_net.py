"""What no one expected still ends cleanly: a bug is one line and exit 70, Ctrl-C and
SIGTERM during a termination are recorded before wxpay exits 130 / 143."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from terminal import wxpay_script

from wxpay_cli.local.audit import AuditLog

SHOW = ("user", "show", "--user", "demo", "--org", "demo-org")
TERMINATE = ("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")


def signal_once(args, sig, ready) -> tuple[int, str, str]:
    """Run wxpay with `args`, send it `sig` once `ready()` holds; (exit status, stdout, stderr)."""
    process = subprocess.Popen([wxpay_script(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while not ready():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.01)
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, out, err


@pytest.fixture
def buggy_view(monkeypatch):
    def broken(data):
        return {}["no such key"]

    monkeypatch.setattr("wxpay_cli.commands._views.user_view", broken)


def test_a_bug_is_one_line_and_exit_70(sandbox, configure, run, buggy_view):
    configure(sandbox)
    result = run(*SHOW, "--format", "table")
    assert result.exit_code == 70
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert "unexpected error (KeyError" in line and "rerun with --traceback" in line


def test_a_bug_with_json_errors_is_a_json_line(sandbox, configure, run, buggy_view):
    configure(sandbox)
    result = run(*SHOW, "--json")
    assert result.exit_code == 70
    assert json.loads(result.stderr)["error"]["code"] == "INTERNAL_ERROR"


def test_traceback_flag_shows_the_real_error(sandbox, configure, run, buggy_view):
    configure(sandbox)
    with pytest.raises(KeyError):
        run("--traceback", *SHOW, "--format", "table")


def test_usage_errors_are_still_clicks(run):
    result = run("user", "show", "--no-such-flag")
    assert result.exit_code == 2 and "No such option" in result.stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_the_termination_post_is_recorded_then_exits(sandbox, configure, tmp_path, sig, code):
    configure(sandbox)
    sandbox.inject("slow_answer", seconds=5.0, path_contains="terminate-contract")
    returncode, out, err = signal_once(TERMINATE, sig, lambda: any(r.method == "POST" for r in sandbox.received))
    assert returncode == code, err
    assert "Traceback" not in err
    assert "may or may not have happened" in err and "wxpay user show --user demo --org demo-org" in err
    assert [line["outcome"] for line in AuditLog().records()] == ["attempted", "unknown"]
    assert [r.method for r in sandbox.received] == ["GET", "POST"]  # no re-query, no second POST


def test_sigterm_outside_a_termination_exits_143(sandbox, configure):
    configure(sandbox)
    sandbox.inject("slow_answer", seconds=5.0, path_contains="out-user-id")
    returncode, out, err = signal_once(SHOW, signal.SIGTERM, lambda: bool(sandbox.received))
    assert returncode == 143, err
    assert "interrupted" in err and "Traceback" not in err and out == ""
