"""Batch input as operators have it: CSV from Excel (GBK, UTF-8 with a BOM, extra roster
columns carried), JSON lines from a file or a pipe; and input that cannot be trusted (headers,
JSON values, encodings, ids), each refused in place or before anything is sent."""

from __future__ import annotations

import datetime
import json
import subprocess

import pytest
from batchrows import ROSTER, csv_rows, excel_gbk_roster, lines, workbook
from terminal import wxpay_script

# -- CSV and JSON lines ------------------------------------------------------------------


def test_jsonl_input_from_a_file(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"out_user_id": u, "organization_id": "demo-org"}) + "\n" for u in pupils[:3]))
    result = run("user", "show", "--batch", str(path), expect=0)
    assert [r["user_name"] for r in lines(result.stdout)] == ["P00", "P01", "P02"]


def test_bad_rows_are_reported_in_place(sandbox, configure, run):
    configure(sandbox)
    text = '{"out_user_id": "demo", "organization_id": "demo-org"}\nnot json\n{"out_user_id": "demo"}\n[1]\n'
    result = run("user", "show", "--batch", "-", input=text, expect=1)
    out = lines(result.stdout)
    assert len(out) == 4 and "error" not in out[0]
    assert [r["error"]["code"] for r in out[1:]] == ["INVALID_ROW"] * 3
    assert "missing organization_id" in out[2]["error"]["message"]
    assert len(sandbox.received) == 1


def test_input_in_no_known_encoding_is_a_clean_usage_error(sandbox, configure, run, tmp_path):
    configure(sandbox)
    path = tmp_path / "other.csv"  # neither UTF-8 nor GB18030, and no BOM
    path.write_bytes(b"out_user_id,organization_id\n\xff\xfe\xfd,demo-org\n")
    result = run("user", "show", "--batch", str(path), expect=2)
    assert "neither UTF-8 nor GB18030" in result.stderr and "Traceback" not in result.stderr
    assert sandbox.received == []


def test_dot_ids_are_bad_rows_not_paths(sandbox, configure, run):
    configure(sandbox)
    result = run("user", "show", "--batch", "-", input="out_user_id,organization_id\n..,demo-org\n")
    assert lines(result.stdout)[0]["error"]["code"] == "INVALID_ROW"
    assert sandbox.received == []


def test_ids_in_a_roster_are_sent_trimmed(sandbox, configure, run, pupils):
    """Spaces around an id (a spreadsheet's padding) are not part of it: not sent, and the
    line carries the id as sent."""
    configure(sandbox)
    text = "out_user_id,organization_id\n p00 , demo-org\np01\t,demo-org \n"
    result = run("user", "show", "--batch", "-", input=text, expect=0)
    assert [(r["out_user_id"], r["organization_id"], r["user_name"]) for r in lines(result.stdout)] == [
        ("p00", "demo-org", "P00"), ("p01", "demo-org", "P01")]
    assert sorted(r.path.rsplit("/", 1)[-1] for r in sandbox.received) == ["p00", "p01"]  # rows run at once


def test_a_row_with_more_cells_than_the_header_is_not_sent(sandbox, configure, run, pupils):
    """An unquoted comma in a name shifts every cell after it: the row is refused, never sent
    for whichever pupil and organization the shifted cells name."""
    configure(sandbox)
    text = "name,out_user_id,organization_id\nLi Hua,p00,demo-org\nZhang, Jr.,p01,demo-org\nWang Fang,p02,demo-org\n"
    result = run("user", "show", "--batch", "-", input=text, expect=1)
    out = lines(result.stdout)
    assert [r.get("user_name") for r in out] == ["P00", None, "P02"]
    assert out[1]["error"]["code"] == "INVALID_ROW" and "has 4 cells but the header has 3" in out[1]["error"]["message"]
    assert sorted(r.path.rsplit("/", 1)[-1] for r in sandbox.received) == ["p00", "p02"]


