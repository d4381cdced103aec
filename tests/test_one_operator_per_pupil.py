"""One operator at a time per pupil: two wxpay runs of one user on one machine never POST a
termination for the same pupil (a per-pupil claim); the pupil is queried again right before
the POST (a second machine may have terminated them); an attempt whose outcome never came
(a crash) is named by the next run and checked before anything else is done for that pupil."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from common import TERMINATE, terminations
from hostile import USER_PATH

from wxpay_cli.flows.termination import PUPIL_BUSY
from wxpay_cli.local.attempts import OpenAttempts, Pupil, default_folder
from wxpay_cli.local.audit import AuditLog


def wxpay(*args: str) -> subprocess.Popen:
    """wxpay in its own process (another operator's terminal), with this test's environment."""
    return subprocess.Popen([sys.executable, "-m", "wxpay_cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(condition, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.02)


def outcomes(**match) -> list[str]:
    return [r["outcome"] for r in AuditLog().records()
            if r["operation"] == "terminate" and all(r.get(k) == v for k, v in match.items())]


def test_a_second_run_sends_nothing_while_the_first_terminates_the_same_pupil(hostile, sandbox, run):
    sandbox.inject("delay", seconds=2.0, path_contains="terminate-contract")  # the first POST is in flight
    first = wxpay(*TERMINATE, "--yes", "--json")
    try:
        wait_for(lambda: terminations(sandbox))
        second = run(*TERMINATE, "--yes", "--json", expect=1)
    finally:
        out, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    assert json.loads(out)["contract_state"] == "TERMINATED"
    assert second.error["code"] == "PUPIL_BUSY", second.stderr
    assert "another wxpay run" in second.error["message"]
    assert "no outcome" not in second.stderr  # the first run is at work, not gone: nothing left open
    assert len(terminations(sandbox)) == 1
    assert outcomes(out_user_id="demo").count("attempted") == 1


def test_two_batch_runs_over_one_roster_post_each_pupil_once(hostile, sandbox, pupils, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("out_user_id,organization_id\n" + "".join(f"{p},demo-org\n" for p in pupils[:8]))
    sandbox.inject("delay", seconds=0.2, path_contains="terminate-contract", times=16)
    runs = [wxpay("contract", "terminate", "--batch", str(roster), "--yes", "--concurrency", "4") for _ in range(2)]
    results = [process.communicate(timeout=60) for process in runs]
    posted = [r.path for r in terminations(sandbox)]
    assert len(posted) == len(set(posted)) == 8, posted
    assert outcomes().count("attempted") == 8
    assert outcomes().count("succeeded") == 8
    lines = [json.loads(line) for out, _ in results for line in out.splitlines()]
    done = [line for line in lines if line.get("outcome") == "TERMINATED" and "error" not in line]
    skipped = [line.get("outcome") or line["error"]["code"] for line in lines if line not in done]
    assert len(done) == 8 and len(skipped) == 8, lines
    assert set(skipped) <= {"PUPIL_BUSY", "ALREADY_TERMINATED"}, skipped


def test_a_pupil_terminated_elsewhere_after_the_lookup_is_not_sent_again(hostile, sandbox, run):
    """Another machine (no local claim can see it) terminated the pupil between this run's
    lookup and its POST: the query right before the POST sees it, and nothing is left to do."""
    hostile.rewrite(USER_PATH, lambda data: data)
    hostile.rewrite(USER_PATH, lambda data: {**data, "contract_state": "TERMINATED"})
    result = run(*TERMINATE, "--yes", "--json", expect=0)
    assert (result.json["outcome"], result.json["contract_state"]) == ("ALREADY_TERMINATED", "TERMINATED")
    assert "since the lookup" in result.json["note"]
    assert terminations(sandbox) == []
    assert outcomes(out_user_id="demo") == ["already_terminated"]


def test_the_pupil_is_queried_again_right_before_the_post(hostile, sandbox, run):
    run(*TERMINATE, "--yes", expect=0)
    asked = [(r.method, "terminate" if r.path.endswith("terminate-contract") else "user") for r in sandbox.received]
    assert asked == [("GET", "user"), ("GET", "user"), ("POST", "terminate"), ("GET", "user")], asked


def test_a_run_killed_during_the_post_leaves_it_open_and_the_next_run_checks_it_first(hostile, sandbox, run):
    sandbox.inject("delay", seconds=0.5, path_contains="terminate-contract")
    first = wxpay(*TERMINATE, "--yes")
    wait_for(lambda: terminations(sandbox))
    first.send_signal(signal.SIGKILL)  # a power cut: nothing closes the attempt
    first.communicate(timeout=30)
    wait_for(lambda: terminations(sandbox)[0].status == 204)  # WeChat did terminate it
    assert outcomes(out_user_id="demo") == ["attempted"]

    elsewhere = run("contract", "terminate", "--user", "demo-2", "--org", "demo-org", "--yes", expect=0)
    assert "demo" in elsewhere.stderr and "no outcome" in elsewhere.stderr, elsewhere.stderr

    again = run(*TERMINATE, "--yes", expect=0)
    assert "TERMINATED" in again.stderr and "earlier run" in again.stderr, again.stderr
    assert outcomes(out_user_id="demo") == ["attempted", "succeeded", "already_terminated"]
    assert len(terminations(sandbox)) == 2  # demo once, demo-2 once
    assert OpenAttempts(default_folder()).left_open() == []


def test_an_attempt_left_open_on_a_pupil_still_contracted_is_checked_then_the_run_goes_on(hostile, sandbox, run):
    user = sandbox.state.users[("demo-org", "demo")]
    claim = OpenAttempts(default_folder()).claim(Pupil(sandbox.keys.mchid, "demo-org", user.user_id))
    claim.begin({"time": "2026-12-05T08:00:00+08:00", "organization_id": "demo-org", "out_user_id": "demo",
                 "user_id": user.user_id})
    claim.release()  # the run that wrote it is gone
    result = run(*TERMINATE, "--yes", expect=0)
    assert "earlier run" in result.stderr and "CONTRACTED" in result.stderr, result.stderr
    assert outcomes(out_user_id="demo") == ["checked", "attempted", "succeeded"]
    assert len(terminations(sandbox)) == 1
    assert not os.listdir(default_folder())


def leave_open(sandbox, out_user_id: str | None = "demo") -> str:
    """An attempt on demo left without an outcome by a run that is gone; returns demo's user_id."""
    user = sandbox.state.users[("demo-org", "demo")]
    claim = OpenAttempts(default_folder()).claim(Pupil(sandbox.keys.mchid, "demo-org", user.user_id))
    claim.begin({"time": "2026-12-05T08:00:00+08:00", "organization_id": "demo-org", "out_user_id": out_user_id,
                 "user_id": user.user_id, "mchid": sandbox.keys.mchid})
    claim.release()
    return user.user_id


def test_an_attempt_left_open_stays_open_until_a_run_by_user_can_check_it(hostile, sandbox, run):
    """By --user-id nothing can be queried: the refusal must not forget the open attempt."""
    user_id = leave_open(sandbox, out_user_id=None)
    by_id = ("contract", "terminate", "--user-id", user_id, "--org", "demo-org", "--yes")
    for _ in range(2):
        result = run(*by_id, expect=1)
        assert "cannot be checked by user_id" in result.stderr, result.stderr
    assert terminations(sandbox) == []
    run(*TERMINATE, "--yes", expect=0)  # by --user: checked (still CONTRACTED), then terminated
    assert outcomes(out_user_id="demo") == ["checked", "attempted", "succeeded"]
    assert len(terminations(sandbox)) == 1


def test_an_attempt_left_open_is_settled_by_a_query_made_after_the_claim(hostile, sandbox, run):
    """The lookup may be older than the crashed run's POST: the settling query comes after the claim."""
    leave_open(sandbox)
    sandbox.state.users[("demo-org", "demo")].contract_state = "TERMINATED"  # that POST did land
    hostile.rewrite(USER_PATH, lambda data: {**data, "contract_state": "CONTRACTED"})  # an old lookup
    result = run(*TERMINATE, "--yes", expect=(0, 1))
    assert "did happen" in result.stderr, result.stderr
    assert outcomes(out_user_id="demo")[0] == "succeeded"
    assert terminations(sandbox) == []


def test_claims_are_the_users_whatever_audit_log_a_profile_names(hostile, sandbox, configure, run, tmp_path):
    """Two profiles of one merchant with their own audit logs still see each other's claims."""
    sandbox.inject("delay", seconds=2.0, path_contains="terminate-contract")
    configure(sandbox, audit_log=str(tmp_path / "team-a" / "audit.jsonl"))
    first = wxpay(*TERMINATE, "--yes")
    try:
        wait_for(lambda: terminations(sandbox))
        configure(sandbox, audit_log=str(tmp_path / "team-b" / "audit.jsonl"))
        second = run(*TERMINATE, "--yes", "--json", expect=1)
    finally:
        first.communicate(timeout=30)
    assert second.error["code"] == "PUPIL_BUSY"
    assert len(terminations(sandbox)) == 1


def test_a_pupil_no_longer_contracted_at_the_query_before_the_post_is_not_sent(hostile, sandbox, run):
    hostile.rewrite(USER_PATH, lambda data: data)
    hostile.rewrite(USER_PATH, lambda data: {**data, "contract_state": "NOT_CONTRACTED"})
    result = run(*TERMINATE, "--yes", "--json", expect=1)
    assert result.error["code"] == "NOT_CONTRACTED", result.error
    assert terminations(sandbox) == []


def test_a_failed_query_before_the_post_sends_nothing_and_is_recorded(hostile, sandbox, run):
    sandbox.inject("status", status=404, code="RESOURCE_NOT_EXISTS", path_contains="out-user-id", skip=1)
    result = run(*TERMINATE, "--yes", "--json", expect=1)
    assert result.error["code"] == "RESOURCE_NOT_EXISTS", result.error
    assert terminations(sandbox) == []
    assert outcomes(out_user_id="demo") == ["refused"]
    assert not os.listdir(default_folder())  # nothing left open: nothing was sent


def test_a_termination_that_never_left_leaves_nothing_open(sandbox, configure, run):
    from common import closed_port

    configure(sandbox, base_url=f"http://127.0.0.1:{closed_port()}")
    run("contract", "terminate", "--user-id", "wxu_1", "--org", "demo-org", "--yes", expect=4)
    assert outcomes() == ["attempted", "not_sent"]
    assert OpenAttempts(default_folder()).left_open() == []


def test_an_attempt_that_cannot_be_recorded_sends_nothing(hostile, sandbox, run, monkeypatch):
    """The attempt file takes the attempt before the POST (a full disk here): otherwise nothing is sent."""
    import errno

    from wxpay_cli.local import attempts

    def full(self, record):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(attempts.Claim, "begin", full)
    result = run(*TERMINATE, "--yes", expect=3)
    assert "nothing was sent" in result.stderr, result.stderr
    assert terminations(sandbox) == []


def test_an_attempt_file_that_cannot_be_read_is_still_named_as_left_open(hostile, sandbox, run):
    folder = default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0123456789abcdef0123456789abcdef01234567.json").write_bytes(b"\x00half a record")
    result = run("contract", "terminate", "--user", "demo-2", "--org", "demo-org", "--yes", expect=0)
    assert "no outcome" in result.stderr, result.stderr


def test_another_run_looking_for_left_open_attempts_does_not_make_the_pupil_busy(tmp_path):
    """Every termination run looks through the open attempts, holding each file's lock for a
    moment; a run claiming that pupil at the same moment must wait that moment out, not
    refuse the pupil as busy (PUPIL_BUSY) when nobody is at work on them."""
    import threading

    from wxpay_cli.local import locks

    attempts = OpenAttempts(tmp_path)
    pupil = Pupil("1900000109", "demo-org", "oUser1")
    first = attempts.claim(pupil)
    first.begin({"time": "2026-12-05T10:00:00+08:00", "out_user_id": "demo"})
    first.release()  # a crashed run's attempt: left open, nobody holds it
    path = tmp_path / pupil.file_name()
    scanning = os.open(path, os.O_RDWR)
    assert locks.try_hold(scanning)  # another run's scan, reading the file under its lock
    threading.Timer(0.05, lambda: (locks.release(scanning), os.close(scanning))).start()
    claim = attempts.claim(pupil)
    assert claim is not None, "a moment's hold by a scan made the pupil busy"
    assert claim.left_open["out_user_id"] == "demo"
    claim.release()

# -- faults a server cannot make: the attempt file's disk, the lock, the folder ---------------


def in_claims_folder(fd: int) -> bool:
    try:
        return "open-terminations" in os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False


needs_proc_fd = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds the files by /proc/self/fd")


@needs_proc_fd
def test_an_attempt_that_cannot_be_made_durable_sends_nothing_and_writes_no_attempted_line(
        hostile, sandbox, run, monkeypatch):
    """The attempt file is on disk (fsynced) before the audit log's `attempted` line and the POST:
    a disk whose fsync fails there stops it all, or a crash could leave a POST nobody names."""
    real = os.fsync

    def fsync(fd):
        if in_claims_folder(fd):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    result = run(*TERMINATE, "--yes", expect=3)
    assert "cannot record the attempt" in result.stderr and os.strerror(errno.EIO) in result.stderr, result.stderr
    assert terminations(sandbox) == []
    assert "attempted" not in outcomes(out_user_id="demo")


@needs_proc_fd
def test_a_lock_that_fails_is_said_as_such_not_as_another_run_at_work(hostile, sandbox, run, monkeypatch):
    """A file system without locks (ENOLCK) is not "another wxpay run is terminating": the
    operator would wait for a run that does not exist."""
    real = fcntl.flock

    def flock(fd, operation):
        if in_claims_folder(fd) and operation & fcntl.LOCK_EX:
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))
        return real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    result = run(*TERMINATE, "--yes", "--json", expect=3)
    assert result.error["code"] != PUPIL_BUSY and "another wxpay run" not in result.error["message"], result.error
    assert os.strerror(errno.ENOLCK) in result.error["message"], result.error
    assert terminations(sandbox) == []


