"""Batch output: every row once, in input order, streamed as rows finish; JSON lines, CSV
that opens in Excel and feeds back, tables; progress on the terminal that leaves stdout to data;
a closed stdout."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
from batchrows import csv_rows, excel_gbk_roster, lines, name_as_roster, read_workbook
from hostile import LINK_PATH, USER_PATH
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
    name_as_roster(sandbox)
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
    sandbox.seed_user("demo-org", "missing", user_name="赵小刚")
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


# -- workbooks and files out ---------------------------------------------------------------------

# A roster with ids Excel would damage, cells that look like formulas, and a pupil WeChat does not know.
ROSTER_TO_KEEP = ("姓名,out_user_id,班级,organization_id,备注\r\n"
                  "张小明,0012345,三年级二班,demo-org,=B2*2\r\n"
                  "李小红,440305201501011234,五年级一班,demo-org,-5\r\n"
                  "赵小刚,missing,一年级一班,demo-org,@家长\r\n")


def seed_ids_excel_damages(sandbox) -> None:
    sandbox.seed_user("demo-org", "0012345", user_id="0000123", user_name='=HYPERLINK("http://x")',
                      encrypt_name=False)
    sandbox.seed_user("demo-org", "440305201501011234", user_name="李小红", class_name="五年级一班",
                      encrypt_name=False)


def test_xlsx_output_reopens_with_every_id_and_cell_unchanged(sandbox, configure, run, tmp_path):
    """The same columns and cells as the CSV, every one a text cell: ids keep their 0s and digits,
    a value starting with = stays text (never a formula) and gets no quote; a bold, frozen header
    and columns wide enough for their Chinese text."""
    configure(sandbox)
    seed_ids_excel_damages(sandbox)
    roster = tmp_path / "名单.csv"
    roster.write_text(ROSTER_TO_KEEP, encoding="utf-8")
    as_csv = read_csv_output(run("user", "show", "--batch", str(roster), "--format", "csv", expect=1).stdout)
    path = tmp_path / "结果.xlsx"
    result = run("user", "show", "--batch", str(roster), "--format", "xlsx", "-o", str(path), expect=1)
    assert result.stdout == ""
    header, *rows = read_workbook(path)
    assert [value for value, _type in header] == list(as_csv[0])
    for row, expected in zip(rows, as_csv, strict=True):
        assert all(kind == "s" for value, kind in row if value is not None), row
        assert [value or "" for value, _type in row] == [value.removeprefix("'") for value in expected.values()]
    by_name = {value: index for index, (value, _type) in enumerate(header)}
    assert [row[by_name["out_user_id"]][0] for row in rows] == ["0012345", "440305201501011234", "missing"]
    assert rows[0][by_name["user_id"]][0] == "0000123"
    assert rows[0][by_name["user_name"]][0] == '=HYPERLINK("http://x")' and rows[0][by_name["备注"]][0] == "=B2*2"
    assert rows[2][by_name["error_code"]][0] == "RESOURCE_NOT_EXISTS"

    from openpyxl import load_workbook

    sheet = load_workbook(path).worksheets[0]
    assert sheet.freeze_panes == "A2" and all(cell.font.b for cell in sheet[1])
    widths = {cell.value: sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]}
    assert widths["班级"] >= 10 and widths["姓名"] >= 6  # 五年级一班: 5 characters, each two columns wide
    assert all(width >= len(name) for name, width in widths.items())


def test_an_xlsx_output_feeds_back_as_input(sandbox, configure, run, tmp_path):
    configure(sandbox)
    seed_ids_excel_damages(sandbox)
    roster = tmp_path / "名单.csv"
    roster.write_text(ROSTER_TO_KEEP, encoding="utf-8")
    first = tmp_path / "第一次.xlsx"
    run("user", "show", "--batch", str(roster), "--format", "xlsx", "-o", str(first), expect=1)
    sandbox.seed_user("demo-org", "missing", user_name="赵小刚", encrypt_name=False)
    again = lines(run("user", "show", "--batch", str(first), expect=0).stdout)
    assert [(r["out_user_id"], r["备注"]) for r in again] == [
        ("0012345", "=B2*2"), ("440305201501011234", "-5"), ("missing", "@家长")]
    assert [r["user_name"] for r in again] == ['=HYPERLINK("http://x")', "李小红", "赵小刚"]


def test_xlsx_needs_an_output_file(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("user", "show", "--batch", "-", "--format", "xlsx", input=csv_rows(["p00"]), expect=2)
    assert "-o" in result.stderr and sandbox.received == []


@pytest.mark.parametrize("given, name, fmt", [
    (("--format", "json"), "out.jsonl", "json"),
    (("--format", "csv"), "out.csv", "csv"),
    ((), "out.csv", "csv"),  # told by the name
    ((), "out.txt", "json"),
])
def test_output_file_holds_what_stdout_would(sandbox, configure, run, pupils, tmp_path, given, name, fmt):
    configure(sandbox)
    expected = run("user", "show", "--batch", "-", "--format", fmt, input=csv_rows(pupils[:3]), expect=0)
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / name
    result = run("user", "show", "--batch", "-", *given, "-o", str(path), input=csv_rows(pupils[:3]), expect=0)
    assert result.stdout == "" and path.read_bytes() == expected.stdout_bytes
    assert [p.name for p in folder.iterdir()] == [name]  # no temporary file left


def test_the_summary_says_where_the_lines_went(sandbox, configure, run, pupils, tmp_path):
    """With -o nothing is on stdout: the operator is told which file holds the lines, also when
    some rows failed."""
    configure(sandbox)
    path = tmp_path / "结果.xlsx"
    result = run("--lang", "zh", "repayment-url", "--batch", "-", "-o", str(path),
                 input=csv_rows(["p00", "missing"]), expect=1)
    said = result.stderr.splitlines()
    assert said[-2] == f"结果已写入 {path}", result.stderr  # after the summary, before the error
    assert said[-3].startswith("批量：1 行成功，1 行失败") and said[-1].startswith("错误：")
    quiet = run("user", "show", "--batch", "-", input=csv_rows(["p00"]), expect=0)
    assert "written" not in quiet.stderr  # on stdout: nothing to say


def test_the_output_files_name_chooses_its_format_unless_told(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    run("user", "show", "--batch", "-", "-o", str(tmp_path / "结果.xlsx"), input=csv_rows(["p00"]), expect=0)
    assert read_workbook(tmp_path / "结果.xlsx")[1][0] == ("p00", "s")
    for args in (("--format", "csv", "-o", "x.xlsx"), ("--json", "-o", "x.csv"), ("--format", "table", "-o", "x")):
        result = run("user", "show", "--batch", "-", *args[:-1], str(tmp_path / args[-1]), input=csv_rows(["p00"]),
                     expect=2)
        assert "-o" in result.stderr, result.stderr
    assert run("user", "show", "--user", "p00", "--org", "demo-org", "-o", str(tmp_path / "y.jsonl"),
               expect=2).stderr
    assert len(sandbox.received) == 1


def test_output_file_is_replaced_whole_and_keeps_its_mode(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    path.chmod(0o640)
    run("user", "show", "--batch", "-", "-o", str(path), input=csv_rows(pupils[:2]), expect=0)
    assert path.read_text(encoding="utf-8-sig").startswith("out_user_id") and path.stat().st_mode & 0o777 == 0o640
    previous = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.csv"
        run("user", "show", "--batch", "-", "-o", str(fresh), input=csv_rows(pupils[:2]), expect=0)
    finally:
        os.umask(previous)
    assert fresh.stat().st_mode & 0o777 == 0o640  # a new file: what the shell's `>` would give
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".csv") == ["fresh.csv", "out.csv"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_output_file_never_follows_a_symlink_and_needs_its_folder(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    target = tmp_path / "elsewhere.csv"
    target.write_text("not wxpay's\n")
    link = tmp_path / "out.csv"
    link.symlink_to(target)
    refused = run("user", "show", "--batch", "-", "-o", str(link), input=csv_rows(["p00"]), expect=2)
    assert "symbolic link" in refused.stderr and target.read_text() == "not wxpay's\n"
    missing = run("user", "show", "--batch", "-", "-o", str(tmp_path / "nowhere" / "out.csv"),
                  input=csv_rows(["p00"]), expect=2)
    assert "does not exist" in missing.stderr
    assert sandbox.received == []


def test_an_interrupted_batch_still_writes_the_rows_done_to_its_workbook(hostile, pupils, tmp_path):
    """Ctrl-C while the second row is in flight: that row finishes, the third is not started, and
    the workbook holds all three lines (what is done, and what was not started)."""
    import signal
    import time

    held = threading.Event()
    hostile.hold(f"/{pupils[1]}", until=held, limit=30)
    path = tmp_path / "结果.xlsx"
    process = start_batch(["user", "show", "--batch", "-", "--concurrency", "1", "-o", str(path)],
                          csv_rows(pupils[:3]))
    deadline = time.monotonic() + 30
    try:
        while not any(r.path.endswith(f"/{pupils[1]}") for r in hostile.sandbox.received):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
    finally:
        held.set()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    _header, *rows = read_workbook(path)
    assert [row[0][0] for row in rows] == pupils[:3]
    assert rows[0][3][0] == "P00" and rows[1][3][0] == "P01"  # user_name: both rows started were finished
    assert rows[2][-2][0] == "NOT_STARTED"


def test_an_output_file_that_cannot_be_replaced_keeps_the_lines_and_says_where(hostile, pupils, tmp_path):
    """The name became a folder meanwhile: the lines stay in the temporary file, named on stderr;
    exit 74 (output failed), as when stdout fails."""
    held = threading.Event()
    hostile.hold(f"/{pupils[0]}", until=held, limit=30)
    path = tmp_path / "out.jsonl"
    process = start_batch(["user", "show", "--batch", "-", "-o", str(path)], csv_rows(pupils[:2]))
    import time

    deadline = time.monotonic() + 30
    try:
        while not hostile.sandbox.received:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.01)
        path.mkdir()
        (path / "keep").write_text("x")
    finally:
        held.set()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 74, err
    [kept] = [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")]
    assert kept.name in err and "Traceback" not in err
    assert [r["out_user_id"] for r in lines(kept.read_text())] == pupils[:2]


# -- tables ------------------------------------------------------------------------------


def test_batch_dry_run_as_a_table(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--dry-run", "--format", "table",
                 input=csv_rows(["p00", "demo-terminated", "p00"]), expect=1)
    table = " ".join(result.stdout.split())  # a cell may wrap
    for text in ("Pupil", "WeChat name", "Class", "State", "P00", "三年级二班", "CONTRACTED", "terminate", "王小刚",
                 "DUPLICATE_ROW", "row 4: row 2 already names this pupil"):
        assert text in table, text
    assert "alreadyterminated" in "".join(table.split()) and "Whatwouldhappen" in "".join(table.split())
    assert "{" not in table
    assert [r.method for r in sandbox.received] == ["GET"] * 3
    assert "1 pupil would be terminated" in result.stderr, result.stderr


@pytest.mark.parametrize("command", [("repayment-url",), ("user", "show")])
def test_format_table_draws_a_table_of_every_row_never_json(sandbox, configure, run, command):
    configure(sandbox)
    roster = "out_user_id,organization_id,姓名\r\ndemo,demo-org,张小明\r\nmissing,demo-org,李四\r\n"
    result = run("--lang", "zh", *command, "--batch", "-", "--format", "table", input=roster,
                 env={"COLUMNS": "160"}, expect=1)
    table = result.stdout
    assert table.strip() and not any(line.lstrip().startswith("{") for line in table.splitlines()), table
    for text in ("out_user_id", "姓名", "demo", "张小明", "missing", "李四", "RESOURCE_NOT_EXISTS"):
        assert text in table, text
    assert "批量：1 行成功，1 行失败" in result.stderr  # the summary stays on stderr


def test_a_table_of_links_keeps_each_link_whole(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", "--format", "table", input=csv_rows(["demo"]),
                 env={"COLUMNS": "80"}, expect=0)
    assert "…" not in result.stdout
    [line] = [line for line in result.stdout.splitlines() if "/sandbox/repay/" in line]  # on a line of its own
    assert re.fullmatch(r"demo  https://[\w.-]+/sandbox/repay/\w+\?token=\w+", line), line


def test_a_termination_batch_as_a_table(sandbox, configure, run, pupils):
    configure(sandbox)
    sandbox.seed_user("demo-org", "never-signed", contract_state="NOT_CONTRACTED")
    result = run("contract", "terminate", "--batch", "-", "--yes", "--format", "table",
                 input=csv_rows(["p00", "demo-terminated", "never-signed"]), expect=1)
    assert "{" not in result.stdout
    for text in ("p00", "P00", "TERMINATED", "demo-terminated", "NOT_CONTRACTED"):
        assert text in result.stdout, text


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
    assert shown.returncode == 0, shown.terminal
    assert "What would happen" in shown.terminal and "already terminated" in shown.terminal
    assert '"dry_run"' not in shown.terminal
    assert [r.method for r in sandbox.received] == ["GET", "GET"]


def test_failed_rows_in_csv_are_not_said_to_carry_a_json_key(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", "--format", "csv", input=csv_rows(["p00", "missing"]), expect=1)
    assert "error_code" in result.stdout.splitlines()[0]
    assert '"error"' not in result.stderr, result.stderr


def table_cells(text: str) -> list[list[str]]:
    """The body rows of a drawn table (no vertical rules), each cell's wrapped or folded lines
    joined up again: columns are found where every line is blank for 2 cells or more, a row
    starts where its first column has text. Chinese characters take 2 cells."""
    from wxpay_cli.terminal.cjkwrap import width

    def cells(line: str) -> list[str]:
        out = []
        for ch in line:
            out += [ch] + [""] * (width(ch) - 1)
        return out

    lines_ = text.splitlines()
    rule = next(i for i, line in enumerate(lines_) if "───" in line)
    header = [cells(line) for line in lines_[1:rule] if line.strip()]  # below the title: the headings (may wrap)
    body = []
    for line in lines_[rule + 1:]:
        if not line.strip():
            break
        body.append(cells(line))
    grid = header + body
    span = max(len(line) for line in grid)
    blank = [all(x >= len(line) or line[x] == " " for line in grid) for x in range(span)]
    starts = [x for x in range(span) if not blank[x] and (x == 0 or x >= 2 and blank[x - 1] and blank[x - 2])]
    bounds = list(zip(starts, [*starts[1:], span], strict=True))
    rows: list[list[str]] = []
    for line in body:
        parts = ["".join(line[a:b]).strip() for a, b in bounds]
        if parts[0]:
            rows.append(parts)
        else:
            rows[-1] = [old + new for old, new in zip(rows[-1], parts, strict=True)]
    return rows


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_batch_dry_run_table_cuts_no_id_name_or_reason_at_80_columns(sandbox, configure, run, pupils, lang):
    configure(sandbox)
    long_id = "20240117000000000000000000000042"  # 32 characters, a school's own long id
    sandbox.seed_user("demo-org", long_id, user_name="欧阳娜娜·买买提艾力", class_name="六年级四班（国际部）",
                      encrypt_name=False)
    roster = ("姓名,out_user_id,organization_id\n"
              f"欧阳娜娜·买买提艾力,{long_id},demo-org\nP00,p00,demo-org\n王小刚,demo-terminated,demo-org\n"
              "司马相如,p01,demo-org\nP00,p00,demo-org\n无名,missing,demo-org\n")
    result = run("--lang", lang, "contract", "terminate", "--batch", "-", "--dry-run", "--format", "table",
                 input=roster, env={"COLUMNS": "80"}, expect=1)
    table = result.stdout
    from wxpay_cli.terminal.cjkwrap import width

    drawn = table[:table.index("\n\n", table.index("───"))]  # the table; the reasons below it are plain lines
    assert all(width(line) <= 80 for line in drawn.splitlines()), drawn
    assert "…" not in table
    rows = table_cells(table)
    assert [row[0] for row in rows] == ["2", "3", "4", "5", "6", "7"]  # as Excel numbers them: the header is 1
    assert rows[0][1] == long_id and rows[0][2] == rows[0][3] == "欧阳娜娜·买买提艾力"
    assert rows[0][4] == "六年级四班（国际部）"
    assert (rows[2][1], rows[2][3]) == ("demo-terminated", "王小刚")
    assert (rows[3][2], rows[3][3]) == ("司马相如", "P01")
    assert [code in row[-1] for row, code in zip(rows[3:], ("NAME_MISMATCH", "DUPLICATE_ROW", "RESOURCE_NOT_EXISTS"),
                                                   strict=True)] == [True] * 3
    flat = "".join(table.split())
    # Each reason is written whole below the table, never cut (CSV says them in the interface language).
    reasons = [row["error_message"] for row in read_csv_output(run(
        "--lang", lang, "contract", "terminate", "--batch", "-", "--dry-run", "--format", "csv", input=roster,
        expect=1).stdout) if row["error_message"]]
    assert len(reasons) == 3
    for reason in reasons:
        assert "".join(reason.split()) in flat, reason


# -- lines as before: answers that hold only declared fields ---------------------------------------

GOLDEN = Path(__file__).parent / "data" / "batch_output_golden.json"

# What changes from run to run, put in place by a fixed word so the rest is compared byte for byte.
VARYING = [
    (re.compile(r"08[0-9A-F]{32}"), "REQUEST-ID"),
    (re.compile(r"token=[0-9a-f]{32}"), "token=TOKEN"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00"), "TIME"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r'"user-agent": "[^"]*"'), '"user-agent": "UA"'),
    (re.compile(r"PUB_KEY_ID_\d+"), "PUB_KEY_ID"),
    (re.compile(r'(nonce_str|timestamp|serial_no|signature)=\\"[^\\]*\\"'), r'\1=\\"X\\"'),
]


def steady(text: str) -> str:
    for pattern, word in VARYING:
        text = pattern.sub(word, text)
    return text


def golden_outputs(sandbox, run, tmp_path) -> dict[str, str]:
    """Every batch command's stdout, JSON lines and CSV, for rosters with carried columns, stale
    results, bad rows and errors, from a sandbox that answers only with declared fields."""
    def seed(out_user_id, **fields):
        sandbox.seed_user("demo-org", out_user_id, user_id=f"wxu_{out_user_id}", contract_id=f"ct_{out_user_id}",
                          **fields)

    seed("g1", user_name="张小明", class_name="三年级二班", encrypt_name=False)
    seed("g2", user_name="李老师", class_name="教师", user_type="STAFF", use_id_typo=True)  # encrypted name
    seed("g3", user_name='=HYPERLINK("http://x")', class_name="-1班", encrypt_name=False, face_image_ok=False)
    seed("g4", user_name="赵", contract_state="NOT_CONTRACTED", encrypt_name=False)
    for name in ("t1", "t2", "t3", "t4"):
        seed(name, user_name=name.upper(), encrypt_name=False)
    roster = ("姓名,out_user_id,班级,organization_id,家长电话,user_name,error_code\r\n"
              "张小明,g1,三年级二班,demo-org,+8613800000000,旧名,OLD\r\n"
              "李老师,g2,,demo-org,=1+1,,\r\n"
              "坏,g3,x,demo-org,@home,,\r\n"
              "赵,g4,一年级,demo-org,-,,\r\n"
              "无,missing,,demo-org,,,\r\n"
              "空,,,demo-org,,,\r\n")
    path = tmp_path / "golden.csv"
    path.write_bytes(roster.encode("gbk"))
    jsonl = tmp_path / "golden.jsonl"
    jsonl.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in [
        {"out_user_id": "g1", "organization_id": "demo-org", "备注": {"a": [1, 2]}, "n": 5, "x": None,
         "repayment_url": "old", "error": {"code": "OLD"}},
        {"organization_id": "demo-org", "out_user_id": "g2", "flag": True},
        {"out_user_id": "missing", "organization_id": "demo-org"},
        {"out_user_id": ["g1"], "organization_id": "demo-org"},
    ]), encoding="utf-8")
    terminate = tmp_path / "terminate.csv"
    terminate.write_text("out_user_id,user_id,organization_id,班级\n"
                         "g1,,demo-org,三年级二班\ng4,,demo-org,一年级\ng1,,demo-org,again\n"
                         ",wxu_g3,demo-org,by id\nmissing,,demo-org,\n", encoding="utf-8")
    outputs = {}
    for name, args in [
        ("repayment-url roster", ("repayment-url", "--batch", str(path))),
        ("repayment-url jsonl", ("repayment-url", "--batch", str(jsonl))),
        ("user show roster", ("user", "show", "--batch", str(path))),
        ("user show jsonl", ("user", "show", "--batch", str(jsonl))),
        ("terminate dry run", ("contract", "terminate", "--batch", str(terminate), "--dry-run")),
    ]:
        for fmt in ("json", "csv"):
            outputs[f"{name} {fmt}"] = steady(run(*args, "--format", fmt, expect=1).stdout)
    for fmt, users in (("json", ("t1", "t2")), ("csv", ("t3", "t4"))):
        text = "out_user_id,user_id,organization_id,班级\n" + "".join(f"{u},,demo-org,x\n" for u in users)
        text += f",wxu_{users[1]},demo-org,again\ng4,,demo-org,\n"
        outputs[f"terminate {fmt}"] = steady(run("contract", "terminate", "--batch", "-", "--yes", "--format", fmt,
                                                 input=text, expect=1).stdout)
    return outputs


def test_lines_from_answers_with_only_declared_fields_are_as_they_were(sandbox, configure, run, tmp_path):
    """JSON lines and CSV, byte for byte as they were before undeclared fields were set apart
    (the golden file was written by that code): scripts reading them see no change."""
    configure(sandbox)
    outputs = golden_outputs(sandbox, run, tmp_path)
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert list(outputs) == list(expected)
    for name, text in outputs.items():
        assert text == expected[name], name


# -- what WeChat sends beyond its declared fields ----------------------------------------------------

# Fields no endpoint declares, named like the roster's own columns and like wxpay's result columns.
UNDECLARED = {"phone": "=cmd|' /C calc'!A0", "姓名": "@SUM(1)", "error": {"code": "FAKE", "message": "=1"},
              "error_code": "=2", "wechat_extra": "-3", "student_info.class_name": "+4"}
ROSTER_WITH_PHONE = "姓名,out_user_id,organization_id,phone\r\nP00,p00,demo-org,+8613800000000\r\n"


@pytest.mark.parametrize("command, path, declared", [
    (("user", "show"), USER_PATH, {"user_name": "P00", "student_info": {"class_name": "三年级二班"}}),
    (("repayment-url",), LINK_PATH, {}),
], ids=["user-show", "repayment-url"])
def test_undeclared_fields_go_under_wechat_extra_and_change_no_column(hostile, run, pupils, command, path,
                                                                       declared):
    nested = {"student_info": {"class_name": "三年级二班", "phone": "=5"}} if path == USER_PATH else {}
    hostile.rewrite(path, lambda d: {**d, **UNDECLARED, **nested})
    line = lines(run(*command, "--batch", "-", input=ROSTER_WITH_PHONE, expect=0).stdout)[0]
    assert list(line)[:4] == ["姓名", "out_user_id", "organization_id", "phone"]
    assert (line["姓名"], line["phone"]) == ("P00", "+8613800000000")
    assert "error" not in line and "error_code" not in line and "student_info.class_name" not in line
    assert {name: line[name] for name in declared} == declared
    extra = {**UNDECLARED, **({"student_info": {"phone": "=5"}} if nested else {})}
    assert line["wechat_extra"] == extra and list(line)[-1] == "wechat_extra"


def test_the_ids_asked_for_stay_as_the_row_gave_them(hostile, run, pupils):
    """WeChat may leave the ids it echoes empty (they count as absent): the row's stay."""
    hostile.rewrite(USER_PATH, lambda d: {**d, "out_user_id": "", "organization_id": None})
    line = lines(run("user", "show", "--batch", "-", input=ROSTER_WITH_PHONE, expect=0).stdout)[0]
    assert (line["out_user_id"], line["organization_id"], line["user_name"]) == ("p00", "demo-org", "P00")


