"""The audit log under faults a server cannot make: a full disk, a failing fsync, a
short write, a torn last line — and reading back a damaged log."""

from __future__ import annotations

import errno
import json
import os
import re

import pytest

from wxpay_cli.errors import AuditLogError
from wxpay_cli.local.audit import AuditLog

TERMINATE = ("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds the audit file by /proc/self/fd")


def is_audit_fd(fd: int) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").endswith("audit.jsonl")
    except OSError:
        return False


def fail_on_audit(monkeypatch, name: str, code: int, *, after: int = 0):
    """os.<name> fails with `code` on the audit file (after `after` good calls); untouched elsewhere."""
    real = getattr(os, name)
    calls = {"n": 0}

    def wrapper(fd, *args):
        if is_audit_fd(fd):
            calls["n"] += 1
            if calls["n"] > after:
                raise OSError(code, os.strerror(code))
        return real(fd, *args)

    monkeypatch.setattr(os, name, wrapper)


def posts(sandbox):
    return [r for r in sandbox.received if r.method == "POST"]


@pytest.mark.parametrize("name", ["write", "fsync"])
def test_failure_writing_the_attempted_line_sends_nothing(sandbox, configure, run, monkeypatch, name):
    configure(sandbox)
    fail_on_audit(monkeypatch, name, errno.ENOSPC if name == "write" else errno.EIO)
    result = run(*TERMINATE)
    assert result.exit_code == 3
    assert "cannot write the audit log" in result.stderr and os.strerror(
        errno.ENOSPC if name == "write" else errno.EIO) in result.stderr
    assert posts(sandbox) == []
    assert sandbox.state.users[("demo-org", "demo")].contract_state == "CONTRACTED"


def test_full_disk_after_the_204_still_reports_the_termination(sandbox, configure, run, monkeypatch):
    configure(sandbox)
    fail_on_audit(monkeypatch, "write", errno.ENOSPC, after=1)  # "attempted" fits, "succeeded" does not
    result = run(*TERMINATE, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["contract_state"] == "TERMINATED"
    assert "audit log could not record it" in data["note"]
    assert len(posts(sandbox)) == 1


def test_a_short_write_is_completed(monkeypatch, tmp_path):
    real = os.write

    def short(fd, data):
        return real(fd, bytes(data[:7])) if is_audit_fd(fd) else real(fd, data)

    monkeypatch.setattr(os, "write", short)
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(operation="terminate", outcome="attempted", out_user_id="张小明")
    log.append(operation="terminate", outcome="succeeded", out_user_id="张小明")
    assert [r["outcome"] for r in log.records()] == ["attempted", "succeeded"]
    assert log.unreadable == []


def test_a_write_that_makes_no_progress_fails_loudly(monkeypatch, tmp_path):
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: 0 if is_audit_fd(fd) else real(fd, data))
    with pytest.raises(AuditLogError):
        AuditLog(tmp_path / "audit.jsonl").append(operation="terminate", outcome="attempted")


def test_an_append_after_a_torn_tail_starts_on_a_new_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"time": "2026-11-26T10:00:00+08:00", "outco')  # cut short by a crash
    log = AuditLog(path)
    log.append(operation="terminate", outcome="attempted")
    assert [r["outcome"] for r in log.records()] == ["attempted"]
    assert log.unreadable == [1]
    assert path.read_bytes().count(b"\n") == 2


def test_audit_command_names_unreadable_lines(run, tmp_path):
    log = AuditLog()
    log.append(operation="repayment_url", outcome="fetched", out_user_id="a")
    with log.path.open("ab") as handle:
        handle.write(b"not json at all\n")
        handle.write(b'{"outcome": "\xff\xfe"}\n')  # not UTF-8
        handle.write(b"[1, 2]\n")  # JSON, but not a record
    log.append(operation="repayment_url", outcome="fetched", out_user_id="b")
    result = run("audit", "--json")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["out_user_id"] for line in result.stdout.splitlines()] == ["b", "a"]
    assert "3 unreadable lines" in result.stderr and "line 2, 3, 4" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_fields_are_refused_and_nothing_is_written(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="not an audit field"):
        log.append(operation="terminate", outcome="attempted", repayment_url="https://pay.example/x")
    assert not log.path.exists() or log.path.read_bytes() == b""


def test_audit_times_carry_their_utc_offset(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    import time

    time.tzset()
    try:
        record = AuditLog(tmp_path / "audit.jsonl").append(operation="terminate", outcome="attempted")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", record["time"]), record["time"]
