"""Batch mode against the sandbox: order, completeness, input formats, failures fed
back, stopping faults, termination safety, streaming and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from batchrows import csv_rows, lines
from terminal import wxpay_script

from wxpay_cli.flows import batch
from wxpay_cli.local.audit import AuditLog


def test_order_and_completeness_with_failures_mixed_in(sandbox, configure, run, pupils):
    configure(sandbox)
    # The first row is slow, so later rows finish first; unknown pupils fail.
    sandbox.inject("delay", seconds=0.4, path_contains="/p00")
    users = [u if i % 5 else f"missing-{i}" for i, u in enumerate(pupils)]
    users[0] = "p00"
    result = run("user", "show", "--batch", "-", "--concurrency", "8", input=csv_rows(users))
    assert result.exit_code == 1
    out = lines(result.stdout)
    assert [row["out_user_id"] for row in out] == users
    for row, user in zip(out, users, strict=True):
        if user.startswith("missing"):
            assert row["error"]["code"] == "RESOURCE_NOT_EXISTS" and row["error"]["http_status"] == 404
            assert row["error"]["request_id"]
        else:
            assert row["user_name"] == user.upper() and "error" not in row
    assert "batch: 25 ok, 5 failed" in result.stderr


def test_all_ok_exits_0_and_json_flags_change_nothing(sandbox, configure, run, pupils):
    configure(sandbox)
    plain = run("repayment-url", "--batch", "-", input=csv_rows(pupils[:5]))
    flagged = run("repayment-url", "--batch", "-", "--json", input=csv_rows(pupils[:5]))
    assert plain.exit_code == flagged.exit_code == 0
    for text in (plain.stdout, flagged.stdout):
        out = lines(text)
        assert [r["out_user_id"] for r in out] == pupils[:5]
        assert all(set(r) == {"out_user_id", "organization_id", "repayment_url", "expire_at"} for r in out)
    bodies = [r.json for r in sandbox.received]
    assert {"out_user_id": "p00", "organization_id": "demo-org"} in bodies
    assert all(r.signature_ok for r in sandbox.received)
    assert len([r for r in AuditLog().records() if r["outcome"] == "fetched"]) == 10


def test_jsonl_input_from_a_file(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"out_user_id": u, "organization_id": "demo-org"}) + "\n" for u in pupils[:3]))
    result = run("user", "show", "--batch", str(path))
    assert result.exit_code == 0, result.stderr
    assert [r["user_name"] for r in lines(result.stdout)] == ["P00", "P01", "P02"]


def test_bad_rows_are_reported_in_place(sandbox, configure, run):
    configure(sandbox)
    text = '{"out_user_id": "demo", "organization_id": "demo-org"}\nnot json\n{"out_user_id": "demo"}\n[1]\n'
    result = run("user", "show", "--batch", "-", input=text)
    assert result.exit_code == 1
    out = lines(result.stdout)
    assert len(out) == 4 and "error" not in out[0]
    assert [r["error"]["code"] for r in out[1:]] == ["INVALID_ROW"] * 3
    assert "missing organization_id" in out[2]["error"]["message"]
    assert len(sandbox.received) == 1


def test_failed_rows_fed_back_rerun_only_the_failures(sandbox, configure, run, pupils):
    configure(sandbox)
    first = run("repayment-url", "--batch", "-", input=csv_rows(["p00", "late-1", "p01", "late-2"]))
    failures = "".join(line + "\n" for line in first.stdout.splitlines() if '"error"' in line)
    assert len(failures.splitlines()) == 2
    sandbox.seed_user("demo-org", "late-1")
    sandbox.seed_user("demo-org", "late-2")
    sent_before = len(sandbox.received)
    again = run("repayment-url", "--batch", "-", input=failures)
    assert again.exit_code == 0, again.stderr
    assert [r["out_user_id"] for r in lines(again.stdout)] == ["late-1", "late-2"]
    assert len(sandbox.received) - sent_before == 2


def test_verification_failure_stops_the_run_and_names_the_row(sandbox, configure, run, pupils):
    configure(sandbox)
    sandbox.inject("bad_signature", path_contains="/p03")
    result = run("user", "show", "--batch", "-", "--concurrency", "1", input=csv_rows(pupils[:10]))
    assert result.exit_code == 5
    assert "stopped at row 4" in result.stderr and "failed verification" in result.stderr
    out = lines(result.stdout)
    assert [r["out_user_id"] for r in out[:4]] == pupils[:4]
    assert out[3]["error"]["code"] == "VERIFICATION_FAILED" and "user_name" not in out[3]
    # Rows already read but never started say so, so piping the errors back re-runs them.
    assert [r["out_user_id"] for r in out] == pupils[: len(out)]
    assert all(r["error"]["code"] == "NOT_STARTED" for r in out[4:])
    assert len(sandbox.received) == 4  # nothing after the bad row was sent


def test_input_in_no_known_encoding_is_a_clean_usage_error(sandbox, configure, run, tmp_path):
    configure(sandbox)
    path = tmp_path / "utf16.csv"  # Excel's "Unicode text"
    path.write_bytes("out_user_id,organization_id\n学生1,demo-org\n".encode("utf-16"))
    result = run("user", "show", "--batch", str(path))
    assert result.exit_code == 2
    assert "neither UTF-8 nor GB18030" in result.stderr and "Traceback" not in result.stderr
    assert sandbox.received == []


def test_dot_ids_are_bad_rows_not_paths(sandbox, configure, run):
    configure(sandbox)
    result = run("user", "show", "--batch", "-", input="out_user_id,organization_id\n..,demo-org\n")
    assert lines(result.stdout)[0]["error"]["code"] == "INVALID_ROW"
    assert sandbox.received == []


def test_rows_from_a_slow_pipe_start_at_once(sandbox, configure, pupils):
    """The first row is answered while the producer of the input is still writing."""
    configure(sandbox)
    proc = subprocess.Popen([wxpay_script(), "user", "show", "--batch", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("out_user_id,organization_id\np00,demo-org\n")
    proc.stdin.flush()
    first = proc.stdout.readline()  # would hang if rows waited for a full window of input
    assert json.loads(first)["out_user_id"] == "p00"
    proc.stdin.write("p01,demo-org\n")
    proc.stdin.close()
    proc.stdin = None
    rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert json.loads(rest)["out_user_id"] == "p01"


def test_config_error_stops_before_reading_input(run):
    result = run("repayment-url", "--batch", "-", input=csv_rows(["a"]))
    assert result.exit_code == 3 and result.stdout == ""


def test_single_options_and_batch_do_not_mix(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", "--user", "demo", input="")
    assert result.exit_code == 2 and "drop --user" in result.stderr
    assert run("repayment-url", "--org", "demo-org").exit_code == 2
    assert run("repayment-url", "--batch", "/nonexistent.csv").exit_code == 2


def test_rate_caps_requests_per_second(sandbox, configure, run, pupils):
    configure(sandbox)
    started = time.monotonic()
    result = run("user", "show", "--batch", "-", "--rate", "20", "--concurrency", "8", input=csv_rows(pupils[:10]))
    assert result.exit_code == 0
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

    class NoClient:
        async def aclose(self):
            pass

    summary = batch.run(rows(), work, make_client=NoClient, concurrency=4)
    assert summary.ok == 200
    assert max(lead) <= 4 * 4 + 1


# -- termination batches --------------------------------------------------------


def test_terminate_batch_needs_yes(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", input=csv_rows(pupils[:3]))
    assert result.exit_code == 1
    assert "about to terminate the contracts of 3 pupils" in result.stderr and "--yes" in result.stderr
    assert "pupils: p00, p01, p02" in result.stderr
    assert sandbox.received == [] and result.stdout == ""


def test_terminate_batch_dry_run_sends_no_termination(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--dry-run", input=csv_rows(pupils[:3]))
    assert result.exit_code == 0, result.stderr
    out = lines(result.stdout)
    assert all(r["dry_run"] and r["request"]["method"] == "POST" for r in out)
    assert [r.method for r in sandbox.received] == ["GET"] * 3
    assert [r["outcome"] for r in AuditLog().records()] == ["dry_run"] * 3


def test_terminate_batch(sandbox, configure, run, pupils):
    configure(sandbox)
    user_id = sandbox.state.users[("demo-org", "p02")].user_id
    text = csv_rows(pupils[:2]) + "demo-terminated,demo-org\n"
    by_user_id = f"user_id,organization_id\n{user_id},demo-org\n"
    result = run("contract", "terminate", "--batch", "-", "--yes", input=text)
    assert result.exit_code == 1  # the already-terminated pupil fails
    out = lines(result.stdout)
    assert [r.get("contract_state") for r in out[:2]] == ["TERMINATED", "TERMINATED"]
    assert out[2]["error"]["code"] == "NOT_CONTRACTED"
    second = run("contract", "terminate", "--batch", "-", "--yes", input=by_user_id)
    assert second.exit_code == 0, second.stderr
    assert lines(second.stdout)[0]["user_id"] == user_id
    posts = [r for r in sandbox.received if r.method == "POST"]
    assert len(posts) == 3 and all(r.body == b"" and r.status == 204 for r in posts)
    outcomes = [(r["out_user_id"] or r["user_id"], r["outcome"]) for r in AuditLog().records()]
    assert outcomes.count(("p00", "succeeded")) == 1 and ("demo-terminated", "refused") in outcomes
    assert (user_id, "succeeded") in outcomes


def test_terminate_batch_sends_each_pupil_once(sandbox, configure, run, pupils):
    """The same pupil twice, once by out_user_id and once by user_id: one POST."""
    configure(sandbox)
    user_id = sandbox.state.users[("demo-org", "p01")].user_id
    text = ('{"out_user_id": "p01", "organization_id": "demo-org"}\n'
            '{"out_user_id": "p01", "organization_id": "demo-org"}\n'
            f'{{"user_id": "{user_id}", "organization_id": "demo-org"}}\n')
    result = run("contract", "terminate", "--batch", "-", "--yes", "--concurrency", "8", input=text)
    out = lines(result.stdout)
    assert result.exit_code == 1
    assert sum(1 for r in out if r.get("contract_state") == "TERMINATED") == 1
    assert sorted(r["error"]["code"] for r in out if "error" in r) == ["DUPLICATE_ROW", "DUPLICATE_ROW"]
    assert len([r for r in sandbox.received if r.method == "POST"]) == 1


# -- the real process: streaming and Ctrl-C ------------------------------------------


def start_batch(args, text):
    proc = subprocess.Popen([wxpay_script(), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    proc.stdin.write(text)
    proc.stdin.close()
    proc.stdin = None  # so communicate() does not flush it again
    return proc


def test_lines_are_streamed_as_rows_finish(sandbox, configure, pupils):
    configure(sandbox)
    sandbox.inject("delay", seconds=2.0, path_contains="/p02")
    proc = start_batch(["user", "show", "--batch", "-", "--concurrency", "1"], csv_rows(pupils[:3]))
    first = proc.stdout.readline()
    assert json.loads(first)["out_user_id"] == "p00"
    assert proc.poll() is None  # the first line came while a later row was still running
    proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_ctrl_c_writes_what_is_done_and_exits_130(sandbox, configure, pupils):
    configure(sandbox)
    for name in pupils[2:]:
        sandbox.inject("delay", seconds=0.3, path_contains=f"/{name}")
    proc = start_batch(["user", "show", "--batch", "-", "--concurrency", "1"], csv_rows(pupils))
    first = proc.stdout.readline()
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


def test_closed_stdout_exit_code(sandbox, configure, pupils):
    configure(sandbox)
    """`wxpay ... | head -n 1`: the first line arrives, then wxpay ends quietly with 141."""
    script = f"{wxpay_script()} user show --batch - | head -n 1; echo ${{PIPESTATUS[0]}} >&2"
    proc = subprocess.run(["bash", "-c", script], input=csv_rows(pupils * 20), capture_output=True, text=True,
                          timeout=60)
    assert json.loads(proc.stdout)["out_user_id"] == "p00"
    assert proc.stderr.strip().splitlines()[-1] == "141", proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


def test_progress_on_a_terminal_keeps_stdout_for_data(sandbox, configure, pupils, tmp_path):
    """stderr on a terminal (progress bar), stdout to a file: every line lands in the file."""
    import pty

    configure(sandbox)
    controller, terminal = pty.openpty()
    out = tmp_path / "out.jsonl"
    with out.open("w") as stdout:
        proc = subprocess.run([wxpay_script(), "user", "show", "--batch", "-"], input=csv_rows(pupils).encode(),
                              stdout=stdout, stderr=terminal, timeout=60)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.returncode == 0
    assert [r["out_user_id"] for r in lines(out.read_text())] == pupils
    assert b"out_user_id" not in seen and b"batch: 30 ok" in seen


def test_rate_must_be_finite(sandbox, configure, run):
    configure(sandbox)
    assert run("user", "show", "--batch", "-", "--rate", "nan", input="").exit_code == 2
