"""Issue 18's "done when", end to end against the sandbox over HTTP: one roster as an operator
has it, saved from Excel four ways (a workbook with the ids as text, a workbook with the ids
typed into General cells, "CSV (逗号分隔)" on a Chinese Windows: GBK, and "Unicode 文本": UTF-16
with a BOM, tab-separated), run through links, a termination dry run and a real termination.
Every failed row names its row as Excel numbers it (the header is row 1, the blank row 3
counts); a name that differs stops its row; ids come back unchanged in 结果.xlsx; on a terminal
the names are shown before the question."""

from __future__ import annotations

import re

import pytest
from batchrows import lines, read_workbook
from common import terminations

HEADER = ["姓名", "out_user_id", "班级", "organization_id", "备注"]
# (Excel row, 姓名, out_user_id as typed, 班级, 备注); row 3 is blank.
ROSTER = [
    (2, "张小明", "0012345", "三年级二班", "=1+1"),  # a note that looks like a formula: text, always
    (4, "李小红", "440305201501011234", "五年级一班", ""),  # 18 digits
    (5, "孙小美", "73000005", "一年级一班", ""),
    (6, "王小刚", "73000006", "二年级一班", ""),  # WeChat has 王晓刚: another pupil
    (7, "赵小刚", "..", "一年级二班", ""),  # not an id
    (8, "周小周", "00999", "四年级一班", ""),  # WeChat has nobody of that id
]
WECHAT = {"0012345": ("张小明", "三年级二班"), "440305201501011234": ("李小红", "五年级一班"),
          "73000005": ("孙小美", "一年级一班"), "73000006": ("王晓刚", "二年级一班"),
          "12345": ("另一名学生", "六年级一班")}  # 0012345 with its 0s lost

# What becomes of each row: its id as the line carries it, and the outcome (None: done).
AS_TEXT = [("0012345", None), ("440305201501011234", None), ("73000005", None), ("73000006", "NAME_MISMATCH"),
           ("..", "INVALID_ROW"), ("00999", "RESOURCE_NOT_EXISTS")]
# Typed into General cells: 0012345 is stored as 12345 (another pupil), the 18 digits as the 15 Excel
# keeps; a number goes ahead only when WeChat's name for it is the roster's (73000005).
AS_NUMBERS = [("12345", "INVALID_ROW"), ("4.40305201501011e+17", "INVALID_ROW"), ("73000005", None),
              ("73000006", "INVALID_ROW"), ("..", "INVALID_ROW"), ("999", "INVALID_ROW")]
FORMATS = ["xlsx-text", "xlsx-numbers", "csv-gbk", "unicode-text"]


def expected(kind: str) -> list[tuple[int, str, str | None]]:
    """(Excel row, id as carried, outcome) of every row of ROSTER saved as `kind`."""
    return [(row[0], *done) for row, done in zip(ROSTER, AS_NUMBERS if kind == "xlsx-numbers" else AS_TEXT,
                                                 strict=True)]


