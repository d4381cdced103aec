"""How a batch run goes: at a capped rate with bounded read-ahead, failed rows fed back,
and the faults that stop it (verification, refused credentials, Ctrl-C, closed output): the
first in input order is named, and rows never started say NOT_STARTED."""

from __future__ import annotations

import json
import signal
import time

import pytest
from batchrows import csv_rows, lines
from terminal import first_line, start_batch

from wxpay_cli.flows import batch


def test_rate_caps_requests_per_second(sandbox, configure, run, pupils):
    configure(sandbox)
    started = time.monotonic()
    run("user", "show", "--batch", "-", "--rate", "20", "--concurrency", "8", input=csv_rows(pupils[:10]), expect=0)
    assert time.monotonic() - started >= 0.45  # 10 requests spaced 50 ms apart


def test_read_ahead_is_bounded(sandbox, configure, run):
    """Memory stays flat: a row is read only when few enough rows are in flight."""
    read = []

    def rows():
        for number in range(1, 201):
            read.append(number)
            yield batch.Row(number, {"n": str(number)})

    lead = []

    async def work(client, row):
        lead.append(len(read) - int(row.values["n"]))
        return {}

    summary = batch.run(rows(), work, make_client=NoClient, concurrency=4)
    assert summary.ok == 200
    assert max(lead) <= 4 * 4 + 1


def test_failed_rows_fed_back_rerun_only_the_failures(sandbox, configure, run, pupils):
    configure(sandbox)
    first = run("repayment-url", "--batch", "-", input=csv_rows(["p00", "late-1", "p01", "late-2"]))
    failures = "".join(line + "\n" for line in first.stdout.splitlines() if '"error"' in line)
    assert len(failures.splitlines()) == 2
    sandbox.seed_user("demo-org", "late-1")
    sandbox.seed_user("demo-org", "late-2")
    sent_before = len(sandbox.received)
    again = run("repayment-url", "--batch", "-", input=failures, expect=0)
    assert [r["out_user_id"] for r in lines(again.stdout)] == ["late-1", "late-2"]
    assert len(sandbox.received) - sent_before == 2


# -- faults that stop a run ----------------------------------------------------------------


def test_verification_failure_stops_the_run_and_names_the_row(sandbox, configure, run, pupils):
    configure(sandbox)
    sandbox.inject("bad_signature", path_contains="/p03")
    result = run("user", "show", "--batch", "-", "--concurrency", "1", input=csv_rows(pupils[:10]), expect=5)
    # the fourth pupil, on row 5 as Excel numbers it (the header is row 1)
    assert "stopped at row 5" in result.stderr and "failed verification" in result.stderr
    out = lines(result.stdout)
    assert [r["out_user_id"] for r in out[:4]] == pupils[:4]
    assert out[3]["error"]["code"] == "VERIFICATION_FAILED" and "user_name" not in out[3]
    # Rows already read but never started say so, so piping the errors back re-runs them.
    assert [r["out_user_id"] for r in out] == pupils[: len(out)]
    assert all(r["error"]["code"] == "NOT_STARTED" for r in out[4:])
    assert len(sandbox.received) == 4  # nothing after the bad row was sent


def test_credentials_wechat_refuses_stop_the_run_with_exit_3(sandbox, configure, run, pupils):
    configure(sandbox, serial_no="0123456789ABCDEF0123456789ABCDEF01234567")  # not the merchant's certificate
    result = run("user", "show", "--batch", "-", "--concurrency", "1", input=csv_rows(pupils), expect=3)
    assert "SIGN_ERROR" in result.stderr and "wxpay config check" in result.stderr
    assert "serial_no" in result.stderr  # WeChat's detail says which check failed
    assert "stopped at row 2" in result.stderr  # the first pupil, below the header
    assert len(sandbox.received) == 1  # not one refusal per row
    out = lines(result.stdout)
    assert out[0]["error"]["code"] == "SIGN_ERROR"
    assert all(r["error"]["code"] == "NOT_STARTED" for r in out[1:])


class NoClient:
    async def aclose(self):
        pass


@pytest.mark.parametrize("later_first", [True, False])
def test_the_first_fatal_row_in_input_order_is_named(later_first, capsys):
    """Rows 2 and 3 both fail verification, in either order in time: row 2 is named."""
    import asyncio

    from wxpay_cli.errors import VerificationError
    from wxpay_cli.flows import batch

    first_done, both_started, running = asyncio.Event(), asyncio.Event(), set()

    async def work(client, row):
        if row.number == 1:
            return {}
        running.add(row.number)  # both rows are in flight before either fails: a row not yet
        if len(running) == 2:  # started when the run stops is never started (and has no line)
            both_started.set()
        await both_started.wait()
        if (row.number == 2) == later_first:
            await first_done.wait()
        else:
            first_done.set()
            await asyncio.sleep(0)
        raise VerificationError(f"row {row.number} is bad")

    rows = [batch.Row(n, {"n": str(n)}) for n in (1, 2, 3)]
    summary = batch.run(rows, work, make_client=NoClient, concurrency=4)
    assert summary.fatal[0] == 2 and "row 2 is bad" in summary.fatal[1].message
    with pytest.raises(VerificationError) as raised:
        batch.finish(summary)
    assert raised.value.message == "stopped at row 2: row 2 is bad"
    assert [json.loads(line).get("error", {}).get("code") for line in capsys.readouterr().out.splitlines()] == [
        None, "VERIFICATION_FAILED", "VERIFICATION_FAILED"]


