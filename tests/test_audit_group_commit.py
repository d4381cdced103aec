"""Batch audit lines go through one open file with group commit, keeping the promises:
a row's audit line is on disk (fsynced) before its output line is written, and a
termination's `attempted` line is on disk before its POST is sent."""

from __future__ import annotations

import json
import os

import pytest

from wxpay_cli.local import audit
from wxpay_cli.local.audit import AuditLog
from wxpay_cli.terminal import output
from wxpay_cli.wire import aclient


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


@pytest.fixture
def pupils(sandbox):
    names = [f"g{i:02d}" for i in range(24)]
    for name in names:
        sandbox.seed_user("demo-org", name, user_name=name.upper(), encrypt_name=False)
    return names


def test_link_rows_are_on_disk_before_their_output_lines(sandbox, configure, run, pupils, monkeypatch):
    configure(sandbox)
    disk = Disk(monkeypatch)
    checked = []
    real_write = output.write_json_line

    def write_json_line(record):
        end = disk.end_of_line(lambda r: r["out_user_id"] == record["out_user_id"])
        checked.append((record["out_user_id"], end > 0 and end <= disk.durable))
        real_write(record)

    monkeypatch.setattr(output, "write_json_line", write_json_line)
    users = [u if i % 4 else f"missing-{i}" for i, u in enumerate(pupils)]  # failures are audited too
    text = "out_user_id,organization_id\n" + "".join(f"{u},demo-org\n" for u in users)
    result = run("repayment-url", "--batch", "-", "--concurrency", "8", input=text)
    assert result.exit_code == 1, result.stderr  # the missing pupils
    assert [user for user, _ in checked] == users
    assert all(durable for _, durable in checked), [user for user, durable in checked if not durable]
    records = list(AuditLog().records())
    assert sorted(r["out_user_id"] for r in records) == sorted(users)
    assert disk.opens == 1  # one open (and one mkdir) for the whole batch, not one per row
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
    result = run("contract", "terminate", "--batch", "-", "--yes", "--concurrency", "8", input=text)
    assert result.exit_code == 0, result.stderr
    assert len(sent) == 10 and all(durable for _, durable in sent), sent
    outcomes = [r["outcome"] for r in AuditLog().records()]
    assert outcomes.count("attempted") == 10 and outcomes.count("succeeded") == 10


def test_failing_fsync_in_a_batch_warns_once_and_links_still_come(sandbox, configure, run, pupils, monkeypatch):
    configure(sandbox)

    def fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(audit.os, "fsync", fsync)
    text = "out_user_id,organization_id\n" + "".join(f"{u},demo-org\n" for u in pupils[:6])
    result = run("repayment-url", "--batch", "-", input=text)
    assert result.exit_code == 0, result.stderr
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
