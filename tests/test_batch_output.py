"""Batch output: every row once, in input order, streamed as rows finish; JSON lines, CSV
that opens in Excel and feeds back, tables; progress on the terminal that leaves stdout to data;
a closed stdout."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import threading

import pytest
from batchrows import csv_rows, excel_gbk_roster, lines
from terminal import start_batch, wxpay_script

from wxpay_cli.local.audit import AuditLog
from wxpay_cli.terminal import output


def test_order_and_completeness_with_failures_mixed_in(sandbox, configure, run, pupils):
    configure(sandbox)
    # The first row is slow, so later rows finish first; unknown pupils fail.
    sandbox.inject("delay", seconds=0.4, path_contains="/p00")
    users = [u if i % 5 else f"missing-{i}" for i, u in enumerate(pupils)]
    users[0] = "p00"
    result = run("user", "show", "--batch", "-", "--concurrency", "8", input=csv_rows(users), expect=1)
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


def test_lines_are_streamed_as_rows_finish(hostile, pupils):
    seen_first = threading.Event()
    hostile.hold("/p02", until=seen_first)  # the third row is answered once the first line is read
    proc = start_batch(["user", "show", "--batch", "-", "--concurrency", "1"], csv_rows(pupils[:3]))
    try:
        first = proc.stdout.readline()
        assert json.loads(first)["out_user_id"] == "p00"
        assert not hostile.overheld and proc.poll() is None  # it came while a later row was still running
    finally:
        seen_first.set()
    proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_closed_stdout_exit_code(sandbox, configure, pupils):
    configure(sandbox)
    """`wxpay ... | head -n 1`: the first line arrives, then wxpay ends quietly with 141."""
    script = f"{wxpay_script()} user show --batch - | head -n 1; echo ${{PIPESTATUS[0]}} >&2"
    proc = subprocess.run(["bash", "-c", script], input=csv_rows(pupils * 20), capture_output=True, text=True,
                          timeout=60)
    assert json.loads(proc.stdout)["out_user_id"] == "p00"
    assert proc.stderr.strip().splitlines()[-1] == "141", proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


# -- spreadsheets out ----------------------------------------------------------------------


def read_csv_output(text: str) -> list[dict]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_csv_output_opens_in_excel_and_feeds_back(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = excel_gbk_roster(tmp_path / "roster.csv")
    result = run("repayment-url", "--batch", str(path), "--format", "csv", expect=1)
    assert result.stdout_bytes.startswith("\ufeff姓名".encode()) and result.stdout_bytes.count(b"\r\n") == 4
    first_line = result.stdout[1:].splitlines()[0]
    assert first_line == ("姓名,out_user_id,班级,organization_id,家长电话,repayment_url,expire_at,"
                          "error_code,error_message")
    out = read_csv_output(result.stdout)
    assert [r["姓名"] for r in out] == ["张小明", "李小红", "赵小刚"]
    assert "/repay/" in out[0]["repayment_url"] and out[0]["error_code"] == ""
    assert out[2]["error_code"] == "RESOURCE_NOT_EXISTS" and out[2]["repayment_url"] == ""
    # The whole output, saved by Excel as it was, is valid input: rows keep their columns,
    # old results are replaced, the late pupil now succeeds.
    sandbox.seed_user("demo-org", "missing")
    again_path = tmp_path / "again.csv"
    again_path.write_text(result.stdout, encoding="utf-8", newline="")
    again = run("repayment-url", "--batch", str(again_path), "--format", "csv", expect=0)
    out = read_csv_output(again.stdout)
    assert list(out[0]) == ["姓名", "out_user_id", "班级", "organization_id", "家长电话", "repayment_url",
                            "expire_at", "error_code", "error_message"]
    assert [r["out_user_id"] for r in out] == ["p00", "p01", "missing"]
    assert all("/repay/" in r["repayment_url"] and r["error_code"] == "" for r in out)


def test_csv_output_of_user_show_has_the_user_fields(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("user", "show", "--batch", "-", "--format", "csv", input=csv_rows(["p00"]))
    row = read_csv_output(result.stdout)[0]
    assert row["user_name"] == "P00" and row["student_info.class_name"] == "三年级二班"
    assert row["contract_state"] == "CONTRACTED" and row["face_image_ok"] == "true"


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1+1", "-1+1", "@SUM(A1)"])
def test_csv_output_cells_from_wechat_cannot_be_formulas(sandbox, configure, run, name):
    configure(sandbox)
    sandbox.seed_user("demo-org", "f1", user_name=name, encrypt_name=False)
    row = read_csv_output(run("user", "show", "--batch", "-", "--format", "csv",
                              input=csv_rows(["f1"])).stdout)[0]
    assert row["user_name"] == "'" + name


def test_csv_output_keeps_the_rosters_own_cells_as_read(sandbox, configure, run, pupils):
    """The formula guard is for what WeChat sent: the roster's cells are its own, and the output
    must feed back as the same input."""
    configure(sandbox)
    text = "备注,out_user_id,organization_id\n=B2*2,p00,demo-org\n-5,p01,demo-org\n@家长,p02,demo-org\n"
    out = read_csv_output(run("user", "show", "--batch", "-", "--format", "csv", input=text, expect=0).stdout)
    assert [r["备注"] for r in out] == ["=B2*2", "-5", "@家长"]


def test_csv_output_into_a_file_is_not_escaped_for_a_terminal(sandbox, configure, run):
    """Off a terminal (a file, a pipe) every cell is exact: a name with a bidi override or an escape,
    a roster note over two lines."""
    configure(sandbox)
    name = "王\u202e五\x1b[1m"
    sandbox.seed_user("demo-org", "f2", user_name=name, encrypt_name=False)
    text = '备注,out_user_id,organization_id\n"第一行\n第二行\t完",f2,demo-org\n'
    [row] = read_csv_output(run("user", "show", "--batch", "-", "--format", "csv", input=text, expect=0).stdout)
    assert row["user_name"] == name and row["备注"] == "第一行\n第二行\t完"


def test_csv_format_is_for_batches_only(sandbox, configure, run):
    configure(sandbox)
    assert run("user", "show", "--user", "demo", "--org", "demo-org", "--format", "csv").exit_code == 2
    assert run("config", "show", "--format", "csv").exit_code == 2
    assert sandbox.received == []


def test_csv_output_of_json_lines_input_takes_the_first_lines_keys(sandbox, configure, run, pupils):
    configure(sandbox)
    text = ('{broken\n{"out_user_id": "p00", "organization_id": "demo-org", "姓名": "张"}\n')
    out = read_csv_output(run("user", "show", "--batch", "-", "--format", "csv", input=text).stdout)
    assert list(out[0])[:3] == ["out_user_id", "organization_id", "user_id"]  # the first line had no keys
    assert out[0]["error_code"] == "INVALID_ROW" and out[1]["user_name"] == "P00"


# -- tables ------------------------------------------------------------------------------


def test_batch_dry_run_as_a_table(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--dry-run", "--format", "table",
                 input=csv_rows(["p00", "demo-terminated", "p00"]), expect=1)
    table = result.stdout
    for text in ("Pupil", "Name", "Class", "State", "What would happen", "P00", "三年级二班", "CONTRACTED",
                 "terminate contract", "NOT_CONTRACTED", "DUPLICATE_ROW"):
        assert text in table, text
    assert "{" not in table
    assert [r.method for r in sandbox.received] == ["GET"] * 3


# -- progress ---------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_shows_total_percentage_counts_and_eta():
    clock = Clock()
    progress = output.Progress(200, clock=clock)
    clock.now += 10
    progress.ok, progress.failed, progress.done = 45, 5, 50
    assert progress.text() == "50/200 (25%) · 45 ok, 5 failed · ETA 30 s"
    progress.ok, progress.done = 195, 200
    assert progress.text().startswith("200/200 (100%) · 195 ok, 5 failed")
    unknown = output.Progress(None, clock=clock)
    unknown.ok, unknown.done = 3, 3
    assert unknown.text() == "3 rows · 3 ok, 0 failed · 0 s"


def test_the_file_total_reaches_the_progress_display(sandbox, configure, run, pupils, tmp_path, monkeypatch):
    configure(sandbox)
    totals = []
    real = output.Progress.__init__

    def spy(self, total=None, **kwargs):
        totals.append(total)
        real(self, total, **kwargs)

    monkeypatch.setattr(output.Progress, "__init__", spy)
    path = tmp_path / "rows.csv"
    path.write_text(csv_rows(pupils[:5]) + "\n")
    run("user", "show", "--batch", str(path))
    run("user", "show", "--batch", "-", input=csv_rows(pupils[:5]))
    assert totals == [5, None]


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


# -- batches on a terminal ------------------------------------------------------------------------


def shown_lines(terminal: str) -> list[str]:
    """What each terminal line finally shows: a carriage return goes back to the start
    of the line, and ESC[2K erases it."""
    result = []
    for line in terminal.replace("\r\n", "\n").split("\n"):
        result.append(line.split("\r")[-1].replace("\x1b[2K", ""))
    return result


def test_progress_and_json_lines_on_the_same_terminal_are_not_glued(sandbox, configure, pupils, tmp_path):
    from terminal import run_on_terminal

    configure(sandbox)
    path = tmp_path / "rows.csv"
    path.write_text(csv_rows(pupils))
    for name in pupils[1:4]:
        sandbox.inject("delay", seconds=0.15, path_contains=f"/{name}")
    shown = run_on_terminal("user", "show", "--batch", str(path), "--concurrency", "1", tmp_path=tmp_path,
                            stdin=False, stdout=True, stderr=True)
    assert shown.returncode == 0, shown.terminal
    data = [line for line in shown_lines(shown.terminal) if "out_user_id" in line]
    assert [json.loads(line)["out_user_id"] for line in data] == pupils


def test_batch_dry_run_on_a_terminal_is_a_table(sandbox, configure, pupils, tmp_path):
    from terminal import run_on_terminal

    configure(sandbox)
    path = tmp_path / "rows.csv"
    path.write_text(csv_rows(["p00", "demo-terminated"]))
    shown = run_on_terminal("contract", "terminate", "--batch", str(path), "--dry-run", tmp_path=tmp_path,
                            stdin=False, stdout=True, stderr=True)
    assert shown.returncode == 1, shown.terminal
    assert "What would happen" in shown.terminal and "NOT_CONTRACTED" in shown.terminal
    assert '"dry_run"' not in shown.terminal
    assert [r.method for r in sandbox.received] == ["GET", "GET"]


def test_failed_rows_in_csv_are_not_said_to_carry_a_json_key(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", "--format", "csv", input=csv_rows(["p00", "missing"]), expect=1)
    assert "error_code" in result.stdout.splitlines()[0]
    assert '"error"' not in result.stderr, result.stderr


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_batch_dry_run_table_is_one_line_a_row_at_80_columns(sandbox, configure, run, pupils, lang):
    configure(sandbox)
    result = run("--lang", lang, "contract", "terminate", "--batch", "-", "--dry-run", "--format", "table",
                 input=csv_rows(["p00", "demo-terminated", "p00", "missing"]), env={"COLUMNS": "80"}, expect=1)
    body = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(body) == 3 + 4, result.stdout  # title, heading, rule, one line for each of the 4 rows
    assert all(len(line) <= 80 for line in body)
    assert "P00" in result.stdout and "三年级二班" in result.stdout and "demo-term" in result.stdout