@pytest.mark.parametrize("command, path", [(("user", "show"), USER_PATH), (("repayment-url",), LINK_PATH)],
                         ids=["user-show", "repayment-url"])
def test_undeclared_fields_are_never_written_to_csv(hostile, run, pupils, command, path):
    hostile.rewrite(path, lambda d: {**d, **UNDECLARED, "student_info": {"class_name": "三年级二班", "phone": "=5"}}
                    if path == USER_PATH else {**d, **UNDECLARED})
    result = run(*command, "--batch", "-", "--format", "csv", input=ROSTER_WITH_PHONE, expect=0)
    row = read_csv_output(result.stdout)[0]
    assert (row["姓名"], row["phone"], row["error_code"], row["error_message"]) == (
        "P00", "+8613800000000", "", "")
    assert "wechat_extra" not in row
    written = re.sub(r"token=\w+", "token=…", result.stdout)  # a link's random token may hold "=5"
    for value in ("calc", "SUM", "FAKE", "=2", "-3", "+4", "=5"):
        assert value not in written, value
    if path == USER_PATH:
        assert row["student_info.class_name"] == "三年级二班"
        assert row["student_info"] == '{"class_name": "三年级二班"}'


def test_a_wechat_value_in_a_roster_column_gets_the_formula_guard(sandbox, configure, run):
    """The roster names the pupil by out_user_id and leaves user_id blank: WeChat's user_id fills it."""
    configure(sandbox)
    sandbox.seed_user("demo-org", "f1", user_id="=1+2", user_name="-", encrypt_name=False)
    roster = "out_user_id,user_id,organization_id,备注\r\nf1,,demo-org,=SUM(A1)\r\n"
    result = run("contract", "terminate", "--batch", "-", "--dry-run", "--format", "csv", input=roster, expect=0)
    row = read_csv_output(result.stdout)[0]
    assert (row["user_id"], row["user_name"]) == ("'=1+2", "'-")
    assert (row["out_user_id"], row["备注"]) == ("f1", "=SUM(A1)")  # the roster's own cells as they were
