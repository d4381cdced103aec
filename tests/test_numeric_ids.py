"""Ids a workbook holds as numbers, in the batches that compare names (links, terminations).

Typing 0012346 into a General cell stores 12346, which may be *another* pupil's id. Such a
number (whole, at most 15 digits) goes ahead only when the row's own name (姓名 / name /
--name-column) is the name WeChat has for that very id, or with --accept-numeric-ids;
otherwise the row is INVALID_ROW, and its message says to make the column 文本 (Text).
--ignore-name-mismatch never lets such a number through: the name is what proves it.
Decimals, more than 15 digits and scientific notation are never ids, name or not."""

from __future__ import annotations

import csv
import io

import pytest
from batchrows import lines, workbook
from common import audit_lines, terminations

HEADER = ["姓名", "out_user_id", "organization_id"]


def seed(sandbox) -> None:
    """12345 is 张小明's id as it is; 0012346 is 李小红's, and 12346 (its 0s lost) another pupil's."""
    for user, name in (("12345", "张小明"), ("0012346", "李小红"), ("12346", "另一名学生"),
                       ("440305201501012", "王十五")):
        sandbox.seed_user("demo-org", user, user_name=name, encrypt_name=False)


def roster(tmp_path, name_column: str = "姓名"):
    """Row 2: a number that is the pupil's id (the names match); row 4 (a blank row before it): a
    number that lost its 0s and names another pupil; row 5: a number naming nobody; row 6: 15
    digits, the names matching; row 7: the id as text."""
    return workbook(tmp_path / "名单.xlsx", [
        [name_column, "out_user_id", "organization_id"],
        ["张小明", 12345, "demo-org"],
        None,
        ["李小红", 12346, "demo-org"],
        ["赵小刚", 99999, "demo-org"],
        ["王十五", 440305201501012, "demo-org"],
        ["李小红", "0012346", "demo-org"],
    ])


def links_sent(sandbox) -> list[str]:
    return sorted(r.json["out_user_id"] for r in sandbox.received if r.method == "POST"
                  and r.path.endswith("/repayment-url"))


def terminated(sandbox) -> list[str]:
    """The pupils `seed` added whose contract is terminated."""
    return sorted(user for user in ("12345", "0012346", "12346", "440305201501012")
                  if sandbox.state.users[("demo-org", user)].contract_state == "TERMINATED")


def check_refusals(out: list[dict]) -> None:
    """Rows 4 and 5 of `roster` refused as INVALID_ROW, each saying what to do in Excel."""
    four, five = out[1]["error"], out[2]["error"]
    assert four["code"] == five["code"] == "INVALID_ROW", out
    assert four["message"].startswith("row 4: out_user_id 12346") and "另一名学生" in four["message"], four
    assert "李小红" in four["message"] and "format the column as Text" in four["message"], four
    assert five["message"].startswith("row 5: out_user_id 99999") and "format the column as Text" in five["message"]


def test_a_link_batch_takes_a_number_whose_name_wechat_confirms(sandbox, configure, run, tmp_path):
    configure(sandbox)
    seed(sandbox)
    out = lines(run("repayment-url", "--batch", str(roster(tmp_path)), expect=1).stdout)
    assert [r["out_user_id"] for r in out] == ["12345", "12346", "99999", "440305201501012", "0012346"]
    assert out[0]["repayment_url"] and out[3]["repayment_url"] and out[4]["repayment_url"]
    check_refusals(out)
    assert "repayment_url" not in out[1] and "repayment_url" not in out[2]
    assert links_sent(sandbox) == ["0012346", "12345", "440305201501012"]  # never 12346, another pupil
    assert ("12346", "refused", "INVALID_ROW") in [(r["out_user_id"], r["outcome"], r["error"])
                                                  for r in audit_lines()]


