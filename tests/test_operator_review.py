"""What a Chinese-speaking operator met on a walk through the day (a review in a real
terminal): labels, sentence joins and tables that read wrong under Chinese."""

from __future__ import annotations

import pytest


@pytest.fixture
def pupils(sandbox):
    names = [f"p{i:02d}" for i in range(4)]
    for name in names:
        sandbox.seed_user("demo-org", name, user_name=name.upper(), encrypt_name=False, class_name="三年级二班")
    return names


def rows(users) -> str:
    return "out_user_id,organization_id\n" + "".join(f"{u},demo-org\n" for u in users)


def test_a_school_is_not_labelled_with_a_persons_name(sandbox, configure, run):
    configure(sandbox)
    result = run("--lang", "zh", "org", "show", "--id", "1234567", "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "学校名称" in result.stdout and "姓名" not in result.stdout


def test_chinese_summaries_put_no_space_before_a_full_width_bracket(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("--lang", "zh", "contract", "terminate", "--batch", "-", "--dry-run", "--json",
                 input=rows(pupils[:2]))
    assert result.exit_code == 0, result.stderr
    assert " （" not in result.stderr, result.stderr
    assert "（每秒" in result.stderr and "（共 2 行" in result.stderr


def test_failed_rows_in_csv_are_not_said_to_carry_a_json_key(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", "--format", "csv", input=rows(["p00", "missing"]))
    assert result.exit_code == 1
    assert "error_code" in result.stdout.splitlines()[0]
    assert '"error"' not in result.stderr, result.stderr


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_batch_dry_run_table_is_one_line_a_row_at_80_columns(sandbox, configure, run, pupils, lang):
    configure(sandbox)
    result = run("--lang", lang, "contract", "terminate", "--batch", "-", "--dry-run", "--format", "table",
                 input=rows(["p00", "demo-terminated", "p00", "missing"]), env={"COLUMNS": "80"})
    assert result.exit_code == 1
    body = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(body) == 3 + 4, result.stdout  # title, heading, rule, one line for each of the 4 rows
    assert all(len(line) <= 80 for line in body)
    assert "P00" in result.stdout and "三年级二班" in result.stdout and "demo-term" in result.stdout
