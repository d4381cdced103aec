"""What a Chinese-speaking operator met on a walk through the day (a review in a real
terminal): labels, sentence joins and tables that read wrong under Chinese."""

from __future__ import annotations

import re

import pytest
from batchrows import csv_rows


def test_a_school_is_not_labelled_with_a_persons_name(sandbox, configure, run):
    configure(sandbox)
    result = run("--lang", "zh", "org", "show", "--id", "1234567", "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "学校名称" in result.stdout and "姓名" not in result.stdout


def test_chinese_summaries_put_no_space_before_a_full_width_bracket(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("--lang", "zh", "contract", "terminate", "--batch", "-", "--dry-run", "--json",
                 input=csv_rows(pupils[:2]))
    assert result.exit_code == 0, result.stderr
    assert " （" not in result.stderr, result.stderr
    assert "（共 2 行" in result.stderr
    assert re.search(r"秒（每秒 \d+ 行）", result.stderr) and "{" not in result.stderr, result.stderr
    english = run("contract", "terminate", "--batch", "-", "--dry-run", "--json", input=csv_rows(pupils[:2]))
    assert re.search(r" s \(\d+ rows/s\)", english.stderr) and "{" not in english.stderr, english.stderr


def test_failed_rows_in_csv_are_not_said_to_carry_a_json_key(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", "--format", "csv", input=csv_rows(["p00", "missing"]))
    assert result.exit_code == 1
    assert "error_code" in result.stdout.splitlines()[0]
    assert '"error"' not in result.stderr, result.stderr


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_batch_dry_run_table_is_one_line_a_row_at_80_columns(sandbox, configure, run, pupils, lang):
    configure(sandbox)
    result = run("--lang", lang, "contract", "terminate", "--batch", "-", "--dry-run", "--format", "table",
                 input=csv_rows(["p00", "demo-terminated", "p00", "missing"]), env={"COLUMNS": "80"})
    assert result.exit_code == 1
    body = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(body) == 3 + 4, result.stdout  # title, heading, rule, one line for each of the 4 rows
    assert all(len(line) <= 80 for line in body)
    assert "P00" in result.stdout and "三年级二班" in result.stdout and "demo-term" in result.stdout


def test_click_file_and_number_errors_are_in_chinese(sandbox, configure, run, tmp_path):
    configure(sandbox)
    result = run("--lang", "zh", "user", "show", "--batch", str(tmp_path / "名单.csv"))
    assert result.exit_code == 2
    assert "No such file" not in result.stderr and "文件不存在" in result.stderr, result.stderr
    result = run("--lang", "zh", "audit", "--limit", "x")
    assert result.exit_code == 2
    assert "integer" not in result.stderr and "整数" in result.stderr, result.stderr
    result = run("--lang", "en", "audit", "--limit", "x")  # and English stays English in the same process
    assert "is not a valid integer range" in result.stderr


@pytest.mark.parametrize("command", [("repayment-url",), ("sandbox", "serve")])
def test_chinese_help_has_no_english_metavar(run, command):
    result = run("--lang", "zh", *command, "--help")
    assert result.exit_code == 0
    assert "INTEGER" not in result.stdout and "RANGE" not in result.stdout, result.stdout


def test_a_closed_port_is_said_in_chinese(sandbox, configure, run):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configure(sandbox, base_url=f"http://127.0.0.1:{port}")
    result = run("--lang", "zh", "repayment-url", "--user", "demo", "--org", "demo-org")
    assert result.exit_code == 4
    assert "Connection refused" not in result.stderr and "连接被拒绝" in result.stderr, result.stderr
    english = run("--lang", "en", "repayment-url", "--user", "demo", "--org", "demo-org")
    assert "Connection refused" in english.stderr or "connection refused" in english.stderr


def test_a_chinese_summary_lists_pupils_with_the_enumeration_comma(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("--lang", "zh", "contract", "terminate", "--batch", "-", "--dry-run", "--json",
                 input=csv_rows(pupils[:2]))
    assert "p00、p01" in result.stderr, result.stderr
    english = run("contract", "terminate", "--batch", "-", "--dry-run", "--json", input=csv_rows(pupils[:2]))
    assert "p00, p01" in english.stderr