def test_full_width_ids_and_spaces_inside_are_invalid_rows_saying_where(sandbox, configure, run, pupils):
    configure(sandbox)
    text = ("out_user_id,organization_id,姓名\r\n" "ｐ００,demo-org,张三\r\n" "p0 1,demo-org,李四\r\n"
            "p02,demo-org,王五\r\n" " p03 ,demo-org,赵六\r\n")
    result = run("--lang", "zh", "repayment-url", "--batch", "-", "--format", "csv", input=text, expect=1)
    rows = result.stdout.lstrip("\ufeff").splitlines()[1:]
    assert rows[0].startswith("ｐ００,demo-org,张三,") and "第 1 个字符" in rows[0] and "请改用半角字符" in rows[0]
    assert rows[1].startswith("p0 1,demo-org,李四,") and "第 3 个字符" in rows[1] and "请改用半角字符" in rows[1]
    assert "INVALID_ROW" not in rows[2] + rows[3]  # spaces around an id are trimmed, as ever
    assert sorted(r.json["out_user_id"] for r in sandbox.received) == ["p02", "p03"]  # rows run at once


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


def test_rate_must_be_finite(sandbox, configure, run):
    configure(sandbox)
    assert run("user", "show", "--batch", "-", "--rate", "nan", input="").exit_code == 2


# -- spreadsheets in -------------------------------------------------------------------


