"""The audit trail: who (operator and host) on every record, what (never a secret, a failed
fetch too, the link still shown when the log fails), and `wxpay audit` reading it back.
(On disk and under faults: test_audit_durability.py.)"""

from __future__ import annotations

import json
import socket

import pytest
from common import LINK, TERMINATE, audit_lines

from wxpay_cli.local.audit import AuditLog


def test_records_name_the_profiles_operator_and_the_host(sandbox, configure, run):
    configure(sandbox, operator="张三")
    assert run(*LINK, "--json").exit_code == 0
    assert run(*TERMINATE, "--yes", "--json").exit_code == 0
    lines = audit_lines()
    assert [line["operation"] for line in lines] == ["repayment_url", "terminate", "terminate"]
    assert all(line["operator"] == "张三" for line in lines)
    assert all(line["host"] == socket.gethostname() for line in lines)


def test_operator_defaults_to_the_login_name(sandbox, configure, run, monkeypatch):
    configure(sandbox)
    monkeypatch.setenv("LOGNAME", "wang.wu")
    assert run(*LINK, "--json").exit_code == 0
    assert audit_lines()[-1]["operator"] == "wang.wu"


def test_operator_has_a_safe_fallback_when_no_login_name_is_known(sandbox, configure, run, monkeypatch):
    configure(sandbox)

    def no_login_name():
        raise OSError("no login name")

    monkeypatch.setattr("getpass.getuser", no_login_name)
    run(*LINK, "--json", expect=0)
    operator = audit_lines()[-1]["operator"]
    assert isinstance(operator, str) and operator  # never missing, never a crash


def test_batch_records_name_the_operator(sandbox, configure, run, tmp_path):
    configure(sandbox, operator="李四")
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\ndemo,demo-org\ndemo-2,demo-org\n")
    run("repayment-url", "--batch", str(rows), expect=0)
    assert [line["operator"] for line in audit_lines()] == ["李四", "李四"]


@pytest.mark.parametrize("value", ["", "   ", 7, "x" * 200, "a\x1bb"])
def test_bad_operator_in_profile_is_a_config_error(value, sandbox, configure, run):
    configure(sandbox, operator=value)
    result = run(*LINK, "--json", expect=3)
    assert "operator" in result.stderr
    assert sandbox.received == []


# -- `wxpay audit` ------------------------------------------------------------------


@pytest.fixture
def shanghai(local_zone):
    """Local time is China's (UTC+8, no summer time), whatever the machine says."""
    local_zone("Asia/Shanghai")


def write_log(records: list[dict]) -> None:
    log = AuditLog()
    log.path.parent.mkdir(parents=True, exist_ok=True)
    with log.path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def record(n: int, **fields) -> dict:
    """Record n, n minutes after 2026-11-26 06:00 UTC (14:00 in Shanghai)."""
    base = {
        "time": f"2026-11-26T06:{n:02d}:00+00:00", "operator": "张三", "host": "ops-laptop-01",
        "profile": "school-a", "mchid": "1900000001", "operation": "repayment_url",
        "organization_id": "1234567", "out_user_id": f"2024{n:04d}", "user_id": None, "contract_id": None,
        "outcome": "fetched", "http_status": 200, "request_id": f"08A1B2C3D4E5F60718293A4B5C6D7E8F{n:04d}",
        "error": None,
    }
    base.update(fields)
    return base


