"""SIGTERM (timeout, systemd, docker stop), SIGHUP (an ssh connection lost) and SIGQUIT stop
wxpay the way Ctrl-C does: what is done is written, a termination in flight is recorded,
and the exit code is 128 + the signal's number."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest
from batchrows import csv_rows, lines
from terminal import first_line, start_batch, wxpay_script

from wxpay_cli.local.audit import AuditLog

SIGNALS = [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGQUIT, 131)]
TERMINATE = ("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")


@pytest.mark.parametrize(("sig", "code"), SIGNALS, ids=["SIGTERM", "SIGHUP", "SIGQUIT"])
def test_a_signal_in_a_batch_writes_what_is_done_and_the_summary(sandbox, configure, pupils, sig, code):
    configure(sandbox)
    for name in pupils[2:]:
        sandbox.inject("delay", seconds=0.3, path_contains=f"/{name}")
    process = subprocess.Popen([wxpay_script(), "user", "show", "--batch", "-", "--concurrency", "1"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=os.environ.copy())
    process.stdin.write(csv_rows(pupils))
    process.stdin.close()
    process.stdin = None
    first = first_line(process)
    process.send_signal(sig)
    # Read the rest through the same buffered file: communicate() would read the pipe underneath
    # it and lose lines already buffered there.
    rest, err = process.stdout.read(), process.stderr.read()
    process.wait(timeout=20)
    assert process.returncode == code, err
    out = lines(first + rest)
    assert 1 <= len(out) < len(pupils) and [r["out_user_id"] for r in out] == pupils[:len(out)]
    assert "batch:" in err and "Traceback" not in err, err


def held_batch(hostile, pupils, held: threading.Event) -> subprocess.Popen:
    """A `user show` batch whose first row's answer waits for `held`; returned once that row is in flight."""
    hostile.hold(f"/{pupils[0]}", until=held, limit=30)
    process = start_batch(["user", "show", "--batch", "-", "--concurrency", "1"], csv_rows(pupils[:3]))
    deadline = time.monotonic() + 30
    while not any(r.path.endswith(f"/{pupils[0]}") for r in hostile.sandbox.received):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    return process


def test_a_batch_exits_for_the_first_signal_it_got(hostile, pupils):
    """SIGTERM, then Ctrl-C while the row in flight finishes: the exit status is SIGTERM's (143)."""
    held = threading.Event()
    process = held_batch(hostile, pupils, held)
    try:
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
    finally:
        held.set()
    out, err = process.communicate(timeout=20)
    assert process.returncode == 143, err
    first, *rest = lines(out)
    assert first["out_user_id"] == pupils[0] and "error" not in first  # the row in flight finished
    assert all(r["error"]["code"] == "NOT_STARTED" for r in rest) and "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])  # SIGQUIT's own end dumps core
def test_the_same_signal_twice_stops_a_batch_at_once(hostile, pupils, sig):
    """The row in flight is not waited for: the second signal ends wxpay as that signal does."""
    held = threading.Event()
    process = held_batch(hostile, pupils, held)
    try:
        process.send_signal(sig)
        time.sleep(0.3)
        process.send_signal(sig)
        process.wait(timeout=10)
    finally:
        held.set()
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=20)
    assert process.returncode == -sig


@pytest.mark.parametrize(("sig", "code"), SIGNALS[1:], ids=["SIGHUP", "SIGQUIT"])
def test_a_signal_during_the_termination_post_is_recorded_then_exits(sandbox, configure, sig, code):
    configure(sandbox)
    sandbox.inject("slow_answer", seconds=5.0, path_contains="terminate-contract")
    process = subprocess.Popen([wxpay_script(), *TERMINATE], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 30
    while not any(r.method == "POST" for r in sandbox.received):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert "may or may not have happened" in err and "Traceback" not in err
    assert [line["outcome"] for line in AuditLog().records()] == ["attempted", "unknown"]