def test_halt_wakes_a_reader_waiting_for_room():
    """Output fails (stdout closed) while the reader waits for room in a full window:
    the reader thread ends instead of staying blocked for the rest of the process."""
    import threading

    from wxpay_cli.flows import batch

    read = []
    window_full = threading.Event()

    def rows():
        for number in range(1, 1000):
            read.append(number)
            if number == 5:  # rows 1-4 fill the window (concurrency 1 x 4): row 5 waits for room
                window_full.set()
            yield batch.Row(number, {"n": str(number)})

    async def work(client, row):
        return {}

    class ClosedStdout:
        def write(self, record):
            window_full.wait(timeout=10)
            raise BrokenPipeError

    summary = batch.run(rows(), work, make_client=NoClient, concurrency=1, writer=ClosedStdout())
    assert isinstance(summary.output_failed, BrokenPipeError)  # finish() raises it, after the summary line
    assert len(read) < 20
    readers = [t for t in threading.enumerate() if t.name == "wxpay-batch-reader"]
    for reader in readers:
        reader.join(timeout=10)
    assert not any(reader.is_alive() for reader in readers)


def test_not_started_rows_are_not_counted_as_failed(sandbox, configure, run, pupils):
    configure(sandbox)
    sandbox.inject("bad_signature", path_contains="/p02")
    result = run("user", "show", "--batch", "-", "--concurrency", "1", input=csv_rows(pupils), expect=5)
    out = lines(result.stdout)
    not_started = sum(1 for r in out if r.get("error", {}).get("code") == "NOT_STARTED")
    assert not_started >= 1
    assert "batch: 2 ok, 1 failed in" in result.stderr
    assert f"{not_started} rows were not started" in result.stderr or f"{not_started} row was not started" in \
        result.stderr


def test_rows_waiting_for_an_earlier_row_do_not_go_on_once_the_run_stops(capsys):
    """Rows 2 and 3 have found their pupils and wait for row 1, which then hits a fault
    that stops the run: they never reach their irreversible step, and say NOT_STARTED."""
    import asyncio

    from wxpay_cli.errors import ConfigError
    from wxpay_cli.flows import batch

    claims = batch.Claims()
    waiting = asyncio.Event()
    sent = []

    async def work(client, row):
        if row.number == 1:
            await waiting.wait()
            raise ConfigError("stop")
        if row.number == 3:
            waiting.set()
        await claims.claim(row.number, row.values["n"])
        sent.append(row.number)
        return {}

    rows = [batch.Row(n, {"n": str(n)}) for n in (1, 2, 3)]
    summary = batch.run(rows, work, make_client=NoClient, concurrency=4, claims=claims)
    assert sent == [] and summary.fatal[0] == 1
    codes = [json.loads(line)["error"]["code"] for line in capsys.readouterr().out.splitlines()]
    assert codes == ["CONFIG_ERROR", "NOT_STARTED", "NOT_STARTED"]
    assert summary.not_started == 2 and summary.failed == 1


def test_ctrl_c_writes_what_is_done_and_exits_130(sandbox, configure, pupils):
    configure(sandbox)
    for name in pupils[2:]:
        sandbox.inject("delay", seconds=0.3, path_contains=f"/{name}")
    proc = start_batch(["user", "show", "--batch", "-", "--concurrency", "1"], csv_rows(pupils))
    first = first_line(proc)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    out = lines(first + rest)
    assert 1 <= len(out) < len(pupils)
    assert [r["out_user_id"] for r in out] == pupils[: len(out)]  # in order, nothing read is lost
    done = [r for r in out if "error" not in r]
    not_started = [r for r in out if "error" in r]
    assert done and out[: len(done)] == done  # finished rows first, then the ones never started
    assert all(r["error"]["code"] == "NOT_STARTED" for r in not_started)
    assert "interrupted" in err and "batch:" in err and "Traceback" not in err


def _stderr_until(proc, text: str, limit: float = 20.0) -> str:
    """What a running wxpay has written to stderr, up to and including `text`."""
    import os
    import select

    seen, deadline = b"", time.monotonic() + limit
    while text.encode() not in seen:
        assert time.monotonic() < deadline and proc.poll() is None, seen.decode(errors="replace")
        if select.select([proc.stderr], [], [], 0.05)[0]:
            seen += os.read(proc.stderr.fileno(), 65536)
    return seen.decode()


def test_ctrl_c_ends_a_row_in_flight_with_its_attempt_not_its_retries(sandbox, hostile, pupils):
    """Ctrl-C while a row's request is in flight: its 503 ends the row, no retry is sent."""
    sandbox.inject("delay", seconds=1.0, path_contains="/demo")  # the answer comes after the Ctrl-C
    for _ in range(3):
        hostile.raw("/demo", 503, b'{"code": "SYSTEM_ERROR", "message": "busy"}', {"Retry-After": "0"})
    proc = start_batch(["user", "show", "--batch", "-", "--concurrency", "1"], csv_rows(["demo"]))
    deadline = time.monotonic() + 20
    while not sandbox.received:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert len(sandbox.received) == 1, [r.path for r in sandbox.received]
    [line] = lines(out)
    assert line["error"]["http_status"] == 503


def test_ctrl_c_while_a_row_waits_to_retry_sends_no_retry_and_stops_at_once(sandbox, configure, pupils):
    """A 503 asked the row to wait 30 s before trying again: Ctrl-C meanwhile ends the row
    there, not after the wait with one more request."""
    configure(sandbox)
    sandbox.inject("status", status=503, retry_after="30", path_contains="/demo", times=3)
    proc = start_batch(["-v", "user", "show", "--batch", "-"], csv_rows(["demo"]))
    try:
        _stderr_until(proc, "retrying in 30.0 s")
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - interrupted < 10
    assert len(sandbox.received) == 1, [r.path for r in sandbox.received]
    [line] = lines(out)
    assert line["error"]["http_status"] == 503 and "Traceback" not in err
