"""This machine's state files as a termination relies on them: the replay memory shared by
runs (`seen-nonces`) and the audit log. Whenever one cannot be used, wxpay says so once,
naming the reason, and a termination refuses before anything is looked up or sent (exit 3);
a lock held by another process is waited for only until the attempt's deadline; neither
file is followed through a symlink or opened when it is a FIFO; a replay memory over 16 MiB
is not read."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from common import LINK, TERMINATE, terminations

from wxpay_cli.local import nonces


@pytest.fixture
def state(tmp_path, sandbox, configure) -> Path:
    """A profile whose audit log lives elsewhere, so only the replay memory is at stake;
    returns the replay memory's path (not created yet)."""
    configure(sandbox, audit_log=str(tmp_path / "audit" / "audit.jsonl"))
    path = nonces.default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def replay_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:") and "replay" in line]


def unusable(run, sandbox, *words: str) -> None:
    """A link still comes, with one warning naming the reason; a termination refuses, nothing sent."""
    link = run(*LINK, "--json", expect=0)
    assert "repayment_url" in link.json
    warnings = replay_warnings(link.stderr)
    assert len(warnings) == 1, link.stderr
    for word in words:
        assert word in warnings[0], warnings
    before = len(sandbox.received)
    result = run(*TERMINATE, "--yes", expect=3)
    assert "replay" in result.stderr and all(word in result.stderr for word in words), result.stderr
    last = run(*TERMINATE, "--yes", "--json", expect=3).stderr.splitlines()[-1]  # after the warning line
    assert json.loads(last)["error"]["code"] == "REPLAY_MEMORY"
    assert len(sandbox.received) == before, "a termination looked up or sent something"
    assert terminations(sandbox) == []


def test_a_symlinked_replay_memory_is_not_followed(state, tmp_path, sandbox, run):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    state.symlink_to(elsewhere)
    unusable(run, sandbox, "symlink")
    assert elsewhere.read_text() == ""


def test_a_replay_memory_that_is_a_fifo_is_not_used(state, sandbox, run):
    os.mkfifo(state)
    unusable(run, sandbox, "not a regular file")


def test_a_replay_memory_that_is_a_folder_is_not_used(state, sandbox, run):
    state.mkdir()
    unusable(run, sandbox, str(state), "it is a folder")


def test_a_replay_memory_over_16_mib_is_refused_not_read(state, sandbox, run):
    with open(state, "wb") as handle:
        handle.truncate(17 << 20)  # sparse: reading it would take the whole 17 MiB
    unusable(run, sandbox, "16 MiB")
    assert state.stat().st_size == 17 << 20


def test_a_replay_memory_folder_that_cannot_be_written_is_said(tmp_path, sandbox, configure, run, monkeypatch):
    configure(sandbox, audit_log=str(tmp_path / "audit" / "audit.jsonl"))
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))
    unusable(run, sandbox, str(blocked))


def test_a_batch_says_it_once(state, sandbox, run, pupils, tmp_path):
    state.mkdir()
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\n" + "".join(f"{p},demo-org\n" for p in pupils[:5]))
    result = run("repayment-url", "--batch", str(rows), expect=0)
    assert len(replay_warnings(result.stderr)) == 1, result.stderr


def test_a_symlinked_state_folder_is_fine(tmp_path, sandbox, configure, run, monkeypatch):
    """Only the last path component must not be a symlink: a home on another disk is common."""
    configure(sandbox)
    real = tmp_path / "real-state"
    real.mkdir()
    (tmp_path / "linked-state").symlink_to(real)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "linked-state"))
    result = run(*TERMINATE, "--yes", expect=0)
    assert not replay_warnings(result.stderr), result.stderr
    assert (real / "wxpay" / "seen-nonces").stat().st_size > 0


def test_a_lock_held_elsewhere_is_waited_for_until_the_deadline_only(state, sandbox, configure, tmp_path):
    """Another process holding the lock must not hang wxpay: after the profile's timeout the
    memory counts as unusable (a link still comes, a termination refuses). In a subprocess,
    so that a hang fails this test instead of the whole run."""
    configure(sandbox, timeout=1, audit_log=str(tmp_path / "audit" / "audit.jsonl"))
    lock = os.open(state.with_name(state.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        def wxpay(*args):
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "wxpay_cli", *args], capture_output=True, text=True,
                                  timeout=30)
            return done, time.monotonic() - started

        link, took = wxpay(*LINK)
        assert link.returncode == 0, link.stderr
        assert "https://" in link.stdout
        assert len(replay_warnings(link.stderr)) == 1 and "lock" in link.stderr, link.stderr
        assert took < 8, took
        refused, took = wxpay(*TERMINATE, "--yes")
        assert refused.returncode == 3, refused.stderr
        assert terminations(sandbox) == []
        assert took < 8, took
    finally:
        os.close(lock)


