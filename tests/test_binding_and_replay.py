"""Each answer belongs to its request: a signed answer about another pupil or contract is
refused, and an answer seen before (in this run, or by another wxpay process) is a replay.
(The sandbox's own replay check on requests: test_sandbox.py.)"""

from __future__ import annotations

import json

import pytest
from common import no_traceback, refused, terminations
from hostile import BODY, KEY_ID, LINK_PATH, NOW, USER_PATH, answer_headers, verifier_at

from wxpay_cli.errors import ExitStatus, VerificationError
from wxpay_cli.wire import signing
from wxpay_cli.wire.signing import VerificationKey, Verifier

# -- an answer is about what was asked ---------------------------------------------------


@pytest.mark.parametrize("field", ["out_user_id", "organization_id"])
def test_a_signed_record_of_another_pupil_is_refused(hostile, run, field):
    hostile.rewrite(USER_PATH, lambda d: {**d, field: "someone-else"})
    result = run("user", "show", "--user", "demo", "--org", "demo-org")
    refused(result, ExitStatus.VERIFICATION, field)
    assert "someone-else" not in result.stdout


def test_a_termination_never_reaches_another_pupil(sandbox, hostile, run):
    other = sandbox.seed_user("demo-org", "other-pupil")
    hostile.rewrite(USER_PATH, lambda d: {**d, "out_user_id": other.out_user_id, "user_id": other.user_id})
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")
    refused(result, ExitStatus.VERIFICATION, "out_user_id")
    assert terminations(sandbox) == []
    assert other.contract_state == "CONTRACTED"


def test_a_contract_answer_for_another_contract_is_refused(sandbox, hostile, run):
    demo = sandbox.state.users[("demo-org", "demo")]
    hostile.rewrite("/v3/offlineface/contracts/", lambda d: {**d, "contract_id": "ct_someone_else"})
    result = run("contract", "show", demo.contract_id)
    refused(result, ExitStatus.VERIFICATION, "contract_id")


# -- an answer seen before is a replay, within a run ----------------------------------------


def test_a_nonce_seen_before_is_a_replay(sandbox_keys):
    verifier = verifier_at(sandbox_keys, NOW)
    answer = answer_headers(sandbox_keys)
    verifier.verify(answer, BODY)
    with pytest.raises(VerificationError, match="replay"):
        verifier.verify(answer, BODY)
    verifier.verify(answer_headers(sandbox_keys, nonce="m" * 32), BODY)  # another nonce is another answer


def test_a_replay_is_refused_for_as_long_as_its_timestamp_passes(sandbox_keys):
    clock = [NOW - 300.0]  # first seen at the earliest moment its timestamp passes
    verifier = Verifier([VerificationKey(KEY_ID, sandbox_keys.wechat_key.public_key(), "public_key")],
                        clock=lambda: clock[0])
    answer = answer_headers(sandbox_keys)
    verifier.verify(answer, BODY)
    clock[0] = NOW + 300.0  # the last moment the same timestamp passes: 600 s later
    verifier.verify(answer_headers(sandbox_keys, nonce="other" * 6), BODY)  # forgetting old nonces happens here
    with pytest.raises(VerificationError, match="replay"):
        verifier.verify(answer, BODY)


def test_a_failed_answer_does_not_burn_its_nonce(sandbox_keys):
    verifier = verifier_at(sandbox_keys, NOW)
    tampered = answer_headers(sandbox_keys)
    with pytest.raises(VerificationError, match="bad signature"):
        verifier.verify(tampered, BODY + b" ")
    verifier.verify(tampered, BODY)


