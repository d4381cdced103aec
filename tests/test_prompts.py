"""What a person types at wxpay's questions: y/n, 是/否 and their full-width forms, told which
to type; and their own "no" said as a cancellation (已取消), not as an error, with the exit
status unchanged (1)."""

from __future__ import annotations

import json

import pytest
from batchrows import csv_rows
from common import TERMINATE, audit_lines, terminations


@pytest.mark.parametrize("answer", ["y", "Y", "yes", "是", "ｙ", "Ｙ", "ＹＥＳ", " 是 "])
def test_every_way_of_saying_yes_terminates(answer, sandbox, configure, run, terminal):
    configure(sandbox)
    run("--lang", "zh", *TERMINATE, "--json", input=answer + "\n", expect=0)
    assert len(terminations(sandbox)) == 1


@pytest.mark.parametrize("answer", ["n", "N", "no", "否", "ｎ", "Ｎ", ""])
def test_every_way_of_saying_no_sends_nothing(answer, sandbox, configure, run, terminal):
    configure(sandbox)
    run("--lang", "zh", *TERMINATE, "--json", input=answer + "\n", expect=1)
    assert terminations(sandbox) == []
    assert audit_lines()[-1]["outcome"] == "declined"


@pytest.mark.parametrize("lang, shown, again", [
    ("en", "[y/N]", "type y (yes) or n (no)"),
    ("zh", "是/否", "请输入 是 或 否"),
])
def test_the_question_says_what_to_type_and_asks_again_after_anything_else(
        lang, shown, again, sandbox, configure, run, terminal):
    configure(sandbox)
    result = run("--lang", lang, *TERMINATE, "--json", input="ok\n好的\n是\n", expect=0)
    assert shown in result.stderr, result.stderr
    assert result.stderr.count(again) == 2, result.stderr
    assert "输入无效" not in result.stderr and "invalid input" not in result.stderr
    assert len(terminations(sandbox)) == 1


@pytest.mark.parametrize("lang, said", [("zh", "已取消：没有解约"), ("en", "cancelled: nothing was terminated")])
def test_the_operators_own_no_is_a_cancellation_not_an_error(lang, said, sandbox, configure, run, terminal):
    configure(sandbox)
    result = run("--lang", lang, *TERMINATE, input="n\n", expect=1)
    assert said in result.stderr, result.stderr
    assert "错误" not in result.stderr and "error:" not in result.stderr
    json_run = run("--lang", lang, *TERMINATE, "--json", input="否\n", expect=1)
    error = json.loads(json_run.stderr.splitlines()[-1])["error"]
    assert error["code"] == "NOT_CONFIRMED" and error["message"] == "cancelled: nothing was terminated"


def test_no_to_a_batch_termination_is_a_cancellation(sandbox, configure, run, pupils, terminal, tmp_path):
    configure(sandbox)
    roster = tmp_path / "名单.csv"
    roster.write_text(csv_rows(pupils[:2]), encoding="utf-8")
    result = run("--lang", "zh", "contract", "terminate", "--batch", str(roster), input="否\n", expect=1)
    assert "已取消：没有解约" in result.stderr and "错误" not in result.stderr, result.stderr
    assert terminations(sandbox) == []


@pytest.mark.parametrize("answers", ["n\n", "y\nn\n", "y\ny\nn\n"])
def test_no_at_any_step_of_a_handover_is_a_cancellation(answers, sandbox, configure, run, terminal):
    configure(sandbox)
    result = run("--lang", "zh", "handover", "--user", "demo", "--org", "demo-org", input=answers, expect=1)
    assert "已取消" in result.stderr and "没有解约" in result.stderr and "错误" not in result.stderr, result.stderr
    assert terminations(sandbox) == []


def test_the_answer_to_a_reversible_question_takes_the_same_words(sandbox, configure, run, terminal):
    configure(sandbox)
    result = run("--lang", "zh", "handover", "--user", "demo", "--org", "demo-org", input="ｙ\n是\nｙ\n",
                 env={"COLUMNS": "200"}, expect=0)
    assert "TERMINATED" in result.stdout
    assert len(terminations(sandbox)) == 1