def json_records(result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_newest_first_and_limit(run):
    write_log([record(n) for n in range(5)])
    assert [r["out_user_id"] for r in json_records(run("audit", "--json"))] == [
        "20240004", "20240003", "20240002", "20240001", "20240000"]
    assert [r["out_user_id"] for r in json_records(run("audit", "--limit", "2", "--json"))] == [
        "20240004", "20240003"]
    assert run("audit", "--limit", "0").exit_code == 2


def test_json_keeps_full_records(run):
    write_log([record(1)])
    assert json_records(run("audit", "--json")) == [record(1)]


def test_audit_as_csv_for_excel(run):
    """Newest first, the record's fields as columns; every value from the log gets the CSV formula
    guard (an error message is WeChat's words), ids stay as they are."""
    import csv
    import io

    from wxpay_cli.local.audit import FIELDS

    write_log([record(1), record(2, operation="terminate", outcome="failed", out_user_id="0012345",
                                 error="=cmd|' /C calc'!A0")])
    result = run("audit", "--format", "csv", expect=0)
    assert result.stdout.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(result.stdout[1:], newline="")))
    assert list(rows[0]) == list(FIELDS)
    assert [r["out_user_id"] for r in rows] == ["0012345", "20240001"]
    assert rows[0]["error"] == "'=cmd|' /C calc'!A0" and rows[1]["http_status"] == "200"


def test_audit_into_a_workbook_or_a_file_takes_every_record(run, tmp_path, monkeypatch):
    from batchrows import read_workbook

    from wxpay_cli.local.audit import FIELDS

    write_log([record(n) for n in range(60)])
    monkeypatch.setattr("wxpay_cli.terminal.output.stdout_is_terminal", lambda: True)  # a person at a terminal
    path = tmp_path / "审计.xlsx"
    written = run("audit", "-o", str(path), expect=0)
    assert written.stdout == "" and f"results written to {path}" in written.stderr  # as after a batch
    header, *rows = read_workbook(path)
    assert [value for value, _type in header] == list(FIELDS)
    assert len(rows) == 60  # a file gets every record, not the terminal's newest 50
    assert rows[0][FIELDS.index("out_user_id")] == ("20240059", "s")
    assert all(kind == "s" for row in rows for value, kind in row if value is not None)
    jsonl = tmp_path / "audit.jsonl"
    run("audit", "--limit", "2", "-o", str(jsonl), expect=0)
    assert [json.loads(line) for line in jsonl.read_text().splitlines()] == [record(59), record(58)]
    assert "-o" in run("audit", "--format", "xlsx", expect=2).stderr