def test_a_claims_folder_that_cannot_be_made_is_a_local_state_error(hostile, sandbox, run):
    folder = default_folder()
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("")  # a file where the folder belongs
    result = run(*TERMINATE, "--yes", "--json", expect=3)
    assert result.error["code"] == "AUDIT_LOG_ERROR", result.error
    assert str(folder) in result.error["message"] and "claim the pupil" in result.error["message"], result.error
    assert terminations(sandbox) == []


def test_a_claim_released_and_removed_between_open_and_lock_is_taken_on_the_new_file(sandbox, monkeypatch):
    """Run B holds the claim; run A opens the file; B finishes (releases, removes the file); A then
    locks the removed file. A must open the pupil's file again: otherwise A and a third run C, which
    creates a new file, would both hold the pupil."""
    from wxpay_cli.local import attempts

    pupil = Pupil(sandbox.keys.mchid, "demo-org", "wxu_between")
    folder = OpenAttempts(default_folder())
    b = folder.claim(pupil)
    real = attempts.locks.try_hold
    calls = []

    def try_hold(fd):
        calls.append(fd)
        if len(calls) == 1:
            b.release()  # B's outcome is known: its file goes, after A opened it
        return real(fd)

    monkeypatch.setattr(attempts.locks, "try_hold", try_hold)
    a = folder.claim(pupil)
    monkeypatch.setattr(attempts.locks, "try_hold", real)
    assert a is not None
    try:
        assert folder.claim(pupil) is None  # C sees A's claim
    finally:
        a.release()


