"""Batch input as operators have it (Excel CSV in GBK, extra roster columns, CSV out),
input that cannot be trusted (headers, JSON values, encodings), and faults that stop a run."""

from __future__ import annotations

import csv
import io
import json

import pytest
from batchrows import csv_rows, lines

from wxpay_cli.terminal import output

ROSTER = [("p00", "张小明", "三年级二班", "13800000000"), ("p01", "李小红", "五年级一班", "13900000000"),
          ("missing", "赵小刚", "一年级一班", "13700000000")]


def excel_gbk_roster(path, rows=ROSTER):
    """What Excel writes for 'CSV (comma delimited)' on a Chinese Windows: GBK, CRLF, no BOM."""
    text = "姓名,out_user_id,班级,organization_id,家长电话\r\n"
    text += "".join(f"{name},{user},{klass},demo-org,{phone}\r\n" for user, name, klass, phone in rows)
    path.write_bytes(text.encode("gbk"))
    return path


# -- spreadsheets in -------------------------------------------------------------------


def test_gbk_roster_from_excel_is_read_and_its_columns_carried(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = excel_gbk_roster(tmp_path / "roster.csv")
    result = run("repayment-url", "--batch", str(path))
    assert result.exit_code == 1, result.stderr  # the third pupil is unknown to WeChat
    assert "GB18030" in result.stderr
    out = lines(result.stdout)
    assert [list(r)[:5] for r in out] == [["姓名", "out_user_id", "班级", "organization_id", "家长电话"]] * 3
    assert [(r["姓名"], r["班级"], r["家长电话"]) for r in out] == [(n, k, p) for _, n, k, p in ROSTER]
    assert "/repay/" in out[0]["repayment_url"] and list(out[0])[5:] == ["repayment_url", "expire_at"]
    assert out[2]["error"]["code"] == "RESOURCE_NOT_EXISTS" and out[2]["姓名"] == "赵小刚"
    assert sorted(r.json["out_user_id"] for r in sandbox.received) == ["missing", "p00", "p01"]


def test_encoding_option_overrides_and_is_said(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = excel_gbk_roster(tmp_path / "roster.csv", ROSTER[:2])
    result = run("user", "show", "--batch", str(path), "--encoding", "gbk")
    assert result.exit_code == 0, result.stderr
    assert "gbk" in result.stderr
    assert [r["姓名"] for r in lines(result.stdout)] == ["张小明", "李小红"]
    wrong = run("user", "show", "--batch", str(path), "--encoding", "utf-8")
    assert wrong.exit_code == 2 and "file line 1" in wrong.stderr and "Traceback" not in wrong.stderr
    for name in ("klingon", "hex", "rot13"):
        refused = run("user", "show", "--batch", str(path), "--encoding", name)
        assert refused.exit_code == 2 and "unknown encoding" in refused.stderr


def test_utf8_with_bom_as_excel_saves_csv_utf8(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = tmp_path / "utf8.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "out_user_id,organization_id,姓名\r\np00,demo-org,张三\r\n".encode())
    result = run("user", "show", "--batch", str(path))
    assert result.exit_code == 0, result.stderr
    assert "UTF-8" in result.stderr
    assert lines(result.stdout)[0]["姓名"] == "张三"


def test_undecodable_bytes_name_the_row_and_line_after_working_on_the_rows_before(
        sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = tmp_path / "mixed.csv"
    # UTF-8 is decided by the first non-ASCII row; row 4 (file line 6: a blank line is skipped) is not UTF-8.
    path.write_bytes("out_user_id,organization_id,姓名\np00,demo-org,张三\n\np01,demo-org,x\n"
                     "p02,demo-org,y\n".encode() + b"p03,demo-org,\xc3\x28\n" + b"p04,demo-org,z\n")
    result = run("user", "show", "--batch", str(path), "--concurrency", "1")
    assert result.exit_code == 2, result.stderr
    assert "row 4 (file line 6)" in result.stderr and "Traceback" not in result.stderr
    out = lines(result.stdout)
    assert [r["out_user_id"] for r in out] == ["p00", "p01", "p02"]
    assert all("error" not in r for r in out)
    assert "batch: 3 ok, 0 failed" in result.stderr


# -- the header, checked before anything is sent ------------------------------------------


@pytest.mark.parametrize("header, found", [
    ("学号,学校", "学号,学校"),
    ("out_user_id;organization_id", "out_user_id;organization_id"),
])
def test_a_header_without_the_columns_sends_nothing(sandbox, configure, run, header, found):
    configure(sandbox)
    text = header + "\n" + header.replace("out_user_id", "p00").replace("organization_id", "demo-org") + "\n"
    result = run("repayment-url", "--batch", "-", input=text)
    assert result.exit_code == 2, result.stderr
    assert found in result.stderr and "out_user_id,organization_id" in result.stderr
    assert sandbox.received == [] and result.stdout == ""
    if ";" in header:
        assert "comma" in result.stderr


def test_a_column_twice_is_a_usage_error(sandbox, configure, run):
    configure(sandbox)
    result = run("user", "show", "--batch", "-", input="out_user_id,organization_id,Out_User_ID\na,demo-org,b\n")
    assert result.exit_code == 2 and "twice" in result.stderr
    assert sandbox.received == []


def test_duplicate_json_keys_stop_the_input_there(sandbox, configure, run, pupils):
    configure(sandbox)
    text = ('{"out_user_id": "p00", "organization_id": "demo-org"}\n'
            '{"out_user_id": "p01", "organization_id": "demo-org", "out_user_id": "p02"}\n')
    result = run("user", "show", "--batch", "-", input=text)
    assert result.exit_code == 2 and "row 2 (file line 2)" in result.stderr and "twice" in result.stderr
    assert [r["out_user_id"] for r in lines(result.stdout)] == ["p00"]
    assert [r.path.rsplit("/", 1)[1] for r in sandbox.received] == ["p00"]


@pytest.mark.parametrize("line", [
    '{"out_user_id": ' + "[" * 10_000 + "]" * 10_000 + ', "organization_id": "demo-org"}',
    '{"out_user_id": "\\ud800", "organization_id": "demo-org"}',
    '{"out_user_id": "p00", "organization_id": "demo-org", "note": "\\udc00x"}',
], ids=["nested-deep", "lone-surrogate-id", "lone-surrogate-extra"])
def test_hostile_json_lines_are_usage_errors(sandbox, configure, run, line):
    configure(sandbox)
    result = run("user", "show", "--batch", "-", input=line + "\n")
    assert result.exit_code == 2, result.stderr
    assert "row 1" in result.stderr and "Traceback" not in result.stderr
    assert sandbox.received == []


def test_json_values_that_are_not_text_are_invalid_rows_carrying_their_keys(sandbox, configure, run):
    configure(sandbox)
    user_id = sandbox.seed_user("demo-org", "12345678901234567890123", encrypt_name=False).user_id
    values = [{"a": 1}, ["x"], True, 2.0, float("nan"), 1e25]
    text = "".join(json.dumps({"out_user_id": v, "organization_id": "demo-org", "班级": "一班"}) + "\n"
                   for v in values)
    text += '{"out_user_id": 12345678901234567890123, "organization_id": "demo-org", "班级": "二班"}\n'
    result = run("user", "show", "--batch", "-", input=text)
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["error"]["code"] for r in out[:-1]] == ["INVALID_ROW"] * len(values)
    assert all("must be text" in r["error"]["message"] for r in out[:-1])
    assert all(set(r) == {"out_user_id", "organization_id", "班级", "error"} for r in out[:-1])
    assert out[0]["out_user_id"] == {"a": 1} and out[3]["out_user_id"] == 2.0
    # An integer id is taken digit for digit (a spreadsheet exported to JSON writes ids as numbers).
    assert out[-1]["user_id"] == user_id and out[-1]["班级"] == "二班"
    assert [r.path.rsplit("/", 1)[1] for r in sandbox.received] == ["12345678901234567890123"]


def test_extra_json_keys_are_carried_in_order(sandbox, configure, run, pupils):
    configure(sandbox)
    text = '{"姓名": "张", "out_user_id": "p00", "备注": [1, 2], "organization_id": "demo-org"}\n'
    out = lines(run("repayment-url", "--batch", "-", input=text).stdout)
    assert list(out[0])[:4] == ["姓名", "out_user_id", "备注", "organization_id"] and out[0]["备注"] == [1, 2]


# -- spreadsheets out ----------------------------------------------------------------------


def read_csv_output(text: str) -> list[dict]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_csv_output_opens_in_excel_and_feeds_back(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = excel_gbk_roster(tmp_path / "roster.csv")
    result = run("repayment-url", "--batch", str(path), "--format", "csv")
    assert result.exit_code == 1
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
    again = run("repayment-url", "--batch", str(again_path), "--format", "csv")
    assert again.exit_code == 0, again.stderr
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


def test_csv_output_cells_from_wechat_cannot_be_formulas(sandbox, configure, run):
    configure(sandbox)
    sandbox.seed_user("demo-org", "f1", user_name="=HYPERLINK(\"http://x\")", encrypt_name=False)
    row = read_csv_output(run("user", "show", "--batch", "-", "--format", "csv",
                              input=csv_rows(["f1"])).stdout)[0]
    assert row["user_name"] == "'=HYPERLINK(\"http://x\")"


def test_csv_format_is_for_batches_only(sandbox, configure, run):
    configure(sandbox)
    assert run("user", "show", "--user", "demo", "--org", "demo-org", "--format", "csv").exit_code == 2
    assert run("config", "show", "--format", "csv").exit_code == 2
    assert sandbox.received == []


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


# -- faults that stop a run ----------------------------------------------------------------


def test_credentials_wechat_refuses_stop_the_run_with_exit_3(sandbox, configure, run, pupils):
    configure(sandbox, serial_no="0123456789ABCDEF0123456789ABCDEF01234567")  # not the merchant's certificate
    result = run("user", "show", "--batch", "-", "--concurrency", "1", input=csv_rows(pupils))
    assert result.exit_code == 3, result.stderr
    assert "SIGN_ERROR" in result.stderr and "wxpay config check" in result.stderr
    assert "serial_no" in result.stderr  # WeChat's detail says which check failed
    assert "stopped at row 1" in result.stderr
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

    with pytest.raises(BrokenPipeError):
        batch.run(rows(), work, make_client=NoClient, concurrency=1, writer=ClosedStdout())
    assert len(read) < 20
    readers = [t for t in threading.enumerate() if t.name == "wxpay-batch-reader"]
    for reader in readers:
        reader.join(timeout=10)
    assert not any(reader.is_alive() for reader in readers)


def test_not_started_rows_are_not_counted_as_failed(sandbox, configure, run, pupils):
    configure(sandbox)
    sandbox.inject("bad_signature", path_contains="/p02")
    result = run("user", "show", "--batch", "-", "--concurrency", "1", input=csv_rows(pupils))
    assert result.exit_code == 5
    out = lines(result.stdout)
    not_started = sum(1 for r in out if r.get("error", {}).get("code") == "NOT_STARTED")
    assert not_started >= 1
    assert "batch: 2 ok, 1 failed in" in result.stderr
    assert f"{not_started} rows were not started" in result.stderr or f"{not_started} row was not started" in \
        result.stderr


# -- termination batches ---------------------------------------------------------------------


def test_the_later_row_of_a_pupil_listed_twice_is_the_duplicate_whatever_answers_first(
        sandbox, configure, run, pupils):
    configure(sandbox)
    sandbox.inject("delay", seconds=0.3, path_contains="/p01", times=1)  # the first row's lookup is slow
    text = csv_rows(["p01", "p01", "p02"])
    result = run("contract", "terminate", "--batch", "-", "--yes", "--concurrency", "8", input=text)
    out = lines(result.stdout)
    assert out[0].get("contract_state") == "TERMINATED", out[0]
    assert out[1]["error"]["code"] == "DUPLICATE_ROW" and "row 1" in out[1]["error"]["message"]
    assert out[2].get("contract_state") == "TERMINATED"
    assert len([r for r in sandbox.received if r.method == "POST"]) == 2
    assert "terminate the contracts of 2 pupils" in result.stderr and "(3 rows: 1 repeat" in result.stderr


def test_batch_dry_run_checks_the_contract_state(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--dry-run", input=csv_rows(["p00", "demo-terminated"]))
    out = lines(result.stdout)
    assert out[0]["dry_run"] is True
    assert out[1]["error"]["code"] == "NOT_CONTRACTED" and "request" not in out[1]
    assert result.exit_code == 1


def test_batch_termination_checks_the_audit_log_before_anything_is_sent(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    state = tmp_path / "state-is-a-file"
    state.write_text("")
    result = run("contract", "terminate", "--batch", "-", "--yes", input=csv_rows(pupils[:3]),
                 env={"XDG_STATE_HOME": str(state)})
    assert result.exit_code == 3 and "audit log" in result.stderr
    assert sandbox.received == [] and result.stdout == ""


def test_batch_dry_run_as_a_table(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--dry-run", "--format", "table",
                 input=csv_rows(["p00", "demo-terminated", "p00"]))
    assert result.exit_code == 1
    table = result.stdout
    for text in ("Pupil", "Name", "Class", "State", "What would happen", "P00", "三年级二班", "CONTRACTED",
                 "terminate contract", "NOT_CONTRACTED", "DUPLICATE_ROW"):
        assert text in table, text
    assert "{" not in table
    assert [r.method for r in sandbox.received] == ["GET"] * 3


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


def test_terminate_batch_on_a_terminal_asks_after_the_summary(sandbox, configure, pupils, tmp_path):
    from terminal import run_on_terminal

    configure(sandbox)
    path = tmp_path / "rows.csv"
    path.write_text(csv_rows(["p00", "p01", "p00"]))
    declined = run_on_terminal("contract", "terminate", "--batch", str(path), tmp_path=tmp_path,
                               typeahead=b"y\n", answers=[("cannot be undone", b"n\n")])
    assert declined.returncode == 1, declined.terminal
    assert "about to terminate the contracts of 2 pupils" in declined.terminal
    assert sandbox.received == []
    agreed = run_on_terminal("contract", "terminate", "--batch", str(path), tmp_path=tmp_path,
                             answers=[("cannot be undone", b"y\n")])
    assert agreed.returncode == 1, agreed.terminal + agreed.stderr  # the third row repeats a pupil
    codes = [json.loads(line).get("error", {}).get("code") for line in agreed.stdout.splitlines()]
    assert codes == [None, None, "DUPLICATE_ROW"]
    assert len([r for r in sandbox.received if r.method == "POST"]) == 2


def test_encoding_is_for_batches_only(sandbox, configure, run):
    configure(sandbox)
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--encoding", "gbk")
    assert result.exit_code == 2 and "--encoding" in result.stderr
    assert sandbox.received == []


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


def test_csv_output_of_json_lines_input_takes_the_first_lines_keys(sandbox, configure, run, pupils):
    configure(sandbox)
    text = ('{broken\n{"out_user_id": "p00", "organization_id": "demo-org", "姓名": "张"}\n')
    out = read_csv_output(run("user", "show", "--batch", "-", "--format", "csv", input=text).stdout)
    assert list(out[0])[:3] == ["out_user_id", "organization_id", "user_id"]  # the first line had no keys
    assert out[0]["error_code"] == "INVALID_ROW" and out[1]["user_name"] == "P00"


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