def test_filters(run, shanghai):
    write_log([
        record(1),
        record(2, operation="terminate", outcome="attempted", user_id="wxu_1", out_user_id="20240002"),
        record(3, operation="terminate", outcome="succeeded", user_id="wxu_1", out_user_id="20240002"),
        record(4, organization_id="7654321", outcome="failed"),
        record(5, time="2026-11-27T01:00:00+00:00"),  # 09:00 on the 27th in Shanghai
    ])

    def pupils(*args):
        return [r["time"][11:16] for r in json_records(run("audit", "--json", *args))]

    assert pupils("--user", "wxu_1") == ["06:03", "06:02"]
    assert pupils("--user", "20240002") == ["06:03", "06:02"]
    assert pupils("--org", "7654321") == ["06:04"]
    assert pupils("--operation", "terminate") == ["06:03", "06:02"]
    assert pupils("--outcome", "failed") == ["06:04"]
    assert pupils("--operation", "terminate", "--outcome", "succeeded") == ["06:03"]
    # --until a date takes the whole of that (local) day; --since a time is at or after it
    assert pupils("--until", "2026-11-26") == ["06:04", "06:03", "06:02", "06:01"]
    assert pupils("--since", "2026-11-27") == ["01:00"]
    assert pupils("--since", "2026-11-26T14:03", "--until", "2026-11-26T14:04") == ["06:04", "06:03"]
    assert run("audit", "--since", "2026-11-27", "--until", "2026-11-26").exit_code == 2
    assert run("audit", "--until", "tomorrow").exit_code == 2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_filters_take_the_words_the_table_shows_in_either_language(run, lang):
    write_log([record(1), record(2, operation="terminate", outcome="refused"),
               record(3, operation="terminate", outcome="dry_run"), record(4, outcome="failed"),
               record(5, operation="terminate", outcome="not_sent")])

    def minutes(*args):
        return [r["time"][14:16] for r in json_records(run("--lang", lang, "audit", "--json", *args))]

    for word in ("refused", "REFUSED", "Refused", " 被拒绝 "):
        assert minutes("--outcome", word) == ["02"], word
    for word in ("dry_run", "dry run", "Dry-Run", "演练"):
        assert minutes("--outcome", word) == ["03"], word
    for word in ("not_sent", "not sent", "未发送"):
        assert minutes("--outcome", word) == ["05"], word
    for word in ("terminate", "解约", "TERMINATE"):
        assert minutes("--operation", word) == ["05", "03", "02"], word
    for word in ("repayment_url", "repayment-url", "link", "取链接"):
        assert minutes("--operation", word) == ["04", "01"], word


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_outcome_and_operation_shown_in_the_table_filters_only_its_own_records(run, lang):
    """No two outcomes (or operations) share a word in either language: the word the table
    shows for `observed` (a --refresh query) must find the observations, not the `checked` lines."""
    from wxpay_cli.commands.audit import OPERATIONS, OUTCOMES
    from wxpay_cli.i18n import in_chinese

    write_log([record(n, outcome=outcome) for n, outcome in enumerate(OUTCOMES)]
              + [record(20 + n, operation=operation) for n, operation in enumerate(OPERATIONS)])
    for outcome, word in OUTCOMES.items():
        shown = in_chinese(word) if lang == "zh" else word
        found = json_records(run("--lang", lang, "audit", "--json", "--outcome", shown))
        assert {r["outcome"] for r in found} == {outcome}, (shown, outcome)
    for operation, word in OPERATIONS.items():
        shown = in_chinese(word) if lang == "zh" else word
        found = json_records(run("--lang", lang, "audit", "--json", "--operation", shown))
        assert {r["operation"] for r in found} == {operation}, (shown, operation)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_unknown_filter_word_is_a_usage_error_listing_the_valid_ones(run, lang):
    write_log([record(1)])
    result = run("--lang", lang, "audit", "--outcome", "rejected", expect=2)
    assert "rejected" in result.stderr
    assert all(value in result.stderr for value in ("fetched", "refused", "dry_run", "not_sent", "declined"))
    if lang == "zh":
        assert "被拒绝" in result.stderr and "已获取" in result.stderr, result.stderr
    result = run("--lang", lang, "audit", "--operation", "refund", expect=2)
    assert "repayment_url" in result.stderr and "terminate" in result.stderr


def test_default_limit_is_50_on_a_terminal_only(run, monkeypatch):
    write_log([record(n % 60, out_user_id=f"p{n}") for n in range(60)])
    assert len(json_records(run("audit"))) == 60  # a pipe gets every record
    monkeypatch.setattr("wxpay_cli.terminal.output.stdout_is_terminal", lambda: True)
    result = run("audit", "--json")
    assert len(json_records(result)) == 50
    assert "50" in result.stderr and "--limit" in result.stderr  # says that more are there
    assert len(json_records(run("audit", "--json", "--limit", "55"))) == 55


def table_lines(result) -> list[str]:
    from rich.cells import cell_len

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    return lines, max(cell_len(line) for line in lines)


@pytest.mark.parametrize("width", [80, 160])
def test_table_is_one_line_per_record_and_fits(width, run, shanghai):
    records = [
        record(1, operator="欧阳娜娜娜娜娜娜", organization_id="1234567890123456789",
               out_user_id="20240117-very-long-pupil-id-0000001"),
        record(2, operation="terminate", outcome="succeeded", user_id="wxu_" + "f" * 40, host="a" * 60,
               contract_id="ct_" + "c" * 40, error="SOME_VERY_LONG_ERROR_CODE_FROM_WECHAT"),
        record(3, operation="terminate", outcome="unknown", http_status=None, request_id=None),
    ]
    write_log(records)
    result = run("audit", "--format", "table", env={"COLUMNS": str(width)})
    lines, widest = table_lines(result)
    assert widest <= width
    body = [line for line in lines if "11-26 14:0" in line]
    assert len(body) == 3  # one line per record, newest first
    assert [line.split()[0:2] for line in body] == [["11-26", "14:03"], ["11-26", "14:02"], ["11-26", "14:01"]]
    assert "+08:00" in result.stdout  # the offset, said once
    assert "欧阳" in result.stdout and "…" in result.stdout  # truncated, not wrapped
    if width >= 160:
        assert "ops-laptop-01" in result.stdout and "08A1B2C3" in result.stdout