def test_attempts_left_open_are_named_oldest_first(hostile, sandbox, run):
    folder = OpenAttempts(default_folder())
    pupils = [Pupil(sandbox.keys.mchid, "demo-org", f"wxu_left_{index}") for index in range(3)]
    # the oldest gets the file name that sorts last, so neither name order nor its reverse is time order
    by_name = sorted(pupils, key=Pupil.file_name, reverse=True)
    times = ["2026-12-05T08:00:00+08:00", "2026-12-05T09:00:00+08:00", "2026-12-04T10:00:00+08:00"]
    for pupil, begun in zip(by_name, times, strict=True):
        claim = folder.claim(pupil)
        claim.begin({"time": begun, "organization_id": "demo-org", "out_user_id": pupil.user_id,
                     "user_id": pupil.user_id, "mchid": sandbox.keys.mchid})
        claim.release()
    result = run("contract", "terminate", "--user", "demo-2", "--org", "demo-org", "--yes", expect=0)
    named = [line.split("user_id ")[1].split(")")[0] for line in result.stderr.splitlines() if "no outcome" in line]
    expected = [pupil.user_id for begun, pupil in sorted(zip(times, by_name, strict=True))]
    assert named == expected, result.stderr


def test_ctrl_c_while_the_attempted_line_is_written_leaves_nothing_open(hostile, sandbox, run, monkeypatch):
    """Ctrl-C during the `attempted` line: nothing was sent, so the next run has nothing to check."""
    real = AuditLog.append

    def append(self, **fields):
        real(self, **fields)
        if fields.get("outcome") == "attempted":
            raise KeyboardInterrupt  # the line is on disk, the POST not sent

    monkeypatch.setattr(AuditLog, "append", append)
    result = run(*TERMINATE, "--yes")
    assert result.exit_code == 130 and "nothing was sent" in result.stderr, result.stderr
    monkeypatch.setattr(AuditLog, "append", real)
    assert terminations(sandbox) == []
    assert OpenAttempts(default_folder()).left_open() == []
    later = run("contract", "terminate", "--user", "demo-2", "--org", "demo-org", "--yes", expect=0)
    assert "no outcome" not in later.stderr and "earlier run" not in later.stderr, later.stderr


