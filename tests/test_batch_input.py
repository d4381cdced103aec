"""Batch input as operators have it: CSV from Excel (GBK, UTF-8 with a BOM, extra roster
columns carried), JSON lines from a file or a pipe; and input that cannot be trusted (headers,
JSON values, encodings, ids), each refused in place or before anything is sent."""

from __future__ import annotations

import json
import subprocess

import pytest
from batchrows import ROSTER, csv_rows, excel_gbk_roster, lines
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
    path = tmp_path / "utf16.csv"  # Excel's "Unicode text"
    path.write_bytes("out_user_id,organization_id\n学生1,demo-org\n".encode("utf-16"))
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
    assert [r.json["out_user_id"] for r in sandbox.received] == ["p02", "p03"]


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
    # UTF-8 is decided by the first non-ASCII row; row 4 (file line 6: a blank line is skipped) is not UTF-8.
    path.write_bytes("out_user_id,organization_id,姓名\np00,demo-org,张三\n\np01,demo-org,x\n"
                     "p02,demo-org,y\n".encode() + b"p03,demo-org,\xc3\x28\n" + b"p04,demo-org,z\n")
    result = run("user", "show", "--batch", str(path), "--concurrency", "1", expect=2)
    assert "row 4 (file line 6)" in result.stderr and "Traceback" not in result.stderr
    out = lines(result.stdout)
    assert [r["out_user_id"] for r in out] == ["p00", "p01", "p02"]
    assert all("error" not in r for r in out)
    assert "batch: 3 ok, 0 failed" in result.stderr


def test_encoding_is_for_batches_only(sandbox, configure, run):
    configure(sandbox)
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--encoding", "gbk")
    assert result.exit_code == 2 and "--encoding" in result.stderr
    assert sandbox.received == []


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
    result = run("user", "show", "--batch", "-", input=line + "\n", expect=2)
    assert "row 1" in result.stderr and "Traceback" not in result.stderr
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