def test_outside_text_in_the_log_cannot_control_the_terminal(run):
    write_log([record(1, operator="evil\x1b]0;pwned\x07", out_user_id="x\u202ey")])
    result = run("audit", "--format", "table", env={"COLUMNS": "160"}, expect=0)
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout and "\x07" not in result.stdout


def test_every_link_fetch_and_termination_shows_with_its_operator(sandbox, configure, run):
    configure(sandbox, operator="张三")
    run(*LINK, "--json")
    run(*TERMINATE, "--yes", "--json")
    result = run("audit", "--format", "table", env={"COLUMNS": "80"})
    lines, widest = table_lines(result)
    assert widest <= 80
    assert sum("张三" in line for line in lines) == 3


def test_audit_lines_hold_no_secrets(sandbox, configure, run):
    table = configure(sandbox)
    run("repayment-url", "--user", "demo", "--org", "demo-org")
    run(*TERMINATE, "--yes", "--json")
    path = AuditLog().path
    text = path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    signature_fragments = [r.headers["Authorization"].split('signature="')[1][:40] for r in sandbox.received]
    for secret in ["PRIVATE KEY", "signature", "/repay/", *signature_fragments]:
        assert secret not in text
    ops = [(line["operation"], line["outcome"]) for line in audit_lines()]
    assert ops == [("repayment_url", "fetched"), ("terminate", "attempted"), ("terminate", "succeeded")]
    assert all(line["mchid"] == table["mchid"] and line["profile"] == "school-a" for line in audit_lines())


def test_audit_command_filters(sandbox, configure, run):
    configure(sandbox)
    run("repayment-url", "--user", "demo", "--org", "demo-org")
    run("repayment-url", "--user", "demo-2", "--org", "demo-org")
    result = run("audit", "--user", "demo-2", "--json", expect=0)
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["out_user_id"] == "demo-2" and line["outcome"] == "fetched"
    assert run("audit", "--since", "2999-01-01", "--json").stdout == ""
    assert len(run("audit", "--since", "2000-01-01", "--json").stdout.splitlines()) == 2
    table = run("audit", "--format", "table", env={"COLUMNS": "250"})
    assert "link" in table.stdout and "demo-2" in table.stdout
    assert run("audit", "--since", "yesterday").exit_code == 2


def test_a_profiles_own_audit_log_is_private_in_a_folder_wxpay_makes(sandbox, configure, run, tmp_path):
    """Folder 700 and file 600, under a umask that would let others read. (The default folder
    is shared with the replay memory, which makes it 700 too: only a folder of the log's own
    shows what the audit log does.)"""
    import os

    configure(sandbox, audit_log="logs/audit.jsonl")
    umask = os.umask(0o022)
    try:
        run("repayment-url", "--user", "demo", "--org", "demo-org", expect=0)
    finally:
        os.umask(umask)
    path = tmp_path / "logs" / "audit.jsonl"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


def test_repayment_link_still_shown_when_audit_log_fails(sandbox, configure, run, monkeypatch, tmp_path):
    configure(sandbox)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", expect=0)
    assert result.json["repayment_url"]
    assert "warning: cannot write the audit log" in result.stderr


def test_failed_fetch_is_audited(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("bad_signature")
    assert run("repayment-url", "--user", "demo", "--org", "demo-org").exit_code == 5
    [line] = audit_lines()
    assert (line["outcome"], line["error"]) == ("failed", "VERIFICATION_FAILED")