def test_an_outcome_confirmed_by_the_requery_leaves_nothing_open(hostile, sandbox, run):
    sandbox.inject("bad_signature", path_contains="terminate-contract")  # terminated, its answer unverifiable
    result = run(*TERMINATE, "--yes", "--json", expect=0)
    assert "confirmed by re-query" in result.json["note"]
    assert OpenAttempts(default_folder()).left_open() == []
    later = run("contract", "terminate", "--user", "demo-2", "--org", "demo-org", "--yes", expect=0)
    assert "no outcome" not in later.stderr, later.stderr


def test_a_batch_settles_an_attempt_left_open_as_single_mode_does(hostile, sandbox, run):
    leave_open(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--yes", input="out_user_id,organization_id\ndemo,demo-org\n",
                 expect=0)
    assert "earlier run" in result.stderr and "CONTRACTED" in result.stderr, result.stderr
    assert outcomes(out_user_id="demo") == ["checked", "attempted", "succeeded"]
    assert len(terminations(sandbox)) == 1
    assert OpenAttempts(default_folder()).left_open() == []


def test_a_batch_records_an_attempt_left_open_that_did_happen_as_succeeded(hostile, sandbox, run):
    leave_open(sandbox)
    sandbox.state.users[("demo-org", "demo")].contract_state = "TERMINATED"  # that POST did land
    result = run("contract", "terminate", "--batch", "-", "--yes", input="out_user_id,organization_id\ndemo,demo-org\n",
                 expect=0)
    assert "did happen" in result.stderr, result.stderr
    assert outcomes(out_user_id="demo")[0] == "succeeded"
    assert terminations(sandbox) == []
    assert OpenAttempts(default_folder()).left_open() == []
