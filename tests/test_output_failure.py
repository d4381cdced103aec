"""When stdout fails after a termination was sent (a closed pipe, `| head -1`, a full disk), the
operator still learns on stderr which pupils were terminated, and wxpay exits 74 ("output
failed; the outcome is in the audit log"); a read-only command on a closed pipe keeps 141. A
batch's failing output never cancels a POST in flight: those rows finish and are recorded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from common import SHOW, TERMINATE, terminations

from wxpay_cli.local.audit import AuditLog


def wxpay(*args: str, stdout) -> subprocess.CompletedProcess:
    """wxpay in its own process; `stdout="closed"` starts it with file descriptor 1 closed."""
    closed = stdout == "closed"
    return subprocess.run([sys.executable, "-m", "wxpay_cli", *args], stdout=None if closed else stdout,
                          stderr=subprocess.PIPE, text=True, timeout=60,
                          preexec_fn=(lambda: os.close(1)) if closed else None)


def closed_pipe() -> int:
    """The writing end of a pipe nobody reads any more (what `| head -1` leaves after its line)."""
    read, write = os.pipe()
    os.close(read)
    return write


def outcomes() -> list[str]:
    return [r["outcome"] for r in AuditLog().records() if r["operation"] == "terminate"]


@pytest.fixture(params=["closed pipe", "full disk", "closed stdout"])
def broken_stdout(request):
    if request.param == "closed stdout":  # `wxpay … >&-`: the process starts without a stdout
        yield "closed"
    elif request.param == "closed pipe":
        fd = closed_pipe()
        yield fd
        os.close(fd)
    else:
        if not os.path.exists("/dev/full"):
            pytest.skip("no /dev/full here")
        with open("/dev/full", "wb") as full:
            yield full


def test_a_termination_whose_output_fails_says_so_on_stderr_and_exits_74(hostile, sandbox, broken_stdout):
    done = wxpay(*TERMINATE, "--yes", "--json", stdout=broken_stdout)
    assert done.returncode == 74, done.stderr
    assert "Traceback" not in done.stderr and "bug" not in done.stderr
    assert "audit log" in done.stderr and "demo" in done.stderr and "terminated" in done.stderr, done.stderr
    assert len(terminations(sandbox)) == 1
    assert outcomes() == ["attempted", "succeeded"]


def test_a_read_only_command_on_a_closed_pipe_keeps_141(hostile):
    fd = closed_pipe()
    try:
        done = wxpay(*SHOW, "--json", stdout=fd)
    finally:
        os.close(fd)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("command", [SHOW, (*TERMINATE, "--yes")], ids=["user show", "terminate"])
def test_a_table_to_a_full_disk_is_said_not_ignored_at_exit(hostile, sandbox, command):
    """A table is buffered: the full disk shows at the last flush, which must still say it (74)."""
    with open("/dev/full", "wb") as full:
        done = wxpay(*command, "--format", "table", stdout=full)
    assert done.returncode == 74, done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
    assert "output failed (No space left on device)" in done.stderr, done.stderr  # the reason, in words
    assert ("audit log" in done.stderr) == ("terminate" in command)  # a read-only command recorded nothing
    if "terminate" in command:
        assert "terminated: 张小明 (demo)" in done.stderr, done.stderr


def test_a_batch_whose_output_fails_finishes_the_posts_in_flight(hostile, sandbox, pupils, tmp_path, broken_stdout):
    roster = tmp_path / "roster.csv"
    roster.write_text("out_user_id,organization_id\n" + "".join(f"{p},demo-org\n" for p in pupils[:6]))
    sandbox.inject("delay", seconds=0.3, path_contains="terminate-contract", skip=1, times=10)
    done = wxpay("contract", "terminate", "--batch", str(roster), "--yes", "--concurrency", "6",
                 stdout=broken_stdout)
    assert done.returncode == 74, done.stderr
    assert "Traceback" not in done.stderr
    sent = len(terminations(sandbox))
    assert sent >= 2  # the first row's line failed while others were in flight
    assert outcomes().count("attempted") == sent
    assert outcomes().count("succeeded") == sent and "unknown" not in outcomes(), outcomes()
    named = [p for p in pupils[:6] if p in done.stderr]
    assert len(named) == sent, done.stderr


def test_the_json_error_after_a_failed_output_is_english_under_chinese(hostile, sandbox, monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    fd = closed_pipe()
    try:
        done = wxpay(*TERMINATE, "--yes", "--json", stdout=fd)
    finally:
        os.close(fd)
    assert done.returncode == 74, done.stderr
    import json

    message = json.loads(done.stderr)["error"]["message"]
    assert message.startswith("output failed (") and "terminated: 张小明 (demo)" in message, message


@pytest.mark.parametrize("name", ["EPIPE", "ENOSPC", "EIO", "EFBIG", "EBADF"])
def test_every_way_stdout_fails_is_an_output_failure_not_a_bug(name):
    import errno

    from wxpay_cli.cli import _output_failed

    assert _output_failed(OSError(getattr(errno, name), "x"))
    assert not _output_failed(OSError(errno.ENOENT, "x"))  # a missing file is not the output failing


def test_a_batch_row_whose_outcome_is_not_known_is_named_so_when_the_output_fails(hostile, sandbox, pupils,
                                                                                  tmp_path):
    """The POST got no usable answer and the re-query still says CONTRACTED: stderr must name that
    pupil under "outcome not known", never as terminated, when its line cannot be written."""
    roster = tmp_path / "roster.csv"
    roster.write_text(f"out_user_id,organization_id\n{pupils[0]},demo-org\n")
    sandbox.inject("status", status=500, retry_after="0", path_contains="terminate-contract")
    fd = closed_pipe()
    try:
        done = wxpay("contract", "terminate", "--batch", str(roster), "--yes", stdout=fd)
    finally:
        os.close(fd)
    assert done.returncode == 74, done.stderr
    assert "outcome not known: P00 (p00)" in done.stderr, done.stderr
    assert "terminated: P00" not in done.stderr, done.stderr
    assert outcomes() == ["attempted", "unknown"]


def test_a_failed_output_is_said_before_a_fault_that_stopped_the_batch(hostile, sandbox, pupils, tmp_path):
    """Row 1's POST is in flight when row 2 meets a fault that stops the run (credentials refused);
    then row 1's line cannot be written. The operator must learn that row 1 was terminated (the
    output failure's message names it, exit 74), not only the configuration error."""
    roster = tmp_path / "roster.csv"
    roster.write_text(f"out_user_id,organization_id\n{pupils[0]},demo-org\n{pupils[1]},demo-org\n")
    sandbox.inject("delay", seconds=1.2, path_contains="terminate-contract")
    sandbox.inject("delay", seconds=0.6, path_contains=f"out-user-id/{pupils[1]}")  # its lookup, once row 1 sent
    sandbox.inject("status", status=401, code="SIGN_ERROR", path_contains=f"out-user-id/{pupils[1]}")  # then
    fd = closed_pipe()
    try:
        done = wxpay("contract", "terminate", "--batch", str(roster), "--yes", "--concurrency", "2", stdout=fd)
    finally:
        os.close(fd)
    assert len(terminations(sandbox)) == 1 and outcomes().count("succeeded") == 1, done.stderr
    assert "the rest of the input was not read" in done.stderr, done.stderr  # the fault stopped the run
    assert done.returncode == 74, done.stderr
    assert "terminated: P00 (p00)" in done.stderr, done.stderr