def test_an_audit_log_that_is_a_symlink_is_not_followed(tmp_path, sandbox, configure, run):
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("")
    log = tmp_path / "audit.jsonl"
    log.symlink_to(target)
    configure(sandbox, audit_log=str(log))
    result = run(*TERMINATE, "--yes", expect=3)
    assert "audit log" in result.stderr and "symlink" in result.stderr, result.stderr
    assert sandbox.received == [] and target.read_text() == ""


def test_an_audit_log_that_is_a_fifo_is_not_used(tmp_path, sandbox, configure, run):
    log = tmp_path / "audit.jsonl"
    os.mkfifo(log)
    configure(sandbox, audit_log=str(log))
    result = run(*TERMINATE, "--yes", expect=3)
    assert "audit log" in result.stderr and "not a regular file" in result.stderr, result.stderr
    assert sandbox.received == []


def test_reading_an_audit_log_that_is_a_fifo_does_not_hang(tmp_path, sandbox, configure, run):
    log = tmp_path / "audit.jsonl"
    os.mkfifo(log)
    configure(sandbox, audit_log=str(log))
    result = run("audit", expect=3)
    assert "not a regular file" in result.stderr, result.stderr


def test_a_long_fast_batch_never_makes_its_own_replay_memory_unusable(tmp_path, monkeypatch):
    """The size cap is for a file read whole when opened, not for the file a run grows itself:
    with more nonces inside the window than half the cap, the memory used to switch itself off."""
    monkeypatch.setattr(nonces, "MAX_BYTES", 64 * 1024)
    monkeypatch.setattr(nonces, "PRUNE_AT", 16 * 1024)
    path = tmp_path / "seen-nonces"
    memory = nonces.SeenNonces(path, keep=600)
    for index in range(3000):  # about 170 KiB of lines inside the window
        assert not memory.seen(f"{index:032d}", 1000.0 + index / 10)
    assert memory.problem is None
    fresh = nonces.SeenNonces(path, keep=600)  # another run opening it reads it whole: over the cap, refused
    assert not fresh.seen("x" * 32, 1300.0) and fresh.problem and "16 MiB" in fresh.problem


def test_a_lock_held_briefly_elsewhere_is_waited_for(state, sandbox, run):
    """Another run appending its nonce holds the lock for a moment: this run waits for it (up to
    its deadline) instead of switching the shared memory off at once."""
    lock = os.open(state.with_name(state.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    letting_go = threading.Timer(0.3, os.close, (lock,))
    letting_go.start()
    try:
        result = run(*LINK, expect=0)
    finally:
        letting_go.join()
    assert not replay_warnings(result.stderr), result.stderr
    run(*TERMINATE, "--yes", expect=0)  # the memory is usable: a termination goes ahead


def test_the_replay_memory_is_read_under_its_lock(state, sandbox, hostile, run):
    """Another run has the lock and is adding the nonce of the answer it just accepted; a proxy
    replays that answer into this run meanwhile. This run reads the memory once the lock is its
    own, so it sees that nonce and refuses the replay; read before taking the lock, it would not."""
    run(*LINK, "--json", expect=0)  # the answer the proxy keeps
    header, accepted = state.read_bytes().splitlines(keepends=True)
    state.write_bytes(header)  # as it was before that run added its nonce
    lock = os.open(state.with_name(state.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    asked = len(sandbox.received)

    def other_run_adds_its_nonce():
        deadline = time.monotonic() + 10
        while len(sandbox.received) == asked and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # this run has the replayed answer and is checking its nonce
        with open(state, "ab") as memory:
            memory.write(accepted)
        os.close(lock)

    other = threading.Thread(target=other_run_adds_its_nonce)
    hostile.replay("/v3/offlineface/repayment-url")
    other.start()
    try:
        result = run("repayment-url", "--user", "demo-2", "--org", "demo-org", "--json")
    finally:
        other.join()
    assert result.exit_code == 5 and "replay" in result.stderr, result.stdout + result.stderr
    assert "repayment_url" not in result.stdout
