"""The audit log's promises on disk: a termination's `attempted` line is written and fsynced
before its POST, or nothing is sent; faults a server cannot make (a full disk, a failing
fsync, a short write, a torn last line) and reading back a damaged log; in a batch, one open
file with group commit, each row's line on disk before its output line."""

from __future__ import annotations

import errno
import json
import os
import re

import pytest
from common import TERMINATE, terminations

from wxpay_cli.errors import AuditLogError
from wxpay_cli.local import audit
from wxpay_cli.local.audit import AuditLog
from wxpay_cli.terminal import output
from wxpay_cli.wire import aclient

needs_proc_fd = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds the audit file by /proc/self/fd")


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


@needs_proc_fd
@pytest.mark.parametrize("name", ["write", "fsync"])
def test_failure_writing_the_attempted_line_sends_nothing(sandbox, configure, run, monkeypatch, name):
    configure(sandbox)
    fail_on_audit(monkeypatch, name, errno.ENOSPC if name == "write" else errno.EIO)
    result = run(*TERMINATE, "--yes", expect=3)
    assert "cannot write the audit log" in result.stderr and os.strerror(
        errno.ENOSPC if name == "write" else errno.EIO) in result.stderr
    assert terminations(sandbox) == []
    assert sandbox.state.users[("demo-org", "demo")].contract_state == "CONTRACTED"


@needs_proc_fd
def test_full_disk_after_the_204_still_reports_the_termination(sandbox, configure, run, monkeypatch):
    configure(sandbox)
    fail_on_audit(monkeypatch, "write", errno.ENOSPC, after=1)  # "attempted" fits, "succeeded" does not
    result = run(*TERMINATE, "--yes", "--json", expect=0)
    data = result.json
    assert data["contract_state"] == "TERMINATED"
    assert "audit log could not record it" in data["note"]
    assert len(terminations(sandbox)) == 1


@needs_proc_fd
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


@needs_proc_fd
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
    result = run("audit", "--json", expect=0)
    assert [json.loads(line)["out_user_id"] for line in result.stdout.splitlines()] == ["b", "a"]
    assert "3 unreadable lines" in result.stderr and "line 2, 3, 4" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_fields_are_refused_and_nothing_is_written(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="not an audit field"):
        log.append(operation="terminate", outcome="attempted", repayment_url="https://pay.example/x")
    assert not log.path.exists() or log.path.read_bytes() == b""


def test_audit_times_carry_their_utc_offset(tmp_path, local_zone):
    local_zone("Asia/Shanghai")
    record = AuditLog(tmp_path / "audit.jsonl").append(operation="terminate", outcome="attempted")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", record["time"]), record["time"]


def test_unwritable_audit_log_refuses_before_sending(sandbox, configure, run, monkeypatch, tmp_path):
    configure(sandbox)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    result = run(*TERMINATE, "--yes", expect=3)
    assert "cannot write the audit log" in result.stderr
    assert sandbox.received == []


# -- batches: one open file, group commit, the same promises -----------------------------------


class Disk:
    """Watches the audit file: how many of its bytes are known to be on disk."""

    def __init__(self, monkeypatch):
        self.path = audit.default_path()
        self.durable = 0
        self.opens = 0
        self.fsyncs = 0
        real_fsync, real_open = os.fsync, os.open

        def fsync(fd):
            size = os.fstat(fd).st_size  # what this fsync is sure to cover
            real_fsync(fd)
            if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                self.fsyncs += 1
                self.durable = max(self.durable, size)

        def open_(path, *args, **kwargs):
            if os.fspath(path) == os.fspath(self.path):
                self.opens += 1
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(audit.os, "fsync", fsync)
        monkeypatch.setattr(audit.os, "open", open_)

    def end_of_line(self, match) -> int:
        """The end offset of the last audit line that `match(record)` accepts (0 if none)."""
        end, offset = 0, 0
        with open(self.path, "rb") as handle:
            for line in handle:
                offset += len(line)
                if match(json.loads(line)):
                    end = offset
        return end


def test_link_rows_are_on_disk_before_their_output_lines(sandbox, configure, run, pupils, monkeypatch):
    configure(sandbox)
    disk = Disk(monkeypatch)
    checked = []
    real_write = output.StdoutSink.write

    def write(self, text):  # each output line, as it goes to stdout
        record = json.loads(text)
        end = disk.end_of_line(lambda r: r["out_user_id"] == record["out_user_id"])
        checked.append((record["out_user_id"], end > 0 and end <= disk.durable))
        return real_write(self, text)

    monkeypatch.setattr(output.StdoutSink, "write", write)
    users = [u if i % 4 else f"missing-{i}" for i, u in enumerate(pupils)]  # failures are audited too
    text = "out_user_id,organization_id\n" + "".join(f"{u},demo-org\n" for u in users)
    run("repayment-url", "--batch", "-", "--concurrency", "8", input=text, expect=1)
    assert [user for user, _ in checked] == users
    assert all(durable for _, durable in checked), [user for user, durable in checked if not durable]
    assert disk.opens == 1  # one open (and one mkdir) for the whole batch, not one per row
    records = list(AuditLog().records())
    assert sorted(r["out_user_id"] for r in records) == sorted(users)
    assert disk.fsyncs <= len(users) + 1