def test_ignore_name_mismatch_never_lets_a_number_through(sandbox, configure, run, tmp_path):
    """--ignore-name-mismatch is about names that are known to differ; a number's only proof
    is its name, so each number is still looked up and compared."""
    configure(sandbox)
    seed(sandbox)
    out = lines(run("repayment-url", "--batch", str(roster(tmp_path)), "--ignore-name-mismatch",
                    expect=1).stdout)
    check_refusals(out)
    assert links_sent(sandbox) == ["0012346", "12345", "440305201501012"]
    looked_up = sorted(r.path.rsplit("/", 1)[-1] for r in sandbox.received if r.method == "GET")
    assert looked_up == ["12345", "12346", "440305201501012", "99999"]  # the text id: no query, as before


def test_the_refusal_of_a_number_says_in_chinese_to_make_the_column_text(sandbox, configure, run, tmp_path):
    configure(sandbox)
    seed(sandbox)
    result = run("--lang", "zh", "repayment-url", "--batch", str(roster(tmp_path)), "--format", "csv", expect=1)
    rows = list(csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"), newline="")))
    refused = [row for row in rows if row["error_code"]]
    assert [row["out_user_id"] for row in refused] == ["12346", "99999"]
    for row, number in zip(refused, ("4", "5"), strict=True):
        message = row["error_message"]
        assert message.startswith(f"第 {number} 行") and "文本" in message, message
        assert not any(word in message for word in ("number", "Text", "WeChat")), message


def test_without_a_name_a_number_is_refused_before_anything_is_asked(sandbox, configure, run, tmp_path):
    """No name column, or a blank name: nothing can confirm the number (INVALID_ROW, as ever)."""
    configure(sandbox)
    seed(sandbox)
    bare = workbook(tmp_path / "无姓名.xlsx", [["out_user_id", "organization_id"], [12345, "demo-org"]])
    [line] = lines(run("repayment-url", "--batch", str(bare), expect=1).stdout)
    assert line["error"]["code"] == "INVALID_ROW" and "--accept-numeric-ids" in line["error"]["message"]
    blank = workbook(tmp_path / "空姓名.xlsx", [HEADER, [None, 12345, "demo-org"]])
    [line] = lines(run("repayment-url", "--batch", str(blank), expect=1).stdout)
    assert line["error"]["code"] == "INVALID_ROW" and "format the column as Text" in line["error"]["message"]
    assert sandbox.received == []


def test_name_column_names_the_column_that_confirms_a_number(sandbox, configure, run, tmp_path):
    configure(sandbox)
    seed(sandbox)
    out = lines(run("repayment-url", "--batch", str(roster(tmp_path, "学生")), "--name-column", "学生",
                    expect=1).stdout)
    check_refusals(out)
    assert links_sent(sandbox) == ["0012346", "12345", "440305201501012"]


def test_accept_numeric_ids_takes_the_numbers_as_they_are(sandbox, configure, run, tmp_path):
    """The operator's word that the numbers are the ids: the names are compared as names
    (NAME_MISMATCH, NAME_UNAVAILABLE), like any row's."""
    configure(sandbox)
    seed(sandbox)
    out = lines(run("repayment-url", "--batch", str(roster(tmp_path)), "--accept-numeric-ids", expect=1).stdout)
    assert [r.get("error", {}).get("code") for r in out] == [None, "NAME_MISMATCH", "RESOURCE_NOT_EXISTS", None,
                                                               None]


def test_a_termination_batch_terminates_a_number_only_when_its_name_is_confirmed(sandbox, configure, run,
                                                                                  tmp_path):
    configure(sandbox)
    seed(sandbox)
    path = roster(tmp_path)
    dry = lines(run("contract", "terminate", "--batch", str(path), "--dry-run", "--format", "json",
                    expect=1).stdout)
    check_refusals(dry)
    assert [r.get("outcome") for r in dry] == ["WOULD_TERMINATE", None, None, "WOULD_TERMINATE", "WOULD_TERMINATE"]
    assert terminations(sandbox) == []
    out = lines(run("contract", "terminate", "--batch", str(path), "--yes", "--ignore-name-mismatch",
                    expect=1).stdout)
    check_refusals(out)
    assert [r.get("outcome") for r in out] == ["TERMINATED", None, None, "TERMINATED", "TERMINATED"]
    assert terminated(sandbox) == ["0012346", "12345", "440305201501012"]  # 12346 is still CONTRACTED
    assert len(terminations(sandbox)) == 3
    assert ("12346", "refused", "INVALID_ROW") in [(r["out_user_id"], r["outcome"], r["error"])
                                                  for r in audit_lines()]


def test_a_dry_run_table_gives_the_reason_and_the_hint_whole(sandbox, configure, run, tmp_path):
    configure(sandbox)
    seed(sandbox)
    result = run("--lang", "zh", "contract", "terminate", "--batch", str(roster(tmp_path)), "--dry-run",
                 "--format", "table", expect=1)
    text = " ".join(result.stdout.split())
    assert "第 4 行" in text and "另一名学生" in text and "文本" in text, result.stdout
    assert "将会解约 3 名学生" in result.stderr, result.stderr
    assert terminations(sandbox) == []


def test_on_a_terminal_the_question_counts_only_the_numbers_confirmed(sandbox, configure, tmp_path):
    from terminal import run_on_terminal

    configure(sandbox)
    seed(sandbox)
    agreed = run_on_terminal("contract", "terminate", "--batch", str(roster(tmp_path)), tmp_path=tmp_path,
                             answers=[("cannot be undone", b"y\n")])
    assert agreed.returncode == 1, agreed.terminal
    question = agreed.terminal.index("cannot be undone")
    table = " ".join(agreed.terminal[:question].split())
    assert "INVALID_ROW" in table and "row 4: out_user_id 12346" in table and "另一名学生" in table, table
    assert "these 3 pupils" in table
    assert terminated(sandbox) == ["0012346", "12345", "440305201501012"]


# -- what is never an id, name or not ---------------------------------------------------------------


@pytest.mark.parametrize("value", [
    12345.5,  # a decimal
    4403052015010112,  # 16 digits: Excel keeps 15 of them
    4.40305201501011e17,  # what Excel keeps of 440305201501011234 (shown as 4.40305E+17)
], ids=["decimal", "16-digits", "scientific"])
def test_numbers_that_cannot_be_ids_are_refused_with_the_hint_even_when_the_name_matches(
        sandbox, configure, run, tmp_path, value):
    configure(sandbox)
    sandbox.seed_user("demo-org", str(int(value)), user_name="张小明", encrypt_name=False)
    path = workbook(tmp_path / "名单.xlsx", [HEADER, ["张小明", value, "demo-org"]])
    for args in (("repayment-url",), ("contract", "terminate", "--yes")):
        result = run("--lang", "zh", *args, "--batch", str(path), "--format", "csv", expect=1)
        [row] = csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"), newline=""))
        assert row["error_code"] == "INVALID_ROW", row
        assert row["error_message"].startswith("第 2 行") and "文本" in row["error_message"], row
    assert sandbox.received == []


def test_a_csv_id_excel_shortened_gets_the_same_hint_in_a_roster_with_names(sandbox, configure, run):
    configure(sandbox)
    text = "姓名,out_user_id,organization_id\r\n张小明,4.40305E+17,demo-org\r\n"
    for args in (("repayment-url",), ("contract", "terminate", "--dry-run")):
        result = run("--lang", "zh", *args, "--batch", "-", "--format", "csv", input=text, expect=1)
        [row] = csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"), newline=""))
        assert row["error_code"] == "INVALID_ROW" and row["out_user_id"] == "4.40305E+17", row
        assert row["error_message"].startswith("第 2 行") and "文本" in row["error_message"], row
    assert sandbox.received == []


def test_help_says_ignore_name_mismatch_does_not_accept_numbers(run):
    for args in (("repayment-url",), ("contract", "terminate")):
        text = " ".join(run(*args, "--help", expect=0).stdout.split())
        accept = text[text.index("--accept-numeric-ids With"):][:600]
        assert "roster's name" in accept and "--ignore-name-mismatch never lets it through" in accept, accept
        ignore = text[text.index("--ignore-name-mismatch Go on"):][:600]
        assert "still needs its name confirmed" in ignore, ignore