def test_gbk_roster_from_excel_is_read_and_its_columns_carried(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = excel_gbk_roster(tmp_path / "roster.csv")
    result = run("repayment-url", "--batch", str(path), expect=1)
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
    result = run("user", "show", "--batch", str(path), "--encoding", "gbk", expect=0)
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
    result = run("user", "show", "--batch", str(path), expect=0)
    assert "UTF-8" in result.stderr
    assert lines(result.stdout)[0]["姓名"] == "张三"


def test_undecodable_bytes_name_the_row_and_line_after_working_on_the_rows_before(
        sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = tmp_path / "mixed.csv"
    # UTF-8 is decided by the first non-ASCII row; the fourth row, on file line 6 (row 6 as Excel numbers
    # it: a blank line counts), is not UTF-8.
    path.write_bytes("out_user_id,organization_id,姓名\np00,demo-org,张三\n\np01,demo-org,x\n"
                     "p02,demo-org,y\n".encode() + b"p03,demo-org,\xc3\x28\n" + b"p04,demo-org,z\n")
    result = run("user", "show", "--batch", str(path), "--concurrency", "1", expect=2)
    assert "cannot be read at row 6:" in result.stderr and "Traceback" not in result.stderr
    out = lines(result.stdout)
    assert [r["out_user_id"] for r in out] == ["p00", "p01", "p02"]
    assert all("error" not in r for r in out)
    assert "batch: 3 ok, 0 failed" in result.stderr


def test_encoding_is_for_batches_only(sandbox, configure, run):
    configure(sandbox)
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--encoding", "gbk")
    assert result.exit_code == 2 and "--encoding" in result.stderr
    assert sandbox.received == []


# -- workbooks in ------------------------------------------------------------------------------

HEADER = ["姓名", "out_user_id", "班级", "organization_id"]


def sent(sandbox) -> list[str]:
    """The pupils asked for, in the order the sandbox received them."""
    return [request.path.rsplit("/", 1)[1] for request in sandbox.received]


def test_a_workbook_with_ids_as_text_is_read_exactly(sandbox, configure, run, tmp_path):
    """The header is the first non-empty row; text cells are the ids, leading 0s and all; other
    cells (a phone typed as a number) are carried as Excel shows them; the sheet read is named."""
    configure(sandbox)
    sandbox.seed_user("demo-org", "0012345", user_name="张小明", encrypt_name=False)
    sandbox.seed_user("demo-org", "440305201501011234", user_name="李小红", encrypt_name=False)
    path = workbook(tmp_path / "名单.xlsx", [
        None,
        [*HEADER, "家长电话"],
        ["张小明", "0012345", "三年级二班", "demo-org", 13800000000],
        None,
        ["李小红", "440305201501011234", "五年级一班", "demo-org", "13900000000"],
    ])
    result = run("user", "show", "--batch", str(path), expect=0)
    out = lines(result.stdout)
    assert [list(r)[:5] for r in out] == [[*HEADER, "家长电话"]] * 2
    assert [(r["out_user_id"], r["user_name"], r["家长电话"]) for r in out] == [
        ("0012345", "张小明", "13800000000"), ("440305201501011234", "李小红", "13900000000")]
    assert sorted(sent(sandbox)) == ["0012345", "440305201501011234"]
    assert "名单" in result.stderr


def test_ids_typed_as_numbers_are_refused_with_a_hint_unless_accepted(sandbox, configure, run, tmp_path):
    """12345 may be 0012345 that lost its 0s, and then names another pupil: nothing is sent for it
    unless the operator says the numbers are the ids (--accept-numeric-ids). The row is named as
    Excel numbers it (blank rows count)."""
    configure(sandbox)
    sandbox.seed_user("demo-org", "0012345", user_name="零零", encrypt_name=False)
    sandbox.seed_user("demo-org", "12345", user_name="另一名学生", encrypt_name=False)
    path = workbook(tmp_path / "名单.xlsx", [
        HEADER, ["李小红", "0012345", "五年级一班", "demo-org"], None, ["张小明", 12345, "三年级二班", "demo-org"]])
    refused = run("user", "show", "--batch", str(path), expect=1)
    good, bad = lines(refused.stdout)
    assert good["user_name"] == "零零"
    assert bad["error"]["code"] == "INVALID_ROW" and bad["error"]["message"].startswith("row 4: out_user_id")
    assert "Text" in bad["error"]["message"] and "--accept-numeric-ids" in bad["error"]["message"]
    assert (bad["out_user_id"], bad["姓名"]) == ("12345", "张小明")
    assert sent(sandbox) == ["0012345"]
    accepted = run("user", "show", "--batch", str(path), "--accept-numeric-ids", expect=0)
    assert [r["user_name"] for r in lines(accepted.stdout)] == ["零零", "另一名学生"]


def test_the_hint_for_ids_typed_as_numbers_is_in_chinese(sandbox, configure, run, tmp_path):
    import csv
    import io

    configure(sandbox)
    path = workbook(tmp_path / "名单.xlsx", [HEADER, ["张小明", 12345, "三年级二班", "demo-org"]])
    result = run("--lang", "zh", "user", "show", "--batch", str(path), "--format", "csv", expect=1)
    [row] = csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"), newline=""))
    assert row["error_code"] == "INVALID_ROW"
    assert row["error_message"].startswith("第 2 行") and "文本" in row["error_message"], row["error_message"]
    assert sandbox.received == []


@pytest.mark.parametrize("value, words", [
    (12345.5, "fraction"),
    (4403052015010112, "more than 15 digits"),  # 16 digits: Excel keeps 15 of them
    (4.40305201501012e17, "more than 15 digits"),  # what Excel keeps of 440305201501011234
    (-12345, "negative"),
    (datetime.datetime(2024, 1, 17), "a date"),  # 20240117 typed as 2024/1/17
    (True, "true/false"),
], ids=["decimal", "16-digits", "scientific", "negative", "date", "bool"])
def test_numbers_that_cannot_be_ids_are_refused_even_when_numbers_are_accepted(
        sandbox, configure, run, tmp_path, value, words):
    configure(sandbox)
    path = workbook(tmp_path / "名单.xlsx", [HEADER, ["张小明", value, "三年级二班", "demo-org"]])
    [line] = lines(run("user", "show", "--batch", str(path), "--accept-numeric-ids", expect=1).stdout)
    assert line["error"]["code"] == "INVALID_ROW" and words in line["error"]["message"], line
    assert sandbox.received == []


def test_an_id_column_of_any_key_is_checked_the_same_way(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = workbook(tmp_path / "名单.xlsx", [["out_user_id", "organization_id"], ["p00", 1234567]])
    [line] = lines(run("user", "show", "--batch", str(path), expect=1).stdout)
    assert line["error"]["code"] == "INVALID_ROW" and "organization_id" in line["error"]["message"]
    assert sandbox.received == []


def test_a_number_shown_with_leading_zeros_is_taken_as_excel_shows_it(sandbox, configure, run, tmp_path):
    """A column formatted 0000000 shows 12345 as 0012345: that is the id the operator sees."""
    configure(sandbox)
    sandbox.seed_user("demo-org", "0012345", user_name="零零", encrypt_name=False)
    path = workbook(tmp_path / "名单.xlsx", [["out_user_id", "organization_id"], [12345, "demo-org"]],
                    formats={(2, 1): "0000000"})
    [refused] = lines(run("user", "show", "--batch", str(path), expect=1).stdout)
    assert refused["error"]["code"] == "INVALID_ROW" and "0012345" in refused["error"]["message"]
    [line] = lines(run("user", "show", "--batch", str(path), "--accept-numeric-ids", expect=0).stdout)
    assert line["user_name"] == "零零" and sent(sandbox) == ["0012345"]


def test_a_workbook_is_known_by_its_content_from_a_file_or_stdin(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = workbook(tmp_path / "roster.csv", [["out_user_id", "organization_id"], ["p00", "demo-org"],
                                              ["p01", "demo-org"]])
    from_file = run("repayment-url", "--batch", str(path), expect=0)
    from_stdin = run("repayment-url", "--batch", "-", input=path.read_bytes(), expect=0)
    for result in (from_file, from_stdin):
        assert [r["out_user_id"] for r in lines(result.stdout)] == ["p00", "p01"]
    assert sorted(request.json["out_user_id"] for request in sandbox.received) == ["p00", "p00", "p01", "p01"]


def test_another_sheet_is_chosen_by_name(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = workbook(tmp_path / "名单.xlsx", [["说明"], ["名单在第二页"]], title="说明",
                    sheets=[("三年级", [["out_user_id", "organization_id"], ["p01", "demo-org"]])])
    first = run("user", "show", "--batch", str(path), expect=2)
    assert "说明" in first.stderr and "--sheet" in first.stderr  # the first sheet has no ids: say there are others
    chosen = run("user", "show", "--batch", str(path), "--sheet", "三年级", expect=0)
    assert [r["user_name"] for r in lines(chosen.stdout)] == ["P01"] and "三年级" in chosen.stderr
    unknown = run("user", "show", "--batch", str(path), "--sheet", "四年级", expect=2)
    assert "四年级" in unknown.stderr and "说明, 三年级" in unknown.stderr
    not_a_workbook = run("user", "show", "--batch", "-", "--sheet", "三年级", input=csv_rows(["p00"]), expect=2)
    assert "--sheet" in not_a_workbook.stderr
    assert run("user", "show", "--user", "p00", "--org", "demo-org", "--sheet", "x", expect=2)
    assert sent(sandbox) == ["p01"]


def test_a_hidden_first_sheet_is_not_the_one_read(sandbox, configure, run, pupils, tmp_path):
    """The operator sees the second sheet first: that is the roster, not a hidden one."""
    configure(sandbox)
    path = workbook(tmp_path / "名单.xlsx", [["out_user_id", "organization_id"], ["p00", "demo-org"]],
                    title="旧名单", hidden=("旧名单",),
                    sheets=[("名单", [["out_user_id", "organization_id"], ["p01", "demo-org"]])])
    result = run("user", "show", "--batch", str(path), expect=0)
    assert [r["out_user_id"] for r in lines(result.stdout)] == ["p01"] and sent(sandbox) == ["p01"]


def test_encoding_does_not_apply_to_a_workbook(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    path = workbook(tmp_path / "名单.xlsx", [["out_user_id", "organization_id"], ["p00", "demo-org"]])
    result = run("user", "show", "--batch", str(path), "--encoding", "gbk", expect=0)
    assert "--encoding" in result.stderr and lines(result.stdout)[0]["user_name"] == "P00"


@pytest.mark.parametrize("content, words", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "Excel 97-2003 workbook (.xls)"),  # or one with a password
    ("truncated", "cannot be read"),
    ("not-a-workbook", "not an Excel workbook"),
])
def test_what_is_not_a_readable_workbook_is_a_usage_error(sandbox, configure, run, pupils, tmp_path, content,
                                                          words):
    import zipfile

    configure(sandbox)
    path = tmp_path / "名单.xlsx"
    if content == "truncated":
        whole = workbook(tmp_path / "whole.xlsx", [["out_user_id", "organization_id"], ["p00", "demo-org"]])
        path.write_bytes(whole.read_bytes()[:2000])
    elif content == "not-a-workbook":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    else:
        path.write_bytes(content)
    result = run("user", "show", "--batch", str(path), expect=2)
    assert words in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert sandbox.received == []


def test_a_workbook_too_large_to_read_whole_is_refused(sandbox, configure, run, pupils, tmp_path, monkeypatch):
    """A workbook is read whole (a pipe cannot be read twice): its size, and what it unpacks to
    (a zip bomb), have a ceiling."""
    from wxpay_cli.flows import batch_input

    configure(sandbox)
    path = workbook(tmp_path / "名单.xlsx", [["out_user_id", "organization_id"], ["p00", "demo-org"]])
    whole = batch_input.MAX_WHOLE
    monkeypatch.setattr(batch_input, "MAX_WHOLE", path.stat().st_size - 1)
    for args, text in ((("--batch", str(path)), None), (("--batch", "-"), path.read_bytes())):
        result = run("user", "show", *args, input=text, expect=2)
        assert "larger than" in result.stderr and "Traceback" not in result.stderr
    monkeypatch.setattr(batch_input, "MAX_WHOLE", whole)
    monkeypatch.setattr(batch_input, "MAX_UNPACKED", 1000)
    assert "unpacks to more than" in run("user", "show", "--batch", str(path), expect=2).stderr
    assert sandbox.received == []


# -- text from Excel: Unicode text, damaged numbers, full-width punctuation ----------------------


def test_excels_unicode_text_is_read(sandbox, configure, run, pupils, tmp_path):
    """Excel's "Unicode 文本": UTF-16 with a BOM, tab-separated, CRLF."""
    configure(sandbox)
    path = tmp_path / "名单.txt"
    path.write_bytes("姓名\tout_user_id\torganization_id\r\n张三\tp00\tdemo-org\r\n\r\n李四\t..\tdemo-org\r\n"
                     .encode("utf-16"))
    result = run("user", "show", "--batch", str(path), expect=1)
    good, bad = lines(result.stdout)
    assert (good["姓名"], good["out_user_id"], good["user_name"]) == ("张三", "p00", "P00")
    assert bad["error"]["code"] == "INVALID_ROW" and bad["error"]["message"].startswith("row 4:")
    assert bad["姓名"] == "李四" and "UTF-16" in result.stderr
    assert sent(sandbox) == ["p00"]


@pytest.mark.parametrize("value", ["4.40305E+17", "1.23457E+15", "4E+17"])
def test_a_csv_id_excel_shortened_to_scientific_notation_is_refused_with_the_hint(sandbox, configure, run, value):
    configure(sandbox)
    text = f"out_user_id,organization_id\n{value},demo-org\n"
    [line] = lines(run("user", "show", "--batch", "-", "--accept-numeric-ids", input=text, expect=1).stdout)
    assert line["error"]["code"] == "INVALID_ROW" and line["error"]["message"].startswith("row 2: out_user_id")
    assert "Text" in line["error"]["message"] and line["out_user_id"] == value
    assert sandbox.received == []


@pytest.mark.parametrize("mark", ["，", "；"])
def test_a_header_typed_with_full_width_punctuation_names_it(sandbox, configure, run, mark):
    configure(sandbox)
    result = run("user", "show", "--batch", "-", input=f"out_user_id{mark}organization_id\np00{mark}demo-org\n",
                 expect=2)
    assert f"full-width '{mark}'" in result.stderr, result.stderr
    zh = run("--lang", "zh", "user", "show", "--batch", "-", input=f"out_user_id{mark}organization_id\n", expect=2)
    assert f"全角的“{mark}”" in zh.stderr, zh.stderr
    assert sandbox.received == []


def test_error_rows_are_named_by_the_row_excel_shows(sandbox, configure, run, pupils):
    """CSV: the file line the row starts on (blank lines and a cell over two lines count, as in
    Excel); JSON lines: the line."""
    configure(sandbox)
    text = 'out_user_id,organization_id,备注\n\np00,demo-org,\np01,demo-org,"two\nlines"\n..,demo-org,\n'
    out = lines(run("user", "show", "--batch", "-", input=text, expect=1).stdout)
    assert [r["out_user_id"] for r in out] == ["p00", "p01", ".."]
    assert out[2]["error"]["message"].startswith("row 6:"), out[2]
    jsonl = '{"out_user_id": "p00", "organization_id": "demo-org"}\n\n{"out_user_id": "..", "organization_id": "x"}\n'
    out = lines(run("user", "show", "--batch", "-", input=jsonl, expect=1).stdout)
    assert out[1]["error"]["message"].startswith("line 3:"), out[1]


# -- the header, checked before anything is sent ------------------------------------------


@pytest.mark.parametrize("header, found", [
    ("学号,学校", "学号,学校"),
    ("out_user_id;organization_id", "out_user_id;organization_id"),
])
def test_a_header_without_the_columns_sends_nothing(sandbox, configure, run, header, found):
    configure(sandbox)
    text = header + "\n" + header.replace("out_user_id", "p00").replace("organization_id", "demo-org") + "\n"
    result = run("repayment-url", "--batch", "-", input=text, expect=2)
    assert found in result.stderr and "out_user_id,organization_id" in result.stderr
    assert sandbox.received == [] and result.stdout == ""
    if ";" in header:
        assert "comma" in result.stderr


def test_a_column_twice_is_a_usage_error(sandbox, configure, run):
    configure(sandbox)
    result = run("user", "show", "--batch", "-", input="out_user_id,organization_id,Out_User_ID\na,demo-org,b\n")
    assert result.exit_code == 2 and "twice" in result.stderr
    assert sandbox.received == []


# -- JSON lines that cannot be trusted ---------------------------------------------------


def test_duplicate_json_keys_stop_the_input_there(sandbox, configure, run, pupils):
    configure(sandbox)
    text = ('{"out_user_id": "p00", "organization_id": "demo-org"}\n'
            '{"out_user_id": "p01", "organization_id": "demo-org", "out_user_id": "p02"}\n')
    result = run("user", "show", "--batch", "-", input=text)
    assert result.exit_code == 2 and "at line 2:" in result.stderr and "twice" in result.stderr
    assert [r["out_user_id"] for r in lines(result.stdout)] == ["p00"]
    assert [r.path.rsplit("/", 1)[1] for r in sandbox.received] == ["p00"]


@pytest.mark.parametrize("line", [
    '{"out_user_id": ' + "[" * 10_000 + "]" * 10_000 + ', "organization_id": "demo-org"}',
    '{"out_user_id": "\\ud800", "organization_id": "demo-org"}',
    '{"out_user_id": "p00", "organization_id": "demo-org", "note": "\\udc00x"}',
], ids=["nested-deep", "lone-surrogate-id", "lone-surrogate-extra"])
def test_hostile_json_lines_are_usage_errors(sandbox, configure, run, line):
    configure(sandbox)
    result = run("user", "show", "--batch", "-", input=line + "\n", expect=2)
    assert "at line 1:" in result.stderr and "Traceback" not in result.stderr
    assert sandbox.received == []


def test_json_values_that_are_not_text_are_invalid_rows_carrying_their_keys(sandbox, configure, run):
    configure(sandbox)
    user_id = sandbox.seed_user("demo-org", "12345678901234567890123", encrypt_name=False).user_id
    values = [{"a": 1}, ["x"], True, 2.0, float("nan"), 1e25]
    text = "".join(json.dumps({"out_user_id": v, "organization_id": "demo-org", "班级": "一班"}) + "\n"
                   for v in values)
    text += '{"out_user_id": 12345678901234567890123, "organization_id": "demo-org", "班级": "二班"}\n'
    result = run("user", "show", "--batch", "-", input=text, expect=1)
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


# -- an output fed back as input ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_an_output_fed_back_gets_this_runs_results_and_keeps_the_rest(hostile, run, tmp_path, fmt):
    """The first run's output file, used as the second run's input, gives exactly what the roster
    itself gives: old results (a `use_id` WeChat no longer sends, `wechat_extra`) are not carried."""
    sandbox = hostile.sandbox
    pupil = sandbox.seed_user("demo-org", "g1", user_name="旧名", encrypt_name=False, use_id_typo=True)
    roster = tmp_path / "roster.csv"
    roster.write_text("姓名,out_user_id,organization_id,phone\n张小明,g1,demo-org,+8613800000000\n",
                      encoding="utf-8")
    hostile.rewrite("/g1", lambda d: {**d, "phone": "=x", "hobby": "chess"})
    first = run("user", "show", "--batch", str(roster), "--format", fmt, expect=0)
    if fmt == "json":
        assert lines(first.stdout)[0]["wechat_extra"] == {"phone": "=x", "hobby": "chess"}
    output = tmp_path / "first.out"
    output.write_bytes(first.stdout_bytes)
    pupil.user_name, pupil.contract_state, pupil.use_id_typo = "新名", "TERMINATED", False
    again = run("user", "show", "--batch", str(output), "--format", fmt, expect=0)
    fresh = run("user", "show", "--batch", str(roster), "--format", fmt, expect=0)
    assert again.stdout == fresh.stdout
    if fmt == "json":
        line = lines(again.stdout)[0]
        assert list(line)[:4] == ["姓名", "out_user_id", "organization_id", "phone"]
        assert (line["phone"], line["user_name"], line["contract_state"]) == ("+8613800000000", "新名", "TERMINATED")
        assert "use_id" not in line and "wechat_extra" not in line