def saved(kind: str, folder):
    """ROSTER as Excel saves it as `kind`."""
    cells = {number: [name, user, klass, "demo-org", note] for number, name, user, klass, note in ROSTER}
    last = max(cells)
    if kind.startswith("xlsx"):
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = "名单"
        for number, values in [(1, HEADER), *cells.items()]:
            for column, value in enumerate(values, start=1):
                if value == "":
                    continue
                if kind == "xlsx-numbers" and column == 2 and value.isdigit():
                    # a General cell keeps 15 significant digits: 440305201501011234 is 440305201501011000
                    value = int(value) if len(value) <= 15 else float(value[:15] + "0" * (len(value) - 15))
                cell = sheet.cell(row=number, column=column, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # typed into a Text cell: =1+1 stays text
        path = folder / "名单.xlsx"
        book.save(path)
        return path
    separator, encoding, name = ("\t", "utf-16", "名单.txt") if kind == "unicode-text" else (",", "gbk", "名单.csv")
    text = "".join(separator.join(cells.get(number, HEADER if number == 1 else [])) + "\r\n"
                   for number in range(1, last + 1))
    path = folder / name
    path.write_bytes(text.encode(encoding))  # utf-16: with its BOM, as Excel writes it
    return path


@pytest.fixture
def school(sandbox, configure):
    configure(sandbox)
    for user, (name, klass) in WECHAT.items():
        sandbox.seed_user("demo-org", user, user_name=name, class_name=klass, encrypt_name=False)
    return sandbox


def check_rows(kind: str, out: list[dict], done: str) -> None:
    """Each line: its id as read, and either `done` or the error expected, naming its Excel row."""
    assert [line["out_user_id"] for line in out] == [user for _row, user, _outcome in expected(kind)]
    for line, (row, _user, outcome) in zip(out, expected(kind), strict=True):
        error = line.get("error") or {}
        assert error.get("code") == outcome and (outcome or line.get("outcome", done) == done), (row, line)
        if outcome:
            assert error["message"].startswith(f"row {row}:"), (row, error)


def sent_for(sandbox, ending: str) -> list[str]:
    return sorted(r.json.get("out_user_id") or r.json.get("user_id") for r in sandbox.received
                  if r.method == "POST" and r.path.endswith(ending))


def ok_ids(kind: str) -> list[str]:
    return sorted(user for _row, user, outcome in expected(kind) if outcome is None)


@pytest.mark.parametrize("kind", FORMATS)
def test_links_for_a_roster_from_excel_come_back_in_a_workbook_with_every_id_unchanged(school, run, tmp_path,
                                                                                      kind):
    result = tmp_path / "结果.xlsx"
    run("--lang", "zh", "repayment-url", "--batch", str(saved(kind, tmp_path)), "--format", "xlsx", "-o",
        str(result), expect=1)
    assert sent_for(school, "/repayment-url") == ok_ids(kind)  # no link for a row that failed
    header, *rows = read_workbook(result)
    names = [value for value, _type in header]
    assert names == [*HEADER, "repayment_url", "expire_at", "error_code", "error_message"]
    assert all(kind_ == "s" for row in rows for value, kind_ in row if value is not None)  # text cells only
    column = {name: index for index, name in enumerate(names)}
    for (number, name, _user, klass, note), row, (_n, user, outcome) in zip(ROSTER, rows, expected(kind),
                                                                           strict=True):
        values = [value for value, _type in row]
        assert values[column["out_user_id"]] == user and values[column["姓名"]] == name, values
        assert values[column["班级"]] == klass and (values[column["备注"]] or "") == note, values
        assert values[column["error_code"]] == outcome, values
        if outcome:
            assert values[column["error_message"]].startswith(f"第 {number} 行"), values
            assert values[column["repayment_url"]] is None, values
        else:
            assert "/repay/" in values[column["repayment_url"]], values


@pytest.mark.parametrize("kind", FORMATS)
def test_a_dry_run_of_a_roster_from_excel_sends_nothing_and_names_every_row(school, run, tmp_path, kind):
    out = lines(run("contract", "terminate", "--batch", str(saved(kind, tmp_path)), "--dry-run", "--format",
                    "json", expect=1).stdout)
    check_rows(kind, out, "WOULD_TERMINATE")
    assert terminations(school) == []


@pytest.mark.parametrize("kind", FORMATS)
def test_a_termination_of_a_roster_from_excel_stops_each_row_that_failed(school, run, tmp_path, kind):
    out = lines(run("contract", "terminate", "--batch", str(saved(kind, tmp_path)), "--yes", expect=1).stdout)
    check_rows(kind, out, "TERMINATED")
    done = sorted(user for (_org, user), pupil in school.state.users.items()
                  if user in WECHAT and pupil.contract_state == "TERMINATED")
    assert done == ok_ids(kind)  # 73000006 (王晓刚, not the roster's 王小刚) is still contracted
    assert len(terminations(school)) == len(ok_ids(kind))


@pytest.mark.parametrize("kind", ["xlsx-numbers", "csv-gbk"])
def test_a_termination_of_a_roster_from_excel_on_a_terminal_shows_names_before_it_asks(school, tmp_path, kind):
    from terminal import run_on_terminal

    declined = run_on_terminal("--lang", "zh", "contract", "terminate", "--batch", str(saved(kind, tmp_path)),
                               tmp_path=tmp_path, answers=[("不可撤销", b"n\n")])
    assert declined.returncode == 1, declined.terminal
    question = declined.terminal.index("不可撤销")
    table = " ".join(declined.terminal[:question].split())
    for _number, name, *_rest in ROSTER:
        assert name in table, (name, declined.terminal)
    for text in ["孙小美", "一年级一班", "CONTRACTED"] + [f"第 {row} 行" for row, _u, o in expected(kind) if o]:
        assert text in table, (text, declined.terminal)
    if kind == "csv-gbk":
        assert "王晓刚" in table and "NAME_MISMATCH" in table  # WeChat's name beside the roster's
    terminable = len(ok_ids(kind))
    assert f"{terminable} 名学生" in declined.terminal[question - 200:question], declined.terminal
    assert terminations(school) == [] and declined.stdout == ""
    said = re.sub(r"\x1b\[[0-9;]*m", "", declined.terminal[question:])
    assert "已取消：没有解约" in said and "错误" not in said, said
    assert {r.method for r in school.received} == {"GET"}  # looked up, read-only, before the question