def test_attempted_line_is_on_disk_before_the_termination_is_sent(sandbox, configure, run, pupils, monkeypatch):
    configure(sandbox)
    disk = Disk(monkeypatch)
    sent = []
    real_send = aclient.AsyncClient._send

    async def send(self, request):
        if request.method == "POST":
            end = disk.end_of_line(lambda r: r["outcome"] == "attempted" and f"/{r['user_id']}/" in request.url.path)
            sent.append((request.url.path, end > 0 and end <= disk.durable))
        return await real_send(self, request)

    monkeypatch.setattr(aclient.AsyncClient, "_send", send)
    text = "out_user_id,organization_id\n" + "".join(f"{u},demo-org\n" for u in pupils[:10])
    run("contract", "terminate", "--batch", "-", "--yes", "--concurrency", "8", input=text, expect=0)
    assert len(sent) == 10 and all(durable for _, durable in sent), sent
    outcomes = [r["outcome"] for r in AuditLog().records()]
    assert outcomes.count("attempted") == 10 and outcomes.count("succeeded") == 10


def test_failing_fsync_in_a_batch_warns_once_and_links_still_come(sandbox, configure, run, pupils, monkeypatch):
    configure(sandbox)

    def fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(audit.os, "fsync", fsync)
    text = "out_user_id,organization_id\n" + "".join(f"{u},demo-org\n" for u in pupils[:6])
    result = run("repayment-url", "--batch", "-", input=text, expect=0)
    assert [json.loads(line)["out_user_id"] for line in result.stdout.splitlines()] == pupils[:6]
    assert result.stderr.count("Input/output error") == 1
    assert "not being recorded" in result.stderr


def test_failing_fsync_sends_no_termination(sandbox, configure, run, pupils, monkeypatch):
    configure(sandbox)

    def fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(audit.os, "fsync", fsync)
    text = "out_user_id,organization_id\n" + "".join(f"{u},demo-org\n" for u in pupils[:3])
    result = run("contract", "terminate", "--batch", "-", "--yes", input=text)
    assert result.exit_code != 0
    assert not [r for r in sandbox.received if r.method == "POST"]


def test_a_failed_row_whose_audit_line_cannot_be_made_durable_stops_the_batch(sandbox, configure, run, monkeypatch):
    """The refusal's audit line cannot be synced: the run stops on the audit failure (exit 3), saying
    both what the row met and why it is not recorded, instead of going on with an unwritable log."""
    configure(sandbox)

    def fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(audit.os, "fsync", fsync)
    result = run("contract", "terminate", "--batch", "-", "--yes",
                 input="out_user_id,organization_id\ndemo-terminated,demo-org\n", expect=3)
    assert "stopped at row 2" in result.stderr, result.stderr  # the row below the header
    assert "not CONTRACTED" in result.stderr and "Input/output error" in result.stderr, result.stderr
    assert terminations(sandbox) == []


def test_a_line_written_while_an_fsync_runs_waits_for_the_next_one(monkeypatch):
    """Row b's line is written while the fsync for row a runs: that fsync may not cover it, so
    b's commit must wait for another, not return on a's."""
    import asyncio
    import threading

    log = AuditLog()
    running, release = threading.Event(), threading.Event()
    durable = {"size": 0}
    real_fsync = os.fsync

    def fsync(fd):
        size = os.fstat(fd).st_size  # what this fsync is sure to cover
        if not running.is_set():
            running.set()
            release.wait(10)
        real_fsync(fd)
        durable["size"] = max(durable["size"], size)

    monkeypatch.setattr(audit.os, "fsync", fsync)

    async def two_rows() -> int:
        with log.held_open():
            log.append(operation="repayment_url", outcome="fetched", out_user_id="a")
            first = asyncio.ensure_future(log.commit())
            await asyncio.to_thread(running.wait, 10)
            log.append(operation="repayment_url", outcome="fetched", out_user_id="b")  # during a's fsync
            release.set()
            await first
            await log.commit()  # b's
            return durable["size"]

    assert asyncio.run(two_rows()) == log.path.stat().st_size  # b's line is on disk


def test_lines_of_rows_cut_short_are_on_disk_when_the_batch_ends(monkeypatch):
    """A row stopped before its commit (Ctrl-C, a fatal row elsewhere) still has its lines
    made durable by the batch's last fsync."""
    disk = Disk(monkeypatch)
    log = AuditLog()
    with log.held_open():
        log.append(operation="terminate", outcome="refused", out_user_id="a", error="NOT_CONTRACTED")
    assert disk.durable == log.path.stat().st_size > 0