def test_a_replayed_answer_fails_its_row_and_never_carries_another_rows_link(sandbox, hostile, run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\ndemo,demo-org\ndemo-2,demo-org\n")
    hostile.replay(LINK_PATH)  # the second answer is the first one, byte for byte
    result = run("repayment-url", "--batch", str(rows), "--concurrency", "1")
    no_traceback(result)
    assert result.exit_code == ExitStatus.VERIFICATION
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    first_link = lines[0]["repayment_url"]
    for line in lines[1:]:
        assert "repayment_url" not in line and first_link not in json.dumps(line)
    assert lines[1]["out_user_id"] == "demo-2" and lines[1]["error"]["code"] == "VERIFICATION_FAILED"
    assert "replay" in result.stderr


def test_the_replay_memory_refuses_every_nonce_of_a_long_batch_and_stays_small():
    """A 100,000-row batch arrives within the 600 s nonces are kept: each must cost bytes, not a dict entry."""
    import tracemalloc

    memory = signing.NonceMemory(keep=600)
    count = 20_000
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for index in range(count):  # each nonce a fresh string, as from an answer's headers
        assert memory.add(f"{index:032d}", NOW + index / 100)  # 200 s for the lot, well within the 600 s kept
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(memory) == count
    assert grown < 40 * count, f"{grown / count:.0f} bytes a nonce"
    last = NOW + count / 100
    assert not any(memory.add(f"{index:032d}", last) for index in range(0, count, 97))  # every one still a replay


def test_the_replay_memory_forgets_a_nonce_only_after_it_is_kept():
    memory = signing.NonceMemory(keep=600)
    assert memory.add("a" * 32, NOW)
    assert not memory.add("a" * 32, NOW + 600)  # exactly `keep` later: still a replay
    assert memory.add("b" * 32, NOW + 601 + 600 / memory.SLICES)  # the old slice goes here
    assert len(memory) == 1
    assert memory.add("a" * 32, NOW + 700 + 600 / memory.SLICES)  # forgotten: a replay would fail its timestamp


def test_a_nonce_seen_late_in_a_slice_is_kept_for_its_whole_time():
    """The memory keeps time per slice (keep / SLICES = 75 s): a slice goes by its newest nonce,
    not its first, or a nonce seen late in it would be forgotten up to 75 s early."""
    memory = signing.NonceMemory(keep=600)
    late = NOW + 600 / memory.SLICES - 1  # in the slice that NOW started
    assert memory.add("first" * 6, NOW)
    assert memory.add("late" * 8, late)
    assert not memory.add("late" * 8, late + 600)  # `keep` after it was seen: still a replay


# -- and across runs (the daily job runs one pupil per process) ------------------------------


def test_a_link_replayed_into_the_next_run_is_refused(sandbox, hostile, run):
    """The daily job runs one pupil per process: a replaying proxy must not hand the first
    pupil's signed link answer to the next run, asked for another pupil."""
    first = run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    link = first.json["repayment_url"]
    hostile.replay(LINK_PATH)
    second = run("repayment-url", "--user", "demo-2", "--org", "demo-org", "--json")
    no_traceback(second)
    assert link not in second.stdout
    assert second.exit_code == ExitStatus.VERIFICATION, second.stdout + second.stderr
    assert "replay" in second.stderr


def test_seen_nonces_are_shared_between_processes_and_pruned(tmp_path, monkeypatch):
    from wxpay_cli.local import nonces

    path = tmp_path / "state" / "seen-nonces"
    first, second = nonces.SeenNonces(path, keep=600), nonces.SeenNonces(path, keep=600)
    assert not first.seen("n1", 1000.0)
    assert second.seen("n1", 1001.0)  # another process saw it
    assert not second.seen("n2", 1002.0) and first.seen("n2", 1003.0)
    assert not first.seen("n1", 1700.0)  # older than keep: forgotten
    monkeypatch.setattr(nonces, "PRUNE_AT", 0)  # the file is pruned (replaced) at once
    assert not first.seen("n3", 1701.0)
    first._pruned_size = 0  # and again at the next append
    assert "n2" not in path.read_text() and "n3" in path.read_text()
    assert second.seen("n3", 1702.0)  # reads the replaced file from its start
    assert not second.seen("n4", 1703.0) and first.seen("n4", 1704.0)


def test_a_pruned_nonce_file_is_read_from_its_start_even_once_it_outgrew_the_old_offset(tmp_path, monkeypatch):
    """A pruning gives the file a new generation: another run reads it from the start, however
    long it has grown since (a new file can get the old one's inode number on Linux)."""
    from wxpay_cli.local import nonces

    path = tmp_path / "state" / "seen-nonces"
    first, second = nonces.SeenNonces(path, keep=10), nonces.SeenNonces(path, keep=10)
    for index in range(30):
        assert not first.seen(f"old-{index}", 1000.0)
    assert not second.seen("second", 1000.5)  # has read all of it
    monkeypatch.setattr(nonces, "PRUNE_AT", 0)
    assert not first.seen("fresh-0", 1020.0)  # the old ones are dropped: the file is replaced
    monkeypatch.setattr(nonces, "PRUNE_AT", 1 << 30)
    while path.stat().st_size <= 30 * 40:
        assert not first.seen(f"fresh-{path.stat().st_size}", 1020.0)
    assert second.seen("fresh-0", 1021.0)


def test_a_run_waits_while_another_prunes_the_shared_nonce_file(tmp_path, monkeypatch):
    """Pruning replaces the shared file: another run reading or adding to it meanwhile would
    write into the file being replaced, and the nonce it accepted would be lost to later runs."""
    import os
    import threading

    from wxpay_cli.local import nonces

    path = tmp_path / "state" / "seen-nonces"
    monkeypatch.setattr(nonces, "PRUNE_AT", 0)  # every check prunes (replaces) the file
    inside, release = threading.Event(), threading.Event()
    real_replace = os.replace

    def replace(*args):
        if threading.current_thread().name == "pruning-run":  # held in the middle of its pruning
            inside.set()
            release.wait(10)
        return real_replace(*args)

    monkeypatch.setattr(nonces.os, "replace", replace)
    pruning = threading.Thread(target=nonces.SeenNonces(path, keep=600).seen, args=("n1", 1000.0),
                               name="pruning-run")
    other = threading.Thread(target=nonces.SeenNonces(path, keep=600).seen, args=("n2", 1001.0))
    pruning.start()
    assert inside.wait(10)
    other.start()
    other.join(0.3)
    waited = other.is_alive()
    release.set()
    pruning.join(10)
    other.join(10)
    assert waited, "another run used the nonce file while it was being replaced"
    later = nonces.SeenNonces(path, keep=600)
    assert later.seen("n1", 1002.0) and later.seen("n2", 1002.0)  # neither run's nonce was lost


def test_an_unusable_nonce_file_leaves_the_check_to_this_process(tmp_path, hostile, run, monkeypatch):
    """A state folder that cannot be written must not break verification; replays within
    the run are still refused (the Verifier's own memory)."""
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))  # the folder cannot exist
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\ndemo,demo-org\ndemo-2,demo-org\n")
    hostile.replay(LINK_PATH)
    result = run("repayment-url", "--batch", str(rows), "--concurrency", "1")
    no_traceback(result)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "repayment_url" in lines[0] and lines[1]["error"]["code"] == "VERIFICATION_FAILED", lines


def test_a_run_keeps_its_own_answers_nonces_once(tmp_path):
    """A long batch remembers each answer's nonce for 600 s: the Verifier keeps this run's,
    the shared file's memory only what other runs accepted (twice was ~20 bytes a row more)."""
    from wxpay_cli.local import nonces

    path = tmp_path / "state" / "seen-nonces"
    this_run, other_run = nonces.SeenNonces(path, keep=600), nonces.SeenNonces(path, keep=600)
    for index in range(500):
        assert not this_run.seen(f"own-{index}", 1000.0 + index / 100)
    assert not other_run.seen("theirs", 1006.0)
    assert this_run.seen("theirs", 1007.0)  # what another run accepted is refused here
    assert len(this_run._others) == 1  # and only that is held in this run's shared memory
